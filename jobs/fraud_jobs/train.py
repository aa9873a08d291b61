"""Steps 4 and 5: train logistic regression (`lr`) or random forest (`rf`) on one logical date's window.

Input: <data-root>/features/TX_DATE=YYYY-MM-DD/ (see fraud_jobs.layout).

Time-based split inside the window that ends at the logical date D (defaults for a 7-day run):
    train      D-6 .. D-3   (--train-days 4)
    gap        D-2          (--gap-days 1; no rows used: keeps the validation days apart from training)
    validation D-1 .. D     (--valid-days 2)
Either side empty, or holding one class only, is a JobError naming the side, its dates and counts.

MLflow (tracking URI --mlflow-uri; credentials only from MLFLOW_TRACKING_USERNAME/PASSWORD):
  - one run per model in --experiment, tagged pipeline.logical_date=D, pipeline.model=lr|rf,
    pipeline.step=train, so later steps find it by search (the newest FINISHED run wins);
  - params, metrics train_* and val_* (roc_auc, average_precision = areaUnderPR, and the
    positive-class f1, precision, recall computed from the confusion counts, not Spark's weighted F1);
  - the features table as dataset inputs ("training" and "validation" contexts);
  - the fitted PipelineModel (VectorAssembler -> StandardScaler -> classifier) via
    mlflow.spark.log_model(..., "model", signature=...), registered under ONE registered model
    name (--registered-model); each version carries tags model_type=lr|rf and logical_date, and the
    run carries the version number in tag pipeline.registered_version.

Output contract (written to a temp folder and swapped in; a rerun of D replaces it):
    <data-root>/predictions/logical_date=D/model=<lr|rf>/   Parquet, one row per validation row:
        TRANSACTION_ID long, TX_DATE string, label int (0/1), prediction int (0/1),
        probability double (P(fraud))
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from fraud_jobs import layout, mlflow_auth, tracking
from fraud_jobs.common import (
    JobArgumentParser,
    JobError,
    bounded_float,
    date_arg,
    days_arg,
    int_in,
    join_path,
    log,
    mlflow_uri_arg,
    name_arg,
    non_negative_float,
    read_parquet,
    seed_arg,
    spark_session,
    uri_arg,
    write_df_atomic,
)

MODELS: dict[str, str] = {"lr": "logistic regression", "rf": "random forest"}

TAG_DATE = "pipeline.logical_date"
TAG_MODEL = "pipeline.model"
TAG_STEP = "pipeline.step"
TAG_VERSION = "pipeline.registered_version"
TAG_REGISTERED = "pipeline.registered_model"
VERSION_TAG_MODEL = "model_type"

PREDICTION_COLUMNS = (layout.KEY_COLUMN, layout.DATE_COLUMN, "label", "prediction", "probability")


def predictions_path(data_root: str, logical_date: str, model: str) -> str:
    return join_path(data_root, "predictions", f"logical_date={logical_date}", f"model={model}")


@dataclass(frozen=True)
class SplitSpec:
    train_days: int = 4
    gap_days: int = 1
    valid_days: int = 2

    def dates(self, logical_date: dt.date) -> tuple[list[str], list[str]]:
        """(train dates, validation dates) as YYYY-MM-DD strings, oldest first."""
        total = self.train_days + self.gap_days + self.valid_days
        start = logical_date - dt.timedelta(days=total - 1)
        days = [(start + dt.timedelta(days=i)).isoformat() for i in range(total)]
        return days[: self.train_days], days[total - self.valid_days:]


def build_pipeline(model: str, args: argparse.Namespace):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    assembler = VectorAssembler(inputCols=list(layout.FEATURE_COLUMNS), outputCol="raw_features",
                                handleInvalid="error")
    scaler = StandardScaler(inputCol="raw_features", outputCol="features", withMean=True,
                            withStd=True)
    if model == "lr":
        clf = LogisticRegression(featuresCol="features", labelCol="label", maxIter=args.max_iter,
                                 regParam=args.reg_param, elasticNetParam=0.0,
                                 threshold=args.threshold)
    else:
        clf = RandomForestClassifier(featuresCol="features", labelCol="label",
                                     numTrees=args.num_trees, maxDepth=args.max_depth,
                                     seed=args.seed)
    return Pipeline(stages=[assembler, scaler, clf])


def model_params(model: str, args: argparse.Namespace, split: SplitSpec) -> dict:
    params = {
        "model": model,
        "features": ",".join(layout.FEATURE_COLUMNS),
        "n_features": len(layout.FEATURE_COLUMNS),
        "train_days": split.train_days,
        "gap_days": split.gap_days,
        "valid_days": split.valid_days,
        "scaler": "StandardScaler(withMean, withStd)",
        "threshold": args.threshold,
    }
    if model == "lr":
        params.update(max_iter=args.max_iter, reg_param=args.reg_param)
    else:
        params.update(num_trees=args.num_trees, max_depth=args.max_depth, seed=args.seed)
    return params


def load_window(spark, data_root: str, dates: Sequence[str]):
    """The feature rows of `dates`, with `label` (double) added; JobError on missing input/columns."""
    from pyspark.sql import functions as F

    path = layout.features(data_root)
    df = read_parquet(spark, path, "features table")
    missing = [c for c in (*layout.FEATURE_TABLE_COLUMNS, layout.DATE_COLUMN) if c not in df.columns]
    if missing:
        raise JobError(f"features table {path} lacks column(s): {', '.join(missing)}")
    df = df.where(F.col(layout.DATE_COLUMN).cast("string").isin(list(dates)))
    casts = [F.col(c).cast("double").alias(c) for c in layout.FEATURE_COLUMNS]
    selected = df.select(
        F.col(layout.KEY_COLUMN).cast("long").alias(layout.KEY_COLUMN),
        F.col(layout.DATE_COLUMN).cast("string").alias(layout.DATE_COLUMN),
        F.col(layout.LABEL_COLUMN).cast("double").alias("label"),
        *casts,
    )
    # A fixed row layout makes a rerun of a date give the same model: the random forest draws its
    # bootstrap samples per partition in row order, and the order Spark reads parquet files in
    # (files of equal size, new names on each rewrite) is not stable. Hash partitioning by the row
    # key plus a sort inside each partition does not depend on the input order.
    return selected.repartition(layout.KEY_COLUMN).sortWithinPartitions(layout.KEY_COLUMN)


def class_counts(df) -> dict[int, int]:
    """Rows per label: a 2-row aggregation, whatever the data size."""
    return {int(r["label"]): int(r["count"]) for r in df.groupBy("label").count().collect()}


def check_side(name: str, dates: Sequence[str], counts: dict[int, int]) -> None:
    span = f"{dates[0]}..{dates[-1]}" if dates else "(no days)"
    if sum(counts.values()) == 0:
        raise JobError(f"{name} set is empty: no feature rows on {span}")
    bad = sorted(set(counts) - {0, 1})
    if bad:
        raise JobError(f"{name} set has label values {bad} in {layout.LABEL_COLUMN}; expected 0/1")
    if counts.get(0, 0) == 0 or counts.get(1, 0) == 0:
        raise JobError(
            f"{name} set has labels of one class only on {span}: "
            f"{counts.get(0, 0)} legitimate, {counts.get(1, 0)} fraud rows"
        )


def metrics_of(predictions, prefix: str) -> dict[str, float]:
    """ROC AUC, average precision, and positive-class F1/precision/recall of scored rows."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    evaluator = BinaryClassificationEvaluator(labelCol="label", rawPredictionCol="probability")
    roc = evaluator.setMetricName("areaUnderROC").evaluate(predictions)
    ap = evaluator.setMetricName("areaUnderPR").evaluate(predictions)
    cells = {
        (int(r["label"]), int(r["prediction"])): int(r["count"])
        for r in predictions.groupBy("label", "prediction").count().collect()
    }
    tp, fp, fn = cells.get((1, 1), 0), cells.get((0, 1), 0), cells.get((1, 0), 0)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {
        f"{prefix}_roc_auc": roc,
        f"{prefix}_average_precision": ap,
        f"{prefix}_f1": f1,
        f"{prefix}_precision": precision,
        f"{prefix}_recall": recall,
        f"{prefix}_rows": float(sum(cells.values())),
        f"{prefix}_positives": float(tp + fn),
    }


