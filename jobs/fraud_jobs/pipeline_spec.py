"""The pipeline's seven steps: their order and their command lines.

This is the one place the Airflow DAG, the local runner and the cloud stack learn how a step is
called. It is pure Python (no pyspark, numpy or airflow import) so the DAG can import it cheaply at
parse time on the Airflow host, whose environment has none of the job dependencies.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import math
import os
import re
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

# Each step, in pipeline order, and its main function in the fraud_jobs package ("module:function",
# strings so this module stays import-cheap). The one entry script (ENTRY_SCRIPT) runs the step its
# first argument names.
STEP_MAINS: Mapping[str, str] = {
    "generate": "fraud_jobs.generate:main",
    "save_to_hdfs": "fraud_jobs.save_to_hdfs:main",
    "preprocess": "fraud_jobs.preprocess:main",
    "train_lr": "fraud_jobs.train:main_lr",
    "train_rf": "fraud_jobs.train:main_rf",
    "bootstrap": "fraud_jobs.bootstrap:main",
    "compare": "fraud_jobs.compare:main",
}
STEPS: tuple[str, ...] = tuple(STEP_MAINS)

# The spark-submit main file of every step, relative to the job code's folder (jobs/ in a checkout,
# jobs_uri on a backend); its arguments are entry_args().
ENTRY_SCRIPT = "entrypoints/run_step.py"

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

# How the dataproc backend treats its cluster (the stack's config key dataproc.lifecycle):
#   always-on          the stack's cluster runs all the time; the DAG only submits jobs
#   stop-between-runs  the stack's cluster is started before the first step and stopped after the
#                      last one (HDFS keeps its data while it is stopped)
#   per-run            the stack creates no cluster: each DAG run creates one from
#                      `dataproc_cluster` and deletes it after the last step
CLUSTER_LIFECYCLES: tuple[str, ...] = ("always-on", "stop-between-runs", "per-run")

# Data Proc's cluster name rule (CreateClusterRequest.name) and its length limit.
_CLUSTER_NAME = re.compile(r"[a-z][-a-z0-9]{1,61}[a-z0-9]")
# A run's cluster is `<name_prefix>-<RUN_NAME_HASH_CHARS hex digits of its run id's hash>`.
RUN_NAME_HASH_CHARS = 12

# How a job's last line starts when it stops on an error (fraud_jobs.common.run_job prints it; the
# DAG shows that line as a failed Data Proc job's error).
JOB_ERROR_PREFIX = "error: "

# Environment variable that points the DAG (and the local runner) at the config file.
CONFIG_ENV = "FRAUD_PIPELINE_CONFIG"


@dataclass(frozen=True)
class GridKey:
    """One searchable hyper-parameter of a model: its value type, rule, and the train step's
    default (used when a config's grid leaves the key out)."""

    kind: type
    default: tuple
    rule: str
    check: Any  # value -> bool
    meaning: str

    def parse(self, value: Any) -> Any:
        """One grid value, converted and checked; the ValueError names the value and the rule."""
        bad = ValueError(f"bad value {value!r} (expected {self.kind.__name__} {self.rule})")
        if isinstance(value, str):
            try:
                typed = self.kind(value.strip())
            except ValueError:
                raise bad from None
        elif self.kind is str or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        elif self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise bad
            typed = int(value)
        else:
            typed = float(value)
        if not self.check(typed):
            raise bad
        return typed


CLASS_WEIGHTS = ("none", "balanced")
_class_weight = GridKey(str, ("none",), f"one of {', '.join(CLASS_WEIGHTS)}", lambda v: v in CLASS_WEIGHTS,
                        "none, or balanced: each class weighs n / (2 * its count) in the fit")
# The hyper-parameters the train step can search, per model. The train step's flags are named after
# the keys (reg_param -> --reg-param, taking a comma-separated list).
GRID_KEYS: Mapping[str, Mapping[str, GridKey]] = {
    "lr": {
        "reg_param": GridKey(float, (0.0,), ">= 0", lambda v: 0.0 <= v < float("inf"),
                             "regularisation strength (Spark regParam)"),
        "elastic_net": GridKey(float, (0.0,), "in [0, 1]", lambda v: 0.0 <= v <= 1.0,
                               "L1 share of the penalty (elasticNetParam; 0 = L2)"),
        "max_iter": GridKey(int, (100,), "in [1, 100000]", lambda v: 1 <= v <= 100_000,
                           "optimiser iterations"),
        "class_weight": _class_weight,
    },
    "rf": {
        "num_trees": GridKey(int, (100,), "in [1, 10000]", lambda v: 1 <= v <= 10_000, "trees"),
        "max_depth": GridKey(int, (16,), "in [1, 30]", lambda v: 1 <= v <= 30, "tree depth"),
        # Spark's default 32 bins cannot split the amount anywhere near the simulator's 220
        "max_bins": GridKey(int, (1024,), "in [2, 65536]", lambda v: 2 <= v <= 65_536,
                            "split candidates per feature"),
        "min_instances_per_node": GridKey(int, (1,), "in [1, 1000000]", lambda v: 1 <= v <= 1_000_000,
                                          "rows a leaf needs"),
        "feature_subset_strategy": GridKey(
            str, ("auto",), "auto, all, onethird, sqrt, log2 or a number",
            lambda v: v in ("auto", "all", "onethird", "sqrt", "log2") or _positive_number(v),
            "features tried at each split"),
        "subsampling_rate": GridKey(float, (1.0,), "in (0, 1]", lambda v: 0.0 < v <= 1.0,
                                    "share of rows each tree is fitted on"),
        "class_weight": _class_weight,
    },
}


def _positive_number(value: str) -> bool:
    try:
        return float(value) > 0
    except ValueError:
        return False


def grid_flag(key: str) -> str:
    """The train step's flag of a grid key: reg_param -> --reg-param."""
    return "--" + key.replace("_", "-")


def check_grid(model: str, grid: Any) -> dict[str, tuple]:
    """A config's grid for `model`, each value list converted and checked (ValueError names it)."""
    if not isinstance(grid, Mapping):
        raise ValueError(f"config {model}_grid must be an object of value lists, got {grid!r}")
    known = GRID_KEYS[model]
    unknown = sorted(set(grid) - set(known))
    if unknown:
        raise ValueError(f"config {model}_grid: unknown key(s) {', '.join(unknown)}; "
                         f"expected some of {', '.join(known)}")
    out = {}
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"config {model}_grid {key}: expected a non-empty list, got {values!r}")
        try:
            out[key] = tuple(known[key].parse(v) for v in values)
        except ValueError as exc:
            raise ValueError(f"config {model}_grid {key}: {exc}") from None
    return out


