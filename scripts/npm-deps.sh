# ensure_node_modules : `npm ci` from the committed lock, only when node_modules is missing or was
# installed from a different lock. Source it after lib.sh; do not run it.
ensure_node_modules() {
  local stamp="$REPO_ROOT/node_modules/.yc-mlops-lock-sha256" want
  want="$(sha256sum "$REPO_ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "npm ci (package-lock.json changed or node_modules missing)"
  (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" > "$stamp"
}
