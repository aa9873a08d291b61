"""The model steps end to end against real MLflow servers (SQLite and PostgreSQL backends).

Features come from tests/synthetic_features.py, where fraud lives in an amount *band*: the random
forest is far better than the logistic regression, so the champion alias is deserved. A second
comparison over a tie (same runs, tied counts) must not set or move the alias.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import mlflow
import pytest

from fraud_jobs import bootstrap, compare, evaluate, train
from fraud_jobs.common import JobError, write_json_atomic
from tests.synthetic_features import write_features

DATE = "2024-04-07"
TIE_DATE = "2024-04-08"
MODEL_NAME = "fraud-detector"


@pytest.fixture(scope="module")
def pipeline(mlflow_server, spark, tmp_path_factory):
    """Run train_lr, train_rf, bootstrap and compare once per backend; keep their outputs."""
    root_dir = tmp_path_factory.mktemp(f"pipeline-{mlflow_server.backend}")
    root = "file://" + str(root_dir)
    write_features(spark, root, DATE, rows_per_day=300, seed=3)
    experiment = f"fraud-{mlflow_server.backend}"
    common = ["--date", DATE, "--data-root", root, "--mlflow-uri", mlflow_server.uri,
              "--experiment", experiment]
    out = {"root": root, "root_dir": root_dir, "experiment": experiment, "server": mlflow_server}
    # 7 days: train 04-01..04 (the search validates on 04-04), delay 04-05, test 04-06..07;
    # two candidates per model
    model_args = [*common, "--registered-model", MODEL_NAME, "--train-days", "4",
                  "--delay-days", "1", "--test-days", "2", "--validation-days", "1"]
    log_start = mlflow_server.log_path.stat().st_size
    out["lr"] = train.main_lr([*model_args, "--reg-param", "0,0.1"])
    out["rf"] = train.main_rf([*model_args, "--num-trees", "10", "--max-depth", "3,4"])
    out["bootstrap"] = bootstrap.main([*common, "--n-boot", "2000", "--seed", "7"])
    out["compare"] = compare.main([*common, "--registered-model", MODEL_NAME, "--alpha", "0.05"])
    # every request the four jobs sent, from the server's access log (uvicorn's request lines)
    with open(mlflow_server.log_path, "rb") as log:
        log.seek(log_start)
        out["requests"] = re.findall(r'"([A-Z]+ \S+) HTTP/1\.[01]"', log.read().decode(errors="replace"))
    return out


def client_for(pipeline):
    mlflow.set_tracking_uri(pipeline["server"].uri)
    return mlflow.MlflowClient(pipeline["server"].uri)


def test_each_model_has_a_run_with_metrics_tags_and_dataset_inputs(pipeline):
    client = client_for(pipeline)
    for model in ("lr", "rf"):
        run = client.get_run(pipeline[model]["run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.tags[train.TAG_DATE] == DATE
        assert run.data.tags[train.TAG_MODEL] == model
        for name in ("roc_auc", "average_precision", "f1", "precision", "recall"):
            for split in ("train", "test"):
                assert 0.0 <= run.data.metrics[f"{split}_{name}"] <= 1.0
        assert 0.0 <= run.data.metrics["test_card_precision_top_100"] <= 1.0
        assert run.data.params["test_dates"] == "2024-04-06..2024-04-07"
        assert run.data.params["search_validation_dates"] == "2024-04-04..2024-04-04"
        # bootstrap added the CI to the same run
        m = run.data.metrics
        assert m["test_f1_boot_ci_low"] <= m["test_f1"] <= m["test_f1_boot_ci_high"]
        contexts = sorted(
            tag.value for inp in run.inputs.dataset_inputs for tag in inp.tags
            if tag.key == "mlflow.data.context"
        )
        assert contexts == ["testing", "training"]
    # the band is invisible to a linear model and plain to a forest
    assert client.get_run(pipeline["rf"]["run_id"]).data.metrics["test_f1"] > 0.8


def test_the_search_is_logged_as_child_runs_with_the_chosen_values_on_the_parent(pipeline):
    client = client_for(pipeline)
    experiment = client.get_experiment_by_name(pipeline["experiment"])
    for model, param, values in (("lr", "LogisticRegression.regParam", {"0.0", "0.1"}),
                                 ("rf", "RandomForestClassifier.maxDepth", {"3", "4"})):
        parent = client.get_run(pipeline[model]["run_id"])
        children = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        assert {c.data.params[param] for c in children} == values
        scores = {c.data.params[param]: c.data.metrics["average_precision"] for c in children}
        best = parent.data.params[f"best_{param}"]
        assert scores[best] == max(scores.values())
        assert parent.data.metrics["validation_average_precision"] == pytest.approx(scores[best])
        assert 0.0 < float(parent.data.params["decision_threshold"]) < 1.0
        # the children are not train runs: later steps never pick one by its tags
        assert all(train.TAG_STEP not in c.data.tags for c in children)


def test_models_are_registered_with_a_type_tag_and_a_signature(pipeline):
    client = client_for(pipeline)
    for model in ("lr", "rf"):
        version = client.get_model_version(MODEL_NAME, pipeline[model]["version"])
        assert version.tags["model_type"] == model
        assert version.run_id == pipeline[model]["run_id"]
        info = mlflow.models.get_model_info(f"models:/{MODEL_NAME}/{version.version}")
        assert info.signature is not None
        assert "TRANSACTION_ID" not in info.signature.inputs.input_names()
        assert len(info.signature.inputs.input_names()) == 15


def test_registered_model_loads_back_and_reproduces_its_predictions(pipeline, spark):
    """What a user of the registry does: fetch a version, read its pins, load it, score rows."""
    import pyspark
    from pyspark.sql import functions as F

    from fraud_jobs import layout

    client_for(pipeline)
    features = spark.read.parquet(layout.features(pipeline["root"]))
    for model in ("lr", "rf"):
        uri = f"models:/{MODEL_NAME}/{pipeline[model]['version']}"
        with open(mlflow.pyfunc.get_model_dependencies(uri), encoding="utf-8") as fh:
            pins = fh.read().split()
        assert f"pyspark=={pyspark.__version__}" in pins
        assert f"mlflow=={mlflow.__version__}" in pins
        written = spark.read.parquet(train.predictions_path(pipeline["root"], DATE, model))
        rescored = (mlflow.spark.load_model(uri)
                    .transform(features.join(written.select(layout.KEY_COLUMN),
                                             layout.KEY_COLUMN))
                    .select(layout.KEY_COLUMN, F.col("prediction").cast("int").alias("again")))
        both = written.join(rescored, layout.KEY_COLUMN)
        assert both.count() == written.count() == 600
        assert both.where(F.col("prediction") != F.col("again")).count() == 0


def test_test_predictions_are_keyed_by_transaction_id(pipeline, spark):
    lr = spark.read.parquet(train.predictions_path(pipeline["root"], DATE, "lr"))
    rf = spark.read.parquet(train.predictions_path(pipeline["root"], DATE, "rf"))
    assert set(train.PREDICTION_COLUMNS) <= set(lr.columns)
    assert lr.count() == rf.count() == 600  # the two test days
    assert lr.select("TRANSACTION_ID").distinct().count() == 600
    assert {r["TX_DATE"] for r in lr.select("TX_DATE").distinct().collect()} == {
        "2024-04-06", "2024-04-07"}


def test_bootstrap_counts_are_persisted_for_compare(pipeline, spark):
    path = os.path.join(pipeline["root_dir"], "evaluation", f"logical_date={DATE}",
                        "bootstrap.json")
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    assert sum(data["counts"].values()) == 600
    assert data["n_boot"] == 2000 and data["seed"] == 7
    assert data["runs"]["rf"]["run_id"] == pipeline["rf"]["run_id"]


def test_comparison_run_has_the_report_and_figure_and_the_champion_alias(pipeline, capsys):
    client = client_for(pipeline)
    report = pipeline["compare"]
    assert report["verdict"] == "random forest is better than logistic regression at alpha = 0.05"
    assert report["diff_ci_low"] > 0
    run_id = report["comparison_run_id"]
    artifacts = {a.path for a in client.list_artifacts(run_id, "comparison")}
    assert artifacts == {compare.REPORT_ARTIFACT, compare.FIGURE_ARTIFACT}
    logged = mlflow.artifacts.load_dict(f"runs:/{run_id}/{compare.REPORT_ARTIFACT}")
    assert logged["p_value"] == pytest.approx(report["p_value"])
    assert logged["champion_alias_set"] is True
    champion = client.get_model_version_by_alias(MODEL_NAME, compare.CHAMPION_ALIAS)
    assert champion.version == pipeline["rf"]["version"]
    assert champion.tags["model_type"] == "rf"


def png_dimensions(path) -> tuple[int, int]:
    """(width, height) of a PNG file, after Pillow checked it is a whole, valid PNG."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        image.load()  # decodes every pixel: a truncated file fails here
        return image.size


