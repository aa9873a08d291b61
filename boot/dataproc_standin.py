"""Stand-in of the Yandex Cloud API for the Data Proc path (a test stand-in, loopback only).

A gRPC server on 127.0.0.1 with TLS (a CA made per run), built from the `yandexcloud` package's own
generated servicers and message classes (`add_<Name>Servicer_to_server`, `*_pb2`): no message type
is written by hand. It serves what the SDK and the Airflow provider call:

  yandex.cloud.endpoint.ApiEndpointService   List, Get (the SDK's discovery; every id -> this server)
  yandex.cloud.dataproc.v1.ClusterService    Get, List, Create, Delete, Start, Stop
  yandex.cloud.dataproc.v1.JobService        Create, Get, List, ListLog
  yandex.cloud.operation.OperationService    Get

Every other method answers UNIMPLEMENTED (the generated base servicer's answer).

How strict it is:
- authentication: every call but discovery needs `authorization: Bearer <token>` where the token is
  the one the metadata stand-in (standins.CloudApiStandIn) issues; none -> UNAUTHENTICATED, another
  token -> PERMISSION_DENIED;
- requests are checked against the `yandex.cloud.validation` options of the generated descriptors
  (required, length, pattern, size, value, map_key, exactly_one), generically, for every message
  and nested message -> INVALID_ARGUMENT naming the field and the rule;
- semantics (status codes from the API's error table, yandex.cloud/docs api-design-guide/concepts/
  errors): an unknown cluster, job or operation -> NOT_FOUND; a job on a cluster that is not RUNNING,
  Start of a cluster that is not STOPPED, Stop of one that is not RUNNING, Delete of a protected
  cluster -> FAILED_PRECONDITION; a second cluster of the same name in a folder -> ALREADY_EXISTS;
  an unknown folder -> NOT_FOUND; a List filter other than the documented `name = "<name>"` ->
  INVALID_ARGUMENT.

A cluster's disks come with it: a cluster the service creates gets its own HDFS
(`ClusterRuntime.new_storage`, its jobs' default file system) and loses it when it is deleted
(`release_storage`), so a job never finds data another cluster left; a cluster that existed before
(`add_cluster`: the stack's) keeps the file system of `spark_defaults` through Stop and Start.

Long-running calls answer an Operation at once (done = false) and finish it later, done with the
response or with an error, after `operation_seconds` (cluster calls) or when the job ends (Create
job). A job really runs: `spark-submit` in local mode with the job's main file, python files, files,
archives, jars, args and properties; the cluster's own Spark defaults (the Data Proc image's
spark-defaults: default file system = the test's HDFS, s3a = the Object Storage stand-in, the
image's Python) come from `ClusterRuntime`. Status PROVISIONING -> PENDING -> RUNNING -> DONE or
ERROR; ListLog pages through the driver's output (stdout and stderr of spark-submit).

Every call is recorded in `calls` (method, request as a dict, status code) before it is answered.

What it cannot prove: YARN scheduling, cluster-mode drivers, the image's own packages, IAM role
checks (any holder of the token may do anything), quotas, and the exact texts of the real service's
errors.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import grpc
from google.protobuf import any_pb2, descriptor, duration_pb2, empty_pb2, timestamp_pb2
from google.protobuf.json_format import MessageToDict
from google.rpc import code_pb2, status_pb2

from yandex.cloud import validation_pb2 as rules
from yandex.cloud.dataproc.v1 import cluster_pb2, cluster_service_pb2, cluster_service_pb2_grpc
from yandex.cloud.dataproc.v1 import job_pb2, job_service_pb2, job_service_pb2_grpc
from yandex.cloud.endpoint import api_endpoint_pb2, api_endpoint_service_pb2, api_endpoint_service_pb2_grpc
from yandex.cloud.operation import operation_pb2, operation_service_pb2, operation_service_pb2_grpc

from standins import LOOPBACK, CloudApiStandIn, issue_loopback_tls

# The service ids the SDK looks up in the discovery answer (yandexcloud/_sdk.py `_supported_modules`,
# and "iam", which the SDK's credentials plugin opens a channel to); all are served here.
ENDPOINT_IDS = ("endpoint", "dataproc", "operation", "iam")
UNAUTHENTICATED_METHODS = ("yandex.cloud.endpoint.ApiEndpointService",)
# The subject every call is made as: the service account whose token the metadata stand-in issues.
CALLER_ID = "ajestandinserviceacc"
# Job log page when the request asks for none (the API caps page_size at 1 MiB).
DEFAULT_LOG_PAGE = 1 << 20


class Refused(Exception):
    """A call refused with a gRPC status (raised inside a handler, turned into context.abort)."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------
