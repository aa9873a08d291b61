"""The fraud pipeline's Airflow DAG: seven PySpark steps, one logical date per run.

generate -> save_to_hdfs -> preprocess -> [train_lr, train_rf] -> bootstrap -> compare

Every setting comes from ONE place: the JSON file named by $FRAUD_PIPELINE_CONFIG (written by the
cloud stack on the Airflow VM, or by scripts/demo/demo.sh locally), read with PipelineConfig.load. Parsing
this file touches no network, no Airflow Variable and no connection: operators only resolve their
connections when a task runs.

The backend (config key "backend") decides how a step runs; the task graph is the same for all:
  dataproc  a Data Proc PySpark job through the Data Proc API (apache-airflow-providers-yandex);
            credentials come from the Airflow VM's service account via the metadata service
  ssh       spark-submit on the Data Proc master node over an SSH connection (the seed's way)
  local     spark-submit --master local[*] on this machine (the demo and the tests)

Each task passes the run's logical date (`{{ ds }}`) as --date; the jobs replace that date's outputs,
so re-running a date gives the same result and never duplicates data.

On the dataproc backend the config key "cluster_lifecycle" adds Airflow setup/teardown tasks around
the steps (the steps' graph stays the same):
  always-on          none: the stack's cluster runs all the time
  stop-between-runs  start_cluster (setup) -> steps -> stop_cluster (teardown) -> cluster_released
  per-run            create_cluster (setup) -> steps -> delete_cluster (teardown) -> cluster_released
The teardown runs after the last step whatever happened (a failed step, even a failed setup), and
Airflow leaves it out of the run's state, so its success never hides a failed step; cluster_released
then checks that no running cluster is left (a teardown that could not stop or delete the cluster
fails the run through it).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import shlex
import sys
from pathlib import Path
from typing import Any, Mapping

from airflow.sdk import DAG, TriggerRule

DAG_ID = "fraud_pipeline"
# Fixed and in the past: with catchup off the scheduler only runs the latest interval.
START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
# entry_args() validates its date; the DAG calls it with this stand-in date, then puts the
# template in its place so the date is rendered per run.
_PLACEHOLDER_DATE = "1970-01-01"
DATE_TEMPLATE = "{{ ds }}"

STEP_DOCS = {
    "generate": "Land the simulated transactions the run needs: its days and their feature history.",
    "save_to_hdfs": "Validate the new or changed landed days and copy them into the data root.",
    "preprocess": "Build the time, customer and terminal-risk features of the days not yet computed.",
    "train_lr": "Tune and train logistic regression; test on the test week; log all to MLflow.",
    "train_rf": "Tune and train random forest; test on the test week; log all to MLflow.",
    "bootstrap": "Joint counts of both models' test predictions; bootstrap F1 CIs per model.",
    "compare": "Paired F1 difference, its CI and test; verdict, report, figure, champion alias.",
}


def _load_spec():
    """The step contract (pipeline_spec.py), wherever it sits.

    On the Airflow VM the cloud stack puts it next to this file; in the repo it is
    ../fraud_jobs/pipeline_spec.py. It is loaded by file path, so the rest of the fraud_jobs
    package (pyspark, numpy) is never imported by the scheduler.
    """
    name = "fraud_pipeline_spec"
    if name in sys.modules:
        return sys.modules[name]
    here = Path(__file__).resolve().parent
    for candidate in (here / "pipeline_spec.py", here.parent / "fraud_jobs" / "pipeline_spec.py"):
        if candidate.is_file():
            spec = importlib.util.spec_from_file_location(name, candidate)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses look their module up while it loads
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            return module
    try:
        from fraud_jobs import pipeline_spec  # an installed fraud_jobs package
    except ImportError:
        raise ImportError(
            f"pipeline_spec.py not found next to {__file__} nor in ../fraud_jobs/"
        ) from None
    return pipeline_spec


spec = _load_spec()
PipelineConfig = spec.PipelineConfig
STEPS = spec.STEPS
UPSTREAM = spec.UPSTREAM


def templated_args(step: str, cfg: Any) -> list[str]:
    """The entry script's arguments for a step (its name, then its CLI) with the logical date left
    as the `{{ ds }}` template."""
    args = spec.entry_args(step, cfg, _PLACEHOLDER_DATE)
    out = list(args)
    for i, token in enumerate(args[:-1]):
        if token == "--date" and args[i + 1] == _PLACEHOLDER_DATE:
            out[i + 1] = DATE_TEMPLATE
    if _PLACEHOLDER_DATE in out:
        raise ValueError(f"step {step!r}: the date appears in its arguments outside --date: {args}")
    return out


def _jobs_location(cfg: Any) -> str:
    jobs = cfg.jobs_uri.strip().rstrip("/")
    if not jobs:
        raise ValueError(
            "config jobs_uri is empty: set it to the folder (local/ssh) or bucket URI (dataproc) "
            f"holding {spec.ENTRY_SCRIPT} and fraud_jobs.zip"
        )
    return jobs


def _local_path(uri: str) -> str:
    """file:///x -> /x for spark-submit on this machine; plain paths pass through."""
    return uri[len("file://"):] if uri.startswith("file://") else uri


