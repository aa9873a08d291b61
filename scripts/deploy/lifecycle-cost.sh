#!/usr/bin/env bash
# make cost: scripts/deploy/lifecycle-cost.ts with the repo's node_modules (no provider bindings needed).
# Usage: scripts/deploy/lifecycle-cost.sh [--run-min M] [--create-min M] [--start-min M] [--stop-min M] [--delete-min M]
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/toolchain/npm-deps.sh"
cd "$REPO_ROOT"

ensure_node_modules
exec node -r ts-node/register/transpile-only scripts/deploy/lifecycle-cost.ts "$@"