def check_step(step: str) -> str:
    """The step name if it is one of STEPS; a ValueError naming it otherwise."""
    if step not in STEP_MAINS:
        raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
    return step


def step_main(step: str) -> Any:
    """A step's main function (imports its module, and so pyspark: only where the step runs)."""
    module, function = STEP_MAINS[check_step(step)].split(":")
    return getattr(importlib.import_module(module), function)


def cluster_name_for_run(name_prefix: str, run_id: str) -> str:
    """The name of the cluster a per-run DAG run creates and deletes: the same for every attempt of
    one run (so the teardown finds the cluster a failed create left), different for two runs (so
    no run deletes another one's cluster). The Data Proc API allows `[a-z][-a-z0-9]{1,61}[a-z0-9]`."""
    if not run_id:
        raise ValueError("a per-run cluster name needs the run id")
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:RUN_NAME_HASH_CHARS]
    name = f"{name_prefix}-{digest}"
    if not _CLUSTER_NAME.fullmatch(name):
        raise ValueError(f"cluster name {name!r} (prefix {name_prefix!r}) is not a Data Proc cluster name: "
                         "a-z, 0-9 and '-', starting with a letter, at most 63 characters")
    return name


def job_name(step: str) -> str:
    """The name of a step's job on every backend (Spark app name, Data Proc job name). The Data Proc
    API takes only `|[a-z][-a-z0-9]{1,61}[a-z0-9]` (the provider's default "Pyspark job" and a dotted
    name do not match it)."""
    check_step(step)
    return f"fraud-pipeline-{step}".replace("_", "-")


