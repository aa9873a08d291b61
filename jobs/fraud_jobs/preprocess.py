"""Step 3, preprocess (Spark only): the handbook's features for the window's transactions.

Reads <data-root>/raw/transactions for the `--days` days ending at the logical date plus the
history the windows need (30 days for customers, 30 + the 7-day label delay for terminals), and
replaces the window's date partitions of <data-root>/features/ (columns: layout.FEATURE_TABLE_COLUMNS
plus TX_HOUR, TX_DAY_OF_WEEK and the partition column TX_DATE).

Features (times in UTC, whole seconds):
- TX_DURING_WEEKEND: Saturday or Sunday (Spark's dayofweek: 1 = Sunday ... 7 = Saturday);
- TX_DURING_NIGHT: hour <= 6 (the handbook's code);
- CUSTOMER_ID_NB_TX / _AVG_AMOUNT over (t - w, t], the current transaction included;
- TERMINAL_ID_NB_TX / _RISK over (t - delay - w, t - delay]: only labels at least `delay` old are
  known; RISK = frauds / transactions, 0 when there was none.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Sequence

from fraud_jobs import layout
from fraud_jobs.common import (
    JobArgumentParser,
    JobError,
    date_arg,
    date_window,
    days_arg,
    log,
    path_exists,
    read_checked,
    require_path,
    spark_session,
    uri_arg,
    write_partitions_atomic,
)
from fraud_jobs.layout import FEATURE_COLUMNS, LABEL_DELAY_DAYS, WINDOWS_DAYS  # noqa: F401 (re-export)

DAY_SECONDS = 86_400
HISTORY_DAYS = max(WINDOWS_DAYS) + LABEL_DELAY_DAYS
EXTRA_TIME_COLUMNS = ("TX_HOUR", "TX_DAY_OF_WEEK")


def build_parser() -> argparse.ArgumentParser:
    ap = JobArgumentParser(prog="preprocess", description=__doc__.splitlines()[0])
    ap.add_argument("--date", type=date_arg, required=True, help="logical date: last day of the window")
    ap.add_argument("--data-root", type=uri_arg, required=True)
    ap.add_argument("--days", type=days_arg, default=7)
    return ap


def add_features(tx):
    """All feature columns for every row of `tx` (raw transaction columns + TX_DATE).

    Windows only look back, so features of the rows in the output window are exact as long as
    `tx` holds HISTORY_DAYS of history before them.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ts = F.col("TX_DATETIME").cast("long")
    out = (
        tx.withColumn("_ts", ts)
        .withColumn("TX_HOUR", F.hour("TX_DATETIME"))
        .withColumn("TX_DAY_OF_WEEK", F.dayofweek("TX_DATETIME"))
        .withColumn("TX_DURING_WEEKEND", F.col("TX_DAY_OF_WEEK").isin(1, 7).cast("double"))
        .withColumn("TX_DURING_NIGHT", (F.col("TX_HOUR") <= 6).cast("double"))
    )
    # rangeBetween is inclusive at both ends; with whole seconds, -(w*86400 - 1) makes (t - w, t].
    for w in WINDOWS_DAYS:
        win = Window.partitionBy("CUSTOMER_ID").orderBy("_ts").rangeBetween(-(w * DAY_SECONDS - 1), 0)
        out = out.withColumn(f"CUSTOMER_ID_NB_TX_{w}DAY_WINDOW", F.count(F.lit(1)).over(win).cast("double"))
        out = out.withColumn(f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW", F.avg("TX_AMOUNT").over(win))
    delay = LABEL_DELAY_DAYS * DAY_SECONDS
    for w in WINDOWS_DAYS:
        win = (
            Window.partitionBy("TERMINAL_ID").orderBy("_ts")
            .rangeBetween(-(delay + w * DAY_SECONDS - 1), -delay)
        )
        nb_tx = F.count(F.lit(1)).over(win)
        nb_fraud = F.sum("TX_FRAUD").over(win)
        out = out.withColumn(f"TERMINAL_ID_NB_TX_{w}DAY_WINDOW", nb_tx.cast("double"))
        out = out.withColumn(
            f"TERMINAL_ID_RISK_{w}DAY_WINDOW",
            F.when(nb_tx > 0, nb_fraud / nb_tx).otherwise(F.lit(0.0)).cast("double"),
        )
    return out.select(
        F.col("TRANSACTION_ID").cast("long"),
        "TX_DATETIME",
        F.col("CUSTOMER_ID").cast("long"),
        F.col("TERMINAL_ID").cast("long"),
        F.col("TX_FRAUD").cast("int"),
        F.col("TX_AMOUNT").cast("double"),
        *[F.col(c).cast("double") for c in FEATURE_COLUMNS if c != "TX_AMOUNT"],
        *EXTRA_TIME_COLUMNS,
        layout.DATE_COLUMN,
    )


def read_raw(spark, data_root: str, window: list[dt.date]):
    """The raw transactions from HISTORY_DAYS before the window to its end; checks the window days."""
    from pyspark.sql import functions as F

    table = layout.raw_transactions(data_root)
    require_path(spark, table, "raw transactions (run save_to_hdfs first)")
    for day in window:
        path = layout.partition_dir(table, day.isoformat())
        if not path_exists(spark, path):
            raise JobError(f"no raw transactions for {day}: {path} not found")
        # each day's own files: a multi-folder read would take the schema of one file only
        read_checked(spark, path, layout.TRANSACTION_SCHEMA, f"raw transactions of {day}")

    first_day = (window[0] - dt.timedelta(days=HISTORY_DAYS)).isoformat()
    schema = layout.ddl((*layout.TRANSACTION_SCHEMA, (layout.DATE_COLUMN, "string")))
    raw = spark.read.schema(schema).parquet(table)
    return raw.where(
        (F.col(layout.DATE_COLUMN) >= first_day) & (F.col(layout.DATE_COLUMN) <= window[-1].isoformat())
    )


def main(argv: Sequence[str] | None = None) -> dict[str, int]:
    from pyspark.sql import functions as F

    args = build_parser().parse_args(argv)
    window = date_window(args.date, args.days)
    spark = spark_session(f"fraud-preprocess-{args.date}")
    raw = read_raw(spark, args.data_root, window)
    window_days = [d.isoformat() for d in window]

    counts = {
        r[layout.DATE_COLUMN]: int(r["rows"])
        for r in raw.where(F.col(layout.DATE_COLUMN).isin(window_days))
        .groupBy(layout.DATE_COLUMN).agg(F.count(F.lit(1)).alias("rows"))
        .collect()  # one row per day of the window
    }
    empty = [d for d in window_days if counts.get(d, 0) == 0]
    if empty:
        raise JobError(f"empty day: no raw transactions for {', '.join(empty)}")

    features = add_features(raw).where(F.col(layout.DATE_COLUMN).isin(window_days))
    write_partitions_atomic(
        features.repartition(layout.DATE_COLUMN),
        layout.features(args.data_root),
        layout.DATE_COLUMN,
        expected_values=window_days,
    )
    log(f"wrote features of {sum(counts.values())} transactions for {window_days[0]}..{window_days[-1]} "
        f"into {layout.features(args.data_root)}")
    return counts
