"""The whole DAG on the `dataproc` backend, the path a deploy runs: `airflow dags test` through the
provider's real operators and hook, against the Yandex Cloud API stand-in (boot/dataproc_standin.py:
gRPC + TLS on loopback, credentials from the metadata stand-in, each job a real spark-submit).

The "cluster" is what a Data Proc node gives a job, on this machine: HDFS (the MiniDFSCluster of
jobs/tests/hdfs_fixture.py) as its default file system, Object Storage (moto) through Spark's own
s3a filesystem (hadoop-aws from Maven Central), the jobs' Python environment as the image's Python.
The pipeline config is the one the stack writes for the Airflow VM (scripts/test/airflow-pipeline-config.ts
renders it with the stack's own code), for these endpoints; the job code in the bucket is what
JobCode uploads (the same zip builder, checked by jest). The connection is the one the Airflow VM's
boot script writes (folder + endpoint, no key).

Needs $JOBS_VENV and $STANDIN_MOTO_SERVER (scripts/test/test-dag.sh sets them).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import EXPECTED_TASKS, REPO, WORK
from dag_runs import DATE, check_mlflow_runs, dags_test, final_states, shell, step_sections

JOBS_VENV = os.environ.get("JOBS_VENV", "")
MOTO_SERVER = os.environ.get("STANDIN_MOTO_SERVER", "")
pytestmark = [
    pytest.mark.skipif(not JOBS_VENV or not MOTO_SERVER,
                       reason="JOBS_VENV / STANDIN_MOTO_SERVER not set: run through scripts/test/test-dag.sh"),
]

for folder in (REPO / "boot", REPO / "jobs"):  # the stand-ins; tests.hdfs_fixture
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# Made-up ids shaped like Yandex Cloud's (the deployed values come from Terraform).
FOLDER_ID = "b1gstandinfolder0001"
CLUSTER_ID = "c9qstandinfraudspark"
BUCKET = "fraud-standin-bucket"
MLFLOW_SECRET_ID = "e6qstandinmlflowjobs"
SUBNET_ID = "e9bstandinsubnet0001"
SECURITY_GROUP_ID = "enpstandinsecgroup01"
DATAPROC_SA_ID = "ajestandindataprocsa"
S3A_POM = Path(__file__).resolve().parent / "s3a" / "pom.xml"
# a date with nothing landed: save_to_hdfs must fail on the cluster
EMPTY_DATE = "2024-05-09"


def jobs_python(code: str, *args: str) -> str:
    """Run Python in the jobs' environment (boto3, pyarrow: the Airflow venv has neither)."""
    return subprocess.run([f"{JOBS_VENV}/bin/python", "-c", code, *args], check=True, capture_output=True,
                          text=True).stdout


S3_CLIENT = ("import boto3, sys\n"
             "s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='x', "
             "aws_secret_access_key='x', region_name='ru-central1')\n")


def bucket_objects(cloud, prefix: str) -> int:
    """How many objects the bucket holds under `prefix` (through the S3 stand-in)."""
    return int(jobs_python(S3_CLIENT + (
        "r = s3.list_objects_v2(Bucket=sys.argv[2], Prefix=sys.argv[3])\n"
        "print(len(r.get('Contents', [])))\n"), cloud.s3_url, BUCKET, prefix))


@dataclass
class Cloud:
    work: Path
    config_path: Path
    config: dict
    env: dict
    api: object  # DataprocApiStandIn
    metadata: object  # CloudApiStandIn
    s3_url: str
    mlflow_uri: str

    def config_with(self, name: str, **overrides) -> Path:
        path = self.work / name
        path.write_text(json.dumps({**self.config, **overrides}, indent=2))
        return path