# request rules from the descriptors' yandex.cloud.validation options

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BOUND = re.compile(r"^(<=|<|>=|>)?\s*(-?\d+(?:\.\d+)?)([smhd]?)$")
_RANGE = re.compile(r"^(-?\d+(?:\.\d+)?)([smhd]?)-(-?\d+(?:\.\d+)?)([smhd]?)$")


def within(spec: str, number: float) -> bool:
    """Whether `number` satisfies a bound of the validation options: `<=N`, `<N`, `>=N`, `>N`,
    `N` (exactly), `A-B` (inclusive); N may carry a duration unit (s, m, h, d)."""
    spec = spec.strip()
    m = _RANGE.match(spec)
    if m:
        return float(m.group(1)) * _UNITS[m.group(2)] <= number <= float(m.group(3)) * _UNITS[m.group(4)]
    m = _BOUND.match(spec)
    if not m:
        raise ValueError(f"unsupported validation bound {spec!r}")
    op, limit = m.group(1) or "==", float(m.group(2)) * _UNITS[m.group(3)]
    return {"<=": number <= limit, "<": number < limit, ">=": number >= limit, ">": number > limit,
            "==": number == limit}[op]


def _option(field_descriptor: descriptor.FieldDescriptor, ext) -> Any:
    options = field_descriptor.GetOptions()
    return options.Extensions[ext] if options.HasExtension(ext) else None


