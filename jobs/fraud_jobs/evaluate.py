"""Paired bootstrap of two classifiers' positive-class F1 from 8 joint cell counts (pure numpy).

Both models are scored on the same validation rows. Every row falls in one of 8 cells of
(label y, prediction of model A, prediction of model B); the cell index is 4*y + 2*a + b.
F1 = 2TP / (2TP + FP + FN) depends on the rows only through these counts, so resampling the n
rows with replacement is *exactly* a Multinomial(n, counts / n) draw of the 8 counts. B replicates
are therefore one `rng.multinomial` call of shape (B, 8): O(B) work whatever n is, and the pairing
of A and B is preserved because both F1s come from the same draw.

Model A is the baseline (logistic regression), model B the challenger (random forest); the
difference studied is F1(B) - F1(A).

The test: t = observed difference / bootstrap SD of the difference, compared with the standard
normal (the SD is the bootstrap estimate of the difference's standard error, so no degrees of
freedom are involved); the one-sided p-value is P(Z >= t). The verdict rests on that p only.
A t-test over the B replicates as if they were B independent samples (what the seed did) is also
reported, labelled as such: its SE shrinks like 1/sqrt(B), so its p goes to 0 as B grows whatever
the data say, and it never decides anything here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

N_CELLS = 8
# Cell index -> (y, a, b); index = 4*y + 2*a + b.
CELL_LABELS: tuple[tuple[int, int, int], ...] = tuple(
    ((i >> 2) & 1, (i >> 1) & 1, i & 1) for i in range(N_CELLS)
)


class EvaluationError(ValueError):
    """Counts that cannot support the comparison (e.g. no positive label at all)."""


def cell_index(y: int, a: int, b: int) -> int:
    return 4 * int(y) + 2 * int(a) + int(b)


def counts_from_arrays(y: Sequence[int], a: Sequence[int], b: Sequence[int]) -> np.ndarray:
    """The 8 joint counts of row-level 0/1 arrays (used by tests and the benchmark)."""
    y, a, b = (np.asarray(v, dtype=np.int64) for v in (y, a, b))
    return np.bincount(4 * y + 2 * a + b, minlength=N_CELLS).astype(np.int64)


def validate_counts(counts: Sequence[int]) -> np.ndarray:
    arr = np.asarray(counts, dtype=np.int64)
    if arr.shape != (N_CELLS,):
        raise EvaluationError(f"expected {N_CELLS} joint cell counts, got shape {arr.shape}")
    if (arr < 0).any():
        raise EvaluationError(f"joint cell counts must be >= 0, got {arr.tolist()}")
    positives = int(arr[4:].sum())
    negatives = int(arr[:4].sum())
    if positives == 0 or negatives == 0:
        only = "0 (legitimate)" if positives == 0 else "1 (fraud)"
        raise EvaluationError(
            f"labels of one class only: all {positives + negatives} validation rows have label {only}; "
            "F1 of the positive class needs both classes"
        )
    return arr


def f1_pair(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positive-class F1 of model A and model B for counts of shape (..., 8).

    A replicate in which a model has no TP, FP or FN at all gets F1 = 0 (sklearn's zero_division).
    """
    c = np.asarray(counts, dtype=np.float64)
    tp_a = c[..., 6] + c[..., 7]
    fp_a = c[..., 2] + c[..., 3]
    fn_a = c[..., 4] + c[..., 5]
    tp_b = c[..., 5] + c[..., 7]
    fp_b = c[..., 1] + c[..., 3]
    fn_b = c[..., 4] + c[..., 6]

    def f1(tp, fp, fn):
        den = 2 * tp + fp + fn
        return np.divide(2 * tp, den, out=np.zeros_like(den), where=den > 0)

    return f1(tp_a, fp_a, fn_a), f1(tp_b, fp_b, fn_b)


def bootstrap_counts(counts: Sequence[int], n_boot: int, seed: int) -> np.ndarray:
    """B multinomial replicates of the 8 counts, shape (n_boot, 8); same seed -> same draws."""
    arr = validate_counts(counts)
    if n_boot < 2:
        raise EvaluationError(f"n_boot must be >= 2, got {n_boot}")
    n = int(arr.sum())
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, arr / n, size=n_boot)


def percentile_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class ModelF1:
    f1: float
    ci_low: float
    ci_high: float
    se: float


