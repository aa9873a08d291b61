#!/usr/bin/env bash
# Test part `dag`: the Airflow DAG in real Airflow (jobs/tests_dag, pytest in the Airflow venv).
#  - integrity: DagBag import, the seven tasks and edges, retries/timeouts, same graph per backend;
#  - end to end (needs the jobs' seven entry scripts): `airflow dags test` on the local backend with
#    a loopback MLflow server, then a run with a corrupted landing file that must fail at save_to_hdfs;
#  - schedule parity: the synth-time pipelineSchedule check agrees with Airflow on a case table and
#    a generated sweep.
# Installs what it needs (pinned venvs, reused), starts and stops its own MLflow server.
# Usage: scripts/test-dag.sh [pytest args...]
source "$(dirname "$0")/lib.sh"
source "$REPO_ROOT/scripts/npm-deps.sh"
cd "$REPO_ROOT"
command -v java >/dev/null || apt_install openjdk-17-jre-headless
# test_schedule_parity.py runs the synth-time schedule check (TypeScript) next to Airflow's own
ensure_node_modules

AIRFLOW_VENV="$(venv_for airflow "$REPO_ROOT/jobs/requirements-airflow.lock")"
JOBS_VENV="$(jobs_venv)"
DAG_TEST_WORK="$(mktemp -d "${TMPDIR:-/tmp}/fraud-dag-tests.XXXXXX")"
export AIRFLOW_VENV JOBS_VENV DAG_TEST_WORK

cleanup() {
  # the e2e fixture stops its MLflow server itself; this covers an interrupted pytest
  bash "$REPO_ROOT/scripts/mlflow-local.sh" stop "$DAG_TEST_WORK/mlflow" >/dev/null 2>&1 || true
  if [ "${KEEP_TEST_WORK:-0}" = 1 ]; then log "test work folder kept: $DAG_TEST_WORK"; else rm -rf "$DAG_TEST_WORK"; fi
}
trap cleanup EXIT

cd "$REPO_ROOT/jobs"
"$AIRFLOW_VENV/bin/python" -m pytest -p no:cacheprovider -ra tests_dag "$@"