def spark_submit_command(step: str, cfg: Any, *, master: str | None, jobs: str,
                         env: Mapping[str, str]) -> str:
    """The shell command that runs one step with spark-submit (local and ssh backends)."""
    argv: list[str] = []
    if env:
        argv += ["env", *(f"{k}={v}" for k, v in sorted(env.items()))]
    argv += [cfg.spark_submit]
    if master:
        argv += ["--master", master]
    argv += ["--name", spec.job_name(step), "--py-files", f"{jobs}/fraud_jobs.zip"]
    for key, value in sorted(cfg.spark_properties.items()):
        argv += ["--conf", f"{key}={value}"]
    argv += [f"{jobs}/{spec.ENTRY_SCRIPT}", *templated_args(step, cfg)]
    # `{{ ds }}` survives quoting (it is inside single quotes) and is rendered to a plain date.
    return " ".join(shlex.quote(token) for token in argv)


# How much of a failed Data Proc job's driver output goes into its task log.
DRIVER_OUTPUT_TAIL_LINES = 80


def _pyspark_job_operator_class():
    """DataprocCreatePysparkJobOperator with `args` templated (upstream only templates cluster_id),
    and a failed job made readable: the provider raises the operation's error, which does not carry
    what the job printed, so the job's driver output (JobService.ListLog) goes into the task log and
    the job's own `error: ...` line becomes the task's error."""
    from airflow.providers.yandex.operators.dataproc import DataprocCreatePysparkJobOperator
    from airflow.sdk.exceptions import AirflowException
    from yandex.cloud.dataproc.v1.job_service_pb2 import ListJobLogRequest
    from yandex.cloud.dataproc.v1.job_service_pb2_grpc import JobServiceStub
    from yandexcloud.operations import OperationError

    class FraudPysparkJobOperator(DataprocCreatePysparkJobOperator):
        template_fields = (*DataprocCreatePysparkJobOperator.template_fields, "args")

        def _setup(self, context):
            self._hook = super()._setup(context)
            return self._hook

        def _driver_output(self, cluster_id: str, job_id: str) -> str:
            jobs = self._hook.sdk.client(JobServiceStub)
            parts, pages = [], [ListJobLogRequest(cluster_id=cluster_id, job_id=job_id)]
            for request in pages:  # pages of up to 1 MiB, each naming the next
                page = jobs.ListLog(request)
                parts.append(page.content)
                nxt = page.next_page_token
                if nxt and len(pages) < 1000:  # a bound no real log reaches
                    pages.append(ListJobLogRequest(cluster_id=cluster_id, job_id=job_id, page_token=nxt))
            return "".join(parts)

        def execute(self, context):
            try:
                return super().execute(context)
            except OperationError as err:
                job_id = getattr(err.operation_result.meta, "job_id", "")
                if not job_id:
                    raise
                try:
                    lines = self._driver_output(self.cluster_id, job_id).splitlines()
                except Exception as log_err:  # the failure itself matters more than its log
                    self.log.warning("could not read the driver output of job %s: %s", job_id, log_err)
                    raise err from None
                self.log.error("Data Proc job %s (%s) failed; the last %d lines of its driver output:\n%s",
                               job_id, self.name, DRIVER_OUTPUT_TAIL_LINES,
                               "\n".join(lines[-DRIVER_OUTPUT_TAIL_LINES:]))
                errors = [line for line in lines if line.startswith(spec.JOB_ERROR_PREFIX)]
                raise AirflowException(
                    f"Data Proc job {job_id} ({self.name}) failed: {errors[-1] if errors else err.message}"
                ) from None

    return FraudPysparkJobOperator