@dataclass(frozen=True)
class Comparison:
    """Everything compare reports; `verdict_better` decides the champion alias."""

    n_rows: int
    n_positive: int
    n_boot: int
    seed: int
    confidence: float
    alpha: float
    model_a: ModelF1
    model_b: ModelF1
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    diff_se: float
    t_stat: float
    p_value: float
    bootstrap_share_not_better: float
    verdict_better: bool
    verdict: str
    naive_t_stat: float
    naive_p_value: float

    def to_dict(self) -> dict:
        return asdict(self)


def summarize_f1(f1_star: np.ndarray, f1_observed: float, level: float) -> ModelF1:
    lo, hi = percentile_ci(f1_star, level)
    return ModelF1(f1=float(f1_observed), ci_low=lo, ci_high=hi, se=float(np.std(f1_star, ddof=1)))


def per_model_f1(counts: Sequence[int], n_boot: int, seed: int, level: float = 0.95
                 ) -> tuple[ModelF1, ModelF1]:
    """Each model's F1 with its percentile bootstrap CI (the bootstrap step's output)."""
    arr = validate_counts(counts)
    f1_a, f1_b = f1_pair(arr)
    star_a, star_b = f1_pair(bootstrap_counts(arr, n_boot, seed))
    return summarize_f1(star_a, float(f1_a), level), summarize_f1(star_b, float(f1_b), level)


def compare(
    counts: Sequence[int],
    n_boot: int = 10_000,
    seed: int = 42,
    alpha: float = 0.05,
    level: float = 0.95,
    name_a: str = "logistic regression",
    name_b: str = "random forest",
    draws: np.ndarray | None = None,
) -> Comparison:
    """The paired comparison F1(B) - F1(A) from one set of multinomial draws."""
    if not 0.0 < alpha < 1.0:
        raise EvaluationError(f"alpha must be in (0, 1), got {alpha}")
    arr = validate_counts(counts)
    if draws is None:
        draws = bootstrap_counts(arr, n_boot, seed)
    star_a, star_b = f1_pair(draws)
    f1_a, f1_b = (float(v) for v in f1_pair(arr))
    diff_star = star_b - star_a
    diff = f1_b - f1_a
    diff_se = float(np.std(diff_star, ddof=1))
    if diff_se > 0:
        t_stat = diff / diff_se
        p_value = float(stats.norm.sf(t_stat))
    else:
        # Both models predict identically on every row: no evidence either way.
        t_stat, p_value = 0.0, 1.0
    better = p_value < alpha
    verdict = (
        f"{name_b} is better than {name_a} at alpha = {alpha:g}"
        if better
        else f"{name_b} is not shown to be better than {name_a} at alpha = {alpha:g}"
    )
    # The seed's way, reported for contrast only (never decides): replicates as independent samples.
    with np.errstate(all="ignore"):
        naive = stats.ttest_ind(star_b, star_a, equal_var=False, alternative="greater")
    naive_t = float(naive.statistic) if np.isfinite(naive.statistic) else 0.0
    naive_p = float(naive.pvalue) if np.isfinite(naive.pvalue) else 1.0
    lo, hi = percentile_ci(diff_star, level)
    return Comparison(
        n_rows=int(arr.sum()),
        n_positive=int(arr[4:].sum()),
        n_boot=int(draws.shape[0]),
        seed=int(seed),
        confidence=level,
        alpha=alpha,
        model_a=summarize_f1(star_a, f1_a, level),
        model_b=summarize_f1(star_b, f1_b, level),
        diff=diff,
        diff_ci_low=lo,
        diff_ci_high=hi,
        diff_se=diff_se,
        t_stat=float(t_stat),
        p_value=p_value,
        bootstrap_share_not_better=float(np.mean(diff_star <= 0)),
        verdict_better=bool(better),
        verdict=verdict,
        naive_t_stat=naive_t,
        naive_p_value=naive_p,
    )


def counts_to_dict(counts: Sequence[int]) -> dict[str, int]:
    """JSON form of the 8 counts: keys 'y{y}_a{a}_b{b}'."""
    return {f"y{y}_a{a}_b{b}": int(counts[cell_index(y, a, b)]) for (y, a, b) in CELL_LABELS}


def counts_from_dict(data: Mapping[str, int]) -> np.ndarray:
    keys = [f"y{y}_a{a}_b{b}" for (y, a, b) in CELL_LABELS]
    missing = [k for k in keys if k not in data]
    if missing:
        raise EvaluationError(f"joint counts lack cell(s) {', '.join(missing)}")
    return validate_counts([int(data[k]) for k in keys])
