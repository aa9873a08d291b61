"""Step 6: bootstrap 95% CIs of each model's positive-class F1 on the shared test rows.

Reads both models' predictions for logical date D (the contract of fraud_jobs.train):
    <data-root>/predictions/logical_date=D/model=lr/ and .../model=rf/
joins them on TRANSACTION_ID and reduces them, in ONE Spark aggregation, to the 8 joint counts
(label x LR prediction x RF prediction). Rows present for one model only, or labelled differently by
the two, are a JobError naming the counts. The B multinomial draws run on the driver with numpy
(fraud_jobs.evaluate): O(B), whatever the number of rows.

Each model's F1, CI and bootstrap SE are logged as metrics (test_f1_boot_*) to that model's newest
FINISHED train run of date D (found by the tags pipeline.logical_date / pipeline.model).

Output (written to a temp file and swapped in):
    <data-root>/evaluation/logical_date=D/bootstrap.json
    {logical_date, counts: {y<y>_a<a>_b<b>: n}, n_boot, seed, confidence,
     runs: {lr: {run_id, version, registered_model}, rf: {...}}, f1: {lr: {...}, rf: {...}}}
compare regenerates the very same draws from counts + seed + n_boot.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Sequence

import numpy as np

from fraud_jobs import evaluate, layout, mlflow_auth
from fraud_jobs.common import (
    JobArgumentParser,
    JobError,
    bounded_float,
    date_arg,
    int_in,
    join_path,
    log,
    mlflow_uri_arg,
    name_arg,
    read_parquet,
    seed_arg,
    spark_session,
    uri_arg,
    write_json_atomic,
)
from fraud_jobs.pipeline_spec import PipelineConfig, config_int_range
from fraud_jobs.train import (
    MODELS,
    PREDICTION_COLUMNS,
    TAG_DATE,
    TAG_MODEL,
    TAG_REGISTERED,
    TAG_STEP,
    TAG_VERSION,
    predictions_path,
)

MODEL_A, MODEL_B = "lr", "rf"


def bootstrap_json_path(data_root: str, logical_date: str) -> str:
    return join_path(data_root, "evaluation", f"logical_date={logical_date}", "bootstrap.json")


def find_train_run(client, experiment: str, logical_date: str, model: str):
    """The newest FINISHED train run of `model` for `logical_date` in `experiment`."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise JobError(f"MLflow experiment {experiment!r} not found")
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string=(
            f"tags.`{TAG_DATE}` = '{logical_date}' and tags.`{TAG_MODEL}` = '{model}' "
            f"and tags.`{TAG_STEP}` = 'train' and attributes.status = 'FINISHED'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        raise JobError(
            f"no finished {MODELS[model]} train run for {logical_date} in experiment {experiment!r}"
        )
    return runs[0]


def read_predictions(spark, data_root: str, logical_date: str, model: str):
    path = predictions_path(data_root, logical_date, model)
    df = read_parquet(spark, path, f"{MODELS[model]} predictions")
    missing = [c for c in PREDICTION_COLUMNS if c not in df.columns]
    if missing:
        raise JobError(f"{MODELS[model]} predictions {path} lack column(s): {', '.join(missing)}")
    return df


def joint_counts(lr_df, rf_df) -> np.ndarray:
    """The 8 joint counts from ONE aggregation over the full outer join on TRANSACTION_ID.

    The aggregation output has at most a few dozen rows (labels/predictions/presence flags), so
    collecting it is bounded whatever the data size.
    """
    from pyspark.sql import functions as F

    key = layout.KEY_COLUMN
    a = lr_df.select(key, F.col("label").cast("int").alias("y_a"),
                     F.col("prediction").cast("int").alias("a"), F.lit(1).alias("in_a"))
    b = rf_df.select(key, F.col("label").cast("int").alias("y_b"),
                     F.col("prediction").cast("int").alias("b"), F.lit(1).alias("in_b"))
    groups = (
        a.join(b, key, "full_outer")
        .groupBy("in_a", "in_b", "y_a", "y_b", "a", "b")
        .count()
        .collect()
    )
    counts = np.zeros(evaluate.N_CELLS, dtype=np.int64)
    only_a = only_b = label_mismatch = both = 0
    bad_values: set = set()
    for g in groups:
        n = int(g["count"])
        if g["in_b"] is None:
            only_a += n
            continue
        if g["in_a"] is None:
            only_b += n
            continue
        both += n
        if g["y_a"] != g["y_b"]:
            label_mismatch += n
            continue
        values = (g["y_a"], g["a"], g["b"])
        if any(v not in (0, 1) for v in values):
            bad_values.add(values)
            continue
        counts[evaluate.cell_index(*values)] += n
    if only_a or only_b:
        raise JobError(
            "the two models' predictions do not cover the same rows: "
            f"{MODELS[MODEL_A]} has {both + only_a} rows, {MODELS[MODEL_B]} has {both + only_b}, "
            f"{both} in common ({only_a} only in {MODEL_A}, {only_b} only in {MODEL_B})"
        )
    if label_mismatch:
        raise JobError(f"{label_mismatch} of {both} rows carry different labels in the two "
                       "models' predictions")
    if bad_values:
        raise JobError(f"labels/predictions must be 0/1; found (label, lr, rf) = {sorted(bad_values, key=str)}")
    return counts