# The tasks around the steps on the dataproc backend (see the module doc).
START_TASK, STOP_TASK = "start_cluster", "stop_cluster"
CREATE_TASK, DELETE_TASK = "create_cluster", "delete_cluster"
RELEASED_TASK = "cluster_released"
# How often a task waiting for a cluster's transition (creating, starting, stopping) looks again.
CLUSTER_POLL_SECONDS = 10
# Start/Stop requests a task sends before it gives up on a cluster that does not change state.
CLUSTER_ACTION_ATTEMPTS = 3


def _lifecycle_operator_classes():
    """The operators of the cluster's lifecycle (dataproc backend), built on first use like the job
    operator: the provider is imported only by a DAG that needs it.

    Start/Stop go through the provider hook's SDK (the provider has no operator for them); create and
    delete are the provider's DataprocCreateClusterOperator / DataprocDeleteClusterOperator. A
    per-run cluster is found by its name (pipeline_spec.cluster_name_for_run of the run id), never by
    XCom, so the teardown also deletes a cluster whose creation failed half way."""
    import time

    from airflow.providers.yandex.hooks.dataproc import DataprocHook
    from airflow.providers.yandex.operators.dataproc import (
        DataprocCreateClusterOperator,
        DataprocDeleteClusterOperator,
    )
    from airflow.sdk import BaseOperator
    from airflow.sdk.exceptions import AirflowException
    from yandex.cloud.dataproc.v1.cluster_pb2 import Cluster
    from yandex.cloud.dataproc.v1.cluster_service_pb2 import GetClusterRequest, ListClustersRequest
    from yandex.cloud.dataproc.v1.cluster_service_pb2_grpc import ClusterServiceStub

    transitional = {Cluster.CREATING, Cluster.STARTING, Cluster.STOPPING}

    def status_name(cluster) -> str:
        return Cluster.Status.Name(cluster.status)

    def get(hook, cluster_id: str):
        return hook.sdk.client(ClusterServiceStub).Get(GetClusterRequest(cluster_id=cluster_id))

    def find(hook, folder_id: str, name: str):
        """The cluster of that name in the folder, or None (names are unique in a folder)."""
        found = hook.sdk.client(ClusterServiceStub).List(
            ListClustersRequest(folder_id=folder_id, filter=f'name = "{name}"')).clusters
        return found[0] if found else None

    def settle(task, hook, cluster):
        """Wait while the cluster is creating, starting or stopping; the cluster as it is then."""
        while cluster.status in transitional:
            task.log.info("cluster %s (%s) is %s; looking again in %d s", cluster.id, cluster.name,
                          status_name(cluster), task.poll_seconds)
            time.sleep(task.poll_seconds)
            cluster = get(hook, cluster.id)
        return cluster

    class ClusterStateOperator(BaseOperator):
        """Brings the stack's cluster to RUNNING (start_cluster) or STOPPED (stop_cluster) through
        ClusterService.Start/Stop and returns when it is there; a cluster already there is left
        alone, one in transition is waited for, one in ERROR fails the task naming it."""

        template_fields = ("cluster_id",)

        def __init__(self, *, cluster_id: str, connection_id: str, want: str,
                     poll_seconds: int = CLUSTER_POLL_SECONDS, **kwargs):
            super().__init__(**kwargs)
            if want not in ("RUNNING", "STOPPED"):
                raise ValueError(f"want must be RUNNING or STOPPED, got {want!r}")
            self.cluster_id, self.connection_id, self.want = cluster_id, connection_id, want
            self.poll_seconds = poll_seconds

        def execute(self, context):
            hook = DataprocHook(yandex_conn_id=self.connection_id)
            for _ in range(CLUSTER_ACTION_ATTEMPTS):
                cluster = settle(self, hook, get(hook, self.cluster_id))
                status = status_name(cluster)
                if status == self.want:
                    self.log.info("cluster %s (%s) is %s", cluster.id, cluster.name, status)
                    return status
                if (status, self.want) == ("STOPPED", "RUNNING"):
                    self.log.info("starting cluster %s (%s)", cluster.id, cluster.name)
                    hook.dataproc_client.start_cluster(cluster.id)
                elif (status, self.want) == ("RUNNING", "STOPPED"):
                    self.log.info("stopping cluster %s (%s)", cluster.id, cluster.name)
                    hook.dataproc_client.stop_cluster(cluster.id)
                else:
                    raise AirflowException(f"cluster {cluster.id} ({cluster.name}) is {status}: it cannot be "
                                           f"brought to {self.want}; see it in the Data Proc console")
            raise AirflowException(f"cluster {self.cluster_id} is {status_name(get(hook, self.cluster_id))} after "
                                   f"{CLUSTER_ACTION_ATTEMPTS} requests to make it {self.want}")

    class RunClusterCreateOperator(DataprocCreateClusterOperator):
        """DataprocCreateClusterOperator for this run's cluster: the name comes from the run id
        (not known when the DAG is parsed). A retry finds the cluster an earlier attempt made:
        RUNNING, it is used; otherwise it is deleted and created again."""

        def __init__(self, *, name_prefix: str, **kwargs):
            super().__init__(**kwargs)
            self.name_prefix = name_prefix

        def execute(self, context):
            self.cluster_name = spec.cluster_name_for_run(self.name_prefix, context["run_id"])
            hook = DataprocHook(yandex_conn_id=self.yandex_conn_id)
            earlier = find(hook, self.folder_id, self.cluster_name)
            if earlier is not None:
                earlier = settle(self, hook, earlier)
                if earlier.status == Cluster.RUNNING:
                    self.log.info("cluster %s (%s) of this run exists and is RUNNING: using it",
                                  earlier.id, earlier.name)
                    return earlier.id
                self.log.warning("cluster %s (%s) of this run is %s: deleting it to create it again",
                                 earlier.id, earlier.name, status_name(earlier))
                hook.dataproc_client.delete_cluster(earlier.id)
            return super().execute(context)

        @property
        def poll_seconds(self) -> int:
            return CLUSTER_POLL_SECONDS

    class RunClusterDeleteOperator(DataprocDeleteClusterOperator):
        """DataprocDeleteClusterOperator for this run's cluster, found by its name: nothing to do
        when there is none (its creation never started)."""

        def __init__(self, *, name_prefix: str, folder_id: str, poll_seconds: int = CLUSTER_POLL_SECONDS,
                     **kwargs):
            super().__init__(**kwargs)
            self.name_prefix, self.folder_id, self.poll_seconds = name_prefix, folder_id, poll_seconds

        def execute(self, context):
            name = spec.cluster_name_for_run(self.name_prefix, context["run_id"])
            hook = DataprocHook(yandex_conn_id=self.yandex_conn_id)
            cluster = find(hook, self.folder_id, name)
            if cluster is None:
                self.log.info("no cluster %s in folder %s: nothing to delete", name, self.folder_id)
                return
            cluster = settle(self, hook, cluster)
            self.log.info("deleting cluster %s (%s), %s", cluster.id, name, status_name(cluster))
            self.cluster_id = cluster.id
            super().execute(context)

    class ClusterReleasedOperator(BaseOperator):
        """After the teardown: fails the run if a cluster of this DAG is still running (the
        teardown could not stop or delete it: it is billed by the hour until someone does)."""

        template_fields = ("cluster_id",)

        def __init__(self, *, connection_id: str, cluster_id: str = "", name_prefix: str = "",
                     folder_id: str = "", **kwargs):
            super().__init__(**kwargs)
            self.connection_id, self.cluster_id = connection_id, cluster_id
            self.name_prefix, self.folder_id = name_prefix, folder_id

        def execute(self, context):
            hook = DataprocHook(yandex_conn_id=self.connection_id)
            if self.cluster_id:  # the stack's cluster: it must be STOPPED
                cluster = get(hook, self.cluster_id)
                if cluster.status != Cluster.STOPPED:
                    raise AirflowException(f"cluster {cluster.id} ({cluster.name}) is {status_name(cluster)} after "
                                           "the run, not STOPPED: stop it (it is billed while it runs)")
                self.log.info("cluster %s (%s) is STOPPED", cluster.id, cluster.name)
                return
            name = spec.cluster_name_for_run(self.name_prefix, context["run_id"])
            cluster = find(hook, self.folder_id, name)
            if cluster is not None:
                raise AirflowException(f"cluster {cluster.id} ({name}) of this run still exists "
                                       f"({status_name(cluster)}): delete it (it is billed until then)")
            self.log.info("no cluster %s is left", name)

    return ClusterStateOperator, RunClusterCreateOperator, RunClusterDeleteOperator, ClusterReleasedOperator


