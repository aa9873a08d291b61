"""The Yandex Cloud API stand-in (boot/dataproc_standin.py) itself, through the real SDK: it must be
as strict as the service it stands in for, or the whole-DAG test on it proves less than it says.
Jobs here run a small script in place of spark-submit (the real one runs in test_dag_dataproc.py)."""

from __future__ import annotations

import sys
import time

import grpc
import pytest

from conftest import REPO

if str(REPO / "boot") not in sys.path:
    sys.path.insert(0, str(REPO / "boot"))

from dataproc_standin import ClusterRuntime, DataprocApiStandIn, request_problems, within  # noqa: E402
from standins import CloudApiStandIn  # noqa: E402
from yandex.cloud.dataproc.v1 import cluster_pb2, cluster_service_pb2 as cs, cluster_service_pb2_grpc as cg  # noqa: E402
from yandex.cloud.dataproc.v1 import common_pb2, subcluster_pb2  # noqa: E402
from yandex.cloud.dataproc.v1 import job_pb2, job_service_pb2 as js, job_service_pb2_grpc as jg  # noqa: E402
from yandex.cloud.operation import operation_service_pb2 as ops, operation_service_pb2_grpc as og  # noqa: E402

FOLDER = "b1gstandintestfolder"
CLUSTER = "c9qstandintestcluster"
# stands in for spark-submit: prints its command line, fails when an argument says so
FAKE_SUBMIT = """#!/bin/sh
echo "argv: $*"
for a in "$@"; do [ "$a" = "--fail" ] && { echo "error: asked to fail" >&2; exit 3; }; done
exit 0
"""


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api-standin")
    submit = tmp / "spark-submit"
    submit.write_text(FAKE_SUBMIT)
    submit.chmod(0o755)
    metadata = CloudApiStandIn({}).start()
    server = DataprocApiStandIn(metadata, ClusterRuntime(str(submit), {"spark.hadoop.fs.defaultFS": "hdfs://x"},
                                                         work=tmp / "cluster"),
                                (FOLDER,), operation_seconds=0.3, job_pending_seconds=0.05).start()
    server.add_cluster(CLUSTER, FOLDER, "test-spark")
    try:
        yield server
    finally:
        server.stop()
        metadata.stop()


@pytest.fixture
def sdk(api, monkeypatch):
    """The SDK as the provider's hook makes it: endpoint only, credentials from the metadata service."""
    import yandexcloud

    monkeypatch.setenv("YC_METADATA_ADDR", f"127.0.0.1:{api.metadata.port}")
    return yandexcloud.SDK(endpoint=api.address, root_certificates=api.ca_file.read_bytes())


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code()


def wait_done(sdk, operation, timeout: float = 30):
    stub = sdk.client(og.OperationServiceStub)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = stub.Get(ops.GetOperationRequest(operation_id=operation.id))
        if op.done:
            return op
        time.sleep(0.1)
    raise AssertionError(f"operation {operation.id} not done in {timeout} s")


