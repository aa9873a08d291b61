"""The handbook's test protocol and metrics, on Spark DataFrames of scored rows.

Scored rows carry `label` (0/1), `score` (P(fraud), a double), and for the card metrics
CUSTOMER_ID (the card) and TX_DATE. Every function aggregates in Spark and brings back a bounded
number of rows (the days, at most k * days cards a day, or a fixed number of score bins).

- ROC AUC: Spark's BinaryClassificationEvaluator without down-sampling (numBins = 0): the exact
  trapezoidal area, ties handled as one threshold.
- Average precision: sum over the distinct scores, highest first, of precision at that score times
  the share of all frauds scored exactly that (the recall it adds), as in the handbook (sklearn's
  definition; not the trapezoidal area under the PR curve, which comes out higher).
- Card precision top-k (CP@k): per day, each card's highest score and whether any of its
  transactions that day is fraud; the k cards with the highest scores (ties: lower card id
  first); the share of them that are compromised; averaged over the days. A card found
  compromised in a day's top k is removed from the later days.
- Positive-class F1, precision and recall of the model's 0/1 predictions; the decision threshold
  they use is chosen where F1 is best on validation rows (`best_threshold`).
- The precision-recall curve (`pr_curve`) at the same thresholds the decision threshold is chosen
  from, for the figure of each train run.
"""

from __future__ import annotations

from collections import defaultdict

from fraud_jobs import layout

CARD_COLUMN = "CUSTOMER_ID"
# decision thresholds the F1 search tries: 1/THRESHOLD_STEPS apart, in (0, 1)
THRESHOLD_STEPS = 1000


def roc_auc(scored, score: str = "score") -> float:
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    evaluator = BinaryClassificationEvaluator(labelCol="label", rawPredictionCol=score,
                                              metricName="areaUnderROC", numBins=0)
    return float(evaluator.evaluate(scored.select(score, "label")))


def average_precision(scored, score: str = "score") -> float:
    """sum_s precision(score >= s) * positives(score == s) / positives, over distinct scores s."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    per_score = scored.groupBy(score).agg(
        F.sum(F.col("label").cast("long")).alias("pos"), F.count(F.lit(1)).alias("n"))
    # a running sum over the distinct scores in order: one partition on purpose (at most one row
    # per row scored; the constant key only says so, where no key makes Spark warn about it)
    upto = (Window.partitionBy(F.lit(0)).orderBy(F.desc(score))
            .rowsBetween(Window.unboundedPreceding, Window.currentRow))
    row = (per_score
           .withColumn("tp", F.sum("pos").over(upto))
           .withColumn("seen", F.sum("n").over(upto))
           .agg(F.sum(F.col("pos") * F.col("tp") / F.col("seen")).alias("weighted"),
                F.sum("pos").alias("positives"))
           .first())
    return float(row["weighted"] / row["positives"]) if row["positives"] else 0.0


def card_precision_top_k(scored, k: int = 100, score: str = "score") -> tuple[float, list[float]]:
    """(mean CP@k over the days, CP@k of each day in date order).

    Two Spark jobs whatever the number of days: the days, then each day's k * days best cards
    (a day's top k once the cards found on the earlier days are removed is among them), at most
    k * days^2 rows; the removal runs on the driver."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    per_card = (scored.groupBy(layout.DATE_COLUMN, CARD_COLUMN)
                .agg(F.max(score).alias("card_score"), F.max("label").alias("compromised")))
    days = sorted(r[0] for r in scored.select(layout.DATE_COLUMN).distinct().collect())
    by_rank = Window.partitionBy(layout.DATE_COLUMN).orderBy(F.desc("card_score"), F.asc(CARD_COLUMN))
    candidates = defaultdict(list)
    for r in (per_card.withColumn("rank", F.row_number().over(by_rank))
              .where(F.col("rank") <= k * len(days)).collect()):
        candidates[r[layout.DATE_COLUMN]].append((r["rank"], int(r[CARD_COLUMN]), r["compromised"] == 1))
    detected: set[int] = set()
    per_day = []
    for day in days:
        top = [(card, bad) for _, card, bad in sorted(candidates[day]) if card not in detected][:k]
        found = {card for card, bad in top if bad}
        per_day.append(len(found) / k)
        detected |= found
    return (sum(per_day) / len(per_day) if per_day else 0.0), per_day


