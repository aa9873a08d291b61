"""The pipeline's seven steps: their order and their command lines.

This is the one place the Airflow DAG, the local runner and the cloud stack learn how a step is
called. It is pure Python (no pyspark, numpy or airflow import) so the DAG can import it cheaply at
parse time on the Airflow host, whose environment has none of the job dependencies.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

STEPS: tuple[str, ...] = (
    "generate",
    "save_to_hdfs",
    "preprocess",
    "train_lr",
    "train_rf",
    "bootstrap",
    "compare",
)

# The seed's dependency shape: generate -> save -> preprocess -> [LR, RF] -> bootstrap -> compare.
UPSTREAM: Mapping[str, tuple[str, ...]] = {
    "generate": (),
    "save_to_hdfs": ("generate",),
    "preprocess": ("save_to_hdfs",),
    "train_lr": ("preprocess",),
    "train_rf": ("preprocess",),
    "bootstrap": ("train_lr", "train_rf"),
    "compare": ("bootstrap",),
}

BACKENDS: tuple[str, ...] = ("dataproc", "ssh", "local")

# How a job's last line starts when it stops on an error (fraud_jobs.common.run_job prints it; the
# DAG shows that line as a failed Data Proc job's error).
JOB_ERROR_PREFIX = "error: "

# Environment variable that points the DAG (and the local runner) at the config file.
CONFIG_ENV = "FRAUD_PIPELINE_CONFIG"


def entrypoint(step: str) -> str:
    """File name of a step's spark-submit entry script (under jobs/entrypoints/)."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
    return f"{step}.py"


def job_name(step: str) -> str:
    """The name of a step's job on every backend (Spark app name, Data Proc job name). The Data Proc
    API takes only `|[a-z][-a-z0-9]{1,61}[a-z0-9]` (the provider's default "Pyspark job" and a dotted
    name do not match it)."""
    entrypoint(step)
    return f"fraud-pipeline-{step}".replace("_", "-")


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the DAG needs; written by the cloud stack on the Airflow VM, or by the local runner.

    Field names are the JSON keys of the config file.
    """

    backend: str = "local"
    # cron expression or preset ("@daily"); the seed ran every 5 minutes.
    schedule: str = "@daily"
    # where generate lands raw data (s3a://bucket/landing in the cloud, file:///... locally)
    landing_root: str = "file:///tmp/fraud/landing"
    # where save_to_hdfs, preprocess, train and evaluate read and write (hdfs:///user/fraud in the cloud)
    data_root: str = "file:///tmp/fraud/data"
    mlflow_tracking_uri: str = "http://127.0.0.1:5000"
    experiment: str = "fraud-detection"
    registered_model: str = "fraud-detector"
    # cloud: basic-auth user of the MLflow server, the Lockbox secret id of its password (entry
    # `password`, read by the job on the driver) and the server's CA certificate (s3a:// URI);
    # empty = not used (the local server has neither auth nor TLS)
    mlflow_username: str = ""
    mlflow_password_secret_id: str = ""
    mlflow_ca_uri: str = ""
    # simulator size per run; each run generates `days` days ending at its logical date
    customers: int = 500
    # 1000 terminals with r = 10 give ~25 terminals per customer (100 terminals with r = 5 gave < 1)
    terminals: int = 1000
    days: int = 7
    radius: float = 10.0
    seed: int = 42
    n_boot: int = 10_000
    alpha: float = 0.05
    # where job code lives: a local folder (local backend), s3a://bucket/jobs/ (dataproc),
    # or a folder on the master node (ssh)
    jobs_uri: str = ""
    # local backend: the spark-submit binary and its master
    spark_submit: str = "spark-submit"
    spark_master: str = "local[*]"
    # dataproc backend
    dataproc_cluster_id: str = ""
    yandex_connection_id: str = "yandexcloud_default"
    # ssh backend
    ssh_connection_id: str = "dataproc_master_ssh"
    # extra spark properties for every job (e.g. spark.pyspark.python)
    spark_properties: Mapping[str, str] = field(default_factory=dict)
    # extra environment for the local/ssh spark-submit (never secrets: those come from the host)
    env: Mapping[str, str] = field(default_factory=dict)
    # Airflow task policy: retries with exponential back-off (delay doubles, capped), and a
    # per-task execution timeout; the local demo and tests shorten them
    retries: int = 2
    retry_delay_seconds: int = 60
    max_retry_delay_seconds: int = 900
    task_timeout_minutes: int = 60

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(
                f"config backend {self.backend!r} is not one of {', '.join(BACKENDS)}"
            )
        for name in ("retries", "retry_delay_seconds", "max_retry_delay_seconds", "task_timeout_minutes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"config {name} must be a non-negative integer, got {value!r}")
        if self.task_timeout_minutes == 0:
            raise ValueError("config task_timeout_minutes must be positive, got 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "PipelineConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown pipeline config key(s): {', '.join(unknown)}")
        return cls(**dict(data))

    @classmethod
    def load(cls, path: str | None = None) -> "PipelineConfig":
        """Read the config file named by `path` or $FRAUD_PIPELINE_CONFIG (a local file only)."""
        path = path or os.environ.get(CONFIG_ENV)
        if not path:
            raise ValueError(f"no pipeline config: set ${CONFIG_ENV} to the config file's path")
        with open(path, encoding="utf-8") as fh:
            return cls.from_mapping(json.load(fh))


def parse_date(value: str) -> _dt.date:
    """Parse YYYY-MM-DD strictly; the error names the bad value."""
    try:
        return _dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"bad date {value!r}: expected YYYY-MM-DD") from None


def step_args(step: str, cfg: PipelineConfig, logical_date: str) -> list[str]:
    """The argument list (after the entry script) of one step for one logical date."""
    parse_date(logical_date)
    entrypoint(step)
    common = ["--date", logical_date]
    if step == "generate":
        return common + [
            "--landing-root", cfg.landing_root,
            "--days", str(cfg.days),
            "--customers", str(cfg.customers),
            "--terminals", str(cfg.terminals),
            "--radius", str(cfg.radius),
            "--seed", str(cfg.seed),
        ]
    if step == "save_to_hdfs":
        return common + [
            "--landing-root", cfg.landing_root,
            "--data-root", cfg.data_root,
            "--days", str(cfg.days),
        ]
    if step == "preprocess":
        return common + ["--data-root", cfg.data_root, "--days", str(cfg.days)]
    mlflow = [
        "--data-root", cfg.data_root,
        "--mlflow-uri", cfg.mlflow_tracking_uri,
        "--experiment", cfg.experiment,
    ]
    for flag, value in (("--mlflow-username", cfg.mlflow_username),
                        ("--mlflow-password-secret", cfg.mlflow_password_secret_id),
                        ("--mlflow-ca-uri", cfg.mlflow_ca_uri)):
        if value:
            mlflow += [flag, value]
    if step in ("train_lr", "train_rf"):
        return common + mlflow + ["--registered-model", cfg.registered_model]
    if step == "bootstrap":
        return common + mlflow + ["--n-boot", str(cfg.n_boot), "--seed", str(cfg.seed)]
    # compare
    return common + mlflow + [
        "--registered-model", cfg.registered_model,
        "--alpha", str(cfg.alpha),
    ]


def dependency_edges() -> Sequence[tuple[str, str]]:
    """(upstream, downstream) pairs in STEPS order."""
    return [(up, step) for step in STEPS for up in UPSTREAM[step]]
