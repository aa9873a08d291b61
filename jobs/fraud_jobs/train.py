"""Steps 4 and 5: train logistic regression (`lr`) or random forest (`rf`) for one logical date.

Input: <data-root>/features/TX_DATE=YYYY-MM-DD/ (see fraud_jobs.layout), as preprocess leaves it.

The handbook's split, ending at the logical date D (defaults 7 / 7 / 7 days):
    train  D-20 .. D-14   (--train-days)
    delay  D-13 .. D-7    (--delay-days; their labels are not known yet: no rows used to fit)
    test   D-6  .. D      (--test-days)
Test protocol (the handbook's): a test row is dropped when its card (CUSTOMER_ID) had a fraud
known by its day, i.e. on a day from the first training day to the test day minus the delay
minus one.

Hyper-parameters: every combination of the grid flags (--reg-param 0,0.01 ..., see
pipeline_spec.GRID_KEYS) is fitted on the training days before the last --validation-days and
scored by average precision on those last days (fraud_jobs.tuning.TimeOrderedSplit; never on a
test day); the best is refitted on all the training days. The decision threshold of the fitted
model is the one with the best positive-class F1 on the validation days (scored by the best
candidate fitted without them). Class weighting (`balanced`) weighs each class n / (2 * count).

MLflow (tracking URI --mlflow-uri; credentials only from MLFLOW_TRACKING_USERNAME/PASSWORD):
  - one parent run per model in --experiment, tagged pipeline.logical_date=D, pipeline.model=lr|rf,
    pipeline.step=train, so later steps find it by search (the newest FINISHED run wins);
  - mlflow.pyspark.ml.autolog logs the search: a child run per candidate with its validation
    average_precision, search_results.csv, and the chosen values as `best_*` params of the parent;
  - the parent's params (split, grid, decision_threshold) and metrics: train_*, validation_*
    (the chosen candidate) and test_*: roc_auc, average_precision, card_precision_top_100, and
    the positive-class f1, precision, recall (fraud_jobs.metrics), rows, positives;
  - the precision-recall curve on the test rows, its AP and the decision threshold's point marked:
    the artifact pr_curve.png (fraud_jobs.figures);
  - the features table as dataset inputs ("training" and "testing" contexts);
  - the fitted PipelineModel (VectorAssembler -> StandardScaler -> classifier, its threshold set)
    via mlflow.spark.log_model(..., "model", signature=...), registered under ONE registered model
    name (--registered-model); each version carries tags model_type=lr|rf and logical_date, and the
    run carries the version number in tag pipeline.registered_version.

Output contract (written to a temp folder and swapped in; a rerun of D replaces it):
    <data-root>/predictions/logical_date=D/model=<lr|rf>/   Parquet, one row per test row:
        TRANSACTION_ID long, TX_DATE string, label int (0/1), prediction int (0/1),
        probability double (P(fraud))
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
from dataclasses import dataclass
from typing import Sequence

from fraud_jobs import layout, metrics, mlflow_auth, tracking
from fraud_jobs.common import (
    JobArgumentParser,
    JobError,
    date_arg,
    days_arg,
    join_path,
    list_names,
    log,
    mlflow_uri_arg,
    name_arg,
    read_parquet,
    require_path,
    seed_arg,
    spark_session,
    uri_arg,
    write_df_atomic,
)
from fraud_jobs.pipeline_spec import GRID_KEYS, PipelineConfig, grid_flag

MODELS: dict[str, str] = {"lr": "logistic regression", "rf": "random forest"}

TAG_DATE = "pipeline.logical_date"
TAG_MODEL = "pipeline.model"
TAG_STEP = "pipeline.step"
TAG_VERSION = "pipeline.registered_version"
TAG_REGISTERED = "pipeline.registered_model"
VERSION_TAG_MODEL = "model_type"
# the param naming the test days (first..last), which the comparison figure's title reads
PARAM_TEST_DATES = "test_dates"
PR_CURVE_ARTIFACT = "pr_curve.png"

PREDICTION_COLUMNS = (layout.KEY_COLUMN, layout.DATE_COLUMN, "label", "prediction", "probability")
# the weight column the `balanced` class weighting fits with (weightCol "" = every row weighs 1)
CLASS_WEIGHT_COLUMN = "balanced_class_weight"
TOP_K = 100
# grid key -> the Spark param of the model's classifier it sets
SPARK_PARAMS: dict[str, dict[str, str]] = {
    "lr": {"reg_param": "regParam", "elastic_net": "elasticNetParam", "max_iter": "maxIter",
           "class_weight": "weightCol"},
    "rf": {"num_trees": "numTrees", "max_depth": "maxDepth", "max_bins": "maxBins",
           "min_instances_per_node": "minInstancesPerNode",
           "feature_subset_strategy": "featureSubsetStrategy",
           "subsampling_rate": "subsamplingRate", "class_weight": "weightCol"},
}


def predictions_path(data_root: str, logical_date: str, model: str) -> str:
    return join_path(data_root, "predictions", f"logical_date={logical_date}", f"model={model}")


_DEFAULTS = PipelineConfig()


@dataclass(frozen=True)
class SplitSpec:
    train_days: int = _DEFAULTS.train_days
    delay_days: int = _DEFAULTS.delay_days
    test_days: int = _DEFAULTS.test_days
    validation_days: int = _DEFAULTS.validation_days

    def __post_init__(self) -> None:
        if self.validation_days >= self.train_days:
            raise JobError(f"--validation-days ({self.validation_days}) must be fewer than "
                           f"--train-days ({self.train_days}): the search fits on the days before")

    def dates(self, logical_date: dt.date) -> dict[str, list[str]]:
        """The days of each part (YYYY-MM-DD, oldest first): train, delay, test, and the parts of
        the training days the search uses, fit and validation."""
        total = self.train_days + self.delay_days + self.test_days
        start = logical_date - dt.timedelta(days=total - 1)
        days = [(start + dt.timedelta(days=i)).isoformat() for i in range(total)]
        train = days[: self.train_days]
        return {
            "train": train,
            "delay": days[self.train_days: self.train_days + self.delay_days],
            "test": days[total - self.test_days:],
            "fit": train[: self.train_days - self.validation_days],
            "validation": train[self.train_days - self.validation_days:],
        }


def grid_values(model: str, key: str):
    """argparse `type=` of a grid flag: a comma-separated list, each value checked."""
    import argparse as _argparse

    spec = GRID_KEYS[model][key]

    def convert(text: str) -> tuple:
        try:
            return tuple(spec.parse(v) for v in text.split(","))
        except ValueError as exc:
            raise _argparse.ArgumentTypeError(str(exc)) from None

    return convert


def spark_grid(model: str, args: argparse.Namespace) -> dict[str, list]:
    """{Spark param name: values} of the classifier from the grid flags."""
    out = {}
    for key, spark_name in SPARK_PARAMS[model].items():
        values = list(getattr(args, key))
        if key == "class_weight":
            values = [CLASS_WEIGHT_COLUMN if v == "balanced" else "" for v in values]
        out[spark_name] = values
    return out


def build_pipeline(model: str, seed: int = 42):
    """VectorAssembler -> StandardScaler -> classifier (its searched params come as param maps)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    assembler = VectorAssembler(inputCols=list(layout.FEATURE_COLUMNS), outputCol="raw_features",
                                handleInvalid="error")
    scaler = StandardScaler(inputCol="raw_features", outputCol="features", withMean=True,
                            withStd=True)
    if model == "lr":
        clf = LogisticRegression(featuresCol="features", labelCol="label", elasticNetParam=0.0)
    else:
        clf = RandomForestClassifier(featuresCol="features", labelCol="label", seed=seed)
    return Pipeline(stages=[assembler, scaler, clf])