def _lifecycle_tasks(cfg: Any):
    """(setup, teardown, released) around the steps for cfg's cluster lifecycle, or None (always-on
    and the other backends); also the cluster id the steps use (an XComArg for per-run)."""
    if cfg.backend != "dataproc" or cfg.cluster_lifecycle == "always-on":
        return None, cfg.dataproc_cluster_id
    state_op, create_op, delete_op, released_op = _lifecycle_operator_classes()
    conn = cfg.yandex_connection_id
    if cfg.cluster_lifecycle == "stop-between-runs":
        if not cfg.dataproc_cluster_id:
            raise ValueError("config dataproc_cluster_id is empty: stop-between-runs needs the stack's cluster")
        setup = state_op(task_id=START_TASK, cluster_id=cfg.dataproc_cluster_id, connection_id=conn, want="RUNNING",
                         doc_md="Start the stack's Data Proc cluster (Start) and wait until it is RUNNING.")
        teardown = state_op(task_id=STOP_TASK, cluster_id=cfg.dataproc_cluster_id, connection_id=conn,
                            want="STOPPED", doc_md="Stop the cluster (Stop) after the last step, whatever happened.")
        released = released_op(task_id=RELEASED_TASK, connection_id=conn, cluster_id=cfg.dataproc_cluster_id,
                               doc_md="Fail the run if the cluster is not STOPPED.")
        cluster_id = cfg.dataproc_cluster_id
    else:  # per-run
        c = cfg.cluster_spec()
        compute = {}
        if c.compute is not None:
            a = c.autoscaling
            compute = dict(
                computenode_resource_preset=c.compute.resource_preset,
                computenode_disk_size=c.compute.disk_size_gb,
                computenode_disk_type=c.compute.disk_type,
                computenode_count=c.compute.hosts_count,
                computenode_max_hosts_count=c.compute.max_hosts_count,
                # the SDK builds protobuf Durations: they take timedeltas, not the ints the
                # operator's docstring names
                computenode_measurement_duration=dt.timedelta(seconds=a.measurement_duration_seconds),
                computenode_warmup_duration=dt.timedelta(seconds=a.warmup_duration_seconds),
                computenode_stabilization_duration=dt.timedelta(seconds=a.stabilization_duration_seconds),
                computenode_cpu_utilization_target=a.cpu_utilization_target,
                computenode_decommission_timeout=a.decommission_timeout_seconds,
            )
        setup = create_op(
            task_id=CREATE_TASK, name_prefix=c.name_prefix, connection_id=conn,
            folder_id=c.folder_id, zone=c.zone, subnet_id=c.subnet_id,
            security_group_ids=list(c.security_group_ids), service_account_id=c.service_account_id,
            s3_bucket=c.bucket, cluster_image_version=c.image_version, services=list(c.services),
            properties=dict(c.properties), ssh_public_keys=list(c.ssh_public_keys),
            enable_ui_proxy=c.ui_proxy, labels=dict(c.labels),
            cluster_description="fraud pipeline: one DAG run's cluster, deleted after the run",
            masternode_resource_preset=c.master.resource_preset, masternode_disk_size=c.master.disk_size_gb,
            masternode_disk_type=c.master.disk_type,
            datanode_resource_preset=c.data.resource_preset, datanode_disk_size=c.data.disk_size_gb,
            datanode_disk_type=c.data.disk_type, datanode_count=c.data.hosts_count,
            **compute,
            doc_md="Create this run's Data Proc cluster from the stack's spec; wait until it is RUNNING.",
        )
        teardown = delete_op(task_id=DELETE_TASK, name_prefix=c.name_prefix, folder_id=c.folder_id,
                             connection_id=conn, doc_md="Delete this run's cluster after the last step, whatever happened.")
        released = released_op(task_id=RELEASED_TASK, connection_id=conn, name_prefix=c.name_prefix,
                               folder_id=c.folder_id, doc_md="Fail the run if this run's cluster still exists.")
        cluster_id = setup.output  # the create task's return value (explicit: Airflow 3 pulls no XCom implicitly)
    return (setup, teardown, released), cluster_id