def render_pipeline_config(mlflow_uri: str, stack_config: Path | None = None) -> str:
    """The Airflow VM's pipeline.json, rendered by the stack's code for the stand-ins' endpoints:
    for config.example.json (always-on), or for `stack_config` with dataproc.lifecycle per-run."""
    cluster = (["--subnet-id", SUBNET_ID, "--security-group-id", SECURITY_GROUP_ID,
                "--dataproc-service-account-id", DATAPROC_SA_ID] if stack_config else ["--cluster-id", CLUSTER_ID])
    out = subprocess.run(
        ["npx", "--no-install", "ts-node", "scripts/test/airflow-pipeline-config.ts", "--bucket", BUCKET,
         "--mlflow-uri", mlflow_uri, "--mlflow-password-secret", MLFLOW_SECRET_ID, *cluster],
        cwd=REPO, capture_output=True, text=True, env=dict(os.environ, YC_MLOPS_CONFIG=str(stack_config or "")))
    assert out.returncode == 0, out.stderr
    return out.stdout


def upload_job_code(s3_url: str, staged: Path, config: dict, ca_pem: str) -> None:
    """What `cdktf deploy` puts in the bucket: the entry scripts and fraud_jobs.zip under jobs_uri,
    and the MLflow VM's certificate where mlflow_ca_uri says (here: a PEM the job must fetch)."""
    prefix = f"s3a://{BUCKET}/"
    assert config["jobs_uri"].startswith(prefix) and config["mlflow_ca_uri"].startswith(prefix), config
    jobs_key = config["jobs_uri"][len(prefix):]
    files = [(f"{jobs_key}entrypoints/{p.name}", str(p)) for p in sorted((staged / "entrypoints").glob("*.py"))]
    files.append((f"{jobs_key}fraud_jobs.zip", str(staged / "fraud_jobs.zip")))
    ca = staged.parent / "mlflow-ca.pem"
    ca.write_text(ca_pem)
    files.append((config["mlflow_ca_uri"][len(prefix):], str(ca)))
    jobs_python(S3_CLIENT + (
        "s3.create_bucket(Bucket=sys.argv[2], CreateBucketConfiguration={'LocationConstraint': 'ru-central1'})\n"
        "for key, path in zip(sys.argv[3::2], sys.argv[4::2]):\n"
        "    s3.upload_file(path, sys.argv[2], key)\n"), s3_url, BUCKET, *[x for pair in files for x in pair])


@pytest.fixture(scope="module")
def cloud(mlflow_server, airflow_env):
    from dataproc_standin import ClusterRuntime, DataprocApiStandIn
    from standins import CloudApiStandIn, S3StandIn, data_proc_node
    from tests.hdfs_fixture import MiniHdfs, build_mini_hdfs, maven_classpath

    work = WORK / "dataproc"
    work.mkdir(parents=True, exist_ok=True)
    shell('stage_jobs "$1"', str(work))
    started = []
    try:
        metadata = CloudApiStandIn({MLFLOW_SECRET_ID: {"password": secrets.token_hex(12)}}).start()
        started.append(metadata)
        s3 = S3StandIn(MOTO_SERVER).start()
        started.append(s3)
        hdfs_classpath = build_mini_hdfs()
        hdfs = MiniHdfs(hdfs_classpath)  # the stack's cluster's HDFS
        started.append(hdfs)
        created_hdfs: dict[str, MiniHdfs] = {}  # a cluster the DAG creates gets its own

        def new_storage(cluster_id: str) -> str:
            created_hdfs[cluster_id] = MiniHdfs(hdfs_classpath)
            return created_hdfs[cluster_id].uri

        def release_storage(cluster_id: str) -> None:
            created_hdfs.pop(cluster_id).stop()
        config_text = render_pipeline_config(mlflow_server)
        config = json.loads(config_text)
        assert config["backend"] == "dataproc" and config["dataproc_cluster_id"] == CLUSTER_ID, config

        python = f"{JOBS_VENV}/bin/python"
        s3a_jars = maven_classpath(str(S3A_POM))
        spark_defaults, node_env = data_proc_node(python, hdfs.uri, s3.url, s3a_jars, metadata.url)
        runtime = ClusterRuntime(
            spark_submit=f"{JOBS_VENV}/bin/spark-submit",
            spark_defaults=spark_defaults,
            env=node_env,
            work=work / "cluster",
            new_storage=new_storage,
            release_storage=release_storage,
        )
        api = DataprocApiStandIn(metadata, runtime, (FOLDER_ID,)).start()
        started.append(api)
        api.add_cluster(CLUSTER_ID, FOLDER_ID, "fraud-spark")
        upload_job_code(s3.url, work / "jobs", config, api.ca_file.read_text())

        config_path = work / "pipeline.json"
        config_path.write_text(config_text)
        env = dict(airflow_env)
        env.update(
            # the connection the Airflow VM's boot script writes: folder + endpoint, no key
            AIRFLOW_CONN_YANDEXCLOUD_DEFAULT=json.dumps(
                {"conn_type": "yandexcloud", "extra": {"folder_id": FOLDER_ID, "endpoint": api.address}}),
            YC_METADATA_ADDR=f"127.0.0.1:{metadata.port}",
            GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(api.ca_file),
            NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", no_grpc_proxy="127.0.0.1",
        )
        yield Cloud(work, config_path, config, env, api, metadata, s3.url, mlflow_server)
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="module")
def first_run(cloud) -> tuple[int, str]:
    """A deploy's first scheduled run with the stack's defaults: the whole DAG for DATE on the stack's
    (always-on) cluster. (exit code, log); the landed days and the HDFS copy it leaves are the
    history the next day's run finds."""
    return dags_test(cloud.env, cloud.config_path, cloud.work / "logs" / "full-run.log")


