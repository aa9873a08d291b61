"""The synth-time check of `pipelineSchedule` (constructs/airflow-schedule.ts) against Airflow itself.

Each schedule is put into the real DAG (jobs/dags/fraud_pipeline.py `build_dag`) and taken through
what Airflow does with it on the VM: DAG construction and validation (the dag-processor), the
serialization round trip (dag-processor -> scheduler) and the scheduler's next run. Airflow's
outcome is `ok` (loads and has a next run), `refused` (the DAG does not load) or `never-fires`
(loads, never runs). The TypeScript check must accept exactly the `ok` ones, except the two
documented refusals of schedules Airflow loads (R, a year field).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import random
import subprocess
import sys

import pytest

from conftest import DAGS_DIR, REPO

CASES = json.loads((REPO / "__tests__/config/schedule-cases.json").read_text())["cases"]
DELIBERATE = ("uses R", "restricts the year")


def ts_verdicts(schedules: list[str]) -> list[str | None]:
    """What the synth check says of each schedule (None = accepted), from one node process."""
    res = subprocess.run(
        ["node", "-r", "ts-node/register/transpile-only", "scripts/test/schedule-verdicts.ts"],
        input=json.dumps(schedules), capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert res.returncode == 0, f"scripts/test/schedule-verdicts.ts failed (npm ci done?): {res.stderr[-2000:]}"
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def airflow_outcome(tmp_path_factory):
    """outcome(schedule) -> 'ok' | 'refused' | 'never-fires', using the real DAG file's build_dag."""
    import os

    from airflow.serialization.serialized_objects import DagSerialization

    config = tmp_path_factory.mktemp("schedule") / "pipeline.json"
    config.write_text(json.dumps({"backend": "local", "jobs_uri": "file:///opt/fraud/jobs"}))
    os.environ["FRAUD_PIPELINE_CONFIG"] = str(config)
    spec = importlib.util.spec_from_file_location("fraud_pipeline_for_parity", DAGS_DIR / "fraud_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    base = module.PipelineConfig.load(str(config))
    logging.getLogger("airflow").setLevel(logging.CRITICAL)  # the scheduler logs each failed next run

    def outcome(schedule: str) -> str:
        try:
            dag = module.build_dag(type(base)(**{**base.__dict__, "schedule": schedule}))
            dag.validate()
            dag.check_cycle()
            serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        except Exception:  # whatever the dag-processor would record as an import error
            return "refused"
        info = serialized.next_dagrun_info(last_automated_run_info=None)
        return "ok" if info is not None else "never-fires"

    return outcome


def test_airflow_treats_the_shared_case_table_as_it_says(airflow_outcome):
    got = {c["schedule"]: airflow_outcome(c["schedule"]) for c in CASES}
    assert got == {c["schedule"]: c["airflow"] for c in CASES}


def test_the_synth_check_agrees_with_airflow_on_the_case_table(airflow_outcome):
    verdicts = ts_verdicts([c["schedule"] for c in CASES])
    for case, problem in zip(CASES, verdicts):
        assert (problem is None) == case["ours"], (case, problem)


def _field(rng: random.Random) -> str:
    atoms = ["*", "?", "L", "W", "R", "H", "mon", "FRI", "jan", "Dec", "sun-sat", "funday", "1#2", "5#6",
             "L5", "15W", "W31", "0", "7", "12", "23", "24", "31", "32", "59", "60", "99", "-1", "1-5",
             "5-1", "*/0", "*/15", "10/5", "59/15", "0-59/7", "mon-fri/2", "jan-jun/3", "1,15", "1,2W",
             "R(0-9)", "R(5-5)", "H/5", "1_0", "0x1", "\u0661", "a", "", "**", "1--2"]
    pieces = [rng.choice(atoms) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    return ",".join(pieces)


def generated_schedules(n: int, seed: int = 20260) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.08:
            out.append(rng.choice(["@daily", "@Daily", "@DAILY", "@hourly ", "@once", "@ONCE", "@continuous",
                                   "@quarterly", "@Quarterly", "@annually", "@midnight", "@weekly", "@yearly",
                                   "@monthly", "@every5m", "daily", "@"]))
            continue
        count = rng.choice([4, 5, 5, 5, 5, 5, 6, 7, 8])
        fields = [_field(rng) for _ in range(count)]
        if count == 7 and rng.random() < 0.7:
            fields[6] = "*"
        out.append(rng.choice([" ", " ", "  ", "\t"]).join(fields))
    return out


def test_the_synth_check_agrees_with_airflow_on_a_generated_sweep(airflow_outcome):
    schedules = generated_schedules(600)
    verdicts = ts_verdicts(schedules)
    disagreements = []
    outcomes = {"ok": 0, "refused": 0, "never-fires": 0}
    for schedule, problem in zip(schedules, verdicts):
        outcome = airflow_outcome(schedule)
        outcomes[outcome] += 1
        if problem is not None and problem.startswith(DELIBERATE):
            continue  # refused on purpose; Airflow may load it
        if (problem is None) != (outcome == "ok"):
            disagreements.append((schedule, outcome, problem))
    print(f"generated schedules by Airflow outcome: {outcomes}")
    assert disagreements == []
    # the sweep must exercise both sides, or it proves nothing
    assert outcomes["ok"] >= 30 and outcomes["refused"] >= 30, outcomes
