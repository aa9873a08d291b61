"""The fraud pipeline's Airflow DAG: seven PySpark steps, one logical date per run.

generate -> save_to_hdfs -> preprocess -> [train_lr, train_rf] -> bootstrap -> compare

Every setting comes from ONE place: the JSON file named by $FRAUD_PIPELINE_CONFIG (written by the
cloud stack on the Airflow VM, or by scripts/demo.sh locally), read with PipelineConfig.load. Parsing
this file touches no network, no Airflow Variable and no connection: operators only resolve their
connections when a task runs.

The backend (config key "backend") decides how a step runs; the task graph is the same for all:
  dataproc  a Data Proc PySpark job through the Data Proc API (apache-airflow-providers-yandex);
            credentials come from the Airflow VM's service account via the metadata service
  ssh       spark-submit on the Data Proc master node over an SSH connection (the seed's way)
  local     spark-submit --master local[*] on this machine (the demo and the tests)

Each task passes the run's logical date (`{{ ds }}`) as --date; the jobs replace that date's outputs,
so re-running a date gives the same result and never duplicates data.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import shlex
import sys
from pathlib import Path
from typing import Any, Mapping

from airflow.sdk import DAG

DAG_ID = "fraud_pipeline"
# Fixed and in the past: with catchup off the scheduler only runs the latest interval.
START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
# step_args() validates its date; the DAG calls it with this stand-in date, then puts the
# template in its place so the date is rendered per run.
_PLACEHOLDER_DATE = "1970-01-01"
DATE_TEMPLATE = "{{ ds }}"

STEP_DOCS = {
    "generate": "Simulate card transactions for the days ending at the logical date (landing zone).",
    "save_to_hdfs": "Validate the landed data (schema, row counts) and copy it into the data root.",
    "preprocess": "Join profiles, build time, customer and terminal-risk features (Parquet by date).",
    "train_lr": "Train logistic regression; log params, metrics, model and predictions to MLflow.",
    "train_rf": "Train random forest; log params, metrics, model and predictions to MLflow.",
    "bootstrap": "Joint counts of both models' validation predictions; bootstrap F1 CIs per model.",
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
    """A step's CLI arguments with the logical date left as the `{{ ds }}` template."""
    args = spec.step_args(step, cfg, _PLACEHOLDER_DATE)
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
            "holding entrypoints/<step>.py and fraud_jobs.zip"
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
    argv += [f"{jobs}/entrypoints/{spec.entrypoint(step)}", *templated_args(step, cfg)]
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


def _step_task(step: str, cfg: Any, timeout: dt.timedelta):
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
        if not cfg.dataproc_cluster_id:
            raise ValueError("config dataproc_cluster_id is empty: the dataproc backend needs it")
        jobs = _jobs_location(cfg)
        operator = _pyspark_job_operator_class()
        return operator(
            main_python_file_uri=f"{jobs}/entrypoints/{spec.entrypoint(step)}",
            python_file_uris=[f"{jobs}/fraud_jobs.zip"],
            args=templated_args(step, cfg),
            properties=dict(cfg.spark_properties) or None,
            name=spec.job_name(step),
            cluster_id=cfg.dataproc_cluster_id,
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
        tasks = {step: _step_task(step, cfg, timeout) for step in STEPS}
        for step in STEPS:
            for upstream in UPSTREAM[step]:
                tasks[upstream] >> tasks[step]
    return dag


dag = build_dag(PipelineConfig.load())
