"""What the whole-DAG tests share: running `airflow dags test`, reading its log (which step ran,
which failed, what it printed) and checking the MLflow runs a successful run leaves, as a user sees
them through MLflow's REST API (the Airflow venv has no mlflow package)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from conftest import REPO

DATE = "2024-04-30"
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def shell(snippet: str, *args: str) -> str:
    """Run a function of scripts/demo/local-airflow.sh (the same code the demo uses)."""
    out = subprocess.run(
        ["bash", "-c", f'source scripts/lib.sh; source scripts/demo/local-airflow.sh; {snippet}', "_", *args],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def dags_test(env: dict, config: Path, log: Path, *extra: str, date: str = DATE) -> tuple[int, str]:
    """`airflow dags test fraud_pipeline DATE` with the pipeline config `config`; output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        # own session: on a timeout or an interrupt the whole tree (spark-submit too) is ended
        proc = subprocess.Popen([AIRFLOW, "dags", "test", "fraud_pipeline", date, *extra],
                                env=dict(env, FRAUD_PIPELINE_CONFIG=str(config)),
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=3600)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return rc, log.read_text(errors="replace")


# ---------------------------------------------------------------------------------------------
# reading a `dags test` log: which step ran, which failed, what it printed


def step_sections(log: str) -> list[tuple[str, str]]:
    """(step, its part of the log) for every attempt, in order."""
    marks = list(re.finditer(r"\[DAG TEST\] running task <TaskInstance: fraud_pipeline\.([a-z_]+)", log))
    return [(m.group(1), log[m.start(): marks[i + 1].start() if i + 1 < len(marks) else len(log)])
            for i, m in enumerate(marks)]


def final_states(log: str) -> dict[str, str]:
    names = {}
    for m in re.finditer(r"running task <TaskInstance: fraud_pipeline\.([a-z_]+).*?ti_id=([0-9a-f-]+)", log):
        names[m.group(2)] = m.group(1)
    states = {}
    for m in re.finditer(r"new_state=([a-z_]+).*?ti_id=([0-9a-f-]+)", log):
        if m.group(2) in names:
            states[names[m.group(2)]] = m.group(1)
    return states


def job_output(section: str) -> list[str]:
    """What the step's process printed, without Airflow's decoration."""
    lines = []
    for line in section.splitlines():
        if "SubprocessHook" in line:
            text = re.sub(r"^\S+ \[[a-z ]+\] ", "", line)
            lines.append(re.sub(r" +\[airflow\.task\.hooks\..*$", "", text))
    return lines


# ---------------------------------------------------------------------------------------------
# MLflow over its REST API (the Airflow venv has no mlflow package)


def mlflow_get(uri: str, endpoint: str, **params) -> dict:
    url = f"{uri}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def mlflow_post(uri: str, endpoint: str, body: dict) -> dict:
    req = urllib.request.Request(f"{uri}/api/2.0/mlflow/{endpoint}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def artifact_paths(uri: str, run_id: str, path: str = "") -> set[str]:
    listing = mlflow_get(uri, "artifacts/list", run_id=run_id, **({"path": path} if path else {}))
    out = set()
    for entry in listing.get("files", []):
        out.add(entry["path"])
        if entry.get("is_dir"):
            out |= artifact_paths(uri, run_id, entry["path"])
    return out


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under root (hidden ones too) -> sha256 of its content."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}



def check_mlflow_runs(uri: str, experiment_name: str, registered_model: str, date: str = DATE) -> None:
    """The runs of `date` in the experiment: two train runs and a comparison, as a user sees them."""
    experiment = mlflow_get(uri, "experiments/get-by-name", experiment_name=experiment_name)["experiment"]
    # MLflow 3's experiment kind: a model-training experiment, not a GenAI one
    kind = {t["key"]: t["value"] for t in experiment.get("tags", [])}.get("mlflow.experimentKind")
    assert kind == "custom_model_development", experiment.get("tags")
    runs = mlflow_post(uri, "runs/search", {
        "experiment_ids": [experiment["experiment_id"]],
        "filter": f"tags.`pipeline.logical_date` = '{date}' and attributes.status = 'FINISHED'",
    }).get("runs", [])
    by_step = {}
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
        key = tags.get("pipeline.step"), tags.get("pipeline.model")
        by_step[key] = (run, tags)
    train_runs = [(run, tags) for (step, _), (run, tags) in by_step.items() if step == "train"]
    assert len(train_runs) == 2, sorted(by_step)

    for run, tags in train_runs:
        metrics = {m["key"]: m["value"] for m in run["data"].get("metrics", [])}
        for name in ("test_f1", "test_roc_auc", "test_average_precision",
                     "test_card_precision_top_100", "test_f1_boot_ci_low", "test_f1_boot_ci_high"):
            assert name in metrics, (tags.get("pipeline.model"), sorted(metrics))
        assert 0.0 <= metrics["test_f1_boot_ci_low"] <= metrics["test_f1_boot_ci_high"] <= 1.0
        assert run["inputs"].get("dataset_inputs"), "the training data is logged as an input"
        # the model: a registered version whose source is this run
        version = tags["pipeline.registered_version"]
        mv = mlflow_get(uri, "model-versions/get", name=registered_model, version=version)["model_version"]
        assert mv["run_id"] == run["info"]["run_id"]
        assert mv["status"] == "READY"
        assert "pr_curve.png" in artifact_paths(uri, run["info"]["run_id"]), "the PR curve figure"

    compare = by_step.get(("compare", None))
    assert compare is not None, sorted(by_step)
    run, tags = compare
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert metrics["f1_diff_ci_low"] <= metrics["f1_diff"] <= metrics["f1_diff_ci_high"]
    assert 0.0 <= metrics["p_value"] <= 1.0
    assert "random forest" in tags["pipeline.verdict"]
    artifacts = artifact_paths(uri, run["info"]["run_id"])
    assert "comparison/report.json" in artifacts and "comparison/bootstrap_f1.png" in artifacts
    # the champion alias follows the verdict
    registered = mlflow_get(uri, "registered-models/get", name=registered_model)["registered_model"]
    aliases = {a["alias"] for a in registered.get("aliases", [])}
    assert ("champion" in aliases) == (metrics["rf_better"] == 1.0)
