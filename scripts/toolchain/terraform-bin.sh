#!/usr/bin/env bash
# Prints the path of a terraform binary: the one on PATH, else v1.5.7 (the last MPL release) built
# once from the Go module proxy into $MLOPS_CACHE/bin. All provider/validate scripts use this.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/provider-env.sh"

if [ -z "${FORCE_TERRAFORM_BUILD:-}" ] && command -v terraform >/dev/null 2>&1; then
  command -v terraform
  exit 0
fi
bin="$MLOPS_CACHE/bin/terraform-$TERRAFORM_FALLBACK_VERSION"
if [ ! -x "$bin" ]; then
  log "terraform not on PATH: building terraform v$TERRAFORM_FALLBACK_VERSION from the Go module proxy (first run only)"
  start=$SECONDS
  tmp="$(mktemp -d)"
  # go install has no -o; install into a temp GOBIN and move, so a failed build leaves nothing behind.
  GOBIN="$tmp" nice go install -p 2 -trimpath -ldflags "-s -w" "github.com/hashicorp/terraform@v$TERRAFORM_FALLBACK_VERSION" >&2 \
    || { rm -rf "$tmp"; die "building terraform v$TERRAFORM_FALLBACK_VERSION failed"; }
  mkdir -p "$(dirname "$bin")"
  mv "$tmp/terraform" "$bin"
  rm -rf "$tmp"
  log "built terraform v$TERRAFORM_FALLBACK_VERSION in $((SECONDS - start)) s"
fi
printf '%s\n' "$bin"
