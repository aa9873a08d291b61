#!/usr/bin/env bash
# `make bindings`: the one command that rebuilds the Yandex provider (if its version or build inputs
# changed), re-extracts and filters its schema into schema/yandex-<version>.json, and regenerates
# .gen/ from it. Commit the schema afterwards; .gen/ is generated on install and not committed.
#   Version:    tools/provider-schema/provider-version.txt (and the require line in its go.mod)
#   Types kept: tools/provider-schema/resource-types.txt + constructs/yandex-resource-types.txt
#   Env:        YC_GO_SDK_SRC  checkout of github.com/yandex-cloud/go-sdk (see provider-mirror.sh)
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

t0=$SECONDS
bash scripts/toolchain/provider-mirror.sh > /dev/null
log "provider ready ($((SECONDS - t0)) s)"
t1=$SECONDS
bash scripts/toolchain/extract-schema.sh
log "schema extracted ($((SECONDS - t1)) s)"
t2=$SECONDS
bash scripts/toolchain/gen-bindings.sh
log "bindings generated ($((SECONDS - t2)) s); total $((SECONDS - t0)) s"
git status --short -- schema/ >&2 || true
