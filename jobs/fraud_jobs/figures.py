"""The pictures the pipeline logs to MLflow: each train run's precision-recall curve on its test
days (`pr_curve.png`) and the comparison run's bootstrap figure (`comparison/bootstrap_f1.png`).

What a figure says (titles, legend entries, the verdict) comes from small pure functions, tested
on their own; the drawing functions only place those texts and the numbers they are given.
PNGs are saved without matplotlib's `Software` metadata (its version), so the same numbers give
the same bytes on any host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fraud_jobs import evaluate

# savefig arguments of every figure: a fixed resolution, and no metadata that varies by host
PNG_SAVE = {"format": "png", "dpi": 100, "metadata": {"Software": None}}
COLORS = {"lr": "tab:blue", "rf": "tab:green", "diff": "tab:purple"}
HIST_BINS = 60


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display on a cluster node or a CI runner)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def log_figure(fig, artifact_file: str) -> None:
    """Log `fig` to the active MLflow run as a PNG artifact, then free it."""
    import mlflow

    try:
        mlflow.log_figure(fig, artifact_file, save_kwargs=PNG_SAVE)
    finally:
        pyplot().close(fig)


def png_bytes(fig) -> bytes:
    """The PNG `log_figure` would upload (for tests and local use); frees the figure."""
    import io

    buf = io.BytesIO()
    try:
        fig.savefig(buf, **PNG_SAVE)
    finally:
        pyplot().close(fig)
    return buf.getvalue()


def format_p(p: float) -> str:
    """A p-value as a reader expects it: three decimals, or `p < 0.001` (never `p = 0`)."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def format_ci(low: float, high: float, signed: bool = False) -> str:
    fmt = "{:+.3f}" if signed else "{:.3f}"
    return f"[{fmt.format(low)}, {fmt.format(high)}]"


# ---- the comparison figure -------------------------------------------------------------------

@dataclass(frozen=True)
class ComparisonTexts:
    title: str
    model_a: str   # legend entry: model A's F1 and CI
    model_b: str
    diff_ci: str   # legend entry: the difference's CI
    diff: str      # legend entry: the observed difference
    verdict: str   # the box under the panels


def comparison_texts(result: evaluate.Comparison, name_a: str, name_b: str,
                     test_dates: str) -> ComparisonTexts:
    pct = f"{result.confidence:.0%}"
    excludes = result.diff_ci_low > 0 or result.diff_ci_high < 0
    return ComparisonTexts(
        title=(f"F1 of the fraud class: {name_b} vs {name_a}\n"
               f"test days {test_dates}: {result.n_rows:,} transactions, {result.n_positive:,} "
               f"frauds; paired bootstrap, B = {result.n_boot:,}"),
        model_a=(f"{name_a}: F1 = {result.model_a.f1:.3f}, {pct} CI "
                 f"{format_ci(result.model_a.ci_low, result.model_a.ci_high)}"),
        model_b=(f"{name_b}: F1 = {result.model_b.f1:.3f}, {pct} CI "
                 f"{format_ci(result.model_b.ci_low, result.model_b.ci_high)}"),
        diff_ci=f"{pct} CI {format_ci(result.diff_ci_low, result.diff_ci_high, signed=True)}",
        diff=f"observed difference {result.diff:+.3f}",
        verdict=(f"Verdict: {result.verdict}\n"
                 f"one-sided {format_p(result.p_value)} (t = {result.t_stat:.2f}, bootstrap SE "
                 f"{result.diff_se:.3f}); the {pct} CI of the difference "
                 f"{'excludes' if excludes else 'includes'} 0"),
    )