def _scalar_problems(path: str, value: Any, fd: descriptor.FieldDescriptor) -> list[str]:
    problems = []
    pattern, length, bound = _option(fd, rules.pattern), _option(fd, rules.length), _option(fd, rules.value)
    if isinstance(value, str):
        if pattern is not None and not re.fullmatch(pattern, value):
            problems.append(f"{path}: {value!r} does not match the pattern {pattern!r}")
        if length is not None and not within(length, len(value)):
            problems.append(f"{path}: length {len(value)} is not {length}")
    elif isinstance(value, duration_pb2.Duration):
        if bound is not None and not within(bound, value.ToTimedelta().total_seconds()):
            problems.append(f"{path}: {value.ToJsonString()} is not in {bound}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        # proto3 cannot tell 0 from unset: a bound is checked on a set value (or a required one)
        if bound is not None and (value != 0 or _option(fd, rules.required)) and not within(bound, value):
            problems.append(f"{path}: {value} is not {bound}")
    return problems


def request_problems(message, prefix: str = "") -> list[str]:
    """Every violation of the message's validation options, each naming the field path and rule."""
    problems: list[str] = []
    for oneof in message.DESCRIPTOR.oneofs:
        options = oneof.GetOptions()
        if options.HasExtension(rules.exactly_one) and options.Extensions[rules.exactly_one]:
            if message.WhichOneof(oneof.name) is None:
                names = ", ".join(f.name for f in oneof.fields)
                problems.append(f"{prefix}{oneof.name}: exactly one of {names} is required")
    for fd in message.DESCRIPTOR.fields:
        path = prefix + fd.name
        value = getattr(message, fd.name)
        repeated = fd.label == descriptor.FieldDescriptor.LABEL_REPEATED
        is_message = fd.type == descriptor.FieldDescriptor.TYPE_MESSAGE
        is_map = repeated and is_message and fd.message_type.GetOptions().map_entry
        if _option(fd, rules.required):
            if repeated:
                present = len(value) > 0
            elif is_message:
                present = message.HasField(fd.name)
            else:
                present = value not in ("", 0, b"", False)
            if not present:
                problems.append(f"{path}: required")
                continue
        size = _option(fd, rules.size)
        if repeated and size is not None and not within(size, len(value)):
            problems.append(f"{path}: {len(value)} items is not {size}")
        if is_map:
            key_spec = _option(fd, rules.map_key)
            value_fd = fd.message_type.fields_by_name["value"]
            for key, item in value.items():
                if key_spec is not None:
                    if key_spec.pattern and not re.fullmatch(key_spec.pattern, key):
                        problems.append(f"{path}: key {key!r} does not match the pattern {key_spec.pattern!r}")
                    if key_spec.length and not within(key_spec.length, len(key)):
                        problems.append(f"{path}: key {key!r} length is not {key_spec.length}")
                if value_fd.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
                    problems += request_problems(item, f"{path}[{key!r}].")
                else:  # the field's own pattern/length rules apply to each value
                    problems += _scalar_problems(f"{path}[{key!r}]", item, fd)
        elif repeated:
            for i, item in enumerate(value):
                if is_message:
                    problems += request_problems(item, f"{path}[{i}].")
                else:
                    problems += _scalar_problems(f"{path}[{i}]", item, fd)
        elif is_message:
            if message.HasField(fd.name):
                if isinstance(value, duration_pb2.Duration):
                    problems += _scalar_problems(path, value, fd)
                elif not fd.message_type.full_name.startswith("google.protobuf."):
                    problems += request_problems(value, f"{path}.")
        else:
            problems += _scalar_problems(path, value, fd)
    return problems


# ---------------------------------------------------------------------------------------------
# the "cluster": where its jobs run


@dataclass
class ClusterRuntime:
    """What a Data Proc node gives a job, on this machine: spark-submit (the image's Spark), the
    image's spark-defaults (`spark_defaults`: default file system, s3a endpoint and credentials, the
    Python with the cluster's pip packages, loopback binds) and environment (`env`). Jobs run in
    local mode (`master`); their driver output is kept under `work`."""

    spark_submit: str
    spark_defaults: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    master: str = "local[2]"
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dataproc-standin-")))
    # a created cluster's own HDFS: new_storage(cluster_id) starts it and returns its URI (the
    # cluster's fs.defaultFS), release_storage(cluster_id) ends it when the cluster is deleted
    new_storage: Callable[[str], str] | None = None
    release_storage: Callable[[str], None] | None = None
    default_fs: dict[str, str] = field(default_factory=dict)

    def cluster_created(self, cluster_id: str) -> None:
        if self.new_storage is not None:
            self.default_fs[cluster_id] = self.new_storage(cluster_id)

    def cluster_deleted(self, cluster_id: str) -> None:
        shutil.rmtree(self.work / "clusters" / cluster_id, ignore_errors=True)
        if self.default_fs.pop(cluster_id, None) is not None and self.release_storage is not None:
            self.release_storage(cluster_id)

    def conf_dir(self, cluster_id: str) -> Path:
        """SPARK_CONF_DIR of the cluster: its spark-defaults.conf (as /etc/spark/conf on a node)."""
        d = self.work / "clusters" / cluster_id / "spark-conf"
        if not (d / "spark-defaults.conf").exists():
            d.mkdir(parents=True, exist_ok=True)
            conf = {"spark.master": self.master, **self.spark_defaults}
            if cluster_id in self.default_fs:
                conf["spark.hadoop.fs.defaultFS"] = self.default_fs[cluster_id]
            lines = [f"{k} {v}" for k, v in sorted(conf.items())]
            (d / "spark-defaults.conf").write_text("\n".join(lines) + "\n")
        return d

    def command(self, job: job_pb2.PysparkJob, name: str) -> list[str]:
        argv = [self.spark_submit, "--name", name]
        for flag, uris in (("--py-files", job.python_file_uris), ("--files", job.file_uris),
                           ("--archives", job.archive_uris), ("--jars", job.jar_file_uris),
                           ("--packages", job.packages), ("--repositories", job.repositories),
                           ("--exclude-packages", job.exclude_packages)):
            if uris:
                argv += [flag, ",".join(uris)]
        for key, value in sorted(job.properties.items()):
            argv += ["--conf", f"{key}={value}"]
        return argv + [job.main_python_file_uri, *job.args]


# ---------------------------------------------------------------------------------------------


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def _new_id(prefix: str) -> str:
    """An id shaped like Yandex Cloud's: 3-letter prefix + 17 lowercase letters/digits (20 in all)."""
    alphabet = "abcdefghijklmnopqrstuv0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(17))


def _pack(message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


@dataclass
class Call:
    method: str
    request: dict
    code: str = "OK"


class DataprocApiStandIn:
    """The gRPC stand-in (see the module doc). `metadata` is the metadata stand-in whose token this
    server accepts; `folders` the folder ids that exist; `runtime` runs the jobs."""

    def __init__(self, metadata: CloudApiStandIn, runtime: ClusterRuntime, folders: tuple[str, ...],
                 operation_seconds: float = 0.5, job_pending_seconds: float = 0.2):
        self.metadata = metadata
        self.runtime = runtime
        self.folders = set(folders)
        self.operation_seconds = operation_seconds
        self.job_pending_seconds = job_pending_seconds
        self.calls: list[Call] = []
        # a Create whose name starts with this prefix ends in an error, its cluster left in ERROR
        # (a creation that failed half way, e.g. for a quota): set by a test
        self.fail_creates_named: str | None = None
        self.clusters: dict[str, cluster_pb2.Cluster] = {}
        self.jobs: dict[str, job_pb2.Job] = {}
        # every status each job went through, by name, in order (PROVISIONING ... DONE | ERROR)
        self.job_statuses: dict[str, list[str]] = {}
        self.operations: dict[str, operation_pb2.Operation] = {}
        self._logs: dict[str, Path] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.tls_dir = Path(tempfile.mkdtemp(prefix="yc-api-standin-tls-"))
        self.ca_file, cert, key = issue_loopback_tls(self.tls_dir, "Yandex Cloud API stand-in CA")
        self._credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])

    # ----- state a test sets up

    def add_cluster(self, cluster_id: str, folder_id: str, name: str,
                    status: int = cluster_pb2.Cluster.RUNNING, **fields: Any) -> cluster_pb2.Cluster:
        """A cluster that exists before the test (the one the stack created)."""
        cluster = cluster_pb2.Cluster(id=cluster_id, folder_id=folder_id, name=name, status=status,
                                      created_at=_now(), **fields)
        with self._lock:
            self.folders.add(folder_id)
            self.clusters[cluster_id] = cluster
        return cluster

    def calls_of(self, method: str) -> list[Call]:
        """The recorded calls of one method, e.g. "dataproc.v1.JobService/Create"."""
        return [c for c in self.calls if c.method.endswith(method)]

    def driver_output(self, job_id: str) -> str:
        return self._logs[job_id].read_text(errors="replace") if job_id in self._logs else ""

    # ----- server

    def start(self) -> "DataprocApiStandIn":
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        api_endpoint_service_pb2_grpc.add_ApiEndpointServiceServicer_to_server(_Endpoints(self), self.server)
        cluster_service_pb2_grpc.add_ClusterServiceServicer_to_server(_Clusters(self), self.server)
        job_service_pb2_grpc.add_JobServiceServicer_to_server(_Jobs(self), self.server)
        operation_service_pb2_grpc.add_OperationServiceServicer_to_server(_Operations(self), self.server)
        self.port = self.server.add_secure_port(f"{LOOPBACK}:0", self._credentials)
        self.address = f"{LOOPBACK}:{self.port}"
        self.server.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:  # each job runs in its own process group (spark-submit, JVM, python)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.server.stop(grace=1).wait()
        for t in self._threads:
            t.join(timeout=30)
        for cluster_id in list(self.runtime.default_fs):  # the created clusters' HDFS
            self.runtime.cluster_deleted(cluster_id)
        shutil.rmtree(self.tls_dir, ignore_errors=True)

    # ----- the frame of every handler: record, authenticate, validate, answer or abort

    def handle(self, method: str, request, context, body: Callable[[], Any]):
        call = Call(method, MessageToDict(request, preserving_proto_field_name=True))
        with self._lock:
            self.calls.append(call)
        try:
            if not method.startswith(UNAUTHENTICATED_METHODS):
                auth = dict(context.invocation_metadata()).get("authorization", "")
                refused = self.metadata.check_bearer(auth)
                if refused == "UNAUTHENTICATED":
                    raise Refused(grpc.StatusCode.UNAUTHENTICATED, "Token is invalid or has expired.")
                if refused:
                    raise Refused(grpc.StatusCode.PERMISSION_DENIED, "Permission denied")
            problems = request_problems(request)
            if problems:
                raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "Request validation error: " + "; ".join(problems))
            return body()
        except Refused as refusal:
            call.code = refusal.code.name
            context.abort(refusal.code, refusal.message)

    # ----- operations

    def operation(self, description: str, metadata, work: Callable[[], Any], delay: float | None = None):
        """A new Operation (done = false) whose `work` runs in the background after `delay`; it ends
        done with work's response, or with an error when work raises Refused."""
        op = operation_pb2.Operation(id=_new_id("c9q"), description=description, created_at=_now(),
                                     created_by=CALLER_ID, modified_at=_now(), done=False,
                                     metadata=_pack(metadata))
        with self._lock:
            self.operations[op.id] = op

        def finish():
            time.sleep(self.operation_seconds if delay is None else delay)
            try:
                result = work()
                outcome = {"response": _pack(result if result is not None else empty_pb2.Empty())}
            except Refused as refusal:
                outcome = {"error": status_pb2.Status(code=getattr(code_pb2, refusal.code.name),
                                                      message=refusal.message)}
            except Exception as crash:  # the stand-in's own fault: end the operation, never leave it running
                outcome = {"error": status_pb2.Status(code=code_pb2.INTERNAL,
                                                      message=f"API stand-in: {type(crash).__name__}: {crash}")}
            with self._lock:
                done = self.operations[op.id]
                for key, value in outcome.items():
                    getattr(done, key).CopyFrom(value)
                done.done = True
                done.modified_at.CopyFrom(_now())

        t = threading.Thread(target=finish, daemon=True, name=f"op-{op.id}")
        self._threads.append(t)
        t.start()
        return op

    # ----- clusters

    def cluster(self, cluster_id: str) -> cluster_pb2.Cluster:
        with self._lock:
            cluster = self.clusters.get(cluster_id)
            if cluster is None:
                raise Refused(grpc.StatusCode.NOT_FOUND, f"Cluster {cluster_id} not found")
            return cluster

    def snapshot(self, cluster_id: str) -> cluster_pb2.Cluster:
        """A copy of the cluster as it is now (answers never share the stand-in's state)."""
        with self._lock:
            return cluster_pb2.Cluster.FromString(self.cluster(cluster_id).SerializeToString())

    def set_status(self, cluster_id: str, status: int) -> cluster_pb2.Cluster:
        with self._lock:
            self.cluster(cluster_id).status = status
            return self.snapshot(cluster_id)

    # ----- jobs

    def _set_job_status(self, job: job_pb2.Job, status: int) -> None:
        with self._lock:
            job.status = status
            self.job_statuses.setdefault(job.id, []).append(job_pb2.Job.Status.Name(status))

    def run_job(self, job_id: str) -> job_pb2.Job:
        """PROVISIONING -> PENDING -> RUNNING (spark-submit) -> DONE | ERROR; the operation's work."""
        time.sleep(self.job_pending_seconds)
        with self._lock:
            job = self.jobs[job_id]
            self._set_job_status(job, job_pb2.Job.PENDING)
        time.sleep(self.job_pending_seconds)
        if self._stopping:
            raise Refused(grpc.StatusCode.CANCELLED, "the API stand-in is stopping")
        log_path = self.runtime.work / "jobs" / f"{job_id}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(self.runtime.env, SPARK_CONF_DIR=str(self.runtime.conf_dir(job.cluster_id)))
        with self._lock:
            self._set_job_status(job, job_pb2.Job.RUNNING)
            job.started_at.CopyFrom(_now())
            self._logs[job_id] = log_path
            command = self.runtime.command(job.pyspark_job, job.name or job_id)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=log_path.parent, start_new_session=True)
            with self._lock:
                self._procs[job_id] = proc
            rc = proc.wait()
        with self._lock:
            self._procs.pop(job_id, None)
            self._set_job_status(job, job_pb2.Job.DONE if rc == 0 else job_pb2.Job.ERROR)
            job.finished_at.CopyFrom(_now())
            if rc != 0:
                raise Refused(grpc.StatusCode.UNKNOWN, f"Job {job_id} failed: the driver exited with code {rc}")
            return job_pb2.Job.FromString(job.SerializeToString())


