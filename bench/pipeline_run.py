"""What the pipeline benchmarks share: a loopback MLflow server, the local Spark session the demo's
steps run in, and the pipeline's seven steps as (name, main, argv) for one logical date.

The steps run in-process, after their Spark session has started (no `spark-submit`, so no JVM
start is timed: the benchmarks time the steps' own work; bench/bench_dag.py measures what the local
backend's `spark-submit` adds to each).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Callable, Iterator, Sequence

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
if os.path.join(REPO, "jobs") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, "jobs"))
from fraud_jobs import bootstrap, compare, generate, preprocess, save_to_hdfs, train  # noqa: E402
from fraud_jobs.pipeline_spec import GRID_KEYS, PipelineConfig, check_grid, grid_flag  # noqa: E402

Step = tuple[str, Callable[[Sequence[str]], object], list[str]]

# The handbook's simulated population (reference/transaction-simulator: 5,000 customers, 10,000
# terminals, radius 5): the "full size" every pipeline benchmark runs at.
HANDBOOK_SIZE = {"customers": 5000, "terminals": 10000, "radius": 5.0}


@contextlib.contextmanager
def loopback_mlflow(work: str) -> Iterator[str]:
    """A local MLflow server (scripts/demo/mlflow-local.sh, state in WORK/mlflow) for the duration; its
    URI. The job CLIs refuse a `sqlite:` tracking URI, as a deployment would."""
    script = os.path.join(REPO, "scripts", "demo", "mlflow-local.sh")
    uri = subprocess.run(["bash", script, "start", f"{work}/mlflow"], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    try:
        yield uri
    finally:
        subprocess.run(["bash", script, "stop", f"{work}/mlflow"], check=False)


def local_session(app: str, driver_memory: str):
    """The session every step then gets (getOrCreate): the local demo's master and Spark properties
    (jobs/local_pipeline_config.py: 2 cores, a few shuffle partitions, loopback, nothing served),
    with this Python as Spark's."""
    from pyspark.sql import SparkSession

    from local_pipeline_config import local_config

    demo = local_config(os.path.join(REPO, ".work", "bench"), "http://127.0.0.1:1", sys.prefix)
    # the demo's environment for Spark (loopback address, Python), not its conf folder (the demo's log settings)
    os.environ.update({k: v for k, v in demo["env"].items() if k != "SPARK_CONF_DIR"})
    builder = SparkSession.builder.master(demo["spark_master"]).appName(app)
    for key, value in {**demo["spark_properties"], "spark.driver.memory": driver_memory,
                       "spark.ui.showConsoleProgress": "false"}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def grid_args(model: str, grid: dict) -> list[str]:
    checked = check_grid(model, grid)
    return [t for key in GRID_KEYS[model] if key in checked
            for t in (grid_flag(key), ",".join(map(str, checked[key])))]


def pipeline_steps(work: str, date: str, mlflow_uri: str, experiment: str, *, customers: int,
                   terminals: int, radius: float, start_date: str, lr_grid: dict | None = None,
                   rf_grid: dict | None = None, n_boot: int | None = None) -> list[Step]:
    """The seven steps for logical date DATE on WORK/landing and WORK/lake, with the pipeline's
    default split, grids and bootstrap size unless given."""
    defaults = PipelineConfig()
    landing, data = f"file://{work}/landing", f"file://{work}/lake"
    days = ["--days", str(defaults.run_days)]
    common = ["--date", date, "--data-root", data, "--mlflow-uri", mlflow_uri, "--experiment", experiment]
    model_args = [*common, "--registered-model", f"{experiment}-model"]
    return [
        ("generate", generate.main, ["--date", date, *days, "--landing-root", landing,
                                     "--customers", str(customers), "--terminals", str(terminals),
                                     "--radius", str(radius), "--start-date", start_date]),
        ("save_to_hdfs", save_to_hdfs.main, ["--date", date, *days, "--landing-root", landing,
                                             "--data-root", data]),
        ("preprocess", preprocess.main, ["--date", date, *days, "--data-root", data]),
        ("train_lr", train.main_lr, [*model_args, *grid_args("lr", dict(lr_grid or defaults.lr_grid))]),
        ("train_rf", train.main_rf, [*model_args, *grid_args("rf", dict(rf_grid or defaults.rf_grid))]),
        ("bootstrap", bootstrap.main, [*common, "--n-boot", str(n_boot or defaults.n_boot)]),
        ("compare", compare.main, [*model_args, "--alpha", str(defaults.alpha)]),
    ]
