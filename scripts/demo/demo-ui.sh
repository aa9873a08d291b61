#!/usr/bin/env bash
# The web UIs of the local run, on loopback only: the MLflow UI (scripts/demo/mlflow-local.sh, the run's
# SQLite store and artifacts) and the Airflow UI (`airflow api-server` over the run's Airflow home,
# which holds the DAG and the runs `airflow dags test` recorded), to look at what `make demo` did.
#
# Usage:
#   scripts/demo/demo-ui.sh start   start both (a running one is reused); prints the links and how to stop
#   scripts/demo/demo-ui.sh stop    stop both
# Environment: DEMO_WORK_DIR=PATH, the demo's work folder (default <repo>/.work/demo).
# `start` ends with machine-readable lines for scripts and tests: MLFLOW_UI=..., AIRFLOW_UI=...
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/demo/local-airflow.sh"

cmd="${1:-}"
WORK="${DEMO_WORK_DIR:-$REPO_ROOT/.work/demo}"

case "$cmd" in
  start)
    [ -f "$WORK/pipeline.json" ] && [ -d "$WORK/airflow" ] \
      || die "no local run in $WORK: run 'make demo' first (or set DEMO_WORK_DIR)"
    WORK="$(cd "$WORK" && pwd)"
    JOBS_VENV="$(jobs_venv)"
    AIRFLOW_VENV="$(venv_for airflow "$REPO_ROOT/jobs/requirements-airflow.lock")"
    mlflow_uri="$(bash "$REPO_ROOT/scripts/demo/mlflow-local.sh" start "$WORK/mlflow")"
    airflow_uri="$(airflow_ui_start "$WORK" "$AIRFLOW_VENV")"
    experiment_url="$(PYTHONPATH="$REPO_ROOT/jobs" "$JOBS_VENV/bin/python" -m fraud_jobs.tracking \
      "$mlflow_uri" "$WORK/pipeline.json")" || experiment_url="$mlflow_uri"
    cat >&2 <<EOF

What the run did, in the browser (loopback only):
  MLflow  : $experiment_url
            the experiment's runs and their metrics; the compare run's artifacts hold the
            comparison figure; "Model registry" shows the model's versions and its 'champion' alias
  Airflow : $airflow_uri/dags/fraud_pipeline
            user admin, password in $WORK/airflow/simple_auth_manager_passwords.json.generated
            the DAG's graph and the run's task states (the tasks' output: $WORK/logs/;
            \`airflow dags test\` writes no task logs the UI can show)
Stop both: make demo-ui-stop$( [ "$WORK" = "$REPO_ROOT/.work/demo" ] || printf ' DEMO_WORK_DIR=%s' "$WORK")   (bash scripts/demo/demo-ui.sh stop)

EOF
    printf 'MLFLOW_UI=%s\nAIRFLOW_UI=%s\n' "$experiment_url" "$airflow_uri"
    ;;
  stop)
    airflow_ui_stop "$WORK"
    bash "$REPO_ROOT/scripts/demo/mlflow-local.sh" stop "$WORK/mlflow"
    log "the UIs of $WORK are stopped"
    ;;
  *) die "usage: $0 start|stop (DEMO_WORK_DIR=PATH for another work folder)" ;;
esac