# ---------------------------------------------------------------------------------------------
# the servicers (the package's generated base classes; what they do not override is UNIMPLEMENTED)


# ListClustersRequest.filter: "the field name (only name), an `=` operator, the value in double
# quotes" (the field's documentation in the generated service definitions)
_NAME_FILTER = re.compile(r'\s*name\s*=\s*"([a-z][-a-z0-9]{1,61}[a-z0-9])"\s*')


def _name_filter(expression: str) -> str | None:
    """The cluster name a List filter asks for; None for no filter."""
    if not expression:
        return None
    m = _NAME_FILTER.fullmatch(expression)
    if not m:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT,
                      f'Request validation error: filter: {expression!r} is not name = "<cluster name>"')
    return m.group(1)


class _Endpoints(api_endpoint_service_pb2_grpc.ApiEndpointServiceServicer):
    def __init__(self, api: DataprocApiStandIn):
        self.api = api

    def _all(self):
        return [api_endpoint_pb2.ApiEndpoint(id=i, address=self.api.address) for i in ENDPOINT_IDS]

    def List(self, request, context):
        return self.api.handle("yandex.cloud.endpoint.ApiEndpointService/List", request, context,
                               lambda: api_endpoint_service_pb2.ListApiEndpointsResponse(endpoints=self._all()))

    def Get(self, request, context):
        def body():
            found = [e for e in self._all() if e.id == request.api_endpoint_id]
            if not found:
                raise Refused(grpc.StatusCode.NOT_FOUND, f"Endpoint {request.api_endpoint_id} not found")
            return found[0]
        return self.api.handle("yandex.cloud.endpoint.ApiEndpointService/Get", request, context, body)


