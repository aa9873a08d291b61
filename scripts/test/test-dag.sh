#!/usr/bin/env bash
# Test part `dag`: the Airflow DAG in real Airflow (jobs/tests_dag, pytest in the Airflow venv).
#  - integrity: DagBag import, the seven tasks and edges, retries/timeouts, same graph per backend;
#  - end to end (needs the jobs' seven entry scripts): `airflow dags test` on the local backend with
#    a loopback MLflow server; the run's MLflow and Airflow UIs (scripts/demo/demo-ui.sh) opened in
#    headless Chromium (screenshots in .work/ui-artifacts/dag/); then a run with a corrupted landing
#    file that must fail at save_to_hdfs;
#  - the dataproc backend: the same DAG through the Yandex provider against the Yandex Cloud API
#    stand-in (boot/dataproc_standin.py), jobs on HDFS (MiniDFSCluster) and moto's S3 via s3a.
#  - schedule parity: the synth-time pipelineSchedule check agrees with Airflow on a case table and
#    a generated sweep.
# Installs what it needs (pinned venvs, reused; Java + Maven for HDFS and hadoop-aws; node_modules to
# render the Airflow VM's pipeline config and run the TypeScript schedule check; Chromium and
# playwright-core), starts and stops its own servers.
# Usage: scripts/test/test-dag.sh [pytest args...]
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/scripts/toolchain/npm-deps.sh"
cd "$REPO_ROOT"
command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
command -v mvn >/dev/null || apt_install maven
ensure_node_modules
bash scripts/toolchain/gen-bindings.sh >&2  # the pipeline-config and schedule scripts import the constructs, which import .gen/
ensure_browser
export UI_ARTIFACTS_DIR="$REPO_ROOT/.work/ui-artifacts/dag"
rm -rf "$UI_ARTIFACTS_DIR"

AIRFLOW_VENV="$(venv_for airflow "$REPO_ROOT/jobs/requirements-airflow.lock")"
JOBS_VENV="$(jobs_venv)"
STANDIN_MOTO_SERVER="$(venv_for boot-standins "$REPO_ROOT/boot/standin-requirements.lock")/bin/moto_server"
DAG_TEST_WORK="$(mktemp -d "${TMPDIR:-/tmp}/fraud-dag-tests.XXXXXX")"
export AIRFLOW_VENV JOBS_VENV STANDIN_MOTO_SERVER DAG_TEST_WORK

cleanup() {
  # the fixtures stop their servers themselves; this covers an interrupted pytest
  source "$REPO_ROOT/scripts/demo/local-airflow.sh"
  for dir in "$DAG_TEST_WORK" "$DAG_TEST_WORK"/*; do
    [ -d "$dir" ] || continue
    bash "$REPO_ROOT/scripts/demo/mlflow-local.sh" stop "$dir/mlflow" >/dev/null 2>&1 || true
    airflow_ui_stop "$dir" || true
  done
  [ ! -d "$UI_ARTIFACTS_DIR" ] || log "browser screenshots (and what the browser saw): $UI_ARTIFACTS_DIR"
  if [ "${KEEP_TEST_WORK:-0}" = 1 ]; then log "test work folder kept: $DAG_TEST_WORK"; else rm -rf "$DAG_TEST_WORK"; fi
}
trap cleanup EXIT

cd "$REPO_ROOT/jobs"
"$AIRFLOW_VENV/bin/python" -m pytest -p no:cacheprovider -ra tests_dag "$@"