def parser() -> argparse.ArgumentParser:
    p = JobArgumentParser(description="Bootstrap F1 CIs of both models for a logical date.")
    p.add_argument("--date", type=date_arg, required=True)
    p.add_argument("--data-root", type=uri_arg, required=True)
    p.add_argument("--mlflow-uri", type=mlflow_uri_arg, required=True)
    p.add_argument("--experiment", type=name_arg, required=True)
    mlflow_auth.add_arguments(p)
    p.add_argument("--n-boot", type=int_in(*config_int_range("n_boot")), default=PipelineConfig().n_boot)
    p.add_argument("--seed", type=seed_arg, default=42)
    p.add_argument("--confidence", type=bounded_float(0.5, 1.0), default=0.95)
    return p


def run(args: argparse.Namespace) -> dict:
    import mlflow

    if not 0.5 < args.confidence < 1.0:
        raise JobError(f"--confidence must be in (0.5, 1), got {args.confidence}")
    if args.n_boot < 100:
        raise JobError(f"--n-boot must be at least 100 for a 95% CI, got {args.n_boot}")
    logical_date = args.date.isoformat()
    spark = spark_session(f"fraud-bootstrap-{logical_date}")
    lr_df = read_predictions(spark, args.data_root, logical_date, MODEL_A)
    rf_df = read_predictions(spark, args.data_root, logical_date, MODEL_B)

    # Every data check comes before any MLflow write, so bad input leaves no trace anywhere.
    counts = joint_counts(lr_df, rf_df)
    try:
        f1_a, f1_b = evaluate.per_model_f1(counts, args.n_boot, args.seed, args.confidence)
    except evaluate.EvaluationError as exc:
        raise JobError(f"test predictions for {logical_date}: {exc}") from None

    mlflow_auth.configure_from_args(spark, args)
    mlflow.set_tracking_uri(args.mlflow_uri)
    client = mlflow.MlflowClient()
    runs = {m: find_train_run(client, args.experiment, logical_date, m) for m in (MODEL_A, MODEL_B)}

    per_model = {MODEL_A: f1_a, MODEL_B: f1_b}
    for model, result in per_model.items():
        run_id = runs[model].info.run_id
        for key, value in (("test_f1_boot_ci_low", result.ci_low),
                           ("test_f1_boot_ci_high", result.ci_high),
                           ("test_f1_boot_se", result.se),
                           ("test_f1_boot_point", result.f1)):
            client.log_metric(run_id, key, value)
        client.set_tag(run_id, "pipeline.bootstrap_n_boot", str(args.n_boot))

    payload = {
        "logical_date": logical_date,
        "counts": evaluate.counts_to_dict(counts),
        "n_boot": args.n_boot,
        "seed": args.seed,
        "confidence": args.confidence,
        "runs": {
            m: {
                "run_id": r.info.run_id,
                "version": r.data.tags.get(TAG_VERSION),
                "registered_model": r.data.tags.get(TAG_REGISTERED),
            }
            for m, r in runs.items()
        },
        "f1": {m: asdict(v) for m, v in per_model.items()},
    }
    out = bootstrap_json_path(args.data_root, logical_date)
    write_json_atomic(spark, out, payload)
    pct = f"{args.confidence:.0%}"
    for model, result in per_model.items():
        print(f"{MODELS[model]:>20}: F1 = {result.f1:.4f}  {pct} CI [{result.ci_low:.4f}, "
              f"{result.ci_high:.4f}]  (B = {args.n_boot})", flush=True)
    log(f"bootstrap counts written to {out}")
    return payload


def main(argv: Sequence[str] | None = None) -> dict:
    return run(parser().parse_args(argv))