class _Clusters(cluster_service_pb2_grpc.ClusterServiceServicer):
    NAME = "yandex.cloud.dataproc.v1.ClusterService/"

    def __init__(self, api: DataprocApiStandIn):
        self.api = api

    def Get(self, request, context):
        return self.api.handle(self.NAME + "Get", request, context, lambda: self.api.snapshot(request.cluster_id))

    def List(self, request, context):
        def body():
            if request.folder_id not in self.api.folders:
                raise Refused(grpc.StatusCode.NOT_FOUND, f"Folder {request.folder_id} not found")
            name = _name_filter(request.filter)
            with self.api._lock:
                found = [c for c in self.api.clusters.values()
                         if c.folder_id == request.folder_id and name in (None, c.name)]
            return cluster_service_pb2.ListClustersResponse(clusters=found)
        return self.api.handle(self.NAME + "List", request, context, body)

    def Create(self, request, context):
        def body():
            api = self.api
            if request.folder_id not in api.folders:
                raise Refused(grpc.StatusCode.NOT_FOUND, f"Folder {request.folder_id} not found")
            with api._lock:
                if any(c.folder_id == request.folder_id and c.name == request.name for c in api.clusters.values()):
                    raise Refused(grpc.StatusCode.ALREADY_EXISTS,
                                  f"Cluster with name {request.name} already exists in folder {request.folder_id}")
                cluster_id = _new_id("c9q")
                spec = request.config_spec
                cluster = api.add_cluster(
                    cluster_id, request.folder_id, request.name, status=cluster_pb2.Cluster.CREATING,
                    description=request.description, labels=dict(request.labels), zone_id=request.zone_id,
                    service_account_id=request.service_account_id, bucket=request.bucket,
                    ui_proxy=request.ui_proxy, security_group_ids=list(request.security_group_ids),
                    deletion_protection=request.deletion_protection,
                    config=cluster_pb2.ClusterConfig(version_id=spec.version_id, hadoop=spec.hadoop))

            def finish():
                if api.fail_creates_named and request.name.startswith(api.fail_creates_named):
                    api.set_status(cluster_id, cluster_pb2.Cluster.ERROR)
                    raise Refused(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                  f"Cluster {cluster_id} creation failed: quota exceeded (stand-in failure)")
                api.runtime.cluster_created(cluster_id)  # its HDFS is up before it is RUNNING
                return api.set_status(cluster_id, cluster_pb2.Cluster.RUNNING)
            return api.operation("Create Data Proc cluster", cluster_service_pb2.CreateClusterMetadata(cluster_id=cluster.id),
                                 finish)
        return self.api.handle(self.NAME + "Create", request, context, body)

    def Delete(self, request, context):
        def body():
            api = self.api
            cluster = api.cluster(request.cluster_id)
            if cluster.deletion_protection:
                raise Refused(grpc.StatusCode.FAILED_PRECONDITION,
                              f"Cluster {request.cluster_id} has deletion protection")

            def delete():
                with api._lock:
                    api.clusters.pop(request.cluster_id, None)
                api.runtime.cluster_deleted(request.cluster_id)
            return api.operation("Delete Data Proc cluster", cluster_service_pb2.DeleteClusterMetadata(cluster_id=cluster.id), delete)
        return self.api.handle(self.NAME + "Delete", request, context, body)

    def _transition(self, request, context, verb: str, want: int, during: int, after: int, meta):
        def body():
            api = self.api
            with api._lock:
                cluster = api.cluster(request.cluster_id)
                if cluster.status != want:
                    raise Refused(grpc.StatusCode.FAILED_PRECONDITION,
                                  f"Cluster {request.cluster_id} is {cluster_pb2.Cluster.Status.Name(cluster.status)}; "
                                  f"{verb} needs it {cluster_pb2.Cluster.Status.Name(want)}")
                cluster.status = during
            return api.operation(f"{verb} Data Proc cluster", meta(cluster_id=request.cluster_id),
                                 lambda: api.set_status(request.cluster_id, after))
        return self.api.handle(self.NAME + verb, request, context, body)

    def Start(self, request, context):
        C = cluster_pb2.Cluster
        return self._transition(request, context, "Start", C.STOPPED, C.STARTING, C.RUNNING,
                                cluster_service_pb2.StartClusterMetadata)

    def Stop(self, request, context):
        C = cluster_pb2.Cluster
        return self._transition(request, context, "Stop", C.RUNNING, C.STOPPING, C.STOPPED,
                                cluster_service_pb2.StopClusterMetadata)


