#!/usr/bin/env bash
# Synthesize the stack's Terraform JSON into cdktf.out/, offline.
# Usage: scripts/deploy/synth.sh            (config: $YC_MLOPS_CONFIG, else config.example.json)
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/toolchain/npm-deps.sh"
cd "$REPO_ROOT"

ensure_node_modules
bash scripts/toolchain/gen-bindings.sh

# wall time is the target (under 30 s); CPU time (user+sys, this process and its children) tells a
# slow synth apart from a busy machine.
TIMEFORMAT='cdktf synth: %R s wall (target: under 30 s), %U s user + %S s sys CPU'
time npx --no-install cdktf synth "$@"