def comparison_figure(draws: np.ndarray, result: evaluate.Comparison, name_a: str, name_b: str,
                      test_dates: str, color_a: str = COLORS["lr"], color_b: str = COLORS["rf"]):
    """Left: both models' bootstrap F1 distributions, each F1 with its CI above them. Right: the
    paired difference F1(B) - F1(A), its CI shaded, the observed value and 0 marked. Below: the
    verdict with its p-value."""
    plt = pyplot()
    texts = comparison_texts(result, name_a, name_b, test_dates)
    star_a, star_b = evaluate.f1_pair(draws)
    diff = star_b - star_a

    fig = plt.figure(figsize=(13, 6), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[5, 1])
    left, right = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    note = fig.add_subplot(grid[1, :])
    fig.suptitle(texts.title, fontsize=13)

    edges = np.histogram_bin_edges(np.concatenate([star_a, star_b]), bins=HIST_BINS)
    tallest = 0.0
    for star, color, name in ((star_a, color_a, name_a), (star_b, color_b, name_b)):
        heights, _, _ = left.hist(star, bins=edges, alpha=0.45, color=color,
                                  label=f"{name}: bootstrap replicates")
        tallest = max(tallest, float(heights.max()))
    for i, (res, color, label) in enumerate(((result.model_a, color_a, texts.model_a),
                                             (result.model_b, color_b, texts.model_b))):
        y = tallest * (1.1 + 0.1 * i)
        left.errorbar([res.f1], [y], xerr=[[res.f1 - res.ci_low], [res.ci_high - res.f1]],
                      fmt="o", color=color, capsize=5, linewidth=2, label=label)
        left.axvline(res.f1, color=color, linewidth=1, linestyle=":")
    left.set_ylim(0, tallest * 1.75)  # room for the CIs and, above them, the legend
    left.set_xlabel("F1 of the fraud class (0 to 1)")
    left.set_ylabel(f"bootstrap replicates (of B = {result.n_boot:,})")
    left.set_title("Each model: F1 and its CI")
    left.legend(fontsize=8, loc="upper left")

    right.hist(diff, bins=HIST_BINS, color=COLORS["diff"], alpha=0.55,
               label="bootstrap replicates of the difference")
    right.axvspan(result.diff_ci_low, result.diff_ci_high, color=COLORS["diff"], alpha=0.15,
                  label=texts.diff_ci)
    right.axvline(result.diff, color=COLORS["diff"], linewidth=2, label=texts.diff)
    right.axvline(0.0, color="black", linestyle="--", linewidth=1.5, label="0: no difference")
    right.set_xlabel(f"F1({name_b}) - F1({name_a})  (difference in F1, -1 to 1)")
    right.set_ylabel(f"bootstrap replicates (of B = {result.n_boot:,})")
    right.set_title("Paired difference, one-sided test")
    right.legend(fontsize=8, loc="best")
    lo, hi = right.get_xlim()  # keep 0 in view however far the difference is from it
    right.set_xlim(min(lo, -0.05 * (hi - lo)), max(hi, 0.05 * (hi - lo)))

    note.axis("off")
    note.text(0.5, 0.5, texts.verdict, ha="center", va="center", fontsize=12,
              transform=note.transAxes,
              bbox={"boxstyle": "round,pad=0.6", "linewidth": 1.5,
                    "facecolor": "#e3f4e1" if result.verdict_better else "#eeeeee",
                    "edgecolor": color_b if result.verdict_better else "grey"})
    return fig


# ---- the precision-recall figure --------------------------------------------------------------

@dataclass(frozen=True)
class PrTexts:
    title: str
    curve: str      # legend entry of the curve: the model and its AP
    chosen: str     # legend entry of the decision threshold's point
    base_rate: str  # legend entry of a classifier without skill


def pr_texts(model_name: str, test_dates: str, rows: int, positives: int, average_precision: float,
             threshold: float, precision: float, recall: float, f1: float) -> PrTexts:
    return PrTexts(
        title=(f"Precision-recall of the {model_name} on the test days {test_dates}\n"
               f"{rows:,} transactions, {positives:,} frauds "
               f"(cards already known as compromised left out)"),
        curve=f"{model_name} (AP = {average_precision:.3f})",
        chosen=(f"decision threshold {threshold:g}: precision {precision:.3f}, "
                f"recall {recall:.3f}, F1 {f1:.3f}"),
        base_rate=f"no skill: precision = fraud share {positives / rows:.3f}",
    )


def pr_figure(curve: tuple[Sequence[float], Sequence[float], Sequence[float]], texts: PrTexts,
              chosen: tuple[float, float], positive_share: float, color: str):
    """The curve (recall, precision) of `curve` = (thresholds, precision, recall), the decision
    threshold's (recall, precision) point `chosen`, and the no-skill line at `positive_share`."""
    plt = pyplot()
    _, precision, recall = curve
    fig, ax = plt.subplots(figsize=(8, 6.5), layout="constrained")
    # steps: from one point's recall to the next the precision is the next point's, and the first
    # point's precision from recall 0: the area under the line is then exactly the AP's sum
    ax.plot([0.0, *recall], [precision[0], *precision], color=color, linewidth=2,
            drawstyle="steps-pre", label=texts.curve)
    ax.axhline(positive_share, color="grey", linestyle="--", linewidth=1, label=texts.base_rate)
    ax.plot([chosen[1]], [chosen[0]], marker="o", markersize=9, color="black",
            markerfacecolor="white", markeredgewidth=2, linestyle="none", label=texts.chosen)
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("recall: share of the frauds flagged (0 to 1)")
    ax.set_ylabel("precision: share of the flagged transactions that are fraud (0 to 1)")
    ax.set_title(texts.title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="best")  # away from the curve: a weak model runs along the bottom
    return fig