@dataclass(frozen=True)
class SubclusterSpec:
    """Hosts of one subcluster of a per-run cluster (the stack's dataproc.* presets)."""

    resource_preset: str
    disk_size_gb: int
    disk_type: str
    # data: the number of hosts; compute: the number it starts with
    hosts_count: int = 1
    # compute only: autoscaling up to this many hosts
    max_hosts_count: int = 0


@dataclass(frozen=True)
class AutoscalingSpec:
    """The compute subcluster's autoscaling policy (seconds, and a CPU target in percent)."""

    measurement_duration_seconds: int
    warmup_duration_seconds: int
    stabilization_duration_seconds: int
    cpu_utilization_target: int
    decommission_timeout_seconds: int


# The keys each subcluster of a per-run cluster spec takes (the master is one host; the data
# subcluster has a fixed host count; only compute autoscales).
_HOSTS = ("resource_preset", "disk_size_gb", "disk_type")
SUBCLUSTER_KEYS: Mapping[str, tuple[str, ...]] = {
    "master": _HOSTS,
    "data": (*_HOSTS, "hosts_count"),
    "compute": (*_HOSTS, "hosts_count", "max_hosts_count"),
}


@dataclass(frozen=True)
class ClusterSpec:
    """What a per-run DAG run creates: the cluster the stack would have created, with the stack's
    subnet, security group, service account, bucket, image and presets (written by
    constructs/pipeline-config.ts as the `dataproc_cluster` object of the pipeline config)."""

    name_prefix: str
    folder_id: str
    zone: str
    subnet_id: str
    security_group_ids: tuple[str, ...]
    service_account_id: str
    bucket: str
    image_version: str
    services: tuple[str, ...]
    properties: Mapping[str, str]
    ssh_public_keys: tuple[str, ...]
    ui_proxy: bool
    labels: Mapping[str, str]
    master: SubclusterSpec
    data: SubclusterSpec
    compute: SubclusterSpec | None = None
    autoscaling: AutoscalingSpec | None = None

    @classmethod
    def from_mapping(cls, data: Any, where: str = "dataproc_cluster") -> "ClusterSpec":
        """The spec from the config's JSON object; a ValueError names the bad key and value."""
        obj = _object(data, where)
        strings = ("name_prefix", "folder_id", "zone", "subnet_id", "service_account_id", "bucket",
                   "image_version")
        lists = ("security_group_ids", "services", "ssh_public_keys")
        maps = ("properties", "labels")
        subclusters = ("master", "data", "compute", "autoscaling")
        _known(obj, (*strings, *lists, *maps, "ui_proxy", *subclusters), where)
        values: dict[str, Any] = {k: _string(obj, k, where) for k in strings}
        values.update({k: _strings(obj, k, where) for k in lists})
        values.update({k: _string_map(obj, k, where) for k in maps})
        if not isinstance(obj.get("ui_proxy"), bool):
            raise ValueError(f"config {where}.ui_proxy must be true or false, got {obj.get('ui_proxy')!r}")
        values["ui_proxy"] = obj["ui_proxy"]
        cluster_name_for_run(values["name_prefix"], "check")  # the prefix makes valid names
        values["master"] = _subcluster(obj.get("master"), f"{where}.master", SUBCLUSTER_KEYS["master"])
        values["data"] = _subcluster(obj.get("data"), f"{where}.data", SUBCLUSTER_KEYS["data"])
        if obj.get("compute") is not None:
            values["compute"] = _subcluster(obj["compute"], f"{where}.compute", SUBCLUSTER_KEYS["compute"])
            if values["compute"].max_hosts_count < values["compute"].hosts_count:
                raise ValueError(f"config {where}.compute.max_hosts_count must be at least hosts_count, "
                                 f"got {values['compute'].max_hosts_count!r}")
            auto = _object(obj.get("autoscaling"), f"{where}.autoscaling")
            names = [f.name for f in fields(AutoscalingSpec)]
            _known(auto, names, f"{where}.autoscaling")
            values["autoscaling"] = AutoscalingSpec(**{n: _count(auto, n, f"{where}.autoscaling", 0) for n in names})
        elif obj.get("autoscaling") is not None:
            raise ValueError(f"config {where}.autoscaling is set but there is no compute subcluster")
        return cls(**values)