def _step_task(step: str, cfg: Any, timeout: dt.timedelta, cluster_id: Any = None):
    """One step as an operator of the configured backend (the task id is the step name)."""
    common = dict(task_id=step, doc_md=STEP_DOCS.get(step, step))
    if cfg.backend == "local":
        from airflow.providers.standard.operators.bash import BashOperator

        jobs = _local_path(_jobs_location(cfg))
        return BashOperator(
            bash_command=spark_submit_command(step, cfg, master=cfg.spark_master, jobs=jobs, env={}),
            env=dict(cfg.env),
            append_env=True,  # keep PATH, JAVA_HOME, ... of the Airflow process
            **common,
        )
    if cfg.backend == "ssh":
        from airflow.providers.ssh.operators.ssh import SSHOperator

        # No --master: the cluster's spark-defaults (YARN on Data Proc) decide. Environment goes
        # through `env` in the command, since sshd usually refuses client-sent variables.
        return SSHOperator(
            ssh_conn_id=cfg.ssh_connection_id,
            command=spark_submit_command(step, cfg, master=None, jobs=_jobs_location(cfg),
                                         env=cfg.env),
            cmd_timeout=int(timeout.total_seconds()),
            **common,
        )
    if cfg.backend == "dataproc":
        if not cluster_id:
            raise ValueError("config dataproc_cluster_id is empty: the dataproc backend needs it")
        jobs = _jobs_location(cfg)
        operator = _pyspark_job_operator_class()
        return operator(
            main_python_file_uri=f"{jobs}/{spec.ENTRY_SCRIPT}",
            python_file_uris=[f"{jobs}/fraud_jobs.zip"],
            args=templated_args(step, cfg),
            properties=dict(cfg.spark_properties) or None,
            name=spec.job_name(step),
            cluster_id=cluster_id,
            connection_id=cfg.yandex_connection_id,
            **common,
        )
    raise ValueError(f"config backend {cfg.backend!r} is not one of {', '.join(spec.BACKENDS)}")


