"""Bootstrap step: the one-aggregation join counts and its bad-input errors (before any MLflow call).

The MLflow side (metrics on each model's run, the persisted JSON) is covered in test_compare.py.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from fraud_jobs import bootstrap, evaluate, train
from fraud_jobs.common import JobError

DATE = "2024-04-07"
UNREACHABLE_MLFLOW = "http://127.0.0.1:9"  # never contacted: the checks fail first


def write_predictions(spark, root: str, model: str, rows, date: str = DATE):
    """rows: (TRANSACTION_ID, label, prediction)."""
    df = spark.createDataFrame(
        [(int(i), "2024-04-06", int(y), int(p), 0.9 if p else 0.1) for i, y, p in rows],
        "TRANSACTION_ID long, TX_DATE string, label int, prediction int, probability double",
    )
    df.write.mode("overwrite").parquet(train.predictions_path(root, date, model))


def rows_from(y, preds):
    return [(i, int(a), int(b)) for i, (a, b) in enumerate(zip(y, preds), start=1)]


def args(root: str, date: str = DATE):
    return ["--date", date, "--data-root", root, "--mlflow-uri", UNREACHABLE_MLFLOW,
            "--experiment", "e", "--n-boot", "500", "--seed", "1"]


def evaluation_dir(tmp_path):
    return os.path.join(tmp_path, "evaluation")


def test_joint_counts_equal_numpy_bincount_of_the_rows(spark, tmp_path):
    root = "file://" + str(tmp_path)
    rng = np.random.default_rng(5)
    n = 3000
    y = rng.random(n) < 0.1
    a = np.where(y, rng.random(n) < 0.6, rng.random(n) < 0.05)
    b = np.where(y, rng.random(n) < 0.7, rng.random(n) < 0.03)
    write_predictions(spark, root, "lr", rows_from(y, a))
    # the RF file lists the same transactions in another order
    write_predictions(spark, root, "rf", rows_from(y, b)[::-1])
    lr = bootstrap.read_predictions(spark, root, DATE, "lr")
    rf = bootstrap.read_predictions(spark, root, DATE, "rf")
    assert bootstrap.joint_counts(lr, rf).tolist() == evaluate.counts_from_arrays(y, a, b).tolist()


def test_missing_predictions_name_the_model_and_path(spark, tmp_path):
    root = "file://" + str(tmp_path)
    write_predictions(spark, root, "lr", [(1, 1, 1), (2, 0, 0)])
    with pytest.raises(JobError, match=r"random forest predictions not found: .*model=rf"):
        bootstrap.main(args(root))
    assert not os.path.exists(evaluation_dir(tmp_path))


def test_predictions_not_covering_the_same_rows_are_refused_with_counts(spark, tmp_path):
    root = "file://" + str(tmp_path)
    write_predictions(spark, root, "lr", [(i, i % 2, i % 2) for i in range(1, 11)])
    write_predictions(spark, root, "rf", [(i, i % 2, i % 2) for i in range(3, 13)])
    with pytest.raises(JobError, match=r"do not cover the same rows: logistic regression has 10 "
                                       r"rows, random forest has 10, 8 in common \(2 only in lr, "
                                       r"2 only in rf\)"):
        bootstrap.main(args(root))
    assert not os.path.exists(evaluation_dir(tmp_path))


def test_labels_of_one_class_only_are_refused(spark, tmp_path):
    root = "file://" + str(tmp_path)
    rows = [(i, 0, i % 3 == 0) for i in range(1, 50)]
    write_predictions(spark, root, "lr", rows)
    write_predictions(spark, root, "rf", rows)
    with pytest.raises(JobError, match="labels of one class only: all 49 validation rows have "
                                       "label 0"):
        bootstrap.main(args(root))
    assert not os.path.exists(evaluation_dir(tmp_path))


def test_missing_prediction_columns_are_named(spark, tmp_path):
    root = "file://" + str(tmp_path)
    write_predictions(spark, root, "lr", [(1, 1, 1), (2, 0, 0)])
    spark.createDataFrame([(1, 1), (2, 0)], "TRANSACTION_ID long, label int").write.parquet(
        train.predictions_path(root, DATE, "rf"))
    with pytest.raises(JobError, match="random forest predictions .* lack column.*prediction"):
        bootstrap.main(args(root))
    assert not os.path.exists(evaluation_dir(tmp_path))


def test_bad_date_exits_non_zero_naming_it(tmp_path):
    from tests.jobs_helpers import run_entrypoint

    result = run_entrypoint("bootstrap", "--date", "yesterday", "--data-root", str(tmp_path),
                            "--mlflow-uri", UNREACHABLE_MLFLOW, "--experiment", "e")
    assert result.returncode == 2
    assert "bad date 'yesterday'" in result.stderr
    assert os.listdir(tmp_path) == []