def model_params(model: str, args: argparse.Namespace, split: SplitSpec,
                 dates: dict[str, list[str]]) -> dict:
    def span(days):
        return f"{days[0]}..{days[-1]}"

    params = {
        "model": model,
        "features": ",".join(layout.FEATURE_COLUMNS),
        "n_features": len(layout.FEATURE_COLUMNS),
        "train_days": split.train_days,
        "delay_days": split.delay_days,
        "test_days": split.test_days,
        "validation_days": split.validation_days,
        "train_dates": span(dates["train"]),
        "search_fit_dates": span(dates["fit"]),
        "search_validation_dates": span(dates["validation"]),
        PARAM_TEST_DATES: span(dates["test"]),
        "scaler": "StandardScaler(withMean, withStd)",
        "search_grid": json.dumps({k: list(getattr(args, k)) for k in GRID_KEYS[model]}),
        "search_metric": "validation average_precision",
    }
    if model == "rf":
        # (not "seed": autolog logs the search's own seed param under that key)
        params["rf_seed"] = args.seed
    return params


def load_window(spark, data_root: str, dates: Sequence[str]):
    """The feature rows of `dates`, with `label` (double) added; JobError on missing input/columns."""
    from pyspark.sql import functions as F

    path = layout.features(data_root)
    require_path(spark, path, "features table")
    # only the window's own days, for the rows and for the schema Spark reads from a footer: the
    # table holds every day ever computed, and an old day must cost (or break) nothing here
    present = set(list_names(spark, path))
    stored = [d for d in dates if f"{layout.DATE_COLUMN}={d}" in present]
    df = (spark.read.option("basePath", path).parquet(*[layout.partition_dir(path, d) for d in stored])
          if stored else read_parquet(spark, path, "features table"))  # (empty window: refused later)
    missing = [c for c in (*layout.FEATURE_TABLE_COLUMNS, layout.DATE_COLUMN) if c not in df.columns]
    if missing:
        raise JobError(f"features table {path} lacks column(s): {', '.join(missing)}")
    df = df.where(F.col(layout.DATE_COLUMN).cast("string").isin(list(dates)))
    casts = [F.col(c).cast("double").alias(c) for c in layout.FEATURE_COLUMNS]
    selected = df.select(
        F.col(layout.KEY_COLUMN).cast("long").alias(layout.KEY_COLUMN),
        F.col(layout.DATE_COLUMN).cast("string").alias(layout.DATE_COLUMN),
        F.col(metrics.CARD_COLUMN).cast("long").alias(metrics.CARD_COLUMN),
        F.col(layout.LABEL_COLUMN).cast("double").alias("label"),
        *casts,
    )
    # A fixed row layout makes a rerun of a date give the same model: the random forest draws its
    # bootstrap samples per partition in row order, and the order Spark reads parquet files in
    # (files of equal size, new names on each rewrite) is not stable. Hash partitioning by the row
    # key plus a sort inside each partition does not depend on the input order.
    return selected.repartition(layout.KEY_COLUMN).sortWithinPartitions(layout.KEY_COLUMN)


