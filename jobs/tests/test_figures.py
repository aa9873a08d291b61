"""What the figures say and draw from: the texts (titles, legends, verdict), the precision-recall
curve's points, and PNG bytes that do not vary. No pixels are compared; the figures as logged by
the real jobs are checked in test_compare.py."""

from __future__ import annotations

import numpy as np
import pytest

from fraud_jobs import evaluate, figures, metrics

TEST_DAYS = "2024-04-06..2024-04-07"


def comparison(counts, n_boot=2000, seed=7):
    draws = evaluate.bootstrap_counts(counts, n_boot, seed)
    return draws, evaluate.compare(counts, n_boot=n_boot, seed=seed, draws=draws)


# the random forest far better: F1 LR 0.4 vs RF ~0.95 on 600 rows
BETTER = evaluate.counts_from_arrays(
    [0] * 530 + [1] * 70,
    [0] * 520 + [1] * 10 + [1] * 20 + [0] * 50,
    [0] * 528 + [1] * 2 + [1] * 67 + [0] * 3)
TIE = [500, 0, 0, 20, 10, 0, 0, 70]  # both models predict the same on every row


@pytest.mark.parametrize("p, text", [(0.0, "p < 0.001"), (0.00049, "p < 0.001"), (0.001, "p = 0.001"),
                                     (0.0123, "p = 0.012"), (0.5, "p = 0.500"), (1.0, "p = 1.000")])
def test_p_values_read_as_a_reader_expects_never_p_equals_zero(p, text):
    assert figures.format_p(p) == text


def test_the_comparison_texts_say_what_is_compared_on_which_days_and_the_verdict():
    _, result = comparison(BETTER)
    assert result.verdict_better and result.p_value < 0.001
    texts = figures.comparison_texts(result, "logistic regression", "random forest", TEST_DAYS)
    assert "random forest vs logistic regression" in texts.title
    assert f"test days {TEST_DAYS}: 600 transactions, 70 frauds" in texts.title
    assert "B = 2,000" in texts.title
    a, b = result.model_a, result.model_b
    assert texts.model_a == (f"logistic regression: F1 = {a.f1:.3f}, 95% CI "
                             f"[{a.ci_low:.3f}, {a.ci_high:.3f}]")
    assert texts.model_b.startswith(f"random forest: F1 = {b.f1:.3f}, 95% CI [")
    assert texts.diff_ci == f"95% CI [{result.diff_ci_low:+.3f}, {result.diff_ci_high:+.3f}]"
    assert texts.verdict.splitlines() == [
        "Verdict: random forest is better than logistic regression at alpha = 0.05",
        f"one-sided p < 0.001 (t = {result.t_stat:.2f}, bootstrap SE {result.diff_se:.3f}); "
        "the 95% CI of the difference excludes 0",
    ]


def test_a_tie_reads_as_no_evidence():
    _, result = comparison(TIE)
    texts = figures.comparison_texts(result, "logistic regression", "random forest", TEST_DAYS)
    assert texts.verdict.splitlines() == [
        "Verdict: random forest is not shown to be better than logistic regression at alpha = 0.05",
        "one-sided p = 1.000 (t = 0.00, bootstrap SE 0.000); the 95% CI of the difference includes 0",
    ]
    assert texts.diff == "observed difference +0.000"


def test_the_pr_texts_carry_the_ap_and_the_chosen_point():
    texts = figures.pr_texts("random forest", TEST_DAYS, 600, 60, 0.8766, 0.37, 0.9, 0.75, 0.8182)
    assert texts.title.splitlines()[0] == f"Precision-recall of the random forest on the test days {TEST_DAYS}"
    assert "600 transactions, 60 frauds" in texts.title
    assert texts.curve == "random forest (AP = 0.877)"
    assert texts.chosen == "decision threshold 0.37: precision 0.900, recall 0.750, F1 0.818"
    assert texts.base_rate == "no skill: precision = fraud share 0.100"


def test_pr_points_from_bins_by_hand():
    # 4 bins: (0, .25], (.25, .5], (.5, .75], (.75, 1]; one more fraud scored exactly 0 (no bin)
    thresholds, precision, recall = metrics.pr_points([1, 0, 1, 2], [3, 0, 1, 0], 5, 4)
    # t = .75: 2 TP 0 FP; t = .5: 3 TP 1 FP; t = .25 flags no more rows (no point); t = 0: 4 TP 4 FP;
    # every row: 5 TP 4 FP
    assert thresholds == [0.75, 0.5, 0.0, float("-inf")]
    assert precision == [1.0, 0.75, 0.5, pytest.approx(5 / 9)]
    assert recall == [pytest.approx(0.4), pytest.approx(0.6), pytest.approx(0.8), 1.0]
    # no row scored exactly 0: the last bin's point is every row already
    assert metrics.pr_points([1, 0, 1, 2], [3, 0, 1, 0], 4, 4)[0] == [0.75, 0.5, 0.0]


def test_the_pr_curve_is_precision_and_recall_of_score_above_each_threshold(spark):
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(5)
    n = 4000
    label = (rng.random(n) < 0.07).astype(float)
    # scores in the middle of the curve's bins (k + 0.5) / 1000, many tied, some exactly 0
    score = (np.clip(np.round(rng.normal(150 + 350 * label, 120)), -1, 999) + 0.5) / 1000
    score[score < 0] = 0.0
    df = spark.createDataFrame([(float(s), float(y)) for s, y in zip(score, label)],
                               "score double, label double")
    thresholds, precision, recall = metrics.pr_curve(df)
    assert thresholds == sorted(thresholds, reverse=True)
    # one point per distinct score: each positive one is alone in its bin, 0 is the last point
    assert len(thresholds) == len(np.unique(score)) and thresholds[-1] == float("-inf")
    assert recall[-1] == 1.0
    for t, p, r in zip(thresholds, precision, recall):
        flagged = score > t
        assert p == pytest.approx(np.sum(flagged & (label == 1)) / np.sum(flagged))
        assert r == pytest.approx(np.sum(flagged & (label == 1)) / np.sum(label == 1))
    # the area under the drawn steps is the AP the legend shows (sklearn's definition)
    steps_area = sum((r - r0) * p for r0, r, p in zip([0.0, *recall], recall, precision))
    assert steps_area == pytest.approx(average_precision_score(label, score), abs=1e-12)


def test_the_same_numbers_give_the_same_png_bytes_without_the_matplotlib_version():
    draws, result = comparison(BETTER)

    def draw():
        return figures.png_bytes(figures.comparison_figure(
            draws, result, "logistic regression", "random forest", TEST_DAYS))

    first, second = draw(), draw()
    assert first == second
    assert first.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"Matplotlib" not in first and b"Software" not in first
