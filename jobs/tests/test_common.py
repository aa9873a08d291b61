"""Shared plumbing: atomic outputs survive a failing write; small files round-trip; CLI dates are strict."""

from __future__ import annotations

import os

import pytest

from fraud_jobs.common import (
    JobError,
    copy_partitions_atomic,
    parse_date,
    read_json,
    write_df_atomic,
    write_json_atomic,
    write_partitions_atomic,
    write_tables_atomic,
)


def failing(spark, n=50):
    from pyspark.sql import functions as F

    # fails inside the executors, halfway through the write
    return spark.range(n).withColumn(
        "v", F.when(F.col("id") < n - 1, F.col("id")).otherwise(F.raise_error(F.lit("boom")))
    ).withColumn("TX_DATE", F.lit("2024-01-01"))


def test_failed_write_leaves_the_earlier_output_and_no_temp_folder(spark, tmp_path):
    target = f"file://{tmp_path}/table"
    write_df_atomic(spark.range(7), target)
    with pytest.raises(Exception, match="boom"):
        write_df_atomic(failing(spark), target)
    assert spark.read.parquet(target).count() == 7
    assert os.listdir(tmp_path) == ["table"]


def test_failed_partition_write_leaves_every_partition(spark, tmp_path):
    from pyspark.sql import functions as F

    target = f"file://{tmp_path}/parts"
    good = spark.range(10).withColumn("TX_DATE", F.when(F.col("id") < 4, "2024-01-01").otherwise("2024-01-02"))
    write_partitions_atomic(good, target, "TX_DATE")
    with pytest.raises(Exception, match="boom"):
        write_partitions_atomic(failing(spark), target, "TX_DATE")
    assert sorted(os.listdir(tmp_path / "parts")) == ["TX_DATE=2024-01-01", "TX_DATE=2024-01-02"]
    assert spark.read.parquet(f"{target}/TX_DATE=2024-01-01").count() == 4
    assert os.listdir(tmp_path) == ["parts"]
    # a rerun replaces only the partitions it names
    write_partitions_atomic(spark.range(3).withColumn("TX_DATE", F.lit("2024-01-02")), target, "TX_DATE")
    assert spark.read.parquet(f"{target}/TX_DATE=2024-01-02").count() == 3
    assert spark.read.parquet(f"{target}/TX_DATE=2024-01-01").count() == 4


def test_tables_written_from_the_driver_read_back_in_spark_with_their_schema_and_values(spark, tmp_path):
    """generate's writer (pyarrow on the driver, copied through Hadoop's FileSystem): Spark infers
    exactly the schema's types (a timestamp, not timestamp_ntz), the values and the UTC instant
    survive, a rerun replaces only its partitions; copying them moves the files byte for byte."""
    import numpy as np

    schema = (("ID", "bigint"), ("AT", "timestamp"), ("N", "int"), ("X", "double"), ("S", "string"))
    day = {"ID": np.array([1, 2], dtype=np.int64), "AT": np.array([0, 86_399], dtype="datetime64[s]"),
           "N": np.array([3, 4], dtype=np.int32), "X": np.array([0.5, -1.0]), "S": np.array(["a", "b"], dtype=object)}
    target = f"file://{tmp_path}/t"
    write_tables_atomic(spark, target, "TX_DATE", {"1970-01-01": day, "1970-01-02": day}, schema)
    df = spark.read.parquet(f"{target}/TX_DATE=1970-01-01")
    assert df.dtypes == [(n, k) for n, k in schema]
    # the instants as Spark prints them in the steps' session time zone (UTC)
    rows = sorted(tuple(r) for r in df.selectExpr("ID", "date_format(AT, 'yyyy-MM-dd HH:mm:ss')", "N", "X", "S").collect())
    assert rows == [(1, "1970-01-01 00:00:00", 3, 0.5, "a"), (2, "1970-01-01 23:59:59", 4, -1.0, "b")]
    write_tables_atomic(spark, target, "TX_DATE", {"1970-01-02": {k: v[:1] for k, v in day.items()}}, schema)
    assert spark.read.parquet(f"{target}/TX_DATE=1970-01-02").count() == 1
    assert spark.read.parquet(f"{target}/TX_DATE=1970-01-01").count() == 2
    assert sorted(os.listdir(tmp_path)) == ["t"]

    copy = f"file://{tmp_path}/c"
    copy_partitions_atomic(spark, target, copy, "TX_DATE", ["1970-01-01"])
    assert os.listdir(tmp_path / "c") == ["TX_DATE=1970-01-01"]
    [name] = [n for n in os.listdir(tmp_path / "t/TX_DATE=1970-01-01") if not n.startswith(".")]
    assert (tmp_path / "c/TX_DATE=1970-01-01" / name).read_bytes() == (tmp_path / "t/TX_DATE=1970-01-01" / name).read_bytes()


def test_json_is_replaced_whole(spark, tmp_path):
    target = f"file://{tmp_path}/report.json"
    write_json_atomic(spark, target, {"a": 1})
    write_json_atomic(spark, target, {"b": [1, 2]})
    assert read_json(spark, target) == {"b": [1, 2]}
    assert sorted(n for n in os.listdir(tmp_path) if not n.startswith(".")) == ["report.json"]
    with pytest.raises(JobError, match=f"file not found: file://{tmp_path}/missing.json"):
        read_json(spark, f"file://{tmp_path}/missing.json")


@pytest.mark.parametrize("value", ["20240101", "2024-1-1", "2024-02-30", "2024-W01-1", "", "2024-01-01T00:00"])
def test_dates_must_be_yyyy_mm_dd(value):
    with pytest.raises(JobError, match="bad date"):
        parse_date(value)
    assert str(parse_date("2024-02-29")) == "2024-02-29"
