#!/usr/bin/env bash
# The whole test suite: installs what it needs, starts the services its tests use, runs every part.
# Usage: scripts/test/test-all.sh [part...]   (parts: stack validate jobs dag boot; default: all)
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

ALL_PARTS=(stack validate jobs dag boot)
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=("${ALL_PARTS[@]}")

passed=0 failed=0 failed_names=()
for part in "${parts[@]}"; do
  script="scripts/test/test-$part.sh"
  [ -f "$script" ] || die "unknown test part '$part' (no $script)"
  log "=== test part: $part"
  start=$SECONDS
  if bash "$script"; then
    passed=$((passed + 1)); log "=== $part: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); failed_names+=("$part"); log "=== $part: FAILED ($((SECONDS - start)) s)"
  fi
done
[ $failed -eq 0 ] || log "failed parts: ${failed_names[*]}"
echo "parts: $passed passed, $failed failed"
[ $failed -eq 0 ]
