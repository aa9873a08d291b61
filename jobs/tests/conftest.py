"""Shared pytest fixtures: one local SparkSession for the whole run, a scratch folder per test."""

from __future__ import annotations

import os
import sys

import pytest

JOBS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if JOBS_DIR not in sys.path:
    sys.path.insert(0, JOBS_DIR)

from tests.hdfs_fixture import hdfs  # noqa: E402,F401  (the session-scoped HDFS fixture)


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("fraud-jobs-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture()
def tmp_uri(tmp_path):
    """A scratch folder as a file:// URI (what the jobs take as --landing-root / --data-root)."""
    return "file://" + str(tmp_path)
pytest_plugins = ["tests.mlflow_fixtures"]