def _object(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"config {where} must be an object, got {data!r}")
    return data


def _known(obj: Mapping[str, Any], names: Sequence[str], where: str) -> None:
    unknown = sorted(set(obj) - set(names))
    if unknown:
        raise ValueError(f"config {where}: unknown key(s) {', '.join(unknown)}")


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"config {where}.{key} must be a non-empty string, got {value!r}")
    return value


def _strings(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = obj.get(key)
    if (not isinstance(value, Sequence) or isinstance(value, str) or not value
            or not all(isinstance(v, str) and v for v in value)):
        raise ValueError(f"config {where}.{key} must be a non-empty list of strings, got {value!r}")
    return tuple(value)


def _string_map(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, str]:
    value = obj.get(key, {})
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"config {where}.{key} must be an object of strings, got {value!r}")
    return dict(value)


def _count(obj: Mapping[str, Any], key: str, where: str, minimum: int) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"config {where}.{key} must be a whole number >= {minimum}, got {value!r}")
    return value


def _subcluster(data: Any, where: str, names: Sequence[str]) -> SubclusterSpec:
    obj = _object(data, where)
    _known(obj, names, where)
    values: dict[str, Any] = {"resource_preset": _string(obj, "resource_preset", where),
                              "disk_size_gb": _count(obj, "disk_size_gb", where, 1),
                              "disk_type": _string(obj, "disk_type", where)}
    for name in ("hosts_count", "max_hosts_count"):
        if name in names:
            values[name] = _count(obj, name, where, 1)
    return SubclusterSpec(**values)


# PipelineConfig's keys whose value is one of a fixed set; its whole-number keys with their least
# value and, where a step takes them as a flag, their most; its other numbers with the open interval
# they lie in. The JSON schema (jobs/pipeline_schema.py) states these same rules, and the steps'
# flags for these values (generate --customers/--terminals, bootstrap --n-boot, compare --alpha)
# check these same bounds: a bad value fails when the config is loaded, not at the step.
CONFIG_CHOICES: Mapping[str, tuple[str, ...]] = {"backend": BACKENDS, "cluster_lifecycle": CLUSTER_LIFECYCLES}
CONFIG_MINIMUMS: Mapping[str, int] = {
    "retries": 0, "retry_delay_seconds": 0, "max_retry_delay_seconds": 0, "task_timeout_minutes": 1,
    "train_days": 1, "delay_days": 1, "test_days": 1, "validation_days": 1,
    "customers": 1, "terminals": 1, "n_boot": 100,
}
CONFIG_MAXIMUMS: Mapping[str, int] = {"customers": 10_000_000, "terminals": 10_000_000, "n_boot": 1_000_000}
CONFIG_OPEN_RANGES: Mapping[str, tuple[float, float | None]] = {"radius": (0.0, None), "alpha": (0.0, 0.5)}


