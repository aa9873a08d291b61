"""The pipeline's MLflow experiment as a person meets it in the MLflow UI.

MLflow 3 records what an experiment is for in the experiment tag `mlflow.experimentKind`:
`custom_model_development` (shown as "Machine learning": runs, metrics, models) or
`genai_development` (traces, judges, prompts). The pipeline trains classifiers, so every job that
opens the experiment marks it as a model-training experiment.

The UI of MLflow 3.17 shows an experiment in the view chosen by the "GenAI | Model training" switch
at the top of its sidebar (kept per browser; GenAI until a person flips it) or by the link's
`workflowType` parameter, not by that tag. So every link the pipeline prints carries
`workflowType=machine_learning` and opens on the runs table, whatever the browser chose before.
"""

from __future__ import annotations

import sys

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
# the query parameter of MLflow 3.17's UI routes that selects the model-training view
UI_VIEW_QUERY = "workflowType=machine_learning"


def use_experiment(name: str):
    """mlflow.set_experiment(name), marked as a model-training experiment; returns the experiment."""
    import mlflow

    experiment = mlflow.set_experiment(name)
    if experiment.tags.get(EXPERIMENT_KIND_TAG) != MODEL_TRAINING_KIND:
        mlflow.MlflowClient().set_experiment_tag(
            experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)
    return experiment


def ui_url(tracking_uri: str, experiment_id: str, run_id: str | None = None,
           artifact: str | None = None) -> str:
    """The MLflow UI's page of an experiment (its runs table), of one of its runs, or of one of
    that run's artifacts (shown in the run's artifact browser)."""
    page = f"#/experiments/{experiment_id}"
    if run_id:
        page += f"/runs/{run_id}" + (f"/artifacts/{artifact}" if artifact else "")
    return f"{tracking_uri.rstrip('/')}/{page}?{UI_VIEW_QUERY}"


def main(argv: list[str] | None = None) -> int:
    """`python -m fraud_jobs.tracking TRACKING_URI PIPELINE_CONFIG`: print the UI link of the
    config's experiment at TRACKING_URI (the local run's MLflow may have restarted on a new port)."""
    import argparse

    from mlflow import MlflowClient

    from fraud_jobs.pipeline_spec import PipelineConfig

    p = argparse.ArgumentParser(description="Print the MLflow UI link of the pipeline's experiment.")
    p.add_argument("tracking_uri")
    p.add_argument("config", help="the pipeline config JSON (its 'experiment')")
    args = p.parse_args(argv)
    name = PipelineConfig.load(args.config).experiment
    experiment = MlflowClient(tracking_uri=args.tracking_uri).get_experiment_by_name(name)
    if experiment is None:
        print(f"error: no MLflow experiment {name!r} at {args.tracking_uri}", file=sys.stderr)
        return 1
    print(ui_url(args.tracking_uri, experiment.experiment_id))
    return 0


if __name__ == "__main__":
    sys.exit(main())