def model_pip_requirements() -> list[str]:
    """The pins a serving environment needs to load the model: mlflow's spark default (pyspark)
    plus numpy, at this environment's versions (mlflow adds its own pin).

    Given explicitly because otherwise mlflow infers the same list by loading the saved model in a
    child Python with its own SparkSession: about 20 s of every train step."""
    import mlflow.spark
    import numpy

    # (numpy.__version__, not package metadata: a cluster image may ship numpy without it)
    return [*mlflow.spark.get_default_pip_requirements(), f"numpy=={numpy.__version__}"]


@contextlib.contextmanager
def jvm_logger_off(spark, name: str):
    """Silence one log4j logger for the duration of the block, then restore its level.

    mlflow.spark.log_model first tries `model.save("mlflow-artifacts:/...")`, which Hadoop cannot
    open; mlflow catches that and logs through a local folder instead, but Spark's ML
    Instrumentation logger has already printed the exception with a full Java stack trace. A real
    save failure still reaches us as a Python exception."""
    from py4j.protocol import Py4JError

    jvm = spark._jvm
    try:
        configurator = jvm.org.apache.logging.log4j.core.config.Configurator
        previous = jvm.org.apache.logging.log4j.LogManager.getLogger(name).getLevel()
        configurator.setLevel(name, jvm.org.apache.logging.log4j.Level.OFF)
    except (Py4JError, TypeError, AttributeError):  # no log4j2 core (another logging backend): keep the noise
        yield
        return
    try:
        yield
    finally:
        configurator.setLevel(name, previous)


