"""Fixtures of the DAG tests. They run in the Airflow environment (jobs/requirements-airflow.lock),
started by scripts/test/test-dag.sh, which exports:

  DAG_TEST_WORK   a scratch folder for this test session (Airflow home, configs, pipeline data)
  JOBS_VENV       the jobs' Python environment (spark-submit, mlflow) used by the local backend
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO / "jobs" / "dags"
WORK = Path(os.environ.get("DAG_TEST_WORK") or "/tmp/fraud-dag-tests").resolve()

# Airflow reads its settings when first imported: point it at a private home before that.
os.environ.setdefault("AIRFLOW_HOME", str(WORK / "airflow"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_DIR)
os.environ.setdefault("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "300")
Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)

if str(DAGS_DIR) not in sys.path:
    sys.path.insert(0, str(DAGS_DIR))

# The edges of the seed's pipeline, written out here (not read from pipeline_spec) so a change of
# the contract that breaks the intended shape fails a test.
EXPECTED_EDGES = {
    ("generate", "save_to_hdfs"),
    ("save_to_hdfs", "preprocess"),
    ("preprocess", "train_lr"),
    ("preprocess", "train_rf"),
    ("train_lr", "bootstrap"),
    ("train_rf", "bootstrap"),
    ("bootstrap", "compare"),
}
EXPECTED_TASKS = {"generate", "save_to_hdfs", "preprocess", "train_lr", "train_rf", "bootstrap", "compare"}


def write_config(path: Path, **fields) -> Path:
    """A pipeline config JSON file (the one source of the DAG's settings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fields, indent=2))
    return path


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    """Write a config and point $FRAUD_PIPELINE_CONFIG at it; returns a writer(**fields) -> Path."""

    def make(**fields) -> Path:
        path = write_config(tmp_path / "pipeline.json", **fields)
        monkeypatch.setenv("FRAUD_PIPELINE_CONFIG", str(path))
        return path

    return make


# ---------------------------------------------------------------------------------------------
# shared by the whole-DAG runs (local and dataproc backends): one MLflow server, one Airflow home


@pytest.fixture(scope="session")
def mlflow_server():
    """A loopback MLflow server (scripts/demo/mlflow-local.sh, the demo's); each test uses its own
    experiment and registered model. scripts/test/test-dag.sh stops it too if pytest is killed."""
    import subprocess

    state = WORK / "mlflow"
    uri = subprocess.run(["bash", "scripts/demo/mlflow-local.sh", "start", str(state)],
                         cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    try:
        yield uri
    finally:
        subprocess.run(["bash", "scripts/demo/mlflow-local.sh", "stop", str(state)], cwd=REPO)


@pytest.fixture(scope="session")
def airflow_env() -> dict:
    """The environment of `airflow dags test`: a migrated SQLite Airflow home of this session."""
    import subprocess

    home = WORK / "airflow-runs"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # The tests run the one DAG under several configs (local, always-on, per-run: other tasks) in
    # this one home. Airflow skips storing a DAG's new version within 30 s of the last one
    # (min_serialized_dag_update_interval), so a quick next run, and the UI showing it, would get the
    # previous config's graph: store every version.
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_DIR), AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL="0")
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], env=env, check=True,
                   capture_output=True)
    return env
