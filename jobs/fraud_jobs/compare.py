"""Step 7: paired test of F1(random forest) - F1(logistic regression), verdict, champion alias.

Reads <data-root>/evaluation/logical_date=D/bootstrap.json (written by fraud_jobs.bootstrap) and
regenerates the same B multinomial draws from its counts, seed and B. Reports the difference with
its percentile CI, t = difference / bootstrap SD of the difference, the one-sided p-value
P(Z >= t), and the verdict at --alpha. The seed's t-test over the B replicates as if independent is
reported beside it, labelled as such; it never decides (see fraud_jobs.evaluate).

MLflow: a separate comparison run in the experiment (tags pipeline.step=compare,
pipeline.logical_date=D, pipeline.lr_run_id / pipeline.rf_run_id) with params, metrics, the
report `comparison/report.json` and the figure `comparison/bootstrap_f1.png` (fraud_jobs.figures:
both bootstrap distributions, the difference with its CI, the verdict; titled with the test days
of the train runs, read from their `test_dates` params). When, and only when,
the verdict says the random forest is better, its model version gets the `champion` alias in the
registered model (--registered-model); the version is also tagged with the comparison's p-value.
The summary goes to stdout.
"""

from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np

from fraud_jobs import evaluate, figures, mlflow_auth, tracking
from fraud_jobs.bootstrap import MODEL_A, MODEL_B, bootstrap_json_path
from fraud_jobs.common import (
    JobArgumentParser,
    JobError,
    bounded_float,
    date_arg,
    log,
    mlflow_uri_arg,
    name_arg,
    read_json,
    spark_session,
    uri_arg,
)
from fraud_jobs.pipeline_spec import CONFIG_OPEN_RANGES, PipelineConfig
from fraud_jobs.train import MODELS, PARAM_TEST_DATES, TAG_DATE, TAG_STEP

CHAMPION_ALIAS = "champion"
REPORT_ARTIFACT = "comparison/report.json"
FIGURE_ARTIFACT = "comparison/bootstrap_f1.png"


def train_test_dates(client, lr_info: dict, rf_info: dict) -> str:
    """The test days both train runs were scored on (their `test_dates` param), for the figure."""
    spans = {}
    for key, info in ((MODEL_A, lr_info), (MODEL_B, rf_info)):
        try:
            spans[key] = client.get_run(str(info.get("run_id"))).data.params[PARAM_TEST_DATES]
        except KeyError:
            raise JobError(f"the {MODELS[key]} run {info.get('run_id')} has no {PARAM_TEST_DATES} param") from None
    if spans[MODEL_A] != spans[MODEL_B]:
        raise JobError(f"the two train runs were tested on different days: {MODELS[MODEL_A]} "
                       f"{spans[MODEL_A]}, {MODELS[MODEL_B]} {spans[MODEL_B]}")
    return spans[MODEL_B]


def figure(draws: np.ndarray, result: evaluate.Comparison, test_dates: str):
    return figures.comparison_figure(draws, result, MODELS[MODEL_A], MODELS[MODEL_B], test_dates,
                                     figures.COLORS[MODEL_A], figures.COLORS[MODEL_B])


def summary_text(result: evaluate.Comparison, logical_date: str) -> str:
    pct = f"{result.confidence:.0%}"
    lines = [
        f"Model comparison for {logical_date} ({result.n_rows} test rows, "
        f"{result.n_positive} frauds, B = {result.n_boot} paired bootstrap draws):",
    ]
    for key, res in ((MODEL_A, result.model_a), (MODEL_B, result.model_b)):
        lines.append(f"  {MODELS[key]:>20}: F1 = {res.f1:.4f}  {pct} CI [{res.ci_low:.4f}, "
                     f"{res.ci_high:.4f}]")
    lines += [
        f"  difference RF - LR  : {result.diff:+.4f}  {pct} CI [{result.diff_ci_low:+.4f}, "
        f"{result.diff_ci_high:+.4f}]",
        f"  t = {result.t_stat:.3f} (SE = bootstrap SD of the difference = {result.diff_se:.4f}), "
        f"one-sided p = {result.p_value:.4g}",
        f"  (for contrast only, not used: t-test over the {result.n_boot} replicates as if "
        f"independent gives p = {result.naive_p_value:.3g})",
        f"  verdict: {result.verdict}",
    ]
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = JobArgumentParser(description="Paired bootstrap test RF vs LR; verdict and alias.")
    p.add_argument("--date", type=date_arg, required=True)
    p.add_argument("--data-root", type=uri_arg, required=True)
    p.add_argument("--mlflow-uri", type=mlflow_uri_arg, required=True)
    p.add_argument("--experiment", type=name_arg, required=True)
    p.add_argument("--registered-model", type=name_arg, required=True)
    mlflow_auth.add_arguments(p)
    p.add_argument("--alpha", type=bounded_float(*CONFIG_OPEN_RANGES["alpha"]), default=PipelineConfig().alpha)
    return p