def parser(model: str | None = None) -> argparse.ArgumentParser:
    p = JobArgumentParser(description="Train one fraud model on a logical date's window.")
    if model is None:
        p.add_argument("--model", choices=sorted(MODELS), required=True)
    p.add_argument("--date", type=date_arg, required=True, help="logical date YYYY-MM-DD")
    p.add_argument("--data-root", type=uri_arg, required=True)
    p.add_argument("--mlflow-uri", type=mlflow_uri_arg, required=True)
    p.add_argument("--experiment", type=name_arg, required=True)
    p.add_argument("--registered-model", type=name_arg, required=True)
    mlflow_auth.add_arguments(p)
    p.add_argument("--train-days", type=days_arg, default=SplitSpec.train_days)
    p.add_argument("--gap-days", type=int_in(0, 3660), default=SplitSpec.gap_days)
    p.add_argument("--valid-days", type=days_arg, default=SplitSpec.valid_days)
    p.add_argument("--threshold", type=bounded_float(0.0, 1.0), default=0.5, help="LR decision threshold")
    p.add_argument("--max-iter", type=int_in(1, 100_000), default=100, help="LR iterations")
    p.add_argument("--reg-param", type=non_negative_float, default=0.0, help="LR L2 regularization")
    p.add_argument("--num-trees", type=int_in(1, 10_000), default=100, help="RF trees")
    p.add_argument("--max-depth", type=int_in(1, 30), default=8, help="RF depth (Spark allows at most 30)")
    p.add_argument("--seed", type=seed_arg, default=42, help="RF seed")
    p.add_argument("--dfs-tmpdir", type=uri_arg, default=None,
                   help="where mlflow.spark stages the model on the cluster FS (default /tmp/mlflow)")
    return p


