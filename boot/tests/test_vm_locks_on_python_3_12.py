"""The VMs boot Ubuntu 24.04, whose Python is 3.12; the booted test root (Debian 12) has 3.11. Here
the two VM locks (units/requirements/*.lock, hashes checked) are installed on a CPython 3.12 by
scripts/test-boot.sh, and what the VMs run from them is exercised: the MLflow server's CLI and app,
and the Airflow host parsing the pipeline's DAG with the cloud's `dataproc` backend.
Skipped, saying so, on a machine without a python3.12."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MLFLOW_VENV = os.environ.get("BOOT_PY312_MLFLOW_VENV", "")
AIRFLOW_VENV = os.environ.get("BOOT_PY312_AIRFLOW_VENV", "")

pytestmark = pytest.mark.skipif(
    not (MLFLOW_VENV and AIRFLOW_VENV),
    reason="no python3.12 on this machine: the VM locks were not installed on Ubuntu 24.04's Python",
)

PARSE_DAG = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("fraud_pipeline")
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "errors": {k: v.splitlines()[-1] for k, v in bag.import_errors.items()},
    "tasks": {t.task_id: [type(t).__name__, sorted(t.downstream_task_ids)] for t in dag.tasks}
             if dag else {},
}))
"""


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)


def test_mlflow_server_lock_installs_and_serves_its_app_on_python_3_12():
    py = Path(MLFLOW_VENV, "bin", "python")
    version = run([str(py), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    assert version.stdout.strip() == "3.12"
    cli = run([str(Path(MLFLOW_VENV, "bin", "mlflow")), "--version"])
    assert cli.returncode == 0 and "3.17.2" in cli.stdout, cli.stderr
    # what the unit runs: the server app, its PostgreSQL driver and the S3 client for the artifacts
    app = run([str(py), "-c", "import mlflow.server, psycopg2, boto3; print('ok')"])
    assert app.stdout.strip() == "ok", app.stderr[-2000:]


def test_airflow_host_lock_parses_the_dag_with_the_dataproc_backend_on_python_3_12(tmp_path):
    config = tmp_path / "pipeline.json"
    config.write_text(json.dumps({
        "backend": "dataproc",
        "jobs_uri": "s3a://fraud-bucket/jobs",
        "landing_root": "s3a://fraud-bucket/landing",
        "data_root": "hdfs:///user/fraud",
        "dataproc_cluster_id": "c9q-test-cluster",
    }))
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "FRAUD_PIPELINE_CONFIG": str(config)}
    out = run([str(Path(AIRFLOW_VENV, "bin", "python")), "-c", PARSE_DAG, str(REPO / "jobs" / "dags")],
              env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    parsed = json.loads(out.stdout.strip().splitlines()[-1])
    assert parsed["python"] == "3.12"
    assert parsed["errors"] == {}
    tasks = parsed["tasks"]
    assert sorted(tasks) == ["bootstrap", "compare", "generate", "preprocess", "save_to_hdfs",
                             "train_lr", "train_rf"]
    assert {kind for kind, _ in tasks.values()} == {"FraudPysparkJobOperator"}
    assert tasks["preprocess"][1] == ["train_lr", "train_rf"]
    assert tasks["train_lr"][1] == tasks["train_rf"][1] == ["bootstrap"]