def test_the_whole_dag_runs_on_data_proc_through_the_api(cloud, first_run):
    rc, log = first_run
    assert rc == 0, log[-6000:]
    assert {s for s, _ in step_sections(log)} == EXPECTED_TASKS
    assert set(final_states(log).values()) == {"success"}

    from fraud_jobs import pipeline_spec

    cfg = pipeline_spec.PipelineConfig.from_mapping(cloud.config)
    check_step_jobs(cloud, 0, cfg, DATE, cloud.config["dataproc_cluster_id"])
    # the SDK authenticated with the token of the metadata service; the jobs read their MLflow
    # password from Lockbox with it
    assert all(c.code == "OK" for c in cloud.api.calls if "JobService" in c.method or "Operation" in c.method)
    asked = {path for _, path, status in cloud.metadata.requests if status == 200}
    assert "/computeMetadata/v1/instance/service-accounts/default/token" in asked
    assert f"/lockbox/v1/secrets/{MLFLOW_SECRET_ID}/payload" in asked

    # generate landed the day in the bucket (s3a), the rest went through HDFS into MLflow
    assert bucket_objects(cloud, f"landing/transactions/TX_DATE={DATE}/") > 0
    check_mlflow_runs(cloud.mlflow_uri, cfg.experiment, cfg.registered_model)


def check_step_jobs(cloud, since: int, cfg, date: str, cluster_id: str) -> None:
    """The jobs the run submitted (calls from `since` on): one per step, each after its upstream
    steps' jobs, on `cluster_id`, with the entry script, the code zip and the step contract's
    arguments for `date`; each went through the service's states and ended DONE."""
    from fraud_jobs import pipeline_spec

    creates = [c for c in cloud.api.calls[since:] if c.method.endswith("JobService/Create") and c.code == "OK"]
    names = [c.request["name"] for c in creates]
    by_name = {pipeline_spec.job_name(step): step for step in pipeline_spec.STEPS}
    assert sorted(names) == sorted(by_name), "one job per step"
    order = [by_name[n] for n in names]
    for step in order:  # each job submitted after the jobs of its upstream steps
        assert all(order.index(up) < order.index(step) for up in pipeline_spec.UPSTREAM[step]), order

    jobs_uri = cfg.jobs_uri
    for call in creates:
        step, job = by_name[call.request["name"]], call.request["pyspark_job"]
        assert call.request["cluster_id"] == cluster_id
        assert job["main_python_file_uri"] == f"{jobs_uri}{pipeline_spec.ENTRY_SCRIPT}"
        assert job["python_file_uris"] == [f"{jobs_uri}fraud_jobs.zip"]
        # the rendered logical date, in the arguments the step contract gives for it
        assert job["args"] == pipeline_spec.entry_args(step, cfg, date), (step, job["args"])
    for job_id in run_jobs(cloud, cluster_id, date).values():
        assert cloud.api.job_statuses[job_id] == ["PROVISIONING", "PENDING", "RUNNING", "DONE"], job_id


