#!/usr/bin/env bash
# Test part "stack": type-check the cdktf app and run every jest suite (__tests__/**), i.e. the
# stack assertions, the config cases and the rendered hosts (cloud-init schema, systemd-analyze
# verify and nginx -t run inside those tests, so their tools are installed here).
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/toolchain/npm-deps.sh"
cd "$REPO_ROOT"

apt_install cloud-init nginx-light apache2-utils openssl systemd openssh-client
ensure_node_modules
bash scripts/toolchain/gen-bindings.sh

# a real terraform evaluates the deploy refusal in __tests__/stack/deploy-refusal.test.ts (offline,
# built-in resources only); the one on PATH, else the pinned build the validate part also uses.
TERRAFORM_BIN="$(bash scripts/toolchain/terraform-bin.sh)"
export TERRAFORM_BIN

log "tsc --noEmit"
start=$SECONDS
npx --no-install tsc --noEmit
log "tsc: $((SECONDS - start)) s"

log "jest"
start_ns=$(date +%s%N)
npx --no-install jest --ci "$@"
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
printf 'jest: %d.%03d s\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
