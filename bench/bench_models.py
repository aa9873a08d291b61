"""Benchmark: the pipeline's models at the Fraud Detection Handbook's size and split, beside its table.

Runs the pipeline's own steps (generate, save_to_hdfs, preprocess, train_lr, train_rf, bootstrap,
compare) in one Spark session (local[2]) with a loopback MLflow server (scripts/demo/mlflow-local.sh,
state in the work folder), on the handbook's
data set: 5,000 customers, 10,000 terminals, r = 5, simulated from 2018-04-01 (the handbook's 183
days; the run lands the 58 it reads, which the other days do not change), logical date 2018-08-14:
train 2018-07-25..31, delay 08-01..07, test 08-08..14. Each model is tuned with the pipeline's
default grid unless --lr-grid / --rf-grid give another (JSON, the config's lr_grid / rf_grid).
Prints our test ROC AUC, AP and CP@100 (and F1) per model beside the handbook's baseline table
(BaselineModeling: sklearn defaults, same split and protocol). Run:
  PYTHONPATH=jobs $(bash -c 'source scripts/lib.sh; jobs_venv')/bin/python bench/bench_models.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_run import HANDBOOK_SIZE, local_session, loopback_mlflow, pipeline_steps  # noqa: E402

from fraud_jobs import train  # noqa: E402  (pipeline_run put jobs/ on the path)
from fraud_jobs.pipeline_spec import PipelineConfig  # noqa: E402

# The handbook's BaselineModeling table (test week 2018-08-08..14): ROC AUC, AP, CP@100.
HANDBOOK = {
    "lr": ("logistic regression", 0.871, 0.606, 0.291),
    "rf": ("random forest (100 trees)", 0.867, 0.658, 0.287),
}


def main() -> int:
    defaults = PipelineConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/bench-models", help="work folder (emptied first)")
    ap.add_argument("--date", default="2018-08-14", help="logical date: the test week's last day")
    ap.add_argument("--customers", type=int, default=HANDBOOK_SIZE["customers"])
    ap.add_argument("--terminals", type=int, default=HANDBOOK_SIZE["terminals"])
    ap.add_argument("--radius", type=float, default=HANDBOOK_SIZE["radius"])
    ap.add_argument("--start-date", default="2018-04-01")
    ap.add_argument("--lr-grid", type=json.loads, default=dict(defaults.lr_grid))
    ap.add_argument("--rf-grid", type=json.loads, default=dict(defaults.rf_grid))
    ap.add_argument("--keep", action="store_true", help="reuse the work folder's data")
    ap.add_argument("--driver-memory", default="4g")
    args = ap.parse_args()

    work = os.path.abspath(args.work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    with loopback_mlflow(work) as mlflow_uri:
        return run(args, work, mlflow_uri)


def run(args, work: str, mlflow_uri: str) -> int:
    local_session("bench-models", args.driver_memory)
    steps = pipeline_steps(work, args.date, mlflow_uri, "bench-models", customers=args.customers,
                           terminals=args.terminals, radius=args.radius, start_date=args.start_date,
                           lr_grid=args.lr_grid, rf_grid=args.rf_grid)
    results, seconds = {}, {}
    for name, step, argv in steps:
        start = time.monotonic()
        results[name] = step(argv)
        seconds[name] = time.monotonic() - start
        print(f"[bench] {name}: {seconds[name]:.1f} s", file=sys.stderr, flush=True)

    print()
    print(f"Models at the handbook's size ({args.customers} customers, {args.terminals} terminals, "
          f"r = {args.radius}), test week ending {args.date}")
    print(f"{'':<34}{'ROC AUC':>9}{'AP':>9}{'CP@100':>9}{'F1':>9}   train s")
    below = []
    for model in ("lr", "rf"):
        r = results[f"train_{model}"]
        ours = (r["test_roc_auc"], r["test_average_precision"], r["test_card_precision_top_100"])
        name, *theirs = HANDBOOK[model]
        print(f"{'ours: ' + train.MODELS[model]:<34}" + "".join(f"{v:>9.3f}" for v in ours)
              + f"{r['test_f1']:>9.3f}   {seconds[f'train_{model}']:.0f}")
        print(f"{'handbook: ' + name:<34}" + "".join(f"{v:>9.3f}" for v in theirs))
        below += [f"{model} {metric}" for metric, a, b in zip(("ROC AUC", "AP", "CP@100"), ours, theirs)
                  if a < b]
    report = results["compare"]
    print(f"test rows {report['n_rows']} ({report['n_positive']} frauds); F1 difference RF - LR "
          f"{report['diff']:+.3f} [{report['diff_ci_low']:+.3f}, {report['diff_ci_high']:+.3f}], "
          f"p = {report['p_value']:.3g}: {report['verdict']}")
    print("steps: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    print("target met: both models at or above the handbook on all three" if not below
          else f"below the handbook: {', '.join(below)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
