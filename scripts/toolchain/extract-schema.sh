#!/usr/bin/env bash
# Extracts the provider schema with `terraform providers schema -json` from the locally built
# provider (filesystem mirror only, no registry), keeps the types listed in
# tools/provider-schema/resource-types.txt and writes schema/yandex-<version>.json.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/provider-env.sh"

provider_bin="$(bash "$REPO_ROOT/scripts/toolchain/provider-mirror.sh")" || die "the provider is not available (see above)"
terraform="$(bash "$REPO_ROOT/scripts/toolchain/terraform-bin.sh")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
write_mirror_cli_config "$PROVIDER_MIRROR" "$work/cli.tfrc"
cat > "$work/main.tf.json" <<JSON
{"terraform": {"required_providers": {"yandex": {"source": "yandex-cloud/yandex", "version": "$PROVIDER_VERSION"}}}}
JSON
log "terraform providers schema -json ($provider_bin)"
(
  cd "$work"
  unset TF_PLUGIN_CACHE_DIR
  export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1
  "$terraform" init -input=false -backend=false > init.log 2>&1 || { cat init.log >&2; exit 1; }
  "$terraform" providers schema -json > full.json
)
mkdir -p "$(dirname "$SCHEMA_FILE")"
type_lists=("$PROVIDER_TOOL_DIR/resource-types.txt")
# The stack's own list of the types its constructs use, so a construct never lacks its binding.
[ -f "$REPO_ROOT/constructs/yandex-resource-types.txt" ] && type_lists+=("$REPO_ROOT/constructs/yandex-resource-types.txt")
python3 "$PROVIDER_TOOL_DIR/filter_schema.py" "$work/full.json" "$PROVIDER_SOURCE" "$PROVIDER_VERSION" \
  "$SCHEMA_FILE" "${type_lists[@]}"
log "wrote ${SCHEMA_FILE#"$REPO_ROOT"/} ($(du -h "$SCHEMA_FILE" | cut -f1))"
