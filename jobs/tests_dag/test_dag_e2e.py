"""The whole DAG on the local backend with real Airflow (`airflow dags test`), real Spark (local
mode, the jobs' environment) and a real MLflow server on loopback; then a run with a bad landing
file that must stop at save_to_hdfs and leave the earlier outputs as they were.

Needs the seven entry scripts of the jobs (jobs/entrypoints/) and $JOBS_VENV (set by
scripts/test-dag.sh); without them these tests are skipped with the reason.
"""

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
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import EXPECTED_EDGES, EXPECTED_TASKS, REPO, WORK

sys.path.insert(0, str(REPO / "browser"))
import pages  # noqa: E402  (browser/pages.py: what a person opens in the UIs, and must see)
import uicheck  # noqa: E402

DATE = "2024-04-30"
EXPERIMENT = "dag-e2e"
REGISTERED_MODEL = "dag-e2e-fraud"
MISSING = sorted(s for s in EXPECTED_TASKS if not (REPO / "jobs" / "entrypoints" / f"{s}.py").is_file())
JOBS_VENV = os.environ.get("JOBS_VENV", "")

pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"jobs not all in yet: no entrypoints for {', '.join(MISSING)}"),
    pytest.mark.skipif(not JOBS_VENV, reason="JOBS_VENV not set: run through scripts/test-dag.sh"),
]

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def shell(snippet: str, *args: str) -> str:
    """Run a function of scripts/local-airflow.sh (the same code the demo uses)."""
    out = subprocess.run(
        ["bash", "-c", f'source scripts/lib.sh; source scripts/local-airflow.sh; {snippet}', "_", *args],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


@dataclass
class Stack:
    work: Path
    mlflow_uri: str
    env: dict

    def config(self, name: str, **overrides) -> Path:
        """Write the local-backend config (as the demo does) under a name; returns its path."""
        pairs = [f"{k}={json.dumps(v)}" for k, v in overrides.items()]
        path = Path(shell('write_local_config "$@"', str(self.work), self.mlflow_uri, JOBS_VENV, *pairs))
        target = self.work / name
        path.rename(target)
        return target

    def dags_test(self, config: Path, *extra: str, log_name: str) -> tuple[int, str]:
        env = dict(self.env, FRAUD_PIPELINE_CONFIG=str(config))
        log = self.work / "logs" / log_name
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as fh:
            # own session: on a timeout or an interrupt the whole tree (spark-submit too) is ended
            proc = subprocess.Popen([AIRFLOW, "dags", "test", "fraud_pipeline", DATE, *extra], env=env,
                                    stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                rc = proc.wait(timeout=3600)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        return rc, log.read_text(errors="replace")


@pytest.fixture(scope="module")
def stack():
    work = WORK / "e2e"
    work.mkdir(parents=True, exist_ok=True)
    shell('stage_jobs "$1"', str(work))
    mlflow_state = work / "mlflow"
    uri = subprocess.run(["bash", "scripts/mlflow-local.sh", "start", str(mlflow_state)],
                         cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    try:
        env = dict(os.environ)
        env.update(AIRFLOW_HOME=str(work / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                   AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "jobs" / "dags"))
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
        yield Stack(work=work, mlflow_uri=uri, env=env)
    finally:
        subprocess.run(["bash", "scripts/mlflow-local.sh", "stop", str(mlflow_state)], cwd=REPO)


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



def check_mlflow_runs(uri: str) -> None:
    """The runs of DATE in the experiment: two train runs and a comparison, as a user sees them."""
    experiment = mlflow_get(uri, "experiments/get-by-name", experiment_name=EXPERIMENT)["experiment"]
    # MLflow 3's experiment kind: a model-training experiment, not a GenAI one
    kind = {t["key"]: t["value"] for t in experiment.get("tags", [])}.get("mlflow.experimentKind")
    assert kind == "custom_model_development", experiment.get("tags")
    runs = mlflow_post(uri, "runs/search", {
        "experiment_ids": [experiment["experiment_id"]],
        "filter": f"tags.`pipeline.logical_date` = '{DATE}' and attributes.status = 'FINISHED'",
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
        for name in ("val_f1", "val_roc_auc", "val_average_precision", "val_f1_boot_ci_low",
                     "val_f1_boot_ci_high"):
            assert name in metrics, (tags.get("pipeline.model"), sorted(metrics))
        assert 0.0 <= metrics["val_f1_boot_ci_low"] <= metrics["val_f1_boot_ci_high"] <= 1.0
        assert run["inputs"].get("dataset_inputs"), "the training data is logged as an input"
        # the model: a registered version whose source is this run
        version = tags["pipeline.registered_version"]
        mv = mlflow_get(uri, "model-versions/get", name=REGISTERED_MODEL, version=version)["model_version"]
        assert mv["run_id"] == run["info"]["run_id"]
        assert mv["status"] == "READY"

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
    registered = mlflow_get(uri, "registered-models/get", name=REGISTERED_MODEL)["registered_model"]
    aliases = {a["alias"] for a in registered.get("aliases", [])}
    assert ("champion" in aliases) == (metrics["rf_better"] == 1.0)


# ---------------------------------------------------------------------------------------------


def test_the_whole_dag_runs_locally_and_its_mlflow_runs_exist(stack):
    config = stack.config("pipeline.json", experiment=EXPERIMENT, registered_model=REGISTERED_MODEL,
                          n_boot=2000)
    rc, log = stack.dags_test(config, log_name="full-run.log")
    assert rc == 0, "\n".join(job_output(log)[-40:])
    assert re.search(r"DagRun Finished: dag_id=fraud_pipeline.*state=success", log)
    assert [s for s, _ in step_sections(log)] and {s for s, _ in step_sections(log)} == EXPECTED_TASKS
    assert set(final_states(log).values()) == {"success"}

    # the pipeline's data for the date is there
    lake = stack.work / "data" / "lake"
    assert (lake / "features" / f"TX_DATE={DATE}").is_dir()

    check_mlflow_runs(stack.mlflow_uri)


def test_the_local_uis_show_the_run_in_a_browser(stack):
    """`make demo-ui` (and KEEP_SERVERS=1 make demo): the MLflow UI and the Airflow UI of the run,
    on loopback, opened in headless Chromium at the links the script prints. Runs before the broken
    run below, which replaces this date's Airflow run."""
    if not (stack.work / "airflow" / "airflow.db").is_file():
        pytest.skip("needs the full run (the previous test)")
    why = uicheck.missing_tools()
    assert why is None, why  # scripts/test-dag.sh installs Chromium and playwright-core
    res = subprocess.run(["bash", "scripts/demo-ui.sh", "start"], cwd=REPO, capture_output=True, text=True,
                         env=dict(os.environ, DEMO_WORK_DIR=str(stack.work)), timeout=900)
    try:
        assert res.returncode == 0, res.stderr[-3000:]
        links = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
        assert "Stop both: make demo-ui-stop" in res.stderr, res.stderr
        mlflow_base, airflow_base = links["MLFLOW_UI"].split("/#")[0], links["AIRFLOW_UI"]
        for url in (mlflow_base, airflow_base):
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url  # loopback only

        password = json.loads((stack.work / "airflow" / "simple_auth_manager_passwords.json.generated")
                              .read_text())["admin"]
        run = pages.local_run(mlflow_base, airflow_base, EXPERIMENT, DATE, password)
        assert set(run.airflow_states.values()) == {"success"}, run.airflow_states
        # the printed MLflow link is the experiment's runs table
        runs_page = next(p for p in pages.mlflow_pages(run.mlflow) if p["name"] == "mlflow-runs")
        assert links["MLFLOW_UI"] == mlflow_base + runs_page["path"]

        report = uicheck.run(pages.local_plan(run, "AIRFLOW_UI_PASSWORD"), "local-uis",
                             secrets={"AIRFLOW_UI_PASSWORD": password})
        print(f"browser screenshots: {report.out}\n{report.summary()}")
        pages.check_local(report, run, EXPECTED_EDGES)
    finally:
        # the Airflow UI only: the MLflow server is this module's (its fixture stops it)
        shell('airflow_ui_stop "$1"', str(stack.work))


def test_a_bad_landing_file_fails_save_to_hdfs_and_keeps_earlier_outputs(stack):
    lake = stack.work / "data" / "lake"
    landing_day = stack.work / "data" / "landing" / "transactions" / f"TX_DATE={DATE}"
    if not (lake / "features").is_dir() or not landing_day.is_dir():
        pytest.skip("needs the outputs of the full run (the previous test)")
    before = tree_digest(lake)

    # inject: the day's landed transactions lose their TX_AMOUNT column (rewritten with pyarrow,
    # as another producer would write them: without Hadoop's .crc side files)
    files = sorted(landing_day.glob("*.parquet"))
    assert files
    subprocess.run([f"{JOBS_VENV}/bin/python", "-c", (
        "import sys, pyarrow.parquet as pq\n"
        "for f in sys.argv[1:]:\n"
        "    t = pq.ParquetFile(f).read()\n"  # this file only: no hive partition column added
        "    t = t.select([c for c in t.column_names if c not in ('TX_AMOUNT', 'TX_DATE')])\n"
        # no Spark row metadata (it would still list TX_AMOUNT); Spark's INT96 timestamps kept
        "    t = t.replace_schema_metadata(None)\n"
        "    pq.write_table(t, f, use_deprecated_int96_timestamps=True)\n"
    ), *map(str, files)], check=True)
    for f in files:
        (f.parent / f".{f.name}.crc").unlink(missing_ok=True)

    # generate is marked done (not rerun), so save_to_hdfs meets the broken file; one quick retry
    config = stack.config("pipeline-broken.json", experiment=EXPERIMENT,
                          registered_model=REGISTERED_MODEL, retries=1, retry_delay_seconds=1)
    rc, log = stack.dags_test(config, "--mark-success-pattern", "^generate$", log_name="broken-run.log")

    assert rc != 0
    states = final_states(log)
    assert states.get("save_to_hdfs") == "failed", states
    attempts = [section for step, section in step_sections(log) if step == "save_to_hdfs"]
    assert len(attempts) == 2, "one retry after the first failure"
    ran = {step for step, _ in step_sections(log)}
    assert ran.isdisjoint({"preprocess", "train_lr", "train_rf", "bootstrap", "compare"})
    # the step's own error, naming the bad column, is in its task log
    errors = [line for line in job_output(attempts[-1]) if line.startswith("error:")]
    assert errors and "TX_AMOUNT" in errors[-1], job_output(attempts[-1])[-20:]
    # the earlier outputs are exactly as they were
    assert tree_digest(lake) == before
