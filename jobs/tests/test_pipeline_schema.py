"""The pipeline config's contract with the stack: the committed JSON Schema is what PipelineConfig
generates, and the local runner's config is one PipelineConfig loads (bad overrides refused)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pipeline_schema
from fraud_jobs.pipeline_spec import CONFIG_MINIMUMS, PipelineConfig
from local_pipeline_config import local_config

JOBS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_committed_schema_is_the_generated_one():
    with open(pipeline_schema.SCHEMA_FILE, encoding="utf-8") as fh:
        committed = fh.read()
    assert committed == pipeline_schema.render(), (
        "jobs/pipeline-config.schema.json is stale: run `python3 jobs/pipeline_schema.py --write` and commit it")


def test_schema_names_every_key_with_its_default_and_rules():
    schema = pipeline_schema.pipeline_config_schema()
    defaults = PipelineConfig()
    props = schema["properties"]
    assert schema["additionalProperties"] is False
    assert sorted(props) == sorted(vars(defaults))
    assert props["schedule"]["default"] == defaults.schedule == "@daily"
    assert props["lr_grid"]["default"] == {"reg_param": [0.0, 0.01]}
    assert props["backend"]["enum"] == ["dataproc", "ssh", "local"]
    assert {k: props[k]["minimum"] for k in CONFIG_MINIMUMS} == CONFIG_MINIMUMS
    # the per-run cluster spec: closed objects, the subclusters' keys by role
    cluster = props["dataproc_cluster"]["anyOf"][1]
    assert cluster["additionalProperties"] is False and "master" in cluster["required"]
    assert "hosts_count" not in cluster["properties"]["master"]["properties"]
    assert cluster["properties"]["compute"]["required"][-1] == "max_hosts_count"


def test_a_rule_the_schema_states_is_the_one_the_loader_applies():
    # the schema's minimum for task_timeout_minutes is 1: the loader refuses 0 with the same bound
    assert pipeline_schema.pipeline_config_schema()["properties"]["task_timeout_minutes"]["minimum"] == 1
    try:
        PipelineConfig(task_timeout_minutes=0)
    except ValueError as exc:
        assert "task_timeout_minutes must be a positive integer, got 0" in str(exc)
    else:
        raise AssertionError("task_timeout_minutes=0 was accepted")


def test_local_config_is_loaded_by_the_pipeline(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(JOBS_DIR, "local_pipeline_config.py"), str(tmp_path),
                          "http://127.0.0.1:5000", "/opt/venv", "customers=200", 'experiment="x"'],
                         capture_output=True, text=True, check=True).stdout
    path = out.strip()
    assert path == str(tmp_path / "pipeline.json")
    cfg = PipelineConfig.load(path)
    assert (cfg.backend, cfg.customers, cfg.experiment) == ("local", 200, "x")
    assert cfg.jobs_uri == f"file://{tmp_path}/jobs" and cfg.spark_submit == "/opt/venv/bin/spark-submit"
    # what it leaves out is PipelineConfig's default, not a second copy of it
    assert "schedule" not in json.loads((tmp_path / "pipeline.json").read_text())


def test_local_config_refuses_a_bad_override_and_keeps_the_old_file(tmp_path):
    (tmp_path / "pipeline.json").write_text("{}")
    for bad, message in (("retries=-1", "config retries must be a non-negative integer, got -1"),
                         ("bogus=1", "unknown pipeline config key(s): bogus"),
                         ("customers=two", "bad override 'customers=two': the value is not JSON")):
        run = subprocess.run([sys.executable, os.path.join(JOBS_DIR, "local_pipeline_config.py"), str(tmp_path),
                              "http://127.0.0.1:5000", "/opt/venv", bad], capture_output=True, text=True)
        assert run.returncode == 1 and run.stdout == ""
        assert run.stderr.startswith("error: ") and message in run.stderr
        assert (tmp_path / "pipeline.json").read_text() == "{}"
    assert local_config("/w", "u", "/v", ["seed=7"])["seed"] == 7


def test_the_loader_checks_the_types_the_schema_states():
    types = {k: v["type"] for k, v in pipeline_schema.pipeline_config_schema()["properties"].items() if "type" in v}
    assert (types["customers"], types["radius"], types["schedule"], types["env"]) == ("integer", "number", "string", "object")
    for bad, message in ((dict(customers="many"), "config customers must be an integer, got 'many'"),
                         (dict(radius=True), "config radius must be a number, got True"),
                         (dict(schedule=5), "config schedule must be a string, got 5"),
                         (dict(env={"PATH": 1}), "config env must be an object of strings")):
        try:
            PipelineConfig(**bad)
        except ValueError as exc:
            assert message in str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")
    assert PipelineConfig(radius=3).radius == 3  # a JSON number without a fraction is a number
