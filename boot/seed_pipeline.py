"""Puts what a pipeline run logs onto a booted MLflow host: the model steps of the pipeline (train
LR, train RF, bootstrap, compare), each through the entry script's dispatch (fraud_jobs.common.run_step,
what jobs/entrypoints/run_step.py runs on the cluster) with the arguments the DAG gives it
(fraud_jobs.pipeline_spec.entry_args) from a pipeline config, in one local Spark session.

Their input is a small synthetic feature table (jobs/tests/synthetic_features.py) in which fraud
lives in an amount band that a random forest finds and a logistic regression cannot: the comparison
then promotes the forest, so the registry shows the `champion` alias. With the config's
mlflow_username / mlflow_password_secret_id / mlflow_ca_uri the steps log in as they do in the cloud
(the password from Lockbox through $YC_METADATA_URL and $YC_LOCKBOX_PAYLOAD_URL, the host's CA).

Usage: PYTHONPATH=jobs python boot/seed_pipeline.py PIPELINE_CONFIG.json YYYY-MM-DD
Prints one JSON line: what each step returned.
"""

from __future__ import annotations

import json
import os
import sys

MODEL_STEPS = ("train_lr", "train_rf", "bootstrap", "compare")


def main(config_path: str, logical_date: str) -> dict:
    from fraud_jobs.common import run_step, spark_session
    from fraud_jobs.pipeline_spec import STEPS, PipelineConfig, entry_args
    from tests.synthetic_features import write_features

    assert set(MODEL_STEPS) <= set(STEPS), STEPS
    cfg = PipelineConfig.load(config_path)
    # one small local Spark for every step (the steps' spark_session() reuses the active one)
    os.environ.setdefault("SPARK_MASTER", "local[2]")
    spark = spark_session("seed-features", {"spark.sql.shuffle.partitions": "2",
                                            "spark.ui.showConsoleProgress": "false"})
    spark.sparkContext.setLogLevel("WARN")
    # the days the run reads: its train, delay and test weeks (the split of the config)
    write_features(spark, cfg.data_root, logical_date, days=cfg.run_days, rows_per_day=300, seed=3)
    results = {}
    for step in MODEL_STEPS:
        print(f"[seed] {step}", file=sys.stderr, flush=True)
        results[step] = run_step(entry_args(step, cfg, logical_date))
    spark.stop()
    return results


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: seed_pipeline.py PIPELINE_CONFIG.json YYYY-MM-DD")
    print(json.dumps(main(sys.argv[1], sys.argv[2]), default=str))
