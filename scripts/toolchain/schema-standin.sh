#!/usr/bin/env bash
# Builds the schema stand-in of terraform-provider-yandex (tools/schema-standin: serves the committed
# schema, supports `terraform validate` only) into its own filesystem mirror under $MLOPS_CACHE and
# prints the mirror directory. Used by test-validate.sh where the real provider cannot be built.
# The stand-in reads the schema from $YANDEX_SCHEMA_STANDIN_FILE at run time.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/provider-env.sh"

src="$REPO_ROOT/tools/schema-standin"
mirror="$MLOPS_CACHE/terraform-mirror-standin"
bin_dir="$mirror/$PROVIDER_SOURCE/$PROVIDER_VERSION/linux_amd64"
bin="$bin_dir/terraform-provider-yandex_v$PROVIDER_VERSION"
key="$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)"
if [ -x "$bin" ] && [ "$(cat "$bin_dir/.build-key" 2>/dev/null)" = "$key" ]; then
  printf '%s\n' "$mirror"
  exit 0
fi
log "building the provider schema stand-in (tools/schema-standin)"
start=$SECONDS
mkdir -p "$bin_dir"
(cd "$src" && nice go build -p 2 -trimpath -ldflags "-s -w" -o "$bin.tmp" .) || die "building the schema stand-in failed"
mv "$bin.tmp" "$bin"
printf '%s\n' "$key" > "$bin_dir/.build-key"
log "built the schema stand-in in $((SECONDS - start)) s"
printf '%s\n' "$mirror"