def without_known_compromised(test, labelled, delay_days: int):
    """The test rows whose card had no fraud known by their day (the handbook's protocol):
    known = a fraud in `labelled` (the rows from the first training day on) on a day up to the
    test row's day minus `delay_days` minus one."""
    from pyspark.sql import functions as F

    card = metrics.CARD_COLUMN
    first_fraud = (labelled.where(F.col("label") == 1).groupBy(card)
                   .agg(F.min(layout.DATE_COLUMN).alias("_first_fraud")))
    known_by = F.date_format(F.date_sub(F.to_date(F.col(layout.DATE_COLUMN)), delay_days + 1),
                             "yyyy-MM-dd")
    return (test.join(first_fraud, card, "left")
            .where(F.col("_first_fraud").isNull() | (F.col("_first_fraud") > known_by))
            .drop("_first_fraud"))


def with_class_weights(df, counts: dict[int, int]):
    """`df` with CLASS_WEIGHT_COLUMN: n / (2 * rows of the row's class) over `counts`."""
    from pyspark.sql import functions as F

    n = sum(counts.values())
    weight = {label: n / (2 * c) for label, c in counts.items() if c}
    return df.withColumn(CLASS_WEIGHT_COLUMN, F.when(F.col("label") == 1, F.lit(weight[1]))
                         .otherwise(F.lit(weight[0])))


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


def scored(predictions):
    """Model output -> rows for fraud_jobs.metrics: `score` = P(fraud)."""
    from pyspark.ml.functions import vector_to_array

    return predictions.withColumn("score", vector_to_array("probability")[1])


