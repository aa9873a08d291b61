#!/usr/bin/env bash
# Synthesize the stack's Terraform JSON into cdktf.out/, offline.
# Usage: scripts/synth.sh            (config: $YC_MLOPS_CONFIG, else config.example.json)
source "$(dirname "$0")/lib.sh"
source "$REPO_ROOT/scripts/npm-deps.sh"
cd "$REPO_ROOT"

ensure_node_modules
bash scripts/gen-bindings.sh

start_ns=$(date +%s%N)
npx --no-install cdktf synth
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
printf 'cdktf synth: %d.%03d s (target: under 30 s)\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