def config_int_range(name: str) -> tuple[int, int]:
    """(least, most) of a whole-number config key that a step also takes as a flag."""
    return CONFIG_MINIMUMS[name], CONFIG_MAXIMUMS[name]


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
    # where save_to_hdfs copies the landed days and preprocess reads them; empty = data_root. A
    # per-run cluster's HDFS dies with it: there data_root is in Object Storage (features,
    # predictions) and only the raw copy is on HDFS
    raw_root: str = ""
    mlflow_tracking_uri: str = "http://127.0.0.1:5000"
    experiment: str = "fraud-detection"
    registered_model: str = "fraud-detector"
    # cloud: basic-auth user of the MLflow server, the Lockbox secret id of its password (entry
    # `password`, read by the job on the driver) and the server's CA certificate (s3a:// URI);
    # empty = not used (the local server has neither auth nor TLS)
    mlflow_username: str = ""
    mlflow_password_secret_id: str = ""
    mlflow_ca_uri: str = ""
    # simulator size (a run lands every day its windows need that is not landed yet)
    customers: int = 500
    # 1000 terminals with r = 10 give ~25 terminals per customer (100 terminals with r = 5 gave < 1)
    terminals: int = 1000
    radius: float = 10.0
    seed: int = 42
    # the handbook's split, ending at the logical date D: the models train on `train_days`, then
    # `delay_days` pass (labels not known yet), then they are tested on `test_days` (ending at D);
    # the hyper-parameter search scores on the last `validation_days` of the training days
    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7
    validation_days: int = 2
    # each model's search grid: a list of values per key of GRID_KEYS (keys left out: the
    # train step's default); every combination is fitted
    lr_grid: Mapping[str, Sequence[Any]] = field(default_factory=lambda: {
        "reg_param": [0.0, 0.01],
    })
    rf_grid: Mapping[str, Sequence[Any]] = field(default_factory=lambda: {
        "max_depth": [8, 16],
    })
    n_boot: int = 10_000
    alpha: float = 0.05
    # where job code lives: a local folder (local backend), s3a://bucket/jobs/ (dataproc),
    # or a folder on the master node (ssh)
    jobs_uri: str = ""
    # local backend: the spark-submit binary and its master
    spark_submit: str = "spark-submit"
    spark_master: str = "local[*]"
    # dataproc backend: what happens to the cluster around a run (CLUSTER_LIFECYCLES), the
    # stack's cluster (always-on, stop-between-runs) or the spec of the cluster each run creates
    # (per-run: a ClusterSpec object), and the `yandexcloud` connection
    cluster_lifecycle: str = "always-on"
    dataproc_cluster_id: str = ""
    dataproc_cluster: Mapping[str, Any] = field(default_factory=dict)
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
        types = _config_types()
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name), types[f.name])
        for name, choices in CONFIG_CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"config {name} {getattr(self, name)!r} is not one of {', '.join(choices)}")
        for name, minimum in CONFIG_MINIMUMS.items():
            value, maximum = getattr(self, name), CONFIG_MAXIMUMS.get(name)
            if (not isinstance(value, int) or isinstance(value, bool) or value < minimum
                    or (maximum is not None and value > maximum)):
                if maximum is not None:
                    raise ValueError(f"config {name} must be a whole number from {minimum} to {maximum}, got {value!r}")
                kind = "non-negative" if minimum == 0 else "positive"
                raise ValueError(f"config {name} must be a {kind} integer, got {value!r}")
        for name, (low, high) in CONFIG_OPEN_RANGES.items():
            value = getattr(self, name)
            if not (low < value < (math.inf if high is None else high)):  # also refuses nan and inf
                shown = f"above {low:g}" if high is None else f"in ({low:g}, {high:g})"
                raise ValueError(f"config {name} must be a finite number {shown}, got {value!r}")
        if self.cluster_lifecycle != "always-on" and self.backend != "dataproc":
            raise ValueError(f"config cluster_lifecycle {self.cluster_lifecycle!r} needs the dataproc backend "
                             f"(backend is {self.backend!r})")
        if self.cluster_lifecycle == "per-run":
            if self.dataproc_cluster_id:
                raise ValueError("config dataproc_cluster_id is set, but a per-run pipeline creates its own "
                                 f"cluster ({self.dataproc_cluster_id!r})")
            self.cluster_spec()  # a bad spec fails at load, naming the key
            if self.data_root.startswith("hdfs:"):
                raise ValueError(f"config data_root {self.data_root!r} is on HDFS, which a per-run cluster takes "
                                 "with it when it is deleted: put data_root in Object Storage (s3a://) and the "
                                 "HDFS copy of the landed days in raw_root")
        elif self.dataproc_cluster:
            raise ValueError(f"config dataproc_cluster (a per-run cluster spec) is set, but cluster_lifecycle is "
                             f"{self.cluster_lifecycle!r}")
        if self.validation_days >= self.train_days:
            raise ValueError(f"config validation_days ({self.validation_days}) must be fewer than "
                             f"train_days ({self.train_days}): the search fits on the days before")
        for model in GRID_KEYS:
            check_grid(model, getattr(self, f"{model}_grid"))

    @property
    def run_days(self) -> int:
        """Days of features a run uses, ending at its logical date: train + delay + test."""
        return self.train_days + self.delay_days + self.test_days

    def cluster_spec(self) -> "ClusterSpec":
        """The per-run cluster's spec (ValueError naming the bad key)."""
        return ClusterSpec.from_mapping(self.dataproc_cluster)

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