def test_only_the_metadata_services_token_is_accepted(api, sdk):
    import yandexcloud

    assert sdk.client(cg.ClusterServiceStub).Get(cs.GetClusterRequest(cluster_id=CLUSTER)).name == "test-spark"
    assert ("GET", "/computeMetadata/v1/instance/service-accounts/default/token", 200) in api.metadata.requests
    stranger = yandexcloud.SDK(endpoint=api.address, root_certificates=api.ca_file.read_bytes(),
                               iam_token="t1.never-issued")
    get = stranger.client(cg.ClusterServiceStub).Get
    assert code_of(lambda: get(cs.GetClusterRequest(cluster_id=CLUSTER))) == grpc.StatusCode.PERMISSION_DENIED
    channel = grpc.secure_channel(api.address, grpc.ssl_channel_credentials(api.ca_file.read_bytes()))
    anonymous = cg.ClusterServiceStub(channel).Get
    assert code_of(lambda: anonymous(cs.GetClusterRequest(cluster_id=CLUSTER))) == grpc.StatusCode.UNAUTHENTICATED
    # a client that does not trust the stand-in's CA cannot talk to it at all
    untrusting = cg.ClusterServiceStub(grpc.secure_channel(api.address, grpc.ssl_channel_credentials()))
    assert code_of(lambda: untrusting.Get(cs.GetClusterRequest(cluster_id=CLUSTER), timeout=10)) == \
        grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("request_, named", [
    (js.CreateJobRequest(cluster_id=CLUSTER, name="Pyspark job",
                         pyspark_job=job_pb2.PysparkJob(main_python_file_uri="s3a://b/x.py")), "name: 'Pyspark job'"),
    (js.CreateJobRequest(cluster_id=CLUSTER, name="fraud_pipeline.generate",
                         pyspark_job=job_pb2.PysparkJob(main_python_file_uri="s3a://b/x.py")), "name:"),
    (js.CreateJobRequest(cluster_id=CLUSTER, pyspark_job=job_pb2.PysparkJob()), "pyspark_job.main_python_file_uri: required"),
    (js.CreateJobRequest(pyspark_job=job_pb2.PysparkJob(main_python_file_uri="s3a://b/x.py")), "cluster_id: required"),
    (js.CreateJobRequest(cluster_id=CLUSTER, pyspark_job=job_pb2.PysparkJob(
        main_python_file_uri="s3a://b/x.py", properties={"1bad": "x"})), "key '1bad'"),
    (cs.GetClusterRequest(cluster_id="c" * 51), "cluster_id: length 51 is not <=50"),
    (cs.ListClustersRequest(folder_id=FOLDER, page_size=1001), "page_size: 1001 is not <=1000"),
])
def test_requests_are_checked_against_the_descriptors_rules(request_, named):
    problems = request_problems(request_)
    assert any(named in p for p in problems), problems


def test_a_request_the_rules_refuse_is_invalid_argument_and_recorded(api, sdk):
    create = sdk.client(jg.JobServiceStub).Create
    bad = js.CreateJobRequest(cluster_id=CLUSTER, name="Pyspark job",
                              pyspark_job=job_pb2.PysparkJob(main_python_file_uri="s3a://b/x.py"))
    assert code_of(lambda: create(bad)) == grpc.StatusCode.INVALID_ARGUMENT
    assert api.calls_of("JobService/Create")[-1].code == "INVALID_ARGUMENT"
    assert api.calls_of("JobService/Create")[-1].request["name"] == "Pyspark job"


def test_bounds_of_the_validation_options():
    assert within("<=50", 50) and not within("<=50", 51) and not within("<256", 256)
    assert within("1-100", 1) and within("1-100", 100) and not within("1-100", 0)
    assert within("1m-10m", 60) and not within("1m-10m", 59) and within(">=1", 1) and not within(">=1", 0)


def test_cluster_lifecycle_and_what_a_stopped_or_missing_cluster_refuses(api, sdk):
    clusters, jobs = sdk.client(cg.ClusterServiceStub), sdk.client(jg.JobServiceStub)
    job = js.CreateJobRequest(cluster_id=CLUSTER, name="ok-job",
                              pyspark_job=job_pb2.PysparkJob(main_python_file_uri="s3a://b/x.py"))
    stop = clusters.Stop(cs.StopClusterRequest(cluster_id=CLUSTER))
    assert not stop.done  # a long-running operation: it takes time
    assert clusters.Get(cs.GetClusterRequest(cluster_id=CLUSTER)).status == cluster_pb2.Cluster.STOPPING
    assert not wait_done(sdk, stop).HasField("error")
    assert clusters.Get(cs.GetClusterRequest(cluster_id=CLUSTER)).status == cluster_pb2.Cluster.STOPPED
    assert code_of(lambda: jobs.Create(job)) == grpc.StatusCode.FAILED_PRECONDITION
    assert code_of(lambda: clusters.Stop(cs.StopClusterRequest(cluster_id=CLUSTER))) == grpc.StatusCode.FAILED_PRECONDITION
    wait_done(sdk, clusters.Start(cs.StartClusterRequest(cluster_id=CLUSTER)))
    assert clusters.Get(cs.GetClusterRequest(cluster_id=CLUSTER)).status == cluster_pb2.Cluster.RUNNING
    assert code_of(lambda: clusters.Start(cs.StartClusterRequest(cluster_id=CLUSTER))) == grpc.StatusCode.FAILED_PRECONDITION

    missing = js.CreateJobRequest(cluster_id="c9qnosuchcluster0000", name="ok-job",
                                  pyspark_job=job_pb2.PysparkJob(main_python_file_uri="s3a://b/x.py"))
    assert code_of(lambda: jobs.Create(missing)) == grpc.StatusCode.NOT_FOUND
    get_op = sdk.client(og.OperationServiceStub).Get
    assert code_of(lambda: get_op(ops.GetOperationRequest(operation_id="c9qnosuchoperation00"))) == grpc.StatusCode.NOT_FOUND