def confusion(scored, prediction: str = "prediction") -> dict[str, float]:
    """Positive-class F1, precision and recall of a 0/1 prediction column, and the counts
    (not Spark's weighted F1, which the legitimate class dominates)."""
    from pyspark.sql import functions as F

    said, truth = F.col(prediction) == 1, F.col("label") == 1
    row = scored.agg(
        F.sum((said & truth).cast("long")).alias("tp"),
        F.sum((said & ~truth).cast("long")).alias("fp"),
        F.sum((~said & truth).cast("long")).alias("fn"),
        F.count(F.lit(1)).alias("rows"),
    ).first()
    tp, fp, fn = (int(row[c] or 0) for c in ("tp", "fp", "fn"))
    return {**f1_from_counts(tp, fp, fn), "rows": float(row["rows"]), "positives": float(tp + fn)}


def f1_from_counts(tp: int, fp: int, fn: int) -> dict[str, float]:
    return {
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
    }


def score_bins(scored, score: str = "score", steps: int = THRESHOLD_STEPS
               ) -> tuple[list[int], list[int], int, int]:
    """(frauds per bin, legitimate rows per bin, all frauds, all legitimate rows) of `score` in
    `steps` bins, from one aggregation into at most steps + 1 rows: bin b holds the scores in
    (b / steps, (b + 1) / steps], so `score > j / steps` is exactly `bin >= j`. A score of 0 is
    above no threshold: it is in no bin, though it counts in the totals."""
    from pyspark.sql import functions as F

    rows = (scored.withColumn("bin", F.ceil(F.col(score) * steps).cast("long") - 1)
            .groupBy("bin").agg(F.sum(F.col("label").cast("long")).alias("pos"),
                                F.count(F.lit(1)).alias("n"))
            .collect())  # at most steps + 1 rows
    pos, neg = [0] * steps, [0] * steps
    total_pos = total_neg = 0
    for r in rows:
        total_pos += int(r["pos"])
        total_neg += int(r["n"]) - int(r["pos"])
        if r["bin"] >= 0:
            b = min(int(r["bin"]), steps - 1)
            pos[b] += int(r["pos"])
            neg[b] += int(r["n"]) - int(r["pos"])
    return pos, neg, total_pos, total_neg


def best_threshold(scored, score: str = "score") -> tuple[float, float]:
    """(threshold, its F1): the t = j / THRESHOLD_STEPS (0 < j < THRESHOLD_STEPS) with the highest
    positive-class F1 of `score > t`; among equally good ones the middle one."""
    steps = THRESHOLD_STEPS
    pos, neg, total_pos, _ = score_bins(scored, score, steps)
    f1_at = {}
    tp = fp = 0
    for j in range(steps - 1, 0, -1):  # threshold j / steps: the bins >= j are predicted fraud
        tp += pos[j]
        fp += neg[j]
        f1_at[j] = f1_from_counts(tp, fp, total_pos - tp)["f1"]
    best = max(f1_at.values())
    at_best = sorted(j for j, f in f1_at.items() if f == best)
    return at_best[len(at_best) // 2] / steps, best


def pr_points(pos: list[int], neg: list[int], total_pos: int, total_neg: int
              ) -> tuple[list[float], list[float], list[float]]:
    """(thresholds, precision, recall) of `score > t`, highest t first, from score_bins' counts:
    one point per non-empty bin (t = j / steps), and a last one with t = -inf (every row flagged)
    when some rows scored exactly 0. Recall rises along the points; the curve starts at the top bin
    (no invented end point), so summing (recall step) x precision gives sklearn's AP."""
    steps = len(pos)
    thresholds, precision, recall = [], [], []
    tp = fp = 0

    def point(t: float) -> None:
        thresholds.append(t)
        precision.append(tp / (tp + fp))
        recall.append(tp / total_pos if total_pos else 0.0)

    for j in range(steps - 1, -1, -1):
        if pos[j] or neg[j]:
            tp += pos[j]
            fp += neg[j]
            point(j / steps)
    if (tp, fp) != (total_pos, total_neg):
        tp, fp = total_pos, total_neg
        point(float("-inf"))
    return thresholds, precision, recall


def pr_curve(scored, score: str = "score") -> tuple[list[float], list[float], list[float]]:
    """The precision-recall curve of scored rows at the thresholds the decision threshold is chosen
    from (j / THRESHOLD_STEPS), from one bounded aggregation (see score_bins), whatever the rows."""
    return pr_points(*score_bins(scored, score))


def summary(scored, prefix: str, k: int | None = 100, score: str = "score",
            prediction: str = "prediction") -> dict[str, float]:
    """Every metric of scored rows, keyed `{prefix}_{metric}` (what the train step logs);
    CP@k only with a k."""
    out = {
        f"{prefix}_roc_auc": roc_auc(scored, score),
        f"{prefix}_average_precision": average_precision(scored, score),
        **{f"{prefix}_{name}": value for name, value in confusion(scored, prediction).items()},
    }
    if k:
        out[f"{prefix}_card_precision_top_{k}"] = card_precision_top_k(scored, k, score)[0]
    return out
