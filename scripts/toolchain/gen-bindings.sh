#!/usr/bin/env bash
# Generates the TypeScript provider bindings (.gen/) with `cdktf get` from the committed provider
# schema (schema/yandex-<version>.json), offline and without terraform: the schema is handed to cdktf
# through its schema cache (CDKTF_EXPERIMENTAL_PROVIDER_SCHEMA_CACHE_PATH). Does nothing when .gen/
# was already generated from the same schema, cdktf.json and cdktf-cli.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/provider-env.sh"
cd "$REPO_ROOT"

[ -f "$SCHEMA_FILE" ] || die "no committed schema ${SCHEMA_FILE#"$REPO_ROOT"/} (run: make bindings)"
[ -f cdktf.json ] || die "no cdktf.json in $REPO_ROOT"
# cdktf-cli comes from the project's npm lock (scripts/toolchain/npm-deps.sh installs it when needed).
if [ -f scripts/toolchain/npm-deps.sh ]; then
  source scripts/toolchain/npm-deps.sh
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
up_to_date() { [ "$(cat .gen/.bindings-stamp 2>/dev/null)" = "$stamp_value" ] && [ -f .gen/providers/yandex/index.ts ]; }
if up_to_date; then
  log ".gen/ is up to date with ${SCHEMA_FILE#"$REPO_ROOT"/}"
  exit 0
fi
# One generator at a time per clone; a second caller waits, then finds .gen/ up to date.
exec 9> "$MLOPS_CACHE/gen-bindings-$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12).lock"
flock 9
if up_to_date; then
  log ".gen/ is up to date with ${SCHEMA_FILE#"$REPO_ROOT"/}"
  exit 0
fi

cache_dir="$MLOPS_CACHE/cdktf-schema-cache/$stamp_value"
mkdir -p "$cache_dir"
cp "$SCHEMA_FILE" "$cache_dir/$cache_key.json"

log "generating .gen/ with cdktf get (cdktf-cli $cli_version, schema ${SCHEMA_FILE#"$REPO_ROOT"/})"
start=$SECONDS
# Generated in a scratch project and swapped in whole, so .gen/ is never seen half-written.
scratch="$(mktemp -d "$REPO_ROOT/.gen-tmp.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
cp cdktf.json package.json "$scratch/"
ln -s "$REPO_ROOT/node_modules" "$scratch/node_modules"
if ! (cd "$scratch" && CDKTF_EXPERIMENTAL_PROVIDER_SCHEMA_CACHE_PATH="$cache_dir" CHECKPOINT_DISABLE=1 \
        DISABLE_VERSION_CHECK=1 CI=1 CDKTF_DISABLE_PLUGIN_CACHE_ENV=1 \
        node_modules/.bin/cdktf get > "$cache_dir/get.log" 2>&1); then
  cat "$cache_dir/get.log" >&2
  die "cdktf get failed"
fi
# On a schema-cache miss cdktf get would run terraform instead (and fail offline): a .gen/ without
# the provider means the bindings did not come from the committed schema.
[ -f "$scratch/.gen/providers/yandex/index.ts" ] || { cat "$cache_dir/get.log" >&2; die "cdktf get produced no .gen/providers/yandex"; }
printf '%s\n' "$stamp_value" > "$scratch/.gen/.bindings-stamp"
rm -rf .gen.old
[ -e .gen ] && mv .gen .gen.old
mv "$scratch/.gen" .gen
rm -rf .gen.old
log "generated .gen/ in $((SECONDS - start)) s ($(find .gen -name '*.ts' | wc -l) .ts files, $(du -sh .gen | cut -f1))"
