#!/usr/bin/env bash
# Builds terraform-provider-yandex (version in tools/provider-schema/provider-version.txt) from the Go
# module proxy and installs it into a Terraform filesystem mirror under $MLOPS_CACHE. Cached: it
# rebuilds only when the version, the tool module or the go-sdk source changes. Prints the binary path.
#
# The proxy reachable here refuses github.com/yandex-cloud/go-sdk/services/* (every version) and
# go-sdk/v2 v2.159.0. Those modules are thin API-client wrappers; point YC_GO_SDK_SRC at a checkout
# of github.com/yandex-cloud/go-sdk (its root is the v2 module, with services/ below) and they are
# taken from there; the provider's own code and every other module still come from the proxy.
# Without one the script tries the proxy alone and, when the proxy refuses, exits 3 so callers can
# fall back to the schema stand-in (scripts/test/test-validate.sh does).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/provider-env.sh"

sdk_src="${YC_GO_SDK_SRC:-}"
if [ -z "$sdk_src" ]; then
  # A checkout unpacked earlier on this machine (newest first).
  sdk_src="$(ls -1dt "$MLOPS_CACHE"/go-sdk-src/*/ 2>/dev/null | head -n1 || true)"
  sdk_src="${sdk_src%/}"
fi
if [ -n "$sdk_src" ] && [ ! -d "$sdk_src/services" ]; then
  die "YC_GO_SDK_SRC=$sdk_src has no services/ directory (expected a checkout of github.com/yandex-cloud/go-sdk)"
fi

key="$( { echo "$PROVIDER_VERSION"; echo "$sdk_src"; cat "$PROVIDER_TOOL_DIR/go.mod";
          find "$PROVIDER_TOOL_DIR/compat" -type f -print0 | sort -z | xargs -0 cat; } | sha256sum | cut -c1-16)"
stamp="$PROVIDER_BIN_DIR/.build-key"
if [ -x "$PROVIDER_BIN" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
  printf '%s\n' "$PROVIDER_BIN"
  exit 0
fi

build="$MLOPS_CACHE/provider-build/$PROVIDER_VERSION"
mkdir -p "$build"
modfile="$build/build.mod"
cp "$PROVIDER_TOOL_DIR/go.mod" "$modfile"
[ -f "$PROVIDER_TOOL_DIR/go.sum" ] && cp "$PROVIDER_TOOL_DIR/go.sum" "$build/build.sum"
cd "$PROVIDER_TOOL_DIR"

log "resolving terraform-provider-yandex v$PROVIDER_VERSION (module download; first run only)"
start=$SECONDS
gomod="$(go mod download -modfile="$modfile" -json "github.com/yandex-cloud/terraform-provider-yandex@v$PROVIDER_VERSION" \
         | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
[ -f "$gomod" ] || die "could not download github.com/yandex-cloud/terraform-provider-yandex@v$PROVIDER_VERSION"
if [ -z "$sdk_src" ]; then
  # Probe one go-sdk service module before downloading ~1 GB of others: a refusal is final.
  probe="$(grep -oE 'github.com/yandex-cloud/go-sdk/services/vpc v[0-9.]+' "$gomod" | tr ' ' '@')"
  if [ -n "$probe" ] && ! go mod download -modfile="$modfile" "$probe" 2> "$build/probe.log"; then
    sed 's/^/  /' "$build/probe.log" >&2
    log "the Go module proxy refuses $probe (and the other go-sdk/services/* modules); set YC_GO_SDK_SRC to a checkout of github.com/yandex-cloud/go-sdk"
    exit 3
  fi
else
  # Every services/* module the provider requires that is not already replaced (the triggers shim).
  for mod in $(grep -oE 'github.com/yandex-cloud/go-sdk/services/[a-z0-9/]+ v[0-9.]+' "$gomod" | awk '{print $1}'); do
    grep -q "^replace $mod " "$modfile" && continue
    grep -q "replace $mod =>" "$PROVIDER_TOOL_DIR/go.mod" && continue
    dir="$sdk_src/${mod#github.com/yandex-cloud/go-sdk/}"
    [ -f "$dir/go.mod" ] && printf 'replace %s => %s\n' "$mod" "$dir" >> "$modfile"
  done
  # The provider pins go-sdk/v2 v2.159.0, which the proxy refuses too (it serves only newer ones,
  # whose go-genproto no longer has APIs the provider's older go-sdk v0 needs): take it from the
  # same checkout, so go-genproto stays at the provider's own pin.
  if [ "$(sed -n 's/^module //p' "$sdk_src/go.mod" 2>/dev/null)" = "github.com/yandex-cloud/go-sdk/v2" ]; then
    printf 'replace github.com/yandex-cloud/go-sdk/v2 => %s\n' "$sdk_src" >> "$modfile"
  fi
  log "go-sdk modules taken from $sdk_src"
fi
# Download failures are reported by the go command with the module names (a 403 from the proxy means
# it refuses that module version: final, not a network hiccup).
if ! nice go mod tidy -modfile="$modfile" > "$build/tidy.log" 2>&1; then
  grep -E '403|404|not available|does not contain' "$build/tidy.log" | sed 's/^/  /' | sort -u | head -20 >&2
  log "could not resolve the provider's modules (full log: $build/tidy.log)"
  [ -z "$sdk_src" ] && log "hint: set YC_GO_SDK_SRC to a checkout of github.com/yandex-cloud/go-sdk"
  exit 3
fi
log "modules resolved in $((SECONDS - start)) s; module cache now $(du -sh "$GOMODCACHE" | cut -f1)"

log "building terraform-provider-yandex v$PROVIDER_VERSION (nice, -p 2; several minutes on a cold cache)"
start=$SECONDS
tmp="$build/terraform-provider-yandex.tmp"
nice go build -modfile="$modfile" -p 2 -trimpath \
  -ldflags "-s -w -X github.com/yandex-cloud/terraform-provider-yandex/version.ProviderVersion=$PROVIDER_VERSION" \
  -o "$tmp" github.com/yandex-cloud/terraform-provider-yandex
log "built in $((SECONDS - start)) s ($(du -h "$tmp" | cut -f1))"
mkdir -p "$PROVIDER_BIN_DIR"
mv "$tmp" "$PROVIDER_BIN"
printf '%s\n' "$key" > "$stamp"
printf '%s\n' "$PROVIDER_BIN"