def test_each_train_run_logs_its_precision_recall_curve_as_a_png(pipeline, tmp_path):
    client = client_for(pipeline)
    for model in ("lr", "rf"):
        run_id = pipeline[model]["run_id"]
        assert train.PR_CURVE_ARTIFACT in {a.path for a in client.list_artifacts(run_id)}
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=train.PR_CURVE_ARTIFACT,
                                                   dst_path=str(tmp_path / model))
        width, height = png_dimensions(path)
        assert 600 <= width <= 2000 and 400 <= height <= 2000, (model, width, height)
        assert 20_000 < os.path.getsize(path) < 2_000_000


def test_the_comparison_figure_is_the_one_its_numbers_draw_titled_with_the_test_days(pipeline, tmp_path):
    """The logged PNG is byte for byte what fraud_jobs.figures draws from the step's own numbers:
    a rerun on the same counts logs the same picture (no timestamp or version in the file)."""
    from fraud_jobs import figures

    client_for(pipeline)
    report = pipeline["compare"]
    assert report["test_dates"] == "2024-04-06..2024-04-07"
    path = mlflow.artifacts.download_artifacts(run_id=report["comparison_run_id"],
                                               artifact_path=compare.FIGURE_ARTIFACT,
                                               dst_path=str(tmp_path))
    width, height = png_dimensions(path)
    assert 800 <= width <= 2500 and 500 <= height <= 2000, (width, height)
    counts = evaluate.counts_from_dict(report["counts"])
    draws = evaluate.bootstrap_counts(counts, report["n_boot"], report["seed"])
    result = evaluate.compare(counts, n_boot=report["n_boot"], seed=report["seed"],
                              alpha=report["alpha"], level=report["confidence"], draws=draws)
    with open(path, "rb") as fh:
        assert fh.read() == figures.png_bytes(compare.figure(draws, result, report["test_dates"]))


