# Shared settings of the provider/schema/validate scripts. Source it after lib.sh; do not run it.
# Everything about the Yandex provider build lives here, so the version is named in one place.

PROVIDER_VERSION="$(tr -d '[:space:]' < "$REPO_ROOT/tools/provider-schema/provider-version.txt")"
PROVIDER_SOURCE="registry.terraform.io/yandex-cloud/yandex"
PROVIDER_TOOL_DIR="$REPO_ROOT/tools/provider-schema"
# Terraform filesystem mirror (unpacked layout): HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION
PROVIDER_MIRROR="$MLOPS_CACHE/terraform-mirror"
PROVIDER_BIN_DIR="$PROVIDER_MIRROR/$PROVIDER_SOURCE/$PROVIDER_VERSION/linux_amd64"
PROVIDER_BIN="$PROVIDER_BIN_DIR/terraform-provider-yandex_v$PROVIDER_VERSION"
SCHEMA_FILE="$REPO_ROOT/schema/yandex-$PROVIDER_VERSION.json"
TERRAFORM_FALLBACK_VERSION="1.5.7"   # last MPL release; built from the Go module proxy if needed
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-}"

# write_mirror_cli_config MIRROR_DIR FILE : a Terraform CLI config that installs providers only from
# that filesystem mirror (no direct {} block), so init never reaches for a registry.
write_mirror_cli_config() {
  cat > "$2" <<CFG
provider_installation {
  filesystem_mirror {
    path    = "$1"
    include = ["$PROVIDER_SOURCE"]
  }
}
CFG
}
