#!/usr/bin/env bash
# `make screenshots`: refreshes the README's pictures (docs/images/) from a real local run. Runs the
# demo in its own work folder with KEEP_SERVERS=1, opens the run's MLflow and Airflow UIs in headless
# Chromium with the tests' pages and checks (scripts/demo/screenshots.py), writes the pictures, and stops
# the UIs. Environment: SCREENSHOTS_WORK_DIR (default <repo>/.work/screenshots; reused: a second
# run of the same date replaces the first), DEMO_DATE as for the demo.
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/toolchain/npm-deps.sh"
cd "$REPO_ROOT"

WORK="${SCREENSHOTS_WORK_DIR:-$REPO_ROOT/.work/screenshots}"
DATE="${DEMO_DATE:-2024-04-30}"
ensure_browser
export UI_ARTIFACTS_DIR="$WORK/ui-artifacts"
trap 'DEMO_WORK_DIR="$WORK" bash "$REPO_ROOT/scripts/demo/demo-ui.sh" stop' EXIT

links="$(DEMO_WORK_DIR="$WORK" DEMO_DATE="$DATE" KEEP_SERVERS=1 bash "$REPO_ROOT/scripts/demo/demo.sh" | tee /dev/stderr)"
mlflow_ui="$(sed -n 's/^MLFLOW_UI=//p' <<<"$links")"
airflow_ui="$(sed -n 's/^AIRFLOW_UI=//p' <<<"$links")"
[ -n "$mlflow_ui" ] && [ -n "$airflow_ui" ] || die "the demo printed no UI links"
PYTHONPATH="$REPO_ROOT/jobs" "$(jobs_venv)/bin/python" "$REPO_ROOT/scripts/demo/screenshots.py" \
  --mlflow "$mlflow_ui" --airflow "$airflow_ui" --work "$WORK" --date "$DATE" --out "$REPO_ROOT/docs/images"
log "pictures refreshed in docs/images/ (everything the browser saw: $UI_ARTIFACTS_DIR)"