def run(args: argparse.Namespace) -> dict:
    """Train, log, register and write validation predictions; returns a summary."""
    import mlflow
    from mlflow.models import infer_signature
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    model = args.model
    if not 0.0 < args.threshold < 1.0:
        raise JobError(f"--threshold must be in (0, 1), got {args.threshold}")
    logical_date = args.date.isoformat()
    split = SplitSpec(args.train_days, args.gap_days, args.valid_days)
    train_dates, valid_dates = split.dates(args.date)
    spark = spark_session(f"fraud-train-{model}-{logical_date}")

    data = load_window(spark, args.data_root, train_dates + valid_dates).cache()
    train = data.where(F.col(layout.DATE_COLUMN).isin(train_dates))
    valid = data.where(F.col(layout.DATE_COLUMN).isin(valid_dates))
    train_counts, valid_counts = class_counts(train), class_counts(valid)
    check_side("training", train_dates, train_counts)
    check_side("validation", valid_dates, valid_counts)
    log(f"{model}: train {train_dates[0]}..{train_dates[-1]} {train_counts}, "
        f"validation {valid_dates[0]}..{valid_dates[-1]} {valid_counts}")

    mlflow_auth.configure_from_args(spark, args)
    mlflow.set_tracking_uri(args.mlflow_uri)
    tracking.use_experiment(args.experiment)
    tags = {TAG_DATE: logical_date, TAG_MODEL: model, TAG_STEP: "train"}
    features_path = layout.features(args.data_root)
    with mlflow.start_run(run_name=f"{model}-{logical_date}", tags=tags) as active:
        mlflow.log_params(model_params(model, args, split))
        mlflow.log_params({"train_dates": f"{train_dates[0]}..{train_dates[-1]}",
                           "valid_dates": f"{valid_dates[0]}..{valid_dates[-1]}"})
        for context, frame, dates in (("training", train, train_dates),
                                      ("validation", valid, valid_dates)):
            dataset = mlflow.data.from_spark(
                frame, path=features_path, targets="label",
                name=f"features {dates[0]}..{dates[-1]}",
            )
            mlflow.log_input(dataset, context=context)

        fitted = build_pipeline(model, args).fit(train)
        scored_train = fitted.transform(train)
        scored_valid = fitted.transform(valid).cache()
        metrics = {**metrics_of(scored_train, "train"), **metrics_of(scored_valid, "val")}
        mlflow.log_metrics(metrics)

        out = predictions_path(args.data_root, logical_date, model)
        predictions = scored_valid.select(
            layout.KEY_COLUMN,
            layout.DATE_COLUMN,
            F.col("label").cast("int").alias("label"),
            F.col("prediction").cast("int").alias("prediction"),
            vector_to_array("probability")[1].alias("probability"),
        )
        write_df_atomic(predictions, out)
        log(f"{model}: validation predictions written to {out}")

        # A few rows fix the signature's column types; bounded, not data-sized.
        sample = fitted.transform(valid.limit(5)).select(*layout.FEATURE_COLUMNS, "prediction")
        sample_pdf = sample.toPandas()
        signature = infer_signature(sample_pdf[list(layout.FEATURE_COLUMNS)],
                                    sample_pdf[["prediction"]])
        log_kwargs = {"dfs_tmpdir": args.dfs_tmpdir} if args.dfs_tmpdir else {}
        # mlflow 3.17's spark flavour still takes the artifact path positionally (no `name=`).
        with jvm_logger_off(spark, "org.apache.spark.ml.util.Instrumentation"):
            info = mlflow.spark.log_model(
                fitted, "model", signature=signature,
                pip_requirements=model_pip_requirements(),
                registered_model_name=args.registered_model, **log_kwargs,
            )
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        client.set_model_version_tag(args.registered_model, version, VERSION_TAG_MODEL, model)
        client.set_model_version_tag(args.registered_model, version, "logical_date", logical_date)
        client.set_model_version_tag(args.registered_model, version, "run_id", active.info.run_id)
        mlflow.set_tags({TAG_VERSION: version, TAG_REGISTERED: args.registered_model})
        run_id = active.info.run_id
    data.unpersist()
    scored_valid.unpersist()
    summary = {"run_id": run_id, "version": version, "predictions": out, **metrics}
    log(f"{model}: run {run_id}, {args.registered_model} version {version}, "
        f"val F1 {metrics['val_f1']:.4f}, AUC {metrics['val_roc_auc']:.4f}, "
        f"AP {metrics['val_average_precision']:.4f}")
    return summary


def main(argv: Sequence[str] | None = None, model: str | None = None) -> dict:
    args = parser(model).parse_args(argv)
    if model is not None:
        args.model = model
    return run(args)


def main_lr(argv: Sequence[str] | None = None) -> dict:
    return main(argv, "lr")


def main_rf(argv: Sequence[str] | None = None) -> dict:
    return main(argv, "rf")