def test_create_and_delete_a_cluster(api, sdk, monkeypatch):
    # a created cluster gets its own HDFS (its jobs' default file system) and loses it when deleted
    storage = []
    monkeypatch.setattr(api.runtime, "new_storage", lambda cid: storage.append(("new", cid)) or f"hdfs://{cid}")
    monkeypatch.setattr(api.runtime, "release_storage", lambda cid: storage.append(("released", cid)))
    clusters = sdk.client(cg.ClusterServiceStub)
    spec = cs.CreateClusterConfigSpec(version_id="2.2.9", subclusters_spec=[cs.CreateSubclusterConfigSpec(
        name="master", role=subcluster_pb2.MASTERNODE, resources=common_pb2.Resources(resource_preset_id="s3-c2-m8", disk_size=40),
        subnet_id="e9bsubnet", hosts_count=1)])
    request = cs.CreateClusterRequest(folder_id=FOLDER, name="per-run", config_spec=spec, zone_id="ru-central1-a",
                                      service_account_id="ajesa")
    op = clusters.Create(request)
    cluster_id = cs.CreateClusterMetadata.FromString(op.metadata.value).cluster_id
    assert clusters.Get(cs.GetClusterRequest(cluster_id=cluster_id)).status == cluster_pb2.Cluster.CREATING
    done = wait_done(sdk, op)
    assert cluster_pb2.Cluster.FromString(done.response.value).status == cluster_pb2.Cluster.RUNNING
    assert code_of(lambda: clusters.Create(request)) == grpc.StatusCode.ALREADY_EXISTS
    no_folder = cs.CreateClusterRequest(folder_id="b1gnosuchfolder00000", name="x-y", config_spec=spec,
                                        zone_id="ru-central1-a", service_account_id="ajesa")
    assert code_of(lambda: clusters.Create(no_folder)) == grpc.StatusCode.NOT_FOUND
    names = {c.name for c in clusters.List(cs.ListClustersRequest(folder_id=FOLDER)).clusters}
    assert {"per-run", "test-spark"} <= names
    # the one filter the API documents: name = "<name>"
    named = clusters.List(cs.ListClustersRequest(folder_id=FOLDER, filter='name = "per-run"')).clusters
    assert [c.id for c in named] == [cluster_id]
    assert clusters.List(cs.ListClustersRequest(folder_id=FOLDER, filter='name = "no-such"')).clusters == []
    bad = cs.ListClustersRequest(folder_id=FOLDER, filter="status = RUNNING")
    assert code_of(lambda: clusters.List(bad)) == grpc.StatusCode.INVALID_ARGUMENT
    assert storage == [("new", cluster_id)]
    conf = (api.runtime.conf_dir(cluster_id) / "spark-defaults.conf").read_text()
    assert f"spark.hadoop.fs.defaultFS hdfs://{cluster_id}\n" in conf
    # the stack's cluster keeps the image's file system
    assert "spark.hadoop.fs.defaultFS hdfs://x\n" in (api.runtime.conf_dir(CLUSTER) / "spark-defaults.conf").read_text()
    wait_done(sdk, clusters.Delete(cs.DeleteClusterRequest(cluster_id=cluster_id)))
    assert code_of(lambda: clusters.Get(cs.GetClusterRequest(cluster_id=cluster_id))) == grpc.StatusCode.NOT_FOUND
    assert storage == [("new", cluster_id), ("released", cluster_id)]