def log_pr_curve(model: str, scored_test, results: dict, threshold: float, test_dates: str) -> None:
    """The model's precision-recall curve on the test rows as the run's PR_CURVE_ARTIFACT.

    The curve comes from one aggregation of the (cached) scored test rows into score bins
    (metrics.pr_curve): a bounded collect whatever the size of the test week. The AP in the legend
    and the decision threshold's point are the run's own test metrics."""
    from fraud_jobs import figures

    rows, positives = int(results["test_rows"]), int(results["test_positives"])
    texts = figures.pr_texts(MODELS[model], test_dates, rows, positives,
                             results["test_average_precision"], threshold,
                             results["test_precision"], results["test_recall"], results["test_f1"])
    fig = figures.pr_figure(metrics.pr_curve(scored_test), texts,
                            (results["test_precision"], results["test_recall"]),
                            positives / rows, figures.COLORS[model])
    figures.log_figure(fig, PR_CURVE_ARTIFACT)


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
    p = JobArgumentParser(description="Train one fraud model for a logical date.")
    if model is None:
        p.add_argument("--model", choices=sorted(MODELS), required=True)
    p.add_argument("--date", type=date_arg, required=True, help="logical date YYYY-MM-DD")
    p.add_argument("--data-root", type=uri_arg, required=True)
    p.add_argument("--mlflow-uri", type=mlflow_uri_arg, required=True)
    p.add_argument("--experiment", type=name_arg, required=True)
    p.add_argument("--registered-model", type=name_arg, required=True)
    mlflow_auth.add_arguments(p)
    p.add_argument("--train-days", type=days_arg, default=SplitSpec.train_days)
    p.add_argument("--delay-days", type=days_arg, default=SplitSpec.delay_days)
    p.add_argument("--test-days", type=days_arg, default=SplitSpec.test_days)
    p.add_argument("--validation-days", type=days_arg, default=SplitSpec.validation_days,
                   help="last training days the hyper-parameter search is scored on")
    # the grid flags of both models (a model ignores the other's): comma-separated values
    for name in sorted(MODELS) if model is None else [model]:
        for key, spec in GRID_KEYS[name].items():
            if not any(a.dest == key for a in p._actions):
                p.add_argument(grid_flag(key), dest=key, type=grid_values(name, key),
                               default=spec.default,
                               help=f"{spec.meaning}; {spec.kind.__name__} {spec.rule}, comma-separated "
                                    f"values are searched (default {','.join(map(str, spec.default))})")
    p.add_argument("--seed", type=seed_arg, default=42, help="RF seed")
    p.add_argument("--dfs-tmpdir", type=uri_arg, default=None,
                   help="where mlflow.spark stages the model on the cluster FS (default /tmp/mlflow)")
    return p


