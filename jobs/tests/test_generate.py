"""Step 1 as a job: lands deterministic data, rerun-safe, with clear errors on bad arguments."""

from __future__ import annotations

import os

import pytest

from fraud_jobs import layout
from fraud_jobs.common import JobError
from tests.jobs_helpers import SMALL, read_partitioned, run_entrypoint, run_generate


def test_window_generated_in_two_runs_lands_the_same_rows_as_one_run(spark, tmp_uri):
    one, two = f"{tmp_uri}/one", f"{tmp_uri}/two"
    per_day = run_generate(one, "2024-05-10", days=4)
    run_generate(two, "2024-05-08", days=2)
    run_generate(two, "2024-05-10", days=2)
    assert list(per_day) == ["2024-05-07", "2024-05-08", "2024-05-09", "2024-05-10"]
    assert min(per_day.values()) > 50
    a = read_partitioned(spark, layout.landing_transactions(one), layout.TRANSACTION_SCHEMA)
    b = read_partitioned(spark, layout.landing_transactions(two), layout.TRANSACTION_SCHEMA)
    b = b.where("TX_DATE >= '2024-05-07'")
    assert a.count() == sum(per_day.values()) == b.count()
    assert a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0
    assert a.select("TRANSACTION_ID").distinct().count() == a.count()
    assert a.where("TX_FRAUD = 1").count() > 0
    ca = spark.read.parquet(layout.landing_customers(one))
    cb = spark.read.parquet(layout.landing_customers(two))
    assert ca.count() == 60 and ca.exceptAll(cb).count() == 0


def test_landed_tables_have_the_documented_schema(spark, tmp_uri):
    run_generate(tmp_uri, "2024-05-10", days=1)
    day = spark.read.parquet(layout.partition_dir(layout.landing_transactions(tmp_uri), "2024-05-10"))
    assert day.dtypes == list(layout.TRANSACTION_SCHEMA)
    assert spark.read.parquet(layout.landing_customers(tmp_uri)).dtypes == list(layout.CUSTOMER_SCHEMA)
    assert spark.read.parquet(layout.landing_terminals(tmp_uri)).dtypes == list(layout.TERMINAL_SCHEMA)


def test_rerun_replaces_the_window_instead_of_adding_to_it(spark, tmp_uri, tmp_path):
    first = run_generate(tmp_uri, "2024-05-10", days=2)
    again = run_generate(tmp_uri, "2024-05-10", days=2)
    assert first == again
    table = layout.landing_transactions(tmp_uri)
    assert read_partitioned(spark, table, layout.TRANSACTION_SCHEMA).count() == sum(first.values())
    part = tmp_path / "transactions" / "TX_DATE=2024-05-10"
    assert len([f for f in os.listdir(part) if f.endswith(".parquet")]) == 1
    # no temporary folder is left behind
    assert sorted(os.listdir(tmp_path)) == ["customers", "terminals", "transactions"]


def test_bad_date_fails_before_writing_anything(tmp_path):
    landing = tmp_path / "landing"
    result = run_entrypoint("generate", "--date", "2024-02-30", "--landing-root", f"file://{landing}")
    assert result.returncode == 2
    assert "bad date '2024-02-30'" in result.stderr
    assert not landing.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--radius", "-1"], "'-1' must be a positive finite number"),
        (["--customers", "0"], "'0' must be a whole number from 1 to 10000000"),
        (["--landing-root", "relative/path"], "neither a URI"),
    ],
)
def test_bad_arguments_name_the_bad_value(tmp_path, args, message):
    base = ["--date", "2024-05-10", "--landing-root", f"file://{tmp_path}/landing"]
    result = run_entrypoint("generate", *base, *args)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "landing").exists()


def test_window_before_the_start_date_is_refused(spark, tmp_uri, tmp_path):
    with pytest.raises(JobError, match="starts before --start-date 2024-05-09"):
        run_generate(tmp_uri, "2024-05-10", days=3, extra=[*SMALL, "--start-date", "2024-05-09"])
    assert os.listdir(tmp_path) == []