def run_jobs(cloud, cluster_id: str, date: str) -> dict[str, str]:
    """{step job name: job id} of the jobs for `date` on `cluster_id` (the last one per name)."""
    return {job.name: job_id for job_id, job in cloud.api.jobs.items()
            if job.cluster_id == cluster_id and date in job.pyspark_job.args}


def test_a_job_failing_on_the_cluster_fails_its_task_with_the_jobs_error(cloud):
    # nothing landed for EMPTY_DATE: generate is marked done, save_to_hdfs must fail on the cluster;
    # no retry here (the deployed policy retries twice after 60 s and 120 s)
    config = cloud.config_with("pipeline-no-retries.json", retries=0)
    before = len(cloud.api.calls_of("dataproc.v1.JobService/Create"))
    rc, log = dags_test(cloud.env, config, cloud.work / "logs" / "failing-run.log",
                        "--mark-success-pattern", "^generate$", date=EMPTY_DATE)
    assert rc != 0
    assert final_states(log).get("save_to_hdfs") == "failed", final_states(log)
    ran = {step for step, _ in step_sections(log)}
    assert ran.isdisjoint({"preprocess", "train_lr", "train_rf", "bootstrap", "compare"}), ran

    creates = cloud.api.calls_of("dataproc.v1.JobService/Create")[before:]
    assert [c.request["name"] for c in creates] == ["fraud-pipeline-save-to-hdfs"]
    (job_id,) = [j for j, job in cloud.api.jobs.items() if job.name == "fraud-pipeline-save-to-hdfs"
                 and EMPTY_DATE in job.pyspark_job.args]
    assert cloud.api.job_statuses[job_id][-2:] == ["RUNNING", "ERROR"]
    # the job's own error line, as it printed it on the cluster, is in the task's log
    errors = [line for line in cloud.api.driver_output(job_id).splitlines() if line.startswith("error: ")]
    assert errors and cloud.config["landing_root"] in errors[-1], cloud.api.driver_output(job_id)[-3000:]
    section = dict(step_sections(log))["save_to_hdfs"]
    assert errors[-1] in section, section[-4000:]
    assert f"failed: {errors[-1]}" in section  # the task's error names it too
    assert any(c.method.endswith("JobService/ListLog") for c in cloud.api.calls)


# ---------------------------------------------------------------------------------------------
# dataproc.lifecycle: the tasks around the steps, in a run whose step fails on the cluster (nothing
# landed for EMPTY_DATE: generate is marked done, save_to_hdfs fails; no retries)

def cluster_calls(api, since: int) -> list[tuple[str, str]]:
    """(method, cluster id) of the cluster and job calls the service accepted, in order."""
    out = []
    for c in api.calls[since:]:
        verb = c.method.rsplit("/", 1)[-1]
        if c.code != "OK" or verb not in ("Start", "Stop", "Create", "Delete"):
            continue
        kind = "Job" if "JobService" in c.method else "Cluster"
        out.append((f"{kind}.{verb}", c.request.get("cluster_id") or c.request.get("name", "")))
    return out


def run_failing_on_the_cluster(cloud, config: Path, name: str, setup: str, teardown: str) -> None:
    """`dags test` of EMPTY_DATE with generate marked done: save_to_hdfs fails on the cluster, the run
    fails, and the setup, the teardown and the check after it succeed."""
    rc, log = dags_test(cloud.env, config, cloud.work / "logs" / f"{name}.log",
                        "--mark-success-pattern", "^generate$", date=EMPTY_DATE)
    assert rc != 0
    states = final_states(log)
    assert states.get("save_to_hdfs") == "failed", states
    assert {states.get(t) for t in (setup, teardown, "cluster_released")} == {"success"}, states


