"""Print the result of one pipeline run from MLflow: per-model F1 with 95% CIs, the paired
difference, p-value, verdict and the runs' URLs. Run with the jobs' Python (it has mlflow);
the links come from jobs/fraud_jobs/tracking.py.

Usage: demo_summary.py --config PIPELINE_JSON --date YYYY-MM-DD

It reads what the compare step logged: the latest FINISHED run tagged pipeline.step=compare and
pipeline.logical_date=DATE in the config's experiment (metrics f1_lr*, f1_rf*, f1_diff*, p_value;
tags pipeline.verdict, pipeline.lr_run_id, pipeline.rf_run_id).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jobs"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--date", required=True)
    args = ap.parse_args()
    with open(args.config, encoding="utf-8") as fh:
        cfg = json.load(fh)
    uri = cfg["mlflow_tracking_uri"].rstrip("/")
    experiment_name = cfg.get("experiment", "fraud-detection")

    from mlflow import MlflowClient

    from fraud_jobs.tracking import ui_url

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        print(f"error: no MLflow experiment {experiment_name!r} at {uri}", file=sys.stderr)
        return 1
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=(f"tags.`pipeline.step` = 'compare' and "
                       f"tags.`pipeline.logical_date` = '{args.date}' and attributes.status = 'FINISHED'"),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        print(f"error: no finished comparison run for {args.date} in experiment "
              f"{experiment_name!r} at {uri}", file=sys.stderr)
        return 1
    run = runs[0]
    m, tags = run.data.metrics, run.data.tags

    def run_url(run_id: str | None) -> str:
        return ui_url(uri, experiment.experiment_id, run_id) if run_id else "?"

    def f1_line(label: str, key: str) -> str:
        return (f"  {label:<22} F1 = {m[key]:.4f}   95% CI [{m[key + '_ci_low']:.4f}, "
                f"{m[key + '_ci_high']:.4f}]")

    print()
    print(f"Fraud pipeline, logical date {args.date}")
    print(f1_line("logistic regression", "f1_lr"))
    print(f1_line("random forest", "f1_rf"))
    print(f"  {'difference (RF - LR)':<22} {m['f1_diff']:+.4f}        95% CI [{m['f1_diff_ci_low']:+.4f}, "
          f"{m['f1_diff_ci_high']:+.4f}]")
    print(f"  {'one-sided p-value':<22} {m['p_value']:.4g}  (t = {m.get('t_stat', float('nan')):.3f}, "
          f"bootstrap standard error)")
    print(f"  verdict: {tags.get('pipeline.verdict', '?')}")
    if tags.get("pipeline.champion_version"):
        print(f"  model registry: {cfg.get('registered_model', 'fraud-detector')} version "
              f"{tags['pipeline.champion_version']} is now 'champion'")
    print()
    print(f"  MLflow experiment : {ui_url(uri, experiment.experiment_id)}")
    print(f"  comparison run    : {run_url(run.info.run_id)}")
    print(f"  logistic regression run: {run_url(tags.get('pipeline.lr_run_id'))}")
    print(f"  random forest run      : {run_url(tags.get('pipeline.rf_run_id'))}")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
