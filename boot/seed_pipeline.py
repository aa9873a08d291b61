"""Runs the pipeline's seven steps for one logical date in one Python process: each step's entry
script (jobs/entrypoints/STEP.py, what spark-submit runs on the cluster) called with the arguments
the DAG gives it (fraud_jobs.pipeline_spec.step_args) from a pipeline config, in one local Spark
session. The boot test uses it to fill a booted MLflow host with what a real pipeline run logs
(runs, metrics, models, the comparison figure, the `champion` alias) before opening it in a browser;
with the config's mlflow_username / mlflow_password_secret_id / mlflow_ca_uri the jobs log in the way
they do in the cloud (Lockbox password through the metadata and Lockbox endpoints of
$YC_METADATA_URL / $YC_LOCKBOX_PAYLOAD_URL, the server's own CA).

Usage: PYTHONPATH=jobs python boot/seed_pipeline.py PIPELINE_CONFIG.json YYYY-MM-DD
Prints one JSON line: the summaries the steps returned, by step.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

ENTRYPOINTS = Path(__file__).resolve().parents[1] / "jobs" / "entrypoints"


def entry_main(step: str):
    spec = importlib.util.spec_from_file_location(f"entry_{step}", ENTRYPOINTS / f"{step}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def main(config_path: str, logical_date: str) -> dict:
    from fraud_jobs.pipeline_spec import STEPS, PipelineConfig, step_args

    cfg = PipelineConfig.load(config_path)
    # one small local Spark for every step (the jobs' spark_session() falls back to SPARK_MASTER)
    os.environ.setdefault("SPARK_MASTER", "local[2]")
    results = {}
    for step in STEPS:
        print(f"[seed] {step}", file=sys.stderr, flush=True)
        results[step] = entry_main(step)(step_args(step, cfg, logical_date))
    return results


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: seed_pipeline.py PIPELINE_CONFIG.json YYYY-MM-DD")
    out = main(sys.argv[1], sys.argv[2])
    print(json.dumps(out, default=str))
