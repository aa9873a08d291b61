#!/usr/bin/env bash
# Remote Terraform state (Object Storage + a YDB lock table, constructs/state-backend.ts), step 2 of 3:
#   1. npx cdktf deploy yc-mlops-state             bucket, YDB database, state account, its key in Lockbox
#   2. bash scripts/deploy/state-backend.sh lock-table    creates the lock table; prints the config block
#   3. add that block to your config as "stateBackend", then move the state:
#      bash scripts/deploy/state-backend.sh run npx cdktf deploy yc-mlops --migrate-state
#      (and run every later cdktf/terraform command of yc-mlops the same way)
# `run CMD...` runs CMD with the state account's static key in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
# read from Lockbox with the `yc` CLI: the key goes from yc's output into the environment only,
# never to the terminal, a file or the Terraform configuration.
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

STATE_FILE="$REPO_ROOT/terraform-state/yc-mlops-state.tfstate"

# output NAME: an output of the yc-mlops-state stack, as JSON, from its local state.
output() {
  [ -f "$STATE_FILE" ] || die "no $STATE_FILE: deploy the bootstrap stack first (npx cdktf deploy yc-mlops-state)"
  python3 - "$STATE_FILE" "$1" <<'PY'
import json, sys
outputs = json.load(open(sys.argv[1])).get("outputs", {})
if sys.argv[2] not in outputs:
    sys.exit(f"error: the yc-mlops-state state has no output {sys.argv[2]!r}; deploy it first")
print(json.dumps(outputs[sys.argv[2]]["value"]))
PY
}

# with_key CMD...: CMD with the static key exported (never echoed).
with_key() {
  command -v yc >/dev/null || die "the yc CLI is needed to read the state key from Lockbox"
  local secret_id payload
  secret_id="$(output state_key_secret_id | python3 -c 'import json,sys; print(json.load(sys.stdin))')"
  payload="$(yc lockbox payload get --id "$secret_id" --format json)" || die "cannot read Lockbox secret $secret_id"
  AWS_ACCESS_KEY_ID="$(printf '%s' "$payload" | python3 -c 'import json,sys; print({e["key"]: e.get("text_value", e.get("textValue")) for e in json.load(sys.stdin)["entries"]}["access_key_id"])')"
  AWS_SECRET_ACCESS_KEY="$(printf '%s' "$payload" | python3 -c 'import json,sys; print({e["key"]: e.get("text_value", e.get("textValue")) for e in json.load(sys.stdin)["entries"]}["secret_access_key"])')"
  unset payload
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  "$@"
}

case "${1:-}" in
  lock-table)
    backend="$(output state_backend)"
    endpoint="$(printf '%s' "$backend" | python3 -c 'import json,sys; print(json.load(sys.stdin)["documentApiEndpoint"])')"
    table="$(printf '%s' "$backend" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lockTable"])')"
    with_key "$(jobs_venv)/bin/python" tools/state-backend/create_lock_table.py "$endpoint" "$table"
    echo "Add this to your config file, then run: bash scripts/deploy/state-backend.sh run npx cdktf deploy yc-mlops --migrate-state"
    printf '"stateBackend": %s\n' "$backend"
    ;;
  run)
    shift
    [ $# -gt 0 ] || die "usage: $0 run CMD..."
    with_key "$@"
    ;;
  *) die "usage: $0 lock-table | run CMD...   (see the comment at the top)" ;;
esac
