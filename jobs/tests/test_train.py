"""Train step: the split, the test protocol, the metrics against their definitions, the
time-ordered search, and bad input (no MLflow needed: every check precedes the run).

The MLflow side (runs, child runs of the search, models, registry, predictions) is exercised end to
end in test_compare.py.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict

import numpy as np
import pytest

from fraud_jobs import layout, metrics, train, tuning
from fraud_jobs.common import JobError
from tests.jobs_helpers import make_unreadable, run_entrypoint
from tests.synthetic_features import write_features

DATE = "2024-04-07"
UNREACHABLE_MLFLOW = "http://127.0.0.1:9"  # never contacted: the checks fail first
# the synthetic tables hold 7 days: train 04-01..04 (search validation 04-04), delay 04-05,
# test 04-06..07
SMALL_SPLIT = ["--train-days", "4", "--delay-days", "1", "--test-days", "2", "--validation-days", "1"]


def train_args(data_root: str, model: str = "lr", date: str = DATE, *extra: str) -> list[str]:
    return ["--model", model, "--date", date, "--data-root", data_root,
            "--mlflow-uri", UNREACHABLE_MLFLOW, "--experiment", "e", "--registered-model", "m",
            *SMALL_SPLIT, "--num-trees", "5", "--max-depth", "3", *extra]


def test_default_split_is_the_handbooks():
    dates = train.SplitSpec().dates(dt.date(2018, 8, 14))
    span = {part: (days[0], days[-1], len(days)) for part, days in dates.items()}
    assert span == {
        "train": ("2018-07-25", "2018-07-31", 7),
        "delay": ("2018-08-01", "2018-08-07", 7),
        "test": ("2018-08-08", "2018-08-14", 7),
        "fit": ("2018-07-25", "2018-07-29", 5),
        "validation": ("2018-07-30", "2018-07-31", 2),
    }


def test_transaction_id_is_never_a_feature(spark):
    for model in train.MODELS:
        assembler = train.build_pipeline(model).getStages()[0]
        assert "TRANSACTION_ID" not in assembler.getInputCols()
        assert len(assembler.getInputCols()) == 15


def scored_frame(spark, rows):
    """rows: (day, card, score, label[, prediction])."""
    cols = "TX_DATE string, CUSTOMER_ID long, score double, label double"
    if len(rows[0]) == 5:
        cols += ", prediction double"
    return spark.createDataFrame(rows, cols)


def test_roc_auc_and_average_precision_are_the_handbooks_sklearn_definitions(spark):
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(3)
    n = 3000
    label = (rng.random(n) < 0.05).astype(float)
    # coarse scores: many ties, which both definitions count as one threshold
    score = np.round(np.clip(rng.normal(0.3 + 0.3 * label, 0.2), 0, 1), 2)
    df = scored_frame(spark, [("2024-01-01", i, float(s), float(y)) for i, (s, y) in enumerate(zip(score, label))])
    assert metrics.roc_auc(df) == pytest.approx(roc_auc_score(label, score), abs=1e-9)
    assert metrics.average_precision(df) == pytest.approx(average_precision_score(label, score), abs=1e-9)


def test_positive_class_f1_is_not_sparks_weighted_f1(spark):
    # 2 TP, 1 FP, 2 FN, 95 TN: fraud F1 = 4/7; Spark's default weighted F1 would be ~0.97.
    rows = [(1.0, 1.0)] * 2 + [(0.0, 1.0)] + [(1.0, 0.0)] * 2 + [(0.0, 0.0)] * 95
    df = scored_frame(spark, [("2024-01-01", i, p, y, p) for i, (y, p) in enumerate(rows)])
    out = metrics.confusion(df)
    assert out["f1"] == pytest.approx(4 / 7)
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(0.5)


def card_precision_reference(rows, k):
    """The handbook's text, in plain Python: per day each card's max score and whether it is
    compromised, the top k (ties by card id), the share compromised, the mean over days; cards
    found compromised are removed on later days."""
    by_day = defaultdict(dict)
    for day, card, score, label in rows:
        best, bad = by_day[day].get(card, (-1.0, 0.0))
        by_day[day][card] = (max(best, score), max(bad, label))
    detected, per_day = set(), []
    for day in sorted(by_day):
        cards = sorted(((-s, c, y) for c, (s, y) in by_day[day].items() if c not in detected))[:k]
        found = {c for _, c, y in cards if y == 1}
        per_day.append(len(found) / k)
        detected |= found
    return sum(per_day) / len(per_day), per_day


def test_card_precision_top_k_drops_cards_found_on_earlier_days(spark):
    rows = [
        ("2024-01-01", 1, 0.9, 1.0), ("2024-01-01", 2, 0.8, 0.0), ("2024-01-01", 3, 0.7, 1.0),
        ("2024-01-01", 1, 0.2, 0.0),  # card 1's other transaction: the card's max counts
        ("2024-01-02", 1, 0.95, 1.0), ("2024-01-02", 3, 0.9, 1.0), ("2024-01-02", 4, 0.1, 0.0),
        ("2024-01-02", 5, 0.1, 1.0),  # ties with card 4: the lower card id goes first
    ]
    mean, per_day = metrics.card_precision_top_k(scored_frame(spark, rows), k=2)
    # day 1: cards 1, 2 -> 1 of 2; day 2: card 1 was found on day 1: cards 3, 4 -> 1 of 2
    # (without the removal: cards 1, 3 -> 2 of 2)
    assert per_day == [0.5, 0.5] and mean == 0.5

    rng = np.random.default_rng(8)
    random_rows = [(f"2024-01-0{1 + d}", int(c), float(np.round(rng.random(), 2)), float(rng.random() < 0.2))
                   for d in range(4) for c in rng.integers(0, 60, 150)]
    got = metrics.card_precision_top_k(scored_frame(spark, random_rows), k=10)
    want = card_precision_reference(random_rows, 10)
    assert got[1] == pytest.approx(want[1]) and got[0] == pytest.approx(want[0])


def test_test_rows_of_cards_already_known_as_compromised_are_dropped(spark):
    # delay 7: on test day T a card is known when it had a fraud on a day up to T - 8
    rows = [  # (id, day, card, label)
        (1, "2024-03-01", 1, 1.0),  # card 1: a fraud in the training days
        (2, "2024-03-12", 2, 1.0),  # card 2: a fraud 8 days before 03-20, 7 before 03-19
        (3, "2024-03-19", 2, 0.0), (4, "2024-03-20", 2, 0.0),
        (5, "2024-03-19", 1, 0.0), (6, "2024-03-19", 3, 1.0), (7, "2024-03-20", 3, 0.0),
    ]
    df = spark.createDataFrame(rows, "TRANSACTION_ID long, TX_DATE string, CUSTOMER_ID long, label double")
    test = df.where("TX_DATE >= '2024-03-19'")
    kept = sorted(r[0] for r in train.without_known_compromised(test, df, 7).select("TRANSACTION_ID").collect())
    # 5: card 1 known; 4: card 2 known by 03-20 (fraud on 03-12 = 03-20 - 8), not by 03-19 (3 kept);
    # card 3's fraud on the test day itself is not known by 03-20 (7 kept)
    assert kept == [3, 6, 7]


def test_the_decision_threshold_is_where_f1_is_best(spark):
    rng = np.random.default_rng(11)
    label = (rng.random(2000) < 0.1).astype(float)
    score = np.clip(rng.normal(0.25 + 0.4 * label, 0.15), 0, 1)
    df = scored_frame(spark, [("2024-01-01", i, float(s), float(y)) for i, (s, y) in enumerate(zip(score, label))])
    threshold, f1 = metrics.best_threshold(df)

    def f1_at(t):
        said = score > t
        tp = float(np.sum(said & (label == 1)))
        return 2 * tp / (2 * tp + np.sum(said & (label == 0)) + np.sum(~said & (label == 1)))

    grid = [j / 1000 for j in range(1, 1000)]
    assert f1 == pytest.approx(max(f1_at(t) for t in grid))
    assert f1_at(threshold) == pytest.approx(f1)


def test_balanced_class_weights_give_each_class_half_the_weight(spark):
    from pyspark.sql import functions as F

    df = spark.createDataFrame([(float(i < 10),) for i in range(100)], "label double")
    weighted = train.with_class_weights(df, train.class_counts(df))
    sums = {r[0]: r[1] for r in weighted.groupBy("label").agg(F.sum(train.CLASS_WEIGHT_COLUMN)).collect()}
    assert sums == {0.0: pytest.approx(50.0), 1.0: pytest.approx(50.0)}


def test_the_search_fits_only_on_days_before_the_validation_days(spark):
    """Each candidate is fitted on the earlier training days and scored on the later ones; only the
    chosen one is refitted on all of them."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    seen = []

    class Recording(LogisticRegression):
        def _fit(self, dataset):
            seen.append(sorted(r[0] for r in dataset.select("TX_DATE").distinct().collect()))
            return super()._fit(dataset)

    rng = np.random.default_rng(2)
    days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    rows = [(d, float(x), float(x + rng.normal() > 1.5)) for d in days for x in rng.normal(size=200)]
    data = VectorAssembler(inputCols=["x"], outputCol="features").transform(
        spark.createDataFrame(rows, "TX_DATE string, x double, label double"))
    estimator = Recording(maxIter=20)
    grid = tuning.param_grid(estimator, {"regParam": [0.0, 0.1, 10.0]})
    search = tuning.TimeOrderedSplit(date_col="TX_DATE", validation_dates=days[3:], estimator=estimator,
                                     estimatorParamMaps=grid, evaluator=tuning.AveragePrecisionEvaluator())
    model = search.fit(data)
    assert seen == [days[:3]] * 3 + [days]
    assert len(model.validationMetrics) == 3
    assert model.best_index == int(np.argmax(model.validationMetrics))
    assert model.bestModel.getRegParam() == [0.0, 0.1, 10.0][model.best_index]


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


