#!/usr/bin/env bash
# The `validate` part of `make test`: `terraform validate` of the synthesized stack against the real
# Yandex provider, offline (filesystem mirror only), plus two negative cases that must be rejected,
# so this check cannot pass vacuously; then checkov over the same stack. Prints the wall time of
# each step.
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/toolchain/provider-env.sh"
cd "$REPO_ROOT"

checks_passed=0 checks_failed=0
pass() { checks_passed=$((checks_passed + 1)); log "PASS: $*"; }
fail() { checks_failed=$((checks_failed + 1)); log "FAIL: $*"; }
skip() { log "SKIP (validate): $*"; echo "validate: 0 passed, 0 failed, 1 skipped"; exit 0; }
step_start() { step_t0=$SECONDS; log "step: $*"; }
step_done() { log "step done in $((SECONDS - step_t0)) s"; }

# VALIDATE_WITH=auto (default): the real provider when it can be built here, else the schema
# stand-in; =provider or =standin forces one.
validate_with="${VALIDATE_WITH:-auto}"
case "$validate_with" in auto|provider|standin) ;; *) die "VALIDATE_WITH=$validate_with: expected auto, provider or standin";; esac
mirror="$PROVIDER_MIRROR" provider_kind="terraform-provider-yandex $PROVIDER_VERSION (built from source)"
if [ "$validate_with" != standin ]; then
  step_start "provider in the filesystem mirror (built on first run)"
  set +e; bash scripts/toolchain/provider-mirror.sh > /dev/null; rc=$?; set -e
  step_done
  if [ $rc -eq 3 ] && [ "$validate_with" = auto ]; then
    log "the real provider cannot be built on this machine: validating against the schema stand-in instead"
    validate_with=standin
  elif [ $rc -ne 0 ]; then
    die "the provider is not available (exit $rc, see above)"
  fi
fi
if [ "$validate_with" = standin ]; then
  step_start "schema stand-in provider (serves ${SCHEMA_FILE#"$REPO_ROOT"/})"
  mirror="$(bash scripts/toolchain/schema-standin.sh)"
  export YANDEX_SCHEMA_STANDIN_FILE="$SCHEMA_FILE"
  provider_kind="STAND-IN serving ${SCHEMA_FILE#"$REPO_ROOT"/} (Terraform core schema checks only)"
  step_done
fi
log "validating with: $provider_kind"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
write_mirror_cli_config "$mirror" "$work/cli.tfrc"
unset TF_PLUGIN_CACHE_DIR
# Mirror-only CLI config for every terraform call (this also replaces an inherited TF_CLI_CONFIG_FILE).
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 TF_INPUT=0

step_start "terraform binary"
terraform="$(bash scripts/toolchain/terraform-bin.sh)"
log "using $terraform ($("$terraform" version | head -n1))"
step_done

[ -f scripts/deploy/synth.sh ] || skip "scripts/deploy/synth.sh does not exist yet (the stack has no synth entry point)"
step_start "synthesize the stack (scripts/deploy/synth.sh)"
bash scripts/deploy/synth.sh
step_done

shopt -s nullglob
stacks=(cdktf.out/stacks/*/cdk.tf.json)
[ ${#stacks[@]} -gt 0 ] || die "synth produced no cdktf.out/stacks/*/cdk.tf.json"

# validate_dir DIR OUT.json : init (offline, backend skipped) + validate -json; returns validate's rc.
validate_dir() {
  (cd "$1" && "$terraform" init -backend=false -input=false > init.log 2>&1) \
    || { cat "$1/init.log" >&2; die "terraform init failed in $1"; }
  (cd "$1" && "$terraform" validate -json > "$2")
}

checks="$PROVIDER_TOOL_DIR/validate_checks.py"
for stack_json in "${stacks[@]}"; do
  name="$(basename "$(dirname "$stack_json")")"
  dir="$work/$name"
  cp -r "$(dirname "$stack_json")" "$dir"
  rm -rf "$dir/.terraform" "$dir/.terraform.lock.hcl"

  step_start "terraform init + validate of stack '$name'"
  set +e; validate_dir "$dir" "$work/$name.validate.json"; set -e
  if python3 "$checks" report "$work/$name.validate.json"; then
    pass "stack '$name' is valid for $provider_kind"
  else
    fail "stack '$name' is rejected by terraform validate (diagnostics above)"
  fi
  step_done

  # Negative cases: the same stack, broken on purpose, must be rejected.
  step_start "negative cases for stack '$name'"
  for case in drop-required add-unknown; do
    bad="$work/$name-$case"
    cp -r "$dir" "$bad"
    if [ "$case" = drop-required ]; then
      what="$(python3 "$checks" drop-required "$stack_json" "$SCHEMA_FILE" "$bad/cdk.tf.json")"
    else
      what="$(python3 "$checks" add-unknown "$stack_json" "$bad/cdk.tf.json")"
    fi
    arg="${what##* }"
    set +e; validate_dir "$bad" "$work/$name-$case.json"; set -e
    if python3 "$checks" expect-error "$work/$name-$case.json" "$arg"; then
      pass "$case: validate rejects $what"
    else
      fail "$case: validate accepted a stack with $what"
    fi
  done
  step_done
done

# checkov (pinned in tools/checkov/requirements.lock, its own venv in the cache) over the synthesized
# stack, with the deliberate exceptions of tools/checkov/config.yaml; and, so this cannot pass
# vacuously, over a copy whose bucket encryption is removed, on which it must fail.
step_start "checkov over the synthesized stack (tools/checkov/config.yaml)"
checkov="$(venv_for checkov tools/checkov/requirements.lock)/bin/checkov"
ckv_tool="$REPO_ROOT/tools/checkov/checkov_checks.py"
for stack_json in "${stacks[@]}"; do
  name="$(basename "$(dirname "$stack_json")")"
  broken="$work/checkov-$name-unencrypted/cdk.tf.json"
  changed="$(python3 "$ckv_tool" unencrypt "$stack_json" "$broken")"
  set +e
  "$checkov" --config-file tools/checkov/config.yaml -f "$stack_json" "$broken" -o json \
    > "$work/checkov-$name.json" 2> "$work/checkov-$name.log"
  set -e
  if python3 "$ckv_tool" report "$work/checkov-$name.json" "$stack_json"; then
    pass "checkov: stack '$name' fails no check (skipped by config: $(grep -E '^  - CKV_' tools/checkov/config.yaml | tr -d ' -' | paste -sd, -))"
  else
    tail -n 20 "$work/checkov-$name.log" >&2
    fail "checkov: stack '$name' fails checks (above)"
  fi
  if python3 "$ckv_tool" expect-failure "$work/checkov-$name.json" "$broken" CKV_YC_3; then
    pass "checkov: a copy without bucket encryption ($changed) fails CKV_YC_3"
  else
    fail "checkov: a copy without bucket encryption ($changed) passed CKV_YC_3"
  fi
done
step_done

echo "validate: $checks_passed passed, $checks_failed failed"
[ $checks_failed -eq 0 ]
