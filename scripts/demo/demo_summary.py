"""Print the result of one pipeline run from MLflow: per-model test ROC AUC, average precision,
card precision top-100 and F1 with its 95% CI, the paired F1 difference, p-value, verdict and the
runs' URLs. Run with the jobs' Python (it has mlflow); the links come from jobs/fraud_jobs/tracking.py.

Usage: demo_summary.py --config PIPELINE_JSON --date YYYY-MM-DD

It reads what the compare step logged: the latest FINISHED run tagged pipeline.step=compare and
pipeline.logical_date=DATE in the config's experiment (metrics f1_lr*, f1_rf*, f1_diff*, p_value;
tags pipeline.verdict, pipeline.lr_run_id, pipeline.rf_run_id), and the test_* metrics of the two
train runs it names.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "jobs"))


# the train runs' test metrics the summary shows beside each model's F1, in its column order
RANK_METRICS = (("ROC AUC", "test_roc_auc"), ("AP", "test_average_precision"),
                ("CP@100", "test_card_precision_top_100"))


def summary_lines(date: str, metrics: dict, tags: dict, registered_model: str,
                  links: dict[str, str], model_metrics: dict[str, dict] | None = None) -> list[str]:
    """The printed summary of one comparison run: what the compare step logged (metrics f1_lr*,
    f1_rf*, f1_diff*, p_value, t_stat; tags pipeline.verdict, pipeline.champion_version), each
    model's test metrics (model_metrics: {"lr": {...}, "rf": {...}}, the train runs' metrics; a
    missing one shows as ?) and the given links (label -> URL), framed by blank lines. Pure:
    `make demo` (MLflow client) and `make check-deploy` (MLflow's REST API) both print through it."""
    m = metrics
    model_metrics = model_metrics or {}

    def model_line(label: str, model: str) -> str:
        test = model_metrics.get(model, {})
        key = f"f1_{model}"
        ranks = "".join(f"{test[name]:>9.3f}" if name in test else f"{'?':>9}" for _, name in RANK_METRICS)
        return (f"  {label:<22}{ranks}{m[key]:>9.4f}   [{m[key + '_ci_low']:.4f}, "
                f"{m[key + '_ci_high']:.4f}]")

    lines = [
        "",
        f"Fraud pipeline, logical date {date} (the test week ends that day)",
        f"  {'':<22}" + "".join(f"{title:>9}" for title, _ in RANK_METRICS) + f"{'F1':>9}   95% CI of F1",
        model_line("logistic regression", "lr"),
        model_line("random forest", "rf"),
        f"  {'F1 difference (RF - LR)':<49}{m['f1_diff']:>+9.4f}   [{m['f1_diff_ci_low']:+.4f}, "
        f"{m['f1_diff_ci_high']:+.4f}]",
        f"  {'one-sided p-value':<22} {m['p_value']:.4g}  (t = {m.get('t_stat', float('nan')):.3f}, "
        f"bootstrap standard error)",
        f"  verdict: {tags.get('pipeline.verdict', '?')}",
    ]
    if tags.get("pipeline.champion_version"):
        lines.append(f"  model registry: {registered_model} version "
                     f"{tags['pipeline.champion_version']} is now 'champion'")
    lines.append("")
    lines += [f"  {label}: {url}" for label, url in links.items()]
    lines.append("")
    return lines


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
    tags = run.data.tags

    def run_url(run_id: str | None) -> str:
        return ui_url(uri, experiment.experiment_id, run_id) if run_id else "?"

    print("\n".join(summary_lines(args.date, run.data.metrics, tags,
                                  cfg.get("registered_model", "fraud-detector"), {
        "MLflow experiment ": ui_url(uri, experiment.experiment_id),
        "comparison run    ": run_url(run.info.run_id),
        "logistic regression run": run_url(tags.get("pipeline.lr_run_id")),
        "random forest run      ": run_url(tags.get("pipeline.rf_run_id")),
    }, {model: client.get_run(tags[f"pipeline.{model}_run_id"]).data.metrics
        for model in ("lr", "rf") if tags.get(f"pipeline.{model}_run_id")})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