def test_test_labels_of_one_class_only_are_refused(spark, tmp_path):
    root = "file://" + str(tmp_path)
    write_features(spark, root, DATE, rows_per_day=50, one_class_dates=("2024-04-06", "2024-04-07"))
    with pytest.raises(JobError, match="test set has labels of one class only on "
                                       "2024-04-06..2024-04-07: 100 legitimate, 0 fraud"):
        train.main(train_args(root))
    assert not os.path.exists(_predictions_dir(tmp_path))


def test_search_validation_days_of_one_class_only_are_refused(spark, tmp_path):
    root = "file://" + str(tmp_path)
    write_features(spark, root, DATE, rows_per_day=50, one_class_dates=("2024-04-04",))
    with pytest.raises(JobError, match="search validation set has labels of one class only on "
                                       "2024-04-04..2024-04-04"):
        train.main(train_args(root))


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


@pytest.mark.parametrize("step, args, message", [
    ("train_rf", ["--max-bins", "1024,1"], "argument --max-bins: bad value '1' (expected int in [2, 65536])"),
    ("train_lr", ["--class-weight", "heavy"], "argument --class-weight: bad value 'heavy'"),
    ("train_lr", ["--validation-days", "7"], "--validation-days (7) must be fewer than --train-days (7)"),
])
def test_bad_search_settings_exit_non_zero_naming_them(tmp_path, step, args, message):
    result = run_entrypoint(step, "--date", DATE, "--data-root", str(tmp_path), "--mlflow-uri",
                            UNREACHABLE_MLFLOW, "--experiment", "e", "--registered-model", "m", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
    assert os.listdir(tmp_path) == []


def test_a_rerun_on_the_same_features_gives_the_same_model_whatever_the_file_order(spark, tmp_path):
    """Idempotency by logical date: the same features, stored in another row and file order (as a
    rerun of preprocess leaves them), must train to identical predictions."""
    from pyspark.sql import functions as F

    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    write_features(spark, first, DATE)
    (spark.read.parquet(layout.features(first))
        .orderBy(F.rand(seed=7)).repartition(3)
        .write.partitionBy(layout.DATE_COLUMN).parquet(layout.features(second)))
    train_dates = train.SplitSpec(4, 1, 2, 1).dates(dt.date.fromisoformat(DATE))["train"]

    def probabilities(root):
        data = train.load_window(spark, root, train_dates)
        pipeline = train.build_pipeline("rf", seed=42)
        clf = pipeline.getStages()[-1]
        fitted = pipeline.fit(data, {clf.numTrees: 8, clf.maxDepth: 4})
        scored = fitted.transform(data).select("TRANSACTION_ID", "probability")
        return sorted((r[0], tuple(r[1])) for r in scored.collect())  # test-sized data only

    assert probabilities(first) == probabilities(second)


def test_the_training_window_reads_only_its_own_days_of_features(spark, tmp_path):
    """A features table holds every day the pipeline ever computed; a train run reads the days its
    split needs and no other (issue 13): every older day is unreadable, and the window loads."""
    root = str(tmp_path)
    write_features(spark, root, DATE, days=12, rows_per_day=50)
    dates = train.SplitSpec(4, 1, 2, 1).dates(dt.date.fromisoformat(DATE))
    needed = dates["train"] + dates["delay"] + dates["test"]
    poisoned = 0
    for folder in sorted((tmp_path / "features").glob("TX_DATE=*")):
        if folder.name < f"TX_DATE={needed[0]}":
            make_unreadable(folder)
            poisoned += 1
    assert poisoned == 12 - 7
    assert train.load_window(spark, root, needed).count() == 50 * len(needed)
