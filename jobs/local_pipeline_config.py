"""Write the local backend's pipeline config (what `make demo` and the DAG tests run).

The config is checked by PipelineConfig itself before anything is written, so a bad override fails
here, naming its key, instead of at the DAG's parse. Keys left out take PipelineConfig's defaults.

Usage: python jobs/local_pipeline_config.py WORK MLFLOW_URI JOBS_VENV [KEY=JSON ...]
  writes WORK/pipeline.json and prints its path; KEY=JSON pairs override keys (customers=200).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence

JOBS_DIR = os.path.dirname(os.path.abspath(__file__))
if JOBS_DIR not in sys.path:
    sys.path.insert(0, JOBS_DIR)

from fraud_jobs.pipeline_spec import PipelineConfig  # noqa: E402  (pure Python)


def local_config(work: str, mlflow_uri: str, venv: str, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The local backend's config for a work folder (layout: scripts/demo/local-airflow.sh), checked."""
    py = os.path.join(venv, "bin", "python")
    cfg: dict[str, Any] = {
        "backend": "local",
        "landing_root": "file://" + os.path.join(work, "data", "landing"),
        "data_root": "file://" + os.path.join(work, "data", "lake"),
        "mlflow_tracking_uri": mlflow_uri,
        "jobs_uri": "file://" + os.path.join(work, "jobs"),
        "spark_submit": os.path.join(venv, "bin", "spark-submit"),
        "spark_master": "local[2]",
        # Spark on loopback only, no UI port, few shuffle partitions for small data.
        "spark_properties": {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "4",
            "spark.pyspark.python": py,
            "spark.pyspark.driver.python": py,
        },
        "env": {
            "PYSPARK_PYTHON": py,
            "PYSPARK_DRIVER_PYTHON": py,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_CONF_DIR": os.path.join(work, "spark-conf"),
        },
        # a failing step gets one quick retry here; the cloud default is 2 retries from 60 s
        "retries": 1,
        "retry_delay_seconds": 5,
        "max_retry_delay_seconds": 30,
        "task_timeout_minutes": 30,
    }
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"bad override {item!r}: expected KEY=JSON")
        try:
            cfg[key] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"bad override {item!r}: the value is not JSON ({exc.msg})") from None
    PipelineConfig.from_mapping(cfg)  # a bad key or value fails here, naming it
    return cfg


def main(argv: Sequence[str]) -> int:
    if len(argv) < 3:
        print("usage: python jobs/local_pipeline_config.py WORK MLFLOW_URI JOBS_VENV [KEY=JSON ...]", file=sys.stderr)
        return 2
    work, mlflow_uri, venv, *overrides = argv
    try:
        cfg = local_config(work, mlflow_uri, venv, overrides)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    path = os.path.join(work, "pipeline.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(cfg, fh, indent=2)
    os.replace(path + ".tmp", path)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
