"""Statistical behaviour of the cell-count paired bootstrap (pure numpy, no Spark).

Simulated validation sets are drawn from known populations of (label, pred A, pred B) cells, so the
true F1 of each model, and their true difference, are known. Pass/fail bounds come from the
binomial distribution of the number of "successes" over R independent seeded datasets, at a 0.1%
false-alarm level, not from the observed results.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fraud_jobs import evaluate as ev

N_ROWS = 58_000  # the handbook's test week
PREVALENCE = 0.0066
FALSE_ALARM = 0.001  # chance that a correct implementation fails one of the binomial checks


def cell_probs(tpr_a, fpr_a, tpr_b, fpr_b, copy_prob=0.0, prev=PREVALENCE):
    """Population probabilities of the 8 cells.

    Given the label, A predicts positive with its TPR/FPR; B copies A's prediction with probability
    `copy_prob` (only meaningful when A and B have the same rates) and otherwise draws its own.
    Copying makes the two models' errors correlated, as two models trained on one dataset are.
    """
    p = np.zeros(8)
    for y in (0, 1):
        p_y = prev if y else 1 - prev
        rate_a, rate_b = (tpr_a, tpr_b) if y else (fpr_a, fpr_b)
        for a in (0, 1):
            p_a = rate_a if a else 1 - rate_a
            for b in (0, 1):
                p_b_own = rate_b if b else 1 - rate_b
                p_b = copy_prob * (a == b) + (1 - copy_prob) * p_b_own
                p[ev.cell_index(y, a, b)] += p_y * p_a * p_b
    return p / p.sum()


def true_f1(p):
    f1_a, f1_b = ev.f1_pair(p)
    return float(f1_a), float(f1_b)


def binomial_upper(r, rate):
    return stats.binom.ppf(1 - FALSE_ALARM, r, rate)


def binomial_band(r, rate):
    return stats.binom.ppf(FALSE_ALARM / 2, r, rate), stats.binom.ppf(1 - FALSE_ALARM / 2, r, rate)


def test_f1_matches_sklearn_definition_on_rows():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y = rng.random(5000) < 0.05
    a = np.where(y, rng.random(5000) < 0.7, rng.random(5000) < 0.01)
    b = np.where(y, rng.random(5000) < 0.5, rng.random(5000) < 0.02)
    f1_a, f1_b = ev.f1_pair(ev.counts_from_arrays(y, a, b))
    assert f1_a == pytest.approx(f1_score(y, a))
    assert f1_b == pytest.approx(f1_score(y, b))


def test_multinomial_draws_match_row_resampling_in_distribution():
    # The claim the whole method rests on: drawing counts == resampling rows.
    rng = np.random.default_rng(1)
    n = 3000
    y = rng.random(n) < 0.05
    a = np.where(y, rng.random(n) < 0.7, rng.random(n) < 0.01)
    b = np.where(y, rng.random(n) < 0.6, rng.random(n) < 0.01)
    counts = ev.counts_from_arrays(y, a, b)
    reps = 3000
    idx = rng.integers(0, n, size=(reps, n))
    row_counts = np.stack([ev.counts_from_arrays(y[i], a[i], b[i]) for i in idx])
    row_diff = np.subtract(*ev.f1_pair(row_counts)[::-1])
    cell_diff = np.subtract(*ev.f1_pair(ev.bootstrap_counts(counts, reps, seed=2))[::-1])
    # Two-sample KS test on the difference's bootstrap distribution (same law under the claim).
    assert stats.ks_2samp(row_diff, cell_diff).pvalue > FALSE_ALARM
    # SDs of B = 3000 draws have a relative sampling error of about 1.3%: 10% is ~5 sigma.
    assert np.std(cell_diff) == pytest.approx(np.std(row_diff), rel=0.10)


def test_same_seed_gives_same_draws_and_cost_does_not_grow_with_rows():
    small = np.array([500, 3, 4, 2, 5, 1, 2, 20])
    big = small * 1000
    d1 = ev.bootstrap_counts(small, 100, seed=7)
    assert np.array_equal(d1, ev.bootstrap_counts(small, 100, seed=7))
    assert ev.bootstrap_counts(big, 100, seed=7).shape == (100, 8)
    assert d1.sum(axis=1).tolist() == [small.sum()] * 100


def test_ci_of_a_known_f1_covers_it_about_95_percent_of_the_time():
    p = cell_probs(0.6, 0.0015, 0.45, 0.0010)
    truth_a, truth_b = true_f1(p)
    rng = np.random.default_rng(11)
    r = 400
    covered_a = covered_b = 0
    for i in range(r):
        counts = rng.multinomial(N_ROWS, p)
        model_a, model_b = ev.per_model_f1(counts, n_boot=2000, seed=i)
        covered_a += model_a.ci_low <= truth_a <= model_a.ci_high
        covered_b += model_b.ci_low <= truth_b <= model_b.ci_high
    lo, hi = binomial_band(r, 0.95)
    assert lo <= covered_a <= hi, f"LR CI covered the true F1 in {covered_a}/{r} datasets"
    assert lo <= covered_b <= hi, f"RF CI covered the true F1 in {covered_b}/{r} datasets"


def test_equally_good_models_win_at_most_about_alpha_of_the_time():
    alpha = 0.05
    # Same rates, correlated errors: the true F1 difference is exactly 0.
    p = cell_probs(0.6, 0.0015, 0.6, 0.0015, copy_prob=0.5)
    assert true_f1(p)[0] == pytest.approx(true_f1(p)[1])
    rng = np.random.default_rng(12)
    r = 400
    wins = 0
    naive_wins = 0
    for i in range(r):
        result = ev.compare(rng.multinomial(N_ROWS, p), n_boot=2000, seed=i, alpha=alpha)
        wins += result.verdict_better
        naive_wins += result.naive_p_value < alpha
    assert wins <= binomial_upper(r, alpha), f"claimed a winner in {wins}/{r} tied datasets"
    # The seed's t-test over replicates claims a winner far more often than alpha (why it never decides).
    assert naive_wins > binomial_upper(r, alpha)


def test_a_real_difference_is_found():
    # RF catches 75% of frauds, LR 55%, at equal false-alarm rates: true dF1 about +0.12.
    p = cell_probs(0.55, 0.0015, 0.75, 0.0015)
    truth_a, truth_b = true_f1(p)
    assert truth_b - truth_a > 0.1
    rng = np.random.default_rng(13)
    r = 100
    wins = covered = 0
    for i in range(r):
        result = ev.compare(rng.multinomial(N_ROWS, p), n_boot=2000, seed=i)
        wins += result.verdict_better
        covered += result.diff_ci_low <= truth_b - truth_a <= result.diff_ci_high
        assert result.diff_ci_low < result.diff < result.diff_ci_high
    # Power: the SE of dF1 here is about 0.025, so t is about 5 and power is essentially 1;
    # demanding 90% leaves room for the rare unlucky dataset.
    assert wins >= 0.9 * r, f"found the difference in only {wins}/{r} datasets"
    lo, hi = binomial_band(r, 0.95)
    assert lo <= covered <= hi


def test_a_worse_random_forest_is_never_called_better():
    p = cell_probs(0.75, 0.0015, 0.55, 0.0015)
    rng = np.random.default_rng(14)
    result = ev.compare(rng.multinomial(N_ROWS, p), n_boot=2000, seed=1)
    assert not result.verdict_better
    assert "is not shown to be better" in result.verdict
    assert result.p_value > 0.5


def test_the_verdict_text_names_the_models_and_alpha():
    p = cell_probs(0.4, 0.0015, 0.8, 0.0015)
    result = ev.compare(np.random.default_rng(3).multinomial(N_ROWS, p), n_boot=1000, seed=1,
                        alpha=0.01)
    assert result.verdict == "random forest is better than logistic regression at alpha = 0.01"


def test_identical_predictions_give_no_verdict():
    counts = np.array([1000, 0, 0, 10, 5, 0, 0, 20])
    result = ev.compare(counts, n_boot=500, seed=1)
    assert result.diff == 0 and result.p_value == 1.0 and not result.verdict_better


@pytest.mark.parametrize(
    "counts, message",
    [
        ([100, 1, 2, 3, 0, 0, 0, 0], "labels of one class only"),
        ([0, 0, 0, 0, 5, 1, 2, 3], "labels of one class only"),
        ([1, 2, 3], "expected 8 joint cell counts"),
        ([100, -1, 2, 3, 4, 5, 6, 7], "must be >= 0"),
    ],
)
def test_bad_counts_are_rejected_with_a_clear_message(counts, message):
    with pytest.raises(ev.EvaluationError, match=message):
        ev.compare(counts, n_boot=100, seed=1)


def test_counts_round_trip_through_json_keys():
    counts = np.arange(10, 18)
    assert ev.counts_from_dict(ev.counts_to_dict(counts)).tolist() == counts.tolist()
    with pytest.raises(ev.EvaluationError, match="y1_a1_b1"):
        ev.counts_from_dict({k: v for k, v in ev.counts_to_dict(counts).items() if k != "y1_a1_b1"})