def build_dag(cfg: Any) -> DAG:
    """The pipeline DAG for one config; the graph does not depend on the backend."""
    timeout = dt.timedelta(minutes=cfg.task_timeout_minutes)
    default_args = {
        "owner": "mlops",
        "depends_on_past": False,
        "retries": cfg.retries,
        "retry_delay": dt.timedelta(seconds=cfg.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,  # each retry waits twice as long, up to the cap
        "max_retry_delay": dt.timedelta(seconds=cfg.max_retry_delay_seconds),
        "execution_timeout": timeout,
    }
    with DAG(
        dag_id=DAG_ID,
        description="Synthetic card fraud: data, features, LR vs RF with MLflow, bootstrap F1 test",
        schedule=cfg.schedule,
        start_date=START_DATE,
        catchup=False,
        # runs share the model registry's champion alias: one date at a time
        max_active_runs=1,
        default_args=default_args,
        tags=["fraud", "mlflow", "spark", f"backend:{cfg.backend}"],
        doc_md=__doc__,
    ) as dag:
        lifecycle, cluster_id = _lifecycle_tasks(cfg)
        tasks = {step: _step_task(step, cfg, timeout, cluster_id) for step in STEPS}
        for step in STEPS:
            for upstream in UPSTREAM[step]:
                tasks[upstream] >> tasks[step]
        if lifecycle is not None:
            setup, teardown, released = lifecycle
            first = [tasks[s] for s in STEPS if not UPSTREAM[s]]
            last = [tasks[s] for s in STEPS if not any(s in UPSTREAM[other] for other in STEPS)]
            setup >> first
            last >> teardown
            teardown.as_teardown(setups=setup)
            # run it even when the setup failed: a create or start that failed half way may have
            # left a cluster that is billed (as_teardown's rule would skip it then)
            teardown.trigger_rule = TriggerRule.ALL_DONE
            released.trigger_rule = TriggerRule.ALL_DONE
            teardown >> released
    return dag


dag = build_dag(PipelineConfig.load())
