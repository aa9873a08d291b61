#!/usr/bin/env bash
# Generates the TypeScript provider bindings (.gen/) with `cdktf get` from the committed provider
# schema (schema/yandex-<version>.json), offline and without terraform: the schema is handed to cdktf
# through its schema cache (CDKTF_EXPERIMENTAL_PROVIDER_SCHEMA_CACHE_PATH). Does nothing when .gen/
# was already generated from the same schema, cdktf.json and cdktf-cli.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/provider-env.sh"
cd "$REPO_ROOT"

[ -f "$SCHEMA_FILE" ] || die "no committed schema ${SCHEMA_FILE#"$REPO_ROOT"/} (run: make bindings)"
[ -f cdktf.json ] || die "no cdktf.json in $REPO_ROOT"
# cdktf-cli comes from the project's npm lock (scripts/npm-deps.sh installs it when needed).
if [ -f scripts/npm-deps.sh ]; then
  source scripts/npm-deps.sh
  ensure_node_modules >&2
fi
[ -x node_modules/.bin/cdktf ] || die "node_modules/.bin/cdktf is missing (npm ci did not install cdktf-cli)"

# The schema cache key cdktf looks up: "<provider name>@<version constraint>", URI-encoded, taken from
# cdktf.json; the constraint must be exactly the version the committed schema was extracted from.
cache_key="$(node -e '
  const cfg = require(process.argv[1]);
  const want = process.argv[2];
  const entries = (cfg.terraformProviders || []).map(p => typeof p === "string" ? p : `${p.source}@${p.version}`);
  const yandex = entries.filter(e => /^(registry\.terraform\.io\/)?yandex-cloud\/yandex@/.test(e));
  if (yandex.length !== 1) { console.error(`cdktf.json: expected one yandex-cloud/yandex provider, found ${JSON.stringify(entries)}`); process.exit(1); }
  const version = yandex[0].split("@")[1];
  if (version !== want) { console.error(`cdktf.json pins yandex-cloud/yandex@${version}, but the committed schema is for ${want}: pin "yandex-cloud/yandex@${want}" or rebuild the schema (make bindings)`); process.exit(1); }
  process.stdout.write(encodeURIComponent("yandex") + "@" + encodeURIComponent(version));
' "$REPO_ROOT/cdktf.json" "$PROVIDER_VERSION")" || die "cannot derive the schema cache key from cdktf.json"

cli_version="$(node -p 'require("cdktf-cli/package.json").version')"
stamp_value="$( { sha256sum "$SCHEMA_FILE" cdktf.json | cut -d' ' -f1; echo "cdktf-cli $cli_version"; } | sha256sum | cut -c1-16)"
stamp=".gen/.bindings-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_value" ] && [ -d .gen/providers/yandex ]; then
  log ".gen/ is up to date with ${SCHEMA_FILE#"$REPO_ROOT"/}"
  exit 0
fi

cache_dir="$MLOPS_CACHE/cdktf-schema-cache/$stamp_value"
mkdir -p "$cache_dir"
cp "$SCHEMA_FILE" "$cache_dir/$cache_key.json"

log "generating .gen/ with cdktf get (cdktf-cli $cli_version, schema ${SCHEMA_FILE#"$REPO_ROOT"/})"
start=$SECONDS
# A stale .gen/ would be kept by cdktf's "already generated" check (it compares only the constraint).
rm -rf .gen
if ! CDKTF_EXPERIMENTAL_PROVIDER_SCHEMA_CACHE_PATH="$cache_dir" CHECKPOINT_DISABLE=1 DISABLE_VERSION_CHECK=1 CI=1 \
     CDKTF_DISABLE_PLUGIN_CACHE_ENV=1 \
     node_modules/.bin/cdktf get > "$cache_dir/get.log" 2>&1; then
  cat "$cache_dir/get.log" >&2
  rm -rf .gen
  die "cdktf get failed"
fi
# cdktf get falls back to running terraform on a cache miss; offline that fails, and a success
# without a cache hit would mean the bindings did not come from the committed schema.
[ -d .gen/providers/yandex ] || { cat "$cache_dir/get.log" >&2; rm -rf .gen; die "cdktf get produced no .gen/providers/yandex"; }
printf '%s\n' "$stamp_value" > "$stamp"
log "generated .gen/ in $((SECONDS - start)) s ($(find .gen -name '*.ts' | wc -l) .ts files, $(du -sh .gen | cut -f1))"