def test_a_creation_that_fails_leaves_the_cluster_in_error(api, sdk, monkeypatch):
    monkeypatch.setattr(api, "fail_creates_named", "doomed-")
    clusters = sdk.client(cg.ClusterServiceStub)
    spec = cs.CreateClusterConfigSpec(version_id="2.2.9", subclusters_spec=[cs.CreateSubclusterConfigSpec(
        name="master", role=subcluster_pb2.MASTERNODE, resources=common_pb2.Resources(resource_preset_id="s3-c2-m8", disk_size=40),
        subnet_id="e9bsubnet", hosts_count=1)])
    op = clusters.Create(cs.CreateClusterRequest(folder_id=FOLDER, name="doomed-run", config_spec=spec,
                                                 zone_id="ru-central1-a", service_account_id="ajesa"))
    cluster_id = cs.CreateClusterMetadata.FromString(op.metadata.value).cluster_id
    done = wait_done(sdk, op)
    assert done.error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    # the cluster is there, in ERROR, until someone deletes it
    assert clusters.Get(cs.GetClusterRequest(cluster_id=cluster_id)).status == cluster_pb2.Cluster.ERROR
    wait_done(sdk, clusters.Delete(cs.DeleteClusterRequest(cluster_id=cluster_id)))
    assert code_of(lambda: clusters.Get(cs.GetClusterRequest(cluster_id=cluster_id))) == grpc.StatusCode.NOT_FOUND


def test_a_job_runs_its_command_and_its_log_pages_through_the_driver_output(api, sdk):
    from yandexcloud.operations import OperationError

    dataproc = sdk.wrappers.Dataproc()
    result = dataproc.create_pyspark_job(
        main_python_file_uri="s3a://b/jobs/main.py", python_file_uris=["s3a://b/jobs/pkg.zip"],
        args=["--date", "2024-01-02"], properties={"spark.sql.shuffle.partitions": "3"},
        cluster_id=CLUSTER, name="good-job")
    job = result.response
    assert job.status == job_pb2.Job.DONE
    assert api.job_statuses[job.id] == ["PROVISIONING", "PENDING", "RUNNING", "DONE"]
    assert ("argv: --name good-job --py-files s3a://b/jobs/pkg.zip --conf spark.sql.shuffle.partitions=3 "
            "s3a://b/jobs/main.py --date 2024-01-02") in api.driver_output(job.id)

    with pytest.raises(OperationError) as err:
        dataproc.create_pyspark_job(main_python_file_uri="s3a://b/jobs/main.py", args=["--fail"],
                                    cluster_id=CLUSTER, name="bad-job")
    job_id = err.value.operation_result.meta.job_id
    assert api.job_statuses[job_id][-1] == "ERROR"
    logs = sdk.client(jg.JobServiceStub)
    pages, token = [], ""
    while True:
        page = logs.ListLog(js.ListJobLogRequest(cluster_id=CLUSTER, job_id=job_id, page_size=7, page_token=token))
        pages.append(page.content)
        token = page.next_page_token
        if not token:
            break
    assert len(pages) > 1 and "".join(pages) == api.driver_output(job_id)
    assert "error: asked to fail" in "".join(pages)
    got = logs.Get(js.GetJobRequest(cluster_id=CLUSTER, job_id=job_id))
    assert got.status == job_pb2.Job.ERROR and got.name == "bad-job"
    assert code_of(lambda: logs.Get(js.GetJobRequest(cluster_id=CLUSTER, job_id="c9qnosuchjob00000000"))) == \
        grpc.StatusCode.NOT_FOUND