def run(args: argparse.Namespace) -> dict:
    import mlflow

    if not 0.0 < args.alpha < 0.5:
        raise JobError(f"--alpha must be in (0, 0.5), got {args.alpha}")
    logical_date = args.date.isoformat()
    spark = spark_session(f"fraud-compare-{logical_date}")
    path = bootstrap_json_path(args.data_root, logical_date)
    data = read_json(spark, path)
    try:
        counts = evaluate.counts_from_dict(data["counts"])
        n_boot, seed = int(data["n_boot"]), int(data["seed"])
        confidence = float(data.get("confidence", 0.95))
        runs = data["runs"]
        rf_info, lr_info = runs[MODEL_B], runs[MODEL_A]
    except (KeyError, TypeError, ValueError) as exc:
        raise JobError(f"bootstrap counts {path} are malformed: {exc}") from None
    if rf_info.get("registered_model") not in (None, args.registered_model):
        raise JobError(
            f"the random forest run {rf_info.get('run_id')} registered its model as "
            f"{rf_info.get('registered_model')!r}, not --registered-model {args.registered_model!r}"
        )

    draws = evaluate.bootstrap_counts(counts, n_boot, seed)
    result = evaluate.compare(counts, n_boot=n_boot, seed=seed, alpha=args.alpha,
                              level=confidence, name_a=MODELS[MODEL_A], name_b=MODELS[MODEL_B],
                              draws=draws)
    report = {
        "logical_date": logical_date,
        "method": ("paired multinomial bootstrap over the 8 joint cells (label, LR, RF); "
                   "t = observed difference / bootstrap SD of the difference, one-sided p from N(0,1)"),
        "registered_model": args.registered_model,
        "runs": runs,
        "counts": evaluate.counts_to_dict(counts),
        **result.to_dict(),
        "naive_test_note": ("naive_t_stat / naive_p_value: the seed's t-test over the bootstrap "
                            "replicates as if independent samples; shown for contrast, never used"),
        "champion_alias_set": False,
    }

    mlflow_auth.configure_from_args(spark, args)
    mlflow.set_tracking_uri(args.mlflow_uri)
    tracking.use_experiment(args.experiment)
    client = mlflow.MlflowClient()
    test_dates = report["test_dates"] = train_test_dates(client, lr_info, rf_info)
    tags = {TAG_DATE: logical_date, TAG_STEP: "compare",
            "pipeline.lr_run_id": str(lr_info.get("run_id")),
            "pipeline.rf_run_id": str(rf_info.get("run_id")),
            "pipeline.verdict": result.verdict}
    with mlflow.start_run(run_name=f"compare-{logical_date}", tags=tags) as active:
        mlflow.log_params({"alpha": args.alpha, "n_boot": n_boot, "seed": seed,
                           "confidence": confidence})
        mlflow.log_metrics({
            "f1_lr": result.model_a.f1, "f1_lr_ci_low": result.model_a.ci_low,
            "f1_lr_ci_high": result.model_a.ci_high,
            "f1_rf": result.model_b.f1, "f1_rf_ci_low": result.model_b.ci_low,
            "f1_rf_ci_high": result.model_b.ci_high,
            "f1_diff": result.diff, "f1_diff_ci_low": result.diff_ci_low,
            "f1_diff_ci_high": result.diff_ci_high, "f1_diff_se": result.diff_se,
            "t_stat": result.t_stat, "p_value": result.p_value,
            "rf_better": float(result.verdict_better),
            "naive_replicate_ttest_p_value": result.naive_p_value,
        })
        version = rf_info.get("version")
        if result.verdict_better:
            if not version:
                raise JobError(f"the random forest run {rf_info.get('run_id')} has no registered "
                               "model version to promote")
            client.set_registered_model_alias(args.registered_model, CHAMPION_ALIAS, str(version))
            report["champion_alias_set"] = True
            report["champion_version"] = str(version)
            mlflow.set_tag("pipeline.champion_version", str(version))
        if version:
            client.set_model_version_tag(args.registered_model, str(version),
                                         "comparison_p_value", f"{result.p_value:.6g}")
        mlflow.log_dict(report, REPORT_ARTIFACT)
        figures.log_figure(figure(draws, result, test_dates), FIGURE_ARTIFACT)
        report["comparison_run_id"] = active.info.run_id

    print(summary_text(result, logical_date), flush=True)
    if report["champion_alias_set"]:
        print(f"  {args.registered_model} version {report['champion_version']} "
              f"(random forest) now has the alias '{CHAMPION_ALIAS}'", flush=True)
    log(f"comparison run {report['comparison_run_id']}")
    return report


def main(argv: Sequence[str] | None = None) -> dict:
    return run(parser().parse_args(argv))
