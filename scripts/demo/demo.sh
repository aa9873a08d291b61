#!/usr/bin/env bash
# `make demo`: the whole pipeline on this machine, no cloud. Creates the pinned Python environments
# (first run only), starts MLflow on 127.0.0.1, initialises a local Airflow (SQLite) and runs the DAG
# fraud_pipeline for one logical date with `airflow dags test` on the local backend (spark-submit
# --master local[2]); then prints each model's test ROC AUC, AP, CP@100 and F1 with its 95% CI, the
# paired difference, the p-value, the verdict and the MLflow URL.
#
# Environment:
#   DEMO_DATE=YYYY-MM-DD   logical date (default 2024-04-30; a rerun of a date replaces its outputs)
#   DEMO_WORK_DIR=PATH     work folder (default <repo>/.work/demo, gitignored); delete it to start over
#   DEMO_CONFIG="K=JSON .." pipeline config overrides, checked like the config itself (e.g. the
#                          handbook's size: "customers=5000 terminals=10000 radius=5.0")
#   KEEP_SERVERS=1         leave the MLflow UI up afterwards and start the Airflow UI on the run
#                          (scripts/demo/demo-ui.sh; prints both links and how to stop them)
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/demo/local-airflow.sh"
cd "$REPO_ROOT"

DATE="${DEMO_DATE:-2024-04-30}"
WORK="${DEMO_WORK_DIR:-$REPO_ROOT/.work/demo}"
python3 -c 'import datetime,sys; datetime.date.fromisoformat(sys.argv[1])' "$DATE" 2>/dev/null \
  || die "bad DEMO_DATE '$DATE': expected YYYY-MM-DD"
mkdir -p "$WORK" && WORK="$(cd "$WORK" && pwd)"
t0=$SECONDS

log "1/4 Python environments (pinned locks; reused when unchanged)"
JOBS_VENV="$(jobs_venv)"
AIRFLOW_VENV="$(venv_for airflow "$REPO_ROOT/jobs/requirements-airflow.lock")"
log "    jobs: $JOBS_VENV"
log "    airflow: $AIRFLOW_VENV ($((SECONDS - t0)) s so far)"
command -v java >/dev/null || die "java not found: Spark needs a Java 17 runtime on PATH"

cleanup() {
  stop_dag_test
  if [ "${KEEP_SERVERS:-0}" = 1 ]; then
    [ "${demo_done:-0}" = 1 ] \
      || log "MLflow left running at ${MLFLOW_URI:-?}; stop it with: bash scripts/demo/mlflow-local.sh stop $WORK/mlflow"
  else
    # a start still under way writes its pid file later: let it finish, then stop what it started
    [ -z "${mlflow_start_pid:-}" ] || wait "$mlflow_start_pid" 2>/dev/null || true
    bash "$REPO_ROOT/scripts/demo/mlflow-local.sh" stop "$WORK/mlflow" || true
    if [ "${demo_done:-0}" = 1 ]; then
      log "MLflow server stopped. To look at this run in the browser (MLflow and Airflow UIs on loopback):"
      log "  make demo-ui$( [ "$WORK" = "$REPO_ROOT/.work/demo" ] || printf ' DEMO_WORK_DIR=%s' "$WORK")   (or KEEP_SERVERS=1 make demo next time)"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "2/4 MLflow server on loopback (SQLite + $WORK/mlflow/artifacts), job code, config, Airflow DB"
# MLflow takes ~15 s to start; it comes up in the background while Airflow's DB is prepared and the
# first three steps run (none of them talks to MLflow). If it fails, the DAG run is stopped.
if MLFLOW_URI="$(bash "$REPO_ROOT/scripts/demo/mlflow-local.sh" uri "$WORK/mlflow" 2>/dev/null)"; then
  mlflow_start_pid=""
else
  MLFLOW_PORT="$(free_port)"
  MLFLOW_URI="http://127.0.0.1:$MLFLOW_PORT"
  bash "$REPO_ROOT/scripts/demo/mlflow-local.sh" start "$WORK/mlflow" "$MLFLOW_PORT" >"$WORK/mlflow-start.log" 2>&1 &
  mlflow_start_pid=$!
fi
stage_jobs "$WORK"
read -ra overrides <<<"${DEMO_CONFIG:-}"
write_local_config "$WORK" "$MLFLOW_URI" "$JOBS_VENV" "${overrides[@]}" >/dev/null \
  || die "bad DEMO_CONFIG '${DEMO_CONFIG:-}' (the error above names the key)"
airflow_env "$WORK" "$AIRFLOW_VENV"
airflow_db_init "$AIRFLOW_VENV"
log "    config: $FRAUD_PIPELINE_CONFIG; AIRFLOW_HOME=$AIRFLOW_HOME ($((SECONDS - t0)) s so far)"
if [ -n "$mlflow_start_pid" ]; then
  log "3/4 MLflow at $MLFLOW_URI (starting in the background)"
else
  log "3/4 MLflow at $MLFLOW_URI (already running)"
fi

log "4/4 airflow dags test fraud_pipeline $DATE (local backend)"
mkdir -p "$WORK/logs"
RUN_LOG="$WORK/logs/dags-test-$DATE.log"
run_start=$SECONDS
mlflow_failed() { cat "$WORK/mlflow-start.log" >&2; die "the MLflow server did not start (log above)"; }
if ! run_dag_test "$RUN_LOG" "$DATE" "$mlflow_start_pid"; then
  # (a start job that ended without a running server is a failed start; one still going is not)
  if [ -n "$mlflow_start_pid" ] && ! kill -0 "$mlflow_start_pid" 2>/dev/null \
      && ! bash "$REPO_ROOT/scripts/demo/mlflow-local.sh" uri "$WORK/mlflow" >/dev/null 2>&1; then
    mlflow_failed
  fi
  die "the DAG run failed; full log: $RUN_LOG"
fi
log "    DAG run done in $((SECONDS - run_start)) s; full log: $RUN_LOG"

"$JOBS_VENV/bin/python" "$REPO_ROOT/scripts/demo/demo_summary.py" \
  --config "$FRAUD_PIPELINE_CONFIG" --date "$DATE"
demo_done=1
log "demo finished in $((SECONDS - t0)) s"
if [ "${KEEP_SERVERS:-0}" = 1 ]; then
  DEMO_WORK_DIR="$WORK" bash "$REPO_ROOT/scripts/demo/demo-ui.sh" start
fi