def test_stop_between_runs_starts_the_cluster_and_stops_it_after_a_failed_step(cloud):
    from yandex.cloud.dataproc.v1 import cluster_pb2

    cloud.api.set_status(CLUSTER_ID, cluster_pb2.Cluster.STOPPED)
    config = cloud.config_with("pipeline-stop-between-runs.json", retries=0, cluster_lifecycle="stop-between-runs")
    since = len(cloud.api.calls)
    try:
        run_failing_on_the_cluster(cloud, config, "stop-between-runs", "start_cluster", "stop_cluster")
        # Start ... the job ... Stop, in that order, on the stack's cluster; it is stopped at the end
        assert cluster_calls(cloud.api, since) == [
            ("Cluster.Start", CLUSTER_ID), ("Job.Create", CLUSTER_ID), ("Cluster.Stop", CLUSTER_ID)]
        assert cloud.api.clusters[CLUSTER_ID].status == cluster_pb2.Cluster.STOPPED
    finally:
        cloud.api.set_status(CLUSTER_ID, cluster_pb2.Cluster.RUNNING)


def per_run_config(cloud) -> dict:
    """The Airflow VM's pipeline config for the stack's config with dataproc.lifecycle per-run,
    rendered by the stack's code; its folder is made to exist in the stand-in."""
    stack_config = json.loads((REPO / "config.example.json").read_text())
    stack_config["dataproc"]["lifecycle"] = "per-run"
    stack_config_path = cloud.work / "stack-per-run.json"
    stack_config_path.write_text(json.dumps(stack_config))
    rendered = json.loads(render_pipeline_config(cloud.mlflow_uri, stack_config_path))
    assert rendered["cluster_lifecycle"] == "per-run" and "dataproc_cluster_id" not in rendered, rendered
    cloud.api.folders.add(rendered["dataproc_cluster"]["folder_id"])  # the user's folder: the runs' clusters
    return rendered


def test_per_run_creates_a_cluster_for_the_run_and_deletes_it_after_a_failed_step(cloud):
    from fraud_jobs import pipeline_spec

    rendered = per_run_config(cloud)
    spec = rendered["dataproc_cluster"]
    config = cloud.work / "pipeline-per-run.json"
    config.write_text(json.dumps({**rendered, "retries": 0}))
    since = len(cloud.api.calls)
    run_failing_on_the_cluster(cloud, config, "per-run", "create_cluster", "delete_cluster")

    creates = [c for c in cloud.api.calls_of("ClusterService/Create")[-1:] if c.code == "OK"]
    assert creates, cluster_calls(cloud.api, since)
    request = creates[0].request
    assert request["name"].startswith(spec["name_prefix"] + "-")
    # the stack's network, account, bucket and image
    assert request["config_spec"]["subclusters_spec"][0]["subnet_id"] == SUBNET_ID
    assert request["security_group_ids"] == [SECURITY_GROUP_ID]
    assert request["service_account_id"] == DATAPROC_SA_ID
    assert request["bucket"] == BUCKET and request["config_spec"]["version_id"] == spec["image_version"]
    (cluster_id,) = {c.request["cluster_id"] for c in cloud.api.calls[since:]
                     if c.method.endswith("JobService/Create")}
    # Create ... the job on that cluster ... Delete, in that order; no cluster of the run is left
    assert cluster_calls(cloud.api, since) == [
        ("Cluster.Create", request["name"]), ("Job.Create", cluster_id), ("Cluster.Delete", cluster_id)]
    assert cluster_id not in cloud.api.clusters
    assert not [c for c in cloud.api.clusters.values() if c.name.startswith(spec["name_prefix"])]
    assert pipeline_spec.PipelineConfig.from_mapping(rendered).raw_root == "hdfs:///user/fraud"


# ---------------------------------------------------------------------------------------------
# dataproc.lifecycle: whole successful runs, the same checks as the always-on run

NEXT_DATE = "2024-05-01"  # the day after DATE: what the next scheduled run of a deploy does


def driver_output(cloud, cluster_id: str, date: str, step: str) -> str:
    from fraud_jobs import pipeline_spec

    return cloud.api.driver_output(run_jobs(cloud, cluster_id, date)[pipeline_spec.job_name(step)])