def test_a_tie_sets_no_alias(pipeline, spark, capsys):
    client = client_for(pipeline)
    client.delete_registered_model_alias(MODEL_NAME, compare.CHAMPION_ALIAS)
    data = json.loads(open(os.path.join(pipeline["root_dir"], "evaluation",
                                        f"logical_date={DATE}", "bootstrap.json")).read())
    # identical predictions for both models: no difference at all
    data["counts"] = evaluate.counts_to_dict([500, 0, 0, 20, 10, 0, 0, 70])
    write_json_atomic(spark, bootstrap.bootstrap_json_path(pipeline["root"], TIE_DATE), data)
    report = compare.main(["--date", TIE_DATE, "--data-root", pipeline["root"],
                           "--mlflow-uri", pipeline["server"].uri,
                           "--experiment", pipeline["experiment"],
                           "--registered-model", MODEL_NAME])
    printed = capsys.readouterr().out
    assert "verdict: random forest is not shown to be better than logistic regression" in printed
    assert report["champion_alias_set"] is False
    assert MODEL_NAME and not client.get_registered_model(MODEL_NAME).aliases


def test_compare_without_bootstrap_output_fails_clearly(pipeline):
    with pytest.raises(JobError, match="file not found: .*logical_date=2024-01-01/bootstrap.json"):
        compare.main(["--date", "2024-01-01", "--data-root", pipeline["root"],
                      "--mlflow-uri", pipeline["server"].uri, "--experiment",
                      pipeline["experiment"], "--registered-model", MODEL_NAME])


def test_compare_bad_date_or_alpha_exits_non_zero_naming_it(tmp_path):
    from tests.jobs_helpers import run_entrypoint

    base = ["--data-root", str(tmp_path), "--mlflow-uri", "http://127.0.0.1:9",
            "--experiment", "e", "--registered-model", MODEL_NAME]
    result = run_entrypoint("compare", "--date", "2024-04-31", *base)
    assert result.returncode == 2 and "bad date '2024-04-31'" in result.stderr
    result = run_entrypoint("compare", "--date", DATE, "--alpha", "0.7", *base)
    assert result.returncode == 2 and "argument --alpha: '0.7' must be a number in (0, 0.5)" in result.stderr
    assert os.listdir(tmp_path) == []


def test_the_jobs_send_only_what_the_mlflow_jobs_user_may_send(pipeline):
    """On the cloud the jobs log in as `jobs`, whose requests nginx limits to the rules of
    units/nginx/mlflow-jobs-access.json: every request the real jobs made must be allowed there."""
    rights = json.loads((Path(__file__).resolve().parents[2] / "units/nginx/mlflow-jobs-access.json").read_text())
    allowed = [re.compile(r["rule"]) for r in rights["allow"]]
    refused = [re.compile(r["rule"]) for r in rights["refuse"]]
    requests = pipeline["requests"]
    # the log covers the whole pipeline: runs, model logging, artifact upload through the server
    assert any(r.startswith("PUT /api/2.0/mlflow-artifacts/artifacts/") for r in requests), requests
    assert "POST /api/2.0/mlflow/registered-models/alias" in requests, requests
    denied = sorted({r for r in requests
                     if any(p.search(r) for p in refused) or not any(p.search(r) for p in allowed)})
    assert denied == [], f"requests the jobs user may not send through nginx: {denied}"