class _Jobs(job_service_pb2_grpc.JobServiceServicer):
    NAME = "yandex.cloud.dataproc.v1.JobService/"

    def __init__(self, api: DataprocApiStandIn):
        self.api = api

    def _job(self, cluster_id: str, job_id: str) -> job_pb2.Job:
        self.api.cluster(cluster_id)
        with self.api._lock:
            job = self.api.jobs.get(job_id)
            if job is None or job.cluster_id != cluster_id:
                raise Refused(grpc.StatusCode.NOT_FOUND, f"Job {job_id} not found in cluster {cluster_id}")
            return job_pb2.Job.FromString(job.SerializeToString())

    def Create(self, request, context):
        def body():
            api = self.api
            with api._lock:
                cluster = api.cluster(request.cluster_id)
                if cluster.status != cluster_pb2.Cluster.RUNNING:
                    raise Refused(grpc.StatusCode.FAILED_PRECONDITION,
                                  f"Cluster {request.cluster_id} is {cluster_pb2.Cluster.Status.Name(cluster.status)}, "
                                  "jobs run only on a RUNNING cluster")
                if request.WhichOneof("job_spec") != "pyspark_job":
                    raise Refused(grpc.StatusCode.UNIMPLEMENTED, "the API stand-in runs PySpark jobs only")
                job = job_pb2.Job(id=_new_id("c9q"), cluster_id=request.cluster_id, name=request.name,
                                  created_at=_now(), created_by=CALLER_ID,
                                  pyspark_job=request.pyspark_job)
                api._set_job_status(job, job_pb2.Job.PROVISIONING)
                api.jobs[job.id] = job
            return api.operation("Create Data Proc job",
                                 job_service_pb2.CreateJobMetadata(cluster_id=job.cluster_id, job_id=job.id),
                                 lambda: api.run_job(job.id), delay=0)
        return self.api.handle(self.NAME + "Create", request, context, body)

    def Get(self, request, context):
        return self.api.handle(self.NAME + "Get", request, context,
                               lambda: self._job(request.cluster_id, request.job_id))

    def List(self, request, context):
        def body():
            self.api.cluster(request.cluster_id)
            with self.api._lock:
                jobs = [j for j in self.api.jobs.values() if j.cluster_id == request.cluster_id]
            return job_service_pb2.ListJobsResponse(jobs=jobs)
        return self.api.handle(self.NAME + "List", request, context, body)

    def ListLog(self, request, context):
        def body():
            self._job(request.cluster_id, request.job_id)
            text = self.api.driver_output(request.job_id)
            start = int(request.page_token) if request.page_token.isdigit() else 0
            end = start + (request.page_size or DEFAULT_LOG_PAGE)
            return job_service_pb2.ListJobLogResponse(
                content=text[start:end], next_page_token=str(end) if end < len(text) else "")
        return self.api.handle(self.NAME + "ListLog", request, context, body)


class _Operations(operation_service_pb2_grpc.OperationServiceServicer):
    def __init__(self, api: DataprocApiStandIn):
        self.api = api

    def Get(self, request, context):
        def body():
            with self.api._lock:
                op = self.api.operations.get(request.operation_id)
                if op is None:
                    raise Refused(grpc.StatusCode.NOT_FOUND, f"Operation {request.operation_id} not found")
                return operation_pb2.Operation.FromString(op.SerializeToString())
        return self.api.handle("yandex.cloud.operation.OperationService/Get", request, context, body)