def test_stop_between_runs_a_whole_run_starts_the_cluster_runs_every_step_and_stops_it(cloud, first_run):
    from fraud_jobs import pipeline_spec
    from yandex.cloud.dataproc.v1 import cluster_pb2

    assert first_run[0] == 0, "the first run failed: no history for the next day (see the test above)"
    # the next day's run finds the stack's cluster stopped, as the last run left it
    cloud.api.set_status(CLUSTER_ID, cluster_pb2.Cluster.STOPPED)
    config = cloud.config_with("pipeline-stop-between-runs-whole.json", cluster_lifecycle="stop-between-runs",
                               experiment="fraud-stop-between-runs", registered_model="fraud-detector-sbr")
    cfg = pipeline_spec.PipelineConfig.from_mapping(json.loads(config.read_text()))
    since = len(cloud.api.calls)
    try:
        rc, log = dags_test(cloud.env, config, cloud.work / "logs" / "stop-between-runs-whole.log", date=NEXT_DATE)
        assert rc == 0, log[-6000:]
        states = final_states(log)
        assert states == dict.fromkeys(EXPECTED_TASKS | {"start_cluster", "stop_cluster", "cluster_released"},
                                       "success"), states
        # Start, the seven jobs, Stop: in that order, all on the stack's cluster, stopped at the end
        assert cluster_calls(cloud.api, since) == [
            ("Cluster.Start", CLUSTER_ID), *[("Job.Create", CLUSTER_ID)] * len(pipeline_spec.STEPS),
            ("Cluster.Stop", CLUSTER_ID)]
        check_step_jobs(cloud, since, cfg, NEXT_DATE, CLUSTER_ID)
        assert cloud.api.clusters[CLUSTER_ID].status == cluster_pb2.Cluster.STOPPED
        # HDFS kept its data while the cluster was stopped: only the new day was copied into it
        saved = driver_output(cloud, CLUSTER_ID, NEXT_DATE, "save_to_hdfs")
        assert re.search(r"saved \d+ transactions of 1 day\b", saved), saved[-3000:]
        check_mlflow_runs(cloud.mlflow_uri, cfg.experiment, cfg.registered_model, date=NEXT_DATE)
    finally:
        cloud.api.set_status(CLUSTER_ID, cluster_pb2.Cluster.RUNNING)


def test_per_run_a_whole_run_creates_a_cluster_runs_every_step_on_it_and_deletes_it(cloud):
    from fraud_jobs import pipeline_spec

    rendered = per_run_config(cloud)
    config = cloud.work / "pipeline-per-run-whole.json"
    config.write_text(json.dumps({**rendered, "experiment": "fraud-per-run", "registered_model": "fraud-detector-pr"}))
    cfg = pipeline_spec.PipelineConfig.from_mapping(json.loads(config.read_text()))
    since = len(cloud.api.calls)
    rc, log = dags_test(cloud.env, config, cloud.work / "logs" / "per-run-whole.log")
    assert rc == 0, log[-6000:]
    states = final_states(log)
    assert states == dict.fromkeys(EXPECTED_TASKS | {"create_cluster", "delete_cluster", "cluster_released"},
                                   "success"), states
    calls = cluster_calls(cloud.api, since)
    (cluster_id,) = {cid for kind, cid in calls if kind == "Job.Create"}
    name = calls[0][1]
    assert name.startswith(rendered["dataproc_cluster"]["name_prefix"] + "-"), calls
    # Create, the seven jobs on the run's cluster, Delete; the cluster and its HDFS are gone
    assert calls == [("Cluster.Create", name), *[("Job.Create", cluster_id)] * len(pipeline_spec.STEPS),
                     ("Cluster.Delete", cluster_id)]
    check_step_jobs(cloud, since, cfg, DATE, cluster_id)
    assert cluster_id not in cloud.api.clusters and cluster_id not in cloud.api.runtime.default_fs
    # the new cluster's HDFS was empty: save_to_hdfs copied every day the run needs from the bucket
    # (on the stack's cluster's HDFS the same days were there already, from the always-on run)
    saved = driver_output(cloud, cluster_id, DATE, "save_to_hdfs")
    assert re.search(r"no raw transactions stored for \S+ yet: backfilling \d+ days", saved), saved[-3000:]
    # the features went to the bucket (durable), not to the cluster's HDFS
    assert bucket_objects(cloud, "lake/") > 0
    check_mlflow_runs(cloud.mlflow_uri, cfg.experiment, cfg.registered_model)