def run(args: argparse.Namespace) -> dict:
    """Search, fit, test, log, register and write the test predictions; returns a summary."""
    import mlflow
    import mlflow.pyspark.ml
    from mlflow.models import infer_signature
    from pyspark.sql import functions as F

    from fraud_jobs import tuning

    model = args.model
    logical_date = args.date.isoformat()
    split = SplitSpec(args.train_days, args.delay_days, args.test_days, args.validation_days)
    dates = split.dates(args.date)
    spark = spark_session(f"fraud-train-{model}-{logical_date}")

    data = load_window(spark, args.data_root, dates["train"] + dates["delay"] + dates["test"]).cache()
    # rows per (day, label): at most 2 per day
    per_day = [(r[layout.DATE_COLUMN], int(r["label"]), int(r["count"]))
               for r in data.groupBy(layout.DATE_COLUMN, "label").count().collect()]

    def counts_on(days: list[str]) -> dict[int, int]:
        out: dict[int, int] = {}
        for day, label, n in per_day:
            if day in days:
                out[label] = out.get(label, 0) + n
        return out

    train_counts = counts_on(dates["train"])
    check_side("training", dates["train"], train_counts)
    for part in ("fit", "validation"):
        check_side(f"search {part}", dates[part], counts_on(dates[part]))
    train = data.where(F.col(layout.DATE_COLUMN).isin(dates["train"]))
    all_test = data.where(F.col(layout.DATE_COLUMN).isin(dates["test"]))
    test = without_known_compromised(all_test, data, split.delay_days).cache()
    test_counts = class_counts(test)
    check_side("test", dates["test"], test_counts)
    removed = sum(counts_on(dates["test"]).values()) - sum(test_counts.values())
    log(f"{model}: train {dates['train'][0]}..{dates['train'][-1]} {train_counts} (search: fit "
        f"{dates['fit'][0]}..{dates['fit'][-1]}, validation {dates['validation'][0]}.."
        f"{dates['validation'][-1]}), test {dates['test'][0]}..{dates['test'][-1]} {test_counts} "
        f"({removed} rows of cards already known as compromised removed)")
    train = with_class_weights(train, train_counts)

    mlflow_auth.configure_from_args(spark, args)
    mlflow.set_tracking_uri(args.mlflow_uri)
    tracking.use_experiment(args.experiment)
    tags = {TAG_DATE: logical_date, TAG_MODEL: model, TAG_STEP: "train"}
    features_path = layout.features(args.data_root)
    with mlflow.start_run(run_name=f"{model}-{logical_date}", tags=tags) as active:
        params = model_params(model, args, split, dates)
        mlflow.log_params(params)
        for context, frame, part in (("training", train, "train"), ("testing", test, "test")):
            dataset = mlflow.data.from_spark(
                frame.select(*layout.FEATURE_COLUMNS, "label"), path=features_path,
                targets="label", name=f"features {dates[part][0]}..{dates[part][-1]}",
            )
            mlflow.log_input(dataset, context=context)

        pipeline = build_pipeline(model, args.seed)
        grid = tuning.param_grid(pipeline.getStages()[-1], spark_grid(model, args))
        search = tuning.TimeOrderedSplit(
            date_col=layout.DATE_COLUMN, validation_dates=dates["validation"],
            estimator=pipeline, estimatorParamMaps=grid,
            evaluator=tuning.AveragePrecisionEvaluator(),
            trainRatio=len(dates["fit"]) / len(dates["train"]))
        # the search's trials become child runs of this run; our own calls log everything else
        # (not silent: a failure to log the search is printed, though it does not stop the step)
        mlflow.pyspark.ml.autolog(log_models=False, log_datasets=False,
                                  log_post_training_metrics=False, silent=False)
        try:
            searched = search.fit(train)
        finally:
            mlflow.pyspark.ml.autolog(disable=True)
        validation = scored(searched.validation_model.transform(
            train.where(F.col(layout.DATE_COLUMN).isin(dates["validation"]))))
        threshold, validation_f1 = metrics.best_threshold(validation)
        fitted = searched.bestModel
        fitted.stages[-1].setThresholds([1.0 - threshold, threshold])
        mlflow.log_param("decision_threshold", threshold)
        log(f"{model}: chosen {tuning.describe(grid[searched.best_index])}; decision threshold "
            f"{threshold} (validation F1 {validation_f1:.4f})")

        scored_test = scored(fitted.transform(test)).cache()
        results = {
            "validation_average_precision": searched.validationMetrics[searched.best_index],
            "validation_f1": validation_f1,
            # (in-sample: shows how much the model fits its own days; no card metric needed)
            **metrics.summary(scored(fitted.transform(train)), "train", k=None),
            **metrics.summary(scored_test, "test", TOP_K),
            "test_rows_of_known_compromised_cards_removed": float(removed),
        }
        mlflow.log_metrics(results)
        log_pr_curve(model, scored_test, results, threshold, params[PARAM_TEST_DATES])

        out = predictions_path(args.data_root, logical_date, model)
        predictions = scored_test.select(
            layout.KEY_COLUMN,
            layout.DATE_COLUMN,
            F.col("label").cast("int").alias("label"),
            F.col("prediction").cast("int").alias("prediction"),
            F.col("score").alias("probability"),
        )
        write_df_atomic(predictions, out)
        log(f"{model}: test predictions written to {out}")

        # A few rows fix the signature's column types; bounded, not data-sized.
        sample = fitted.transform(test.limit(5)).select(*layout.FEATURE_COLUMNS, "prediction")
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
    test.unpersist()
    scored_test.unpersist()
    summary = {"run_id": run_id, "version": version, "predictions": out,
               "decision_threshold": threshold, **results}
    log(f"{model}: run {run_id}, {args.registered_model} version {version}, test AUC "
        f"{results['test_roc_auc']:.4f}, AP {results['test_average_precision']:.4f}, "
        f"CP@{TOP_K} {results[f'test_card_precision_top_{TOP_K}']:.4f}, F1 {results['test_f1']:.4f}")
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
