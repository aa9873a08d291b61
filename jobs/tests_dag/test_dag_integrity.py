"""The DAG as Airflow itself loads it: imports cleanly, the seven steps and their edges, task policy,
and the same graph for the three backends. Parsed with Airflow's real DagBag."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from airflow.dag_processing.dagbag import DagBag

from conftest import DAGS_DIR, EXPECTED_EDGES, EXPECTED_TASKS

JOBS = "/opt/fraud/jobs"
BACKEND_CONFIGS = {
    "local": {"backend": "local", "jobs_uri": "file:///opt/fraud/jobs"},
    "ssh": {"backend": "ssh", "jobs_uri": JOBS, "ssh_connection_id": "dataproc_master_ssh"},
    "dataproc": {
        "backend": "dataproc",
        "jobs_uri": "s3a://fraud-bucket/jobs",
        "dataproc_cluster_id": "c9q-test-cluster",
        "yandex_connection_id": "yc_sa",
        "spark_properties": {"spark.pyspark.python": "./env/bin/python"},
    },
}


def parse(config_file, **fields) -> DagBag:
    config_file(**fields)
    return DagBag(dag_folder=str(DAGS_DIR))


def load_dag(config_file, **fields):
    bag = parse(config_file, **fields)
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["fraud_pipeline"]  # get_dag() would also consult the metadata DB


def edges(dag) -> set[tuple[str, str]]:
    return {(up, task.task_id) for task in dag.tasks for up in task.upstream_task_ids}


def test_imports_with_no_errors_in_real_airflow(config_file):
    bag = parse(config_file, **BACKEND_CONFIGS["local"])
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["fraud_pipeline"]


def test_has_the_seven_steps_with_the_seed_dependency_shape(config_file):
    dag = load_dag(config_file, **BACKEND_CONFIGS["local"])
    assert {t.task_id for t in dag.tasks} == EXPECTED_TASKS
    assert edges(dag) == EXPECTED_EDGES


def test_every_task_has_retries_with_backoff_and_a_timeout(config_file):
    dag = load_dag(config_file, **BACKEND_CONFIGS["dataproc"], retries=3, retry_delay_seconds=30,
                   max_retry_delay_seconds=600, task_timeout_minutes=45)
    for task in dag.tasks:
        assert task.retries == 3, task.task_id
        assert task.retry_delay == dt.timedelta(seconds=30), task.task_id
        assert task.retry_exponential_backoff and task.retry_exponential_backoff > 1, task.task_id
        assert task.max_retry_delay == dt.timedelta(seconds=600), task.task_id
        assert task.execution_timeout == dt.timedelta(minutes=45), task.task_id


def test_defaults_retry_and_time_out_every_task(config_file):
    dag = load_dag(config_file, **BACKEND_CONFIGS["dataproc"])
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.execution_timeout is not None, task.task_id


def test_schedule_comes_from_config_catchup_off(config_file):
    dag = load_dag(config_file, **BACKEND_CONFIGS["local"], schedule="*/5 * * * *")
    assert dag.schedule == "*/5 * * * *"
    assert dag.timetable.expression == "*/5 * * * *"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    default = load_dag(config_file, **BACKEND_CONFIGS["local"])
    assert default.schedule == "@daily"
    assert default.timetable.expression == "0 0 * * *"


def test_the_three_backends_build_the_same_graph(config_file):
    graphs = {}
    kinds = {}
    for backend, fields in BACKEND_CONFIGS.items():
        dag = load_dag(config_file, **fields)
        graphs[backend] = ({t.task_id for t in dag.tasks}, edges(dag))
        kinds[backend] = {type(t).__name__ for t in dag.tasks}
    assert graphs["local"] == graphs["ssh"] == graphs["dataproc"]
    assert kinds["local"] == {"BashOperator"}
    assert kinds["ssh"] == {"SSHOperator"}
    assert len(kinds["dataproc"]) == 1
    (dataproc_kind,) = kinds["dataproc"]
    assert "Pyspark" in dataproc_kind


def _render(task, value, ds="2024-03-09"):
    return task.render_template(value, {"ds": ds})


def test_local_step_runs_spark_submit_for_the_logical_date(config_file):
    dag = load_dag(config_file, **BACKEND_CONFIGS["local"], spark_master="local[3]",
                   env={"PYSPARK_PYTHON": "/venv/bin/python"})
    task = dag.get_task("preprocess")
    command = _render(task, task.bash_command)
    assert command.startswith("spark-submit --master 'local[3]' ")
    assert "--py-files /opt/fraud/jobs/fraud_jobs.zip" in command
    assert "/opt/fraud/jobs/entrypoints/run_step.py preprocess --date 2024-03-09 " in command.replace("'", "")
    assert task.env == {"PYSPARK_PYTHON": "/venv/bin/python"} and task.append_env is True


def test_ssh_step_runs_spark_submit_on_the_master(config_file):
    dag = load_dag(config_file, **BACKEND_CONFIGS["ssh"], task_timeout_minutes=20)
    task = dag.get_task("train_rf")
    command = _render(task, task.command, ds="2024-05-01")
    assert task.ssh_conn_id == "dataproc_master_ssh"
    assert "--master" not in command  # the cluster's spark-defaults (YARN) decide
    assert f"{JOBS}/entrypoints/run_step.py train_rf --date 2024-05-01" in command.replace("'", "")
    assert task.cmd_timeout == 20 * 60


def test_dataproc_step_is_a_pyspark_job_with_code_from_the_bucket(config_file):
    dag = load_dag(config_file, **BACKEND_CONFIGS["dataproc"])
    task = dag.get_task("generate")
    assert task.main_python_file_uri == "s3a://fraud-bucket/jobs/entrypoints/run_step.py"
    assert list(task.python_file_uris) == ["s3a://fraud-bucket/jobs/fraud_jobs.zip"]
    assert task.cluster_id == "c9q-test-cluster"
    assert task.yandex_conn_id == "yc_sa"
    assert task.properties == {"spark.pyspark.python": "./env/bin/python"}
    assert "args" in task.template_fields
    args = _render(task, task.args, ds="2024-02-29")
    assert args[:3] == ["generate", "--date", "2024-02-29"]


def test_the_split_and_the_search_grids_come_from_config(config_file):
    dag = load_dag(config_file, **BACKEND_CONFIGS["dataproc"], train_days=5, delay_days=3,
                   test_days=4, validation_days=1, rf_grid={"max_depth": [6, 12], "max_bins": [512]})

    def flags(step):
        task = dag.get_task(step)
        args = _render(task, task.args)
        return {a: b for a, b in zip(args, args[1:]) if a.startswith("--")}

    for step in ("generate", "save_to_hdfs", "preprocess"):
        assert flags(step)["--days"] == "12", step  # the run's days: 5 + 3 + 4
    rf, lr = flags("train_rf"), flags("train_lr")
    split = {"--train-days": "5", "--delay-days": "3", "--test-days": "4", "--validation-days": "1"}
    assert {k: rf[k] for k in split} == split == {k: lr[k] for k in split}
    assert rf["--max-depth"] == "6,12" and rf["--max-bins"] == "512"
    assert "--max-depth" not in lr and "--reg-param" in lr  # the default LR grid


@pytest.mark.parametrize(
    "fields, named",
    [
        ({"backend": "spark"}, "spark"),
        ({"backend": "dataproc", "jobs_uri": "s3a://b/jobs"}, "dataproc_cluster_id"),
        ({"backend": "local", "jobs_uri": ""}, "jobs_uri"),
        ({"backend": "local", "jobs_uri": "/j", "retries": -1}, "retries"),
        ({"backend": "local", "jobs_uri": "/j", "shedule": "@daily"}, "shedule"),
        ({"backend": "local", "jobs_uri": "/j", "rf_grid": {"max_bins": [1]}}, "rf_grid max_bins: bad value 1"),
        ({"backend": "local", "jobs_uri": "/j", "lr_grid": {"depth": [3]}}, "lr_grid: unknown key(s) depth"),
        ({"backend": "local", "jobs_uri": "/j", "validation_days": 7}, "validation_days (7)"),
    ],
)
def test_a_bad_config_is_an_import_error_naming_the_problem(config_file, fields, named):
    bag = parse(config_file, **fields)
    assert bag.dag_ids == []
    (message,) = bag.import_errors.values()
    assert named in message


def test_a_missing_config_is_an_import_error_naming_the_variable(monkeypatch):
    monkeypatch.delenv("FRAUD_PIPELINE_CONFIG", raising=False)
    bag = DagBag(dag_folder=str(DAGS_DIR))
    (message,) = bag.import_errors.values()
    assert "FRAUD_PIPELINE_CONFIG" in message


def test_parsing_opens_no_connection_and_reads_no_variable(config_file, monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access while parsing the DAG")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    import airflow.sdk

    monkeypatch.setattr(airflow.sdk.Variable, "get", staticmethod(refuse))
    dag = load_dag(config_file, **BACKEND_CONFIGS["dataproc"])
    assert len(dag.tasks) == 7
    assert attempts == []


PER_RUN_CLUSTER = {
    "name_prefix": "fraud-run", "folder_id": "b1gfolder00000000000", "zone": "ru-central1-a",
    "subnet_id": "e9bsubnet", "security_group_ids": ["enpgroup"], "service_account_id": "ajesa",
    "bucket": "fraud-bucket", "image_version": "2.2.9", "services": ["HDFS", "YARN", "SPARK"],
    "properties": {}, "ssh_public_keys": ["ssh-ed25519 AAAA test"], "ui_proxy": True, "labels": {},
    "master": {"resource_preset": "s3-c2-m8", "disk_size_gb": 40, "disk_type": "network-ssd"},
    "data": {"resource_preset": "s3-c4-m16", "disk_size_gb": 128, "disk_type": "network-ssd", "hosts_count": 1},
}
LIFECYCLE_CONFIGS = {
    "stop-between-runs": {**BACKEND_CONFIGS["dataproc"], "cluster_lifecycle": "stop-between-runs"},
    "per-run": {**{k: v for k, v in BACKEND_CONFIGS["dataproc"].items() if k != "dataproc_cluster_id"},
                "cluster_lifecycle": "per-run", "dataproc_cluster": PER_RUN_CLUSTER,
                "data_root": "s3a://fraud-bucket/lake", "raw_root": "hdfs:///user/fraud"},
}


@pytest.mark.parametrize("lifecycle, setup, teardown", [
    ("stop-between-runs", "start_cluster", "stop_cluster"),
    ("per-run", "create_cluster", "delete_cluster"),
])
def test_a_lifecycle_wraps_the_same_steps_in_a_setup_and_a_teardown_that_always_runs(config_file, lifecycle, setup,
                                                                                    teardown):
    dag = load_dag(config_file, **LIFECYCLE_CONFIGS[lifecycle])
    assert {t.task_id for t in dag.tasks} == EXPECTED_TASKS | {setup, teardown, "cluster_released"}
    roots = {s for s in EXPECTED_TASKS if not any(d == s for _, d in EXPECTED_EDGES)}
    if lifecycle == "per-run":  # every step takes the created cluster's id from the setup (XCom)
        roots = EXPECTED_TASKS
    leaves = {s for s in EXPECTED_TASKS if not any(u == s for u, _ in EXPECTED_EDGES)}
    assert edges(dag) == (EXPECTED_EDGES | {(setup, r) for r in roots} | {(leaf, teardown) for leaf in leaves}
                          | {(setup, teardown), (teardown, "cluster_released")})
    tasks = {t.task_id: t for t in dag.tasks}
    assert tasks[setup].is_setup and tasks[teardown].is_teardown
    # the teardown runs whatever happened, even after a failed setup; the check after it too
    assert tasks[teardown].trigger_rule == "all_done" and tasks[teardown].on_failure_fail_dagrun is False
    assert tasks[setup].retries >= 1 and tasks[teardown].retries >= 1
    assert dag.max_active_runs == 1  # two runs never overlap on one cluster


def test_a_lifecycle_other_than_always_on_needs_the_dataproc_backend(config_file):
    bag = parse(config_file, **BACKEND_CONFIGS["local"], cluster_lifecycle="per-run")
    (message,) = bag.import_errors.values()
    assert "cluster_lifecycle" in message and "dataproc" in message


def test_per_run_refuses_hdfs_as_the_durable_data_root(config_file):
    bag = parse(config_file, **{**LIFECYCLE_CONFIGS["per-run"], "data_root": "hdfs:///user/fraud"})
    (message,) = bag.import_errors.values()
    assert "data_root" in message and "hdfs:///user/fraud" in message
