"""Benchmark: cell-count paired bootstrap + test vs a pandas row-resampling loop with sklearn F1.

Both sides compute, for the same 58,000 validation predictions (~0.66% frauds, as in the handbook's
test week), B bootstrap replicates of F1(LR), F1(RF) and their difference, then the CI and test.
  baseline : for each replicate, df.sample(frac=1, replace=True) and sklearn.metrics.f1_score twice
  ours     : fraud_jobs.evaluate.compare over the 8 joint counts (one multinomial draw of shape B x 8)
Prints both times and their ratio (target >= 1000x). Run:
  PYTHONPATH=jobs $(source scripts/lib.sh; jobs_venv)/bin/python bench/bench_bootstrap.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jobs"))
from fraud_jobs import evaluate as ev  # noqa: E402


def make_predictions(n: int, prevalence: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    lr = np.where(y == 1, rng.random(n) < 0.55, rng.random(n) < 0.0015).astype(int)
    rf = np.where(y == 1, rng.random(n) < 0.65, rng.random(n) < 0.0012).astype(int)
    return pd.DataFrame({"label": y, "pred_lr": lr, "pred_rf": rf})


def baseline(df: pd.DataFrame, n_boot: int, seed: int, alpha: float) -> dict:
    f1_lr, f1_rf = [], []
    for i in range(n_boot):
        s = df.sample(frac=1, replace=True, random_state=seed + i)
        f1_lr.append(f1_score(s["label"], s["pred_lr"], zero_division=0))
        f1_rf.append(f1_score(s["label"], s["pred_rf"], zero_division=0))
    diff = np.array(f1_rf) - np.array(f1_lr)
    observed = f1_score(df["label"], df["pred_rf"]) - f1_score(df["label"], df["pred_lr"])
    from scipy import stats

    se = float(np.std(diff, ddof=1))
    return {
        "diff": observed,
        "ci": tuple(np.quantile(diff, [0.025, 0.975])),
        "se": se,
        "p": float(stats.norm.sf(observed / se)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=58_000)
    parser.add_argument("--prevalence", type=float, default=0.0066)
    parser.add_argument("--n-boot", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=20, help="repeats of the fast side (min time)")
    args = parser.parse_args()

    df = make_predictions(args.rows, args.prevalence, args.seed)
    print(f"rows={len(df)} frauds={int(df['label'].sum())} B={args.n_boot}")

    t0 = time.perf_counter()
    base = baseline(df, args.n_boot, args.seed, 0.05)
    t_base = time.perf_counter() - t0

    fast_times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        # Counting the cells is part of our side (numpy here; one Spark aggregation in the job).
        counts = ev.counts_from_arrays(df["label"].to_numpy(), df["pred_lr"].to_numpy(),
                                       df["pred_rf"].to_numpy())
        ours = ev.compare(counts, n_boot=args.n_boot, seed=args.seed)
        fast_times.append(time.perf_counter() - t0)
    t_fast = min(fast_times)

    print(f"pandas .sample + sklearn f1_score loop: {t_base:8.3f} s  "
          f"dF1={base['diff']:+.4f} CI=[{base['ci'][0]:+.4f}, {base['ci'][1]:+.4f}] "
          f"SE={base['se']:.4f} p={base['p']:.4f}")
    print(f"cell-count multinomial bootstrap:      {t_fast:8.5f} s  "
          f"dF1={ours.diff:+.4f} CI=[{ours.diff_ci_low:+.4f}, {ours.diff_ci_high:+.4f}] "
          f"SE={ours.diff_se:.4f} p={ours.p_value:.4f}")
    print(f"speed-up: {t_base / t_fast:,.0f}x (target >= 1,000x)")


if __name__ == "__main__":
    main()
