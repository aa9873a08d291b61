"""The whole DAG on the local backend with real Airflow (`airflow dags test`), real Spark (local
mode, the jobs' environment) and a real MLflow server on loopback; then a run with a bad landing
file that must stop at save_to_hdfs and leave the earlier outputs as they were.

Needs $JOBS_VENV (set by scripts/test/test-dag.sh); without it these tests are skipped with the
reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import EXPECTED_EDGES, EXPECTED_TASKS, REPO, WORK
from dag_runs import (DATE, check_mlflow_runs, dags_test, final_states, job_output, shell, step_sections,
                      tree_digest)

sys.path.insert(0, str(REPO / "browser"))
import pages  # noqa: E402  (browser/pages.py: what a person opens in the UIs, and must see)
import uicheck  # noqa: E402

EXPERIMENT = "dag-e2e"
REGISTERED_MODEL = "dag-e2e-fraud"
JOBS_VENV = os.environ.get("JOBS_VENV", "")

pytestmark = [
    pytest.mark.skipif(not JOBS_VENV, reason="JOBS_VENV not set: run through scripts/test/test-dag.sh"),
]


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
        return dags_test(self.env, config, self.work / "logs" / log_name, *extra)


@pytest.fixture(scope="module")
def stack(mlflow_server, airflow_env):
    work = WORK / "e2e"
    work.mkdir(parents=True, exist_ok=True)
    shell('stage_jobs "$1"', str(work))
    return Stack(work=work, mlflow_uri=mlflow_server, env=airflow_env)


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

    check_mlflow_runs(stack.mlflow_uri, EXPERIMENT, REGISTERED_MODEL)


def test_the_local_uis_show_the_run_in_a_browser(stack):
    """`make demo-ui` (and KEEP_SERVERS=1 make demo): the MLflow UI and the Airflow UI of the run,
    on loopback, opened in headless Chromium at the links the script prints. Runs before the broken
    run below, which replaces this date's Airflow run."""
    airflow_home = Path(stack.env["AIRFLOW_HOME"])
    if not (stack.work / "pipeline.json").is_file():
        pytest.skip("needs the full run (the previous test)")
    why = uicheck.missing_tools()
    assert why is None, why  # scripts/test/test-dag.sh installs Chromium and playwright-core
    # the demo's work-folder layout (pipeline.json, airflow/, mlflow/) over this module's run and the
    # session's shared servers: demo-ui.sh then reuses the running MLflow server
    view = WORK / "e2e-ui"
    view.mkdir(exist_ok=True)
    for name, target in (("pipeline.json", stack.work / "pipeline.json"), ("airflow", airflow_home),
                         ("mlflow", WORK / "mlflow")):
        if not (view / name).is_symlink():
            (view / name).symlink_to(target)
    res = subprocess.run(["bash", "scripts/demo/demo-ui.sh", "start"], cwd=REPO, capture_output=True, text=True,
                         env=dict(os.environ, DEMO_WORK_DIR=str(view)), timeout=900)
    try:
        assert res.returncode == 0, res.stderr[-3000:]
        links = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
        assert "Stop both: make demo-ui-stop" in res.stderr, res.stderr
        mlflow_base, airflow_base = links["MLFLOW_UI"].split("/#")[0], links["AIRFLOW_UI"]
        for url in (mlflow_base, airflow_base):
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url  # loopback only

        password = json.loads((airflow_home / "simple_auth_manager_passwords.json.generated")
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
        shell('airflow_ui_stop "$1"', str(view))


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


def test_a_bad_demo_config_stops_make_demo_naming_the_key(tmp_path):
    # DEMO_CONFIG overrides the local pipeline config (e.g. the handbook's size); a key the config
    # does not have stops the demo before any step, naming it, and leaves no config and no server
    res = subprocess.run(["bash", "scripts/demo/demo.sh"], cwd=REPO, capture_output=True, text=True, timeout=900,
                         env=dict(os.environ, DEMO_WORK_DIR=str(tmp_path), DEMO_CONFIG="customers=5000 terminal=100"))
    assert res.returncode != 0, res.stdout[-2000:]
    assert "unknown pipeline config key(s): terminal" in res.stderr, res.stderr[-2000:]
    assert "bad DEMO_CONFIG 'customers=5000 terminal=100'" in res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "pipeline.json").exists()
    assert not (tmp_path / "logs").exists()  # no DAG run started
    assert subprocess.run(["bash", "scripts/demo/mlflow-local.sh", "uri", str(tmp_path / "mlflow")], cwd=REPO,
                          capture_output=True).returncode != 0, "the demo's MLflow server was left running"
