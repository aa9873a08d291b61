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
import subprocess
import sys
import time

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(REPO, "jobs"))
from fraud_jobs import bootstrap, compare, generate, preprocess, save_to_hdfs, train  # noqa: E402
from fraud_jobs.pipeline_spec import GRID_KEYS, PipelineConfig, check_grid, grid_flag  # noqa: E402

# The handbook's BaselineModeling table (test week 2018-08-08..14): ROC AUC, AP, CP@100.
HANDBOOK = {
    "lr": ("logistic regression", 0.871, 0.606, 0.291),
    "rf": ("random forest (100 trees)", 0.867, 0.658, 0.287),
}


def grid_args(model: str, grid: dict) -> list[str]:
    checked = check_grid(model, grid)
    return [t for key in GRID_KEYS[model] if key in checked
            for t in (grid_flag(key), ",".join(map(str, checked[key])))]


def main() -> int:
    defaults = PipelineConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/bench-models", help="work folder (emptied first)")
    ap.add_argument("--date", default="2018-08-14", help="logical date: the test week's last day")
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--terminals", type=int, default=10000)
    ap.add_argument("--radius", type=float, default=5.0)
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
    mlflow_local = os.path.join(REPO, "scripts", "demo", "mlflow-local.sh")
    mlflow_uri = subprocess.run(["bash", mlflow_local, "start", f"{work}/mlflow"], check=True,
                                capture_output=True, text=True).stdout.strip().splitlines()[-1]
    try:
        return run(args, work, mlflow_uri)
    finally:
        subprocess.run(["bash", mlflow_local, "stop", f"{work}/mlflow"], check=False)


def run(args, work: str, mlflow_uri: str) -> int:
    defaults = PipelineConfig()
    from pyspark.sql import SparkSession

    # as the local demo runs the steps: 2 cores, a few shuffle partitions, nothing served
    (SparkSession.builder.master("local[2]").appName("bench-models")
     .config("spark.sql.shuffle.partitions", "4")
     .config("spark.driver.memory", args.driver_memory)
     .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
     .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
     .getOrCreate().sparkContext.setLogLevel("ERROR"))
    landing, data = f"file://{work}/landing", f"file://{work}/lake"
    days = ["--days", str(defaults.run_days)]
    common = ["--date", args.date, "--data-root", data, "--mlflow-uri", mlflow_uri,
              "--experiment", "bench-models"]
    model_args = [*common, "--registered-model", "bench-fraud"]
    steps = [
        ("generate", generate.main, ["--date", args.date, *days, "--landing-root", landing,
                                     "--customers", str(args.customers),
                                     "--terminals", str(args.terminals),
                                     "--radius", str(args.radius), "--start-date", args.start_date]),
        ("save_to_hdfs", save_to_hdfs.main, ["--date", args.date, *days, "--landing-root", landing,
                                             "--data-root", data]),
        ("preprocess", preprocess.main, ["--date", args.date, *days, "--data-root", data]),
        ("train_lr", train.main_lr, [*model_args, *grid_args("lr", args.lr_grid)]),
        ("train_rf", train.main_rf, [*model_args, *grid_args("rf", args.rf_grid)]),
        ("bootstrap", bootstrap.main, [*common, "--n-boot", "10000"]),
        ("compare", compare.main, [*model_args, "--alpha", "0.05"]),
    ]
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