def _config_types() -> Mapping[str, Any]:
    """PipelineConfig's field types (the JSON schema's types come from the same hints)."""
    return typing.get_type_hints(PipelineConfig, globalns=globals())


_SCALAR_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number"}


def _check_type(name: str, value: Any, hint: Any) -> None:
    """A config value's JSON type against its field's type: scalars and string maps (the grids and
    the per-run cluster spec are checked by check_grid and ClusterSpec)."""
    if hint in _SCALAR_NAMES:
        if hint is bool:
            ok = isinstance(value, bool)
        else:  # a JSON number may be written without a fraction; true is no number
            ok = isinstance(value, (int, float) if hint is float else hint) and not isinstance(value, bool)
        if not ok:
            raise ValueError(f"config {name} must be {_SCALAR_NAMES[hint]}, got {value!r}")
    elif hint == Mapping[str, str]:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError(f"config {name} must be an object of strings, got {value!r}")


def parse_date(value: str) -> _dt.date:
    """Parse YYYY-MM-DD strictly; the error names the bad value."""
    try:
        return _dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"bad date {value!r}: expected YYYY-MM-DD") from None


def step_args(step: str, cfg: PipelineConfig, logical_date: str) -> list[str]:
    """The arguments of one step's main function for one logical date (its CLI after the step name)."""
    parse_date(logical_date)
    check_step(step)
    common = ["--date", logical_date]
    # the data steps make sure the run's days (and the history their features need) exist
    days = ["--days", str(cfg.run_days)]
    if step == "generate":
        return common + days + [
            "--landing-root", cfg.landing_root,
            "--customers", str(cfg.customers),
            "--terminals", str(cfg.terminals),
            "--radius", str(cfg.radius),
            "--seed", str(cfg.seed),
        ]
    if step == "save_to_hdfs":
        return common + days + [
            "--landing-root", cfg.landing_root,
            "--data-root", cfg.raw_root or cfg.data_root,
        ]
    if step == "preprocess":
        raw = ["--raw-root", cfg.raw_root] if cfg.raw_root else []
        return common + days + ["--data-root", cfg.data_root, *raw]
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
        model = step[len("train_"):]
        grid = check_grid(model, getattr(cfg, f"{model}_grid"))
        split = ["--train-days", str(cfg.train_days), "--delay-days", str(cfg.delay_days),
                 "--test-days", str(cfg.test_days), "--validation-days", str(cfg.validation_days)]
        search = [token for key in GRID_KEYS[model] if key in grid
                  for token in (grid_flag(key), ",".join(str(v) for v in grid[key]))]
        return common + mlflow + ["--registered-model", cfg.registered_model] + split + search
    if step == "bootstrap":
        return common + mlflow + ["--n-boot", str(cfg.n_boot), "--seed", str(cfg.seed)]
    # compare
    return common + mlflow + [
        "--registered-model", cfg.registered_model,
        "--alpha", str(cfg.alpha),
    ]


def entry_args(step: str, cfg: PipelineConfig, logical_date: str) -> list[str]:
    """The argument list of ENTRY_SCRIPT for one step and date: the step's name, then its own
    arguments (step_args)."""
    return [step, *step_args(step, cfg, logical_date)]


def dependency_edges() -> Sequence[tuple[str, str]]:
    """(upstream, downstream) pairs in STEPS order."""
    return [(up, step) for step in STEPS for up in UPSTREAM[step]]
