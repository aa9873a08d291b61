"""Train step: split, bad input (no MLflow needed: every check precedes the run), metric definitions.

The MLflow side (runs, models, registry, predictions) is exercised end to end in test_compare.py.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

from fraud_jobs import train
from fraud_jobs.common import JobError
from tests.jobs_helpers import run_entrypoint
from tests.synthetic_features import write_features

DATE = "2024-04-07"
UNREACHABLE_MLFLOW = "http://127.0.0.1:9"  # never contacted: the checks fail first


def train_args(data_root: str, model: str = "lr", date: str = DATE, *extra: str) -> list[str]:
    return ["--model", model, "--date", date, "--data-root", data_root,
            "--mlflow-uri", UNREACHABLE_MLFLOW, "--experiment", "e", "--registered-model", "m",
            "--num-trees", "5", "--max-depth", "3", *extra]


def test_default_split_uses_the_seven_day_window_with_a_gap():
    train_dates, valid_dates = train.SplitSpec().dates(dt.date(2024, 4, 7))
    assert train_dates == ["2024-04-01", "2024-04-02", "2024-04-03", "2024-04-04"]
    assert valid_dates == ["2024-04-06", "2024-04-07"]


def test_transaction_id_is_never_a_feature(spark):
    import argparse

    args = argparse.Namespace(max_iter=5, reg_param=0.0, threshold=0.5, num_trees=2, max_depth=2,
                              seed=1)
    for model in train.MODELS:
        assembler = train.build_pipeline(model, args).getStages()[0]
        assert "TRANSACTION_ID" not in assembler.getInputCols()
        assert len(assembler.getInputCols()) == 15


def test_positive_class_metrics_are_not_spark_weighted_f1(spark):
    # 2 TP, 1 FP, 2 FN, 95 TN: fraud F1 = 4/7; Spark's default weighted F1 would be ~0.97.
    rows = [(1.0, 1.0)] * 2 + [(0.0, 1.0)] + [(1.0, 0.0)] * 2 + [(0.0, 0.0)] * 95
    from pyspark.ml.linalg import Vectors

    df = spark.createDataFrame(
        [(y, p, Vectors.dense([1 - p * 0.9, p * 0.9])) for y, p in rows],
        ["label", "prediction", "probability"],
    )
    metrics = train.metrics_of(df, "val")
    assert metrics["val_f1"] == pytest.approx(4 / 7)
    assert metrics["val_precision"] == pytest.approx(2 / 3)
    assert metrics["val_recall"] == pytest.approx(0.5)


def _predictions_dir(tmp_path, model="lr", date=DATE):
    return os.path.join(tmp_path, "predictions", f"logical_date={date}", f"model={model}")


def test_missing_features_table_names_the_path(spark, tmp_path):
    root = "file://" + str(tmp_path)
    with pytest.raises(JobError, match=r"features table not found: .*/features"):
        train.main(train_args(root))
    assert not os.path.exists(os.path.join(tmp_path, "predictions"))


def test_missing_columns_are_named(spark, tmp_path):
    root = "file://" + str(tmp_path)
    write_features(spark, root, DATE, drop_columns=("TERMINAL_ID_RISK_7DAY_WINDOW",),
                   rows_per_day=20)
    with pytest.raises(JobError, match="lacks column.*TERMINAL_ID_RISK_7DAY_WINDOW"):
        train.main(train_args(root, "rf"))
    assert not os.path.exists(os.path.join(tmp_path, "predictions"))


def test_validation_labels_of_one_class_only_are_refused(spark, tmp_path):
    root = "file://" + str(tmp_path)
    write_features(spark, root, DATE, rows_per_day=50, one_class_dates=("2024-04-06", "2024-04-07"))
    with pytest.raises(JobError, match="validation set has labels of one class only on "
                                       "2024-04-06..2024-04-07: 100 legitimate, 0 fraud"):
        train.main(train_args(root))
    assert not os.path.exists(_predictions_dir(tmp_path))


def test_an_empty_window_is_refused(spark, tmp_path):
    root = "file://" + str(tmp_path)
    write_features(spark, root, DATE, rows_per_day=20)
    with pytest.raises(JobError, match="training set is empty: no feature rows on 2024-05-01"):
        train.main(train_args(root, "lr", "2024-05-07"))
    assert not os.path.exists(os.path.join(tmp_path, "predictions"))


def test_bad_date_exits_non_zero_naming_it(tmp_path):
    result = run_entrypoint("train_rf", "--date", "2024-02-30", "--data-root", str(tmp_path),
                            "--mlflow-uri", UNREACHABLE_MLFLOW, "--experiment", "e",
                            "--registered-model", "m")
    assert result.returncode == 2
    assert "bad date '2024-02-30'" in result.stderr
    assert os.listdir(tmp_path) == []


def test_a_rerun_on_the_same_features_gives_the_same_model_whatever_the_file_order(spark, tmp_path):
    """Idempotency by logical date: the same features, stored in another row and file order (as a
    rerun of preprocess leaves them), must train to identical predictions."""
    import argparse

    from pyspark.sql import functions as F

    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    write_features(spark, first, DATE)
    (spark.read.parquet(train.layout.features(first))
        .orderBy(F.rand(seed=7)).repartition(3)
        .write.partitionBy(train.layout.DATE_COLUMN).parquet(train.layout.features(second)))
    args = argparse.Namespace(max_iter=20, reg_param=0.0, threshold=0.5, num_trees=8, max_depth=4,
                              seed=42)
    train_dates, _ = train.SplitSpec().dates(dt.date.fromisoformat(DATE))

    def probabilities(root):
        data = train.load_window(spark, root, train_dates)
        fitted = train.build_pipeline("rf", args).fit(data)
        scored = fitted.transform(data).select("TRANSACTION_ID", "probability")
        return sorted((r[0], tuple(r[1])) for r in scored.collect())  # test-sized data only

    assert probabilities(first) == probabilities(second)
