# ensure_node_modules [DIR] : `npm ci` from DIR's committed lock (default: the repo root), only when
# DIR/node_modules is missing or was installed from a different lock. Source it after lib.sh; do not
# run it.
ensure_node_modules() {
  local dir="${1:-$REPO_ROOT}" stamp want
  stamp="$dir/node_modules/.yc-mlops-lock-sha256"
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "npm ci in $dir (package-lock.json changed or node_modules missing)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" > "$stamp"
}

# ensure_browser : what the tests that open the web UIs need: Debian's Chromium (/usr/bin/chromium)
# and playwright-core from browser/package-lock.json, which drives it and never downloads a browser.
ensure_browser() {
  apt_install chromium
  ensure_node_modules "$REPO_ROOT/browser"
}
