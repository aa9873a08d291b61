"""Step 2, save_to_hdfs: validate the landed window and copy it into <data-root>/raw/, per date.

Checks (any failure stops the step before anything is written): each day of the window has a
landed partition with exactly the expected columns and types, at least one row, no null key
fields, timestamps on the partition's own date, TX_FRAUD in {0, 1}, no duplicate TRANSACTION_ID in
the window, and customers/terminals that cover every transaction. The window's date partitions of
<data-root>/raw/transactions/ are then replaced (a rerun never duplicates a date), and the profiles
are swapped in whole.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from fraud_jobs import layout
from fraud_jobs.common import (
    JobArgumentParser,
    JobError,
    read_checked,
    date_arg,
    date_window,
    days_arg,
    log,
    path_exists,
    require_path,
    spark_session,
    uri_arg,
    write_df_atomic,
    write_partitions_atomic,
)


def build_parser() -> argparse.ArgumentParser:
    ap = JobArgumentParser(prog="save_to_hdfs", description=__doc__.splitlines()[0])
    ap.add_argument("--date", type=date_arg, required=True, help="logical date: last day of the window")
    ap.add_argument("--landing-root", type=uri_arg, required=True)
    ap.add_argument("--data-root", type=uri_arg, required=True)
    ap.add_argument("--days", type=days_arg, default=7)
    return ap


def read_landed_window(spark, landing_root: str, window):
    from pyspark.sql import functions as F

    table = layout.landing_transactions(landing_root)
    require_path(spark, table, "landed transactions")
    frames = []
    for day in window:
        day_str = day.isoformat()
        path = layout.partition_dir(table, day_str)
        if not path_exists(spark, path):
            raise JobError(f"no landed transactions for {day_str}: {path} not found")
        df = read_checked(spark, path, layout.TRANSACTION_SCHEMA, f"landed transactions of {day_str}")
        frames.append(df.select(*[c for c, _ in layout.TRANSACTION_SCHEMA])
                      .withColumn(layout.DATE_COLUMN, F.lit(day_str)))
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out


def validate_transactions(tx, customers, terminals, window) -> dict[str, int]:
    """One aggregation over the window; returns rows per date. Raises JobError on any problem."""
    from pyspark.sql import functions as F

    key_cols = ["TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_FRAUD"]
    per_day = (
        tx.groupBy(layout.DATE_COLUMN)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.when(F.greatest(*[F.col(c).isNull() for c in key_cols]), 1).otherwise(0)).alias("nulls"),
            F.sum(F.when(F.date_format("TX_DATETIME", "yyyy-MM-dd") != F.col(layout.DATE_COLUMN), 1)
                  .otherwise(0)).alias("off_date"),
            F.sum(F.when(~F.col("TX_FRAUD").isin(0, 1), 1).otherwise(0)).alias("bad_label"),
            F.sum(F.when(F.col("TX_AMOUNT") < 0, 1).otherwise(0)).alias("negative_amount"),
        )
        .collect()  # one row per date of the window: bounded by --days
    )
    stats = {r[layout.DATE_COLUMN]: r for r in per_day}
    counts = {}
    for day in window:
        day_str = day.isoformat()
        row = stats.get(day_str)
        if row is None or row["rows"] == 0:
            raise JobError(f"empty day: no transactions landed for {day_str}")
        for field, meaning in (
            ("nulls", "null key field(s)"),
            ("off_date", "TX_DATETIME outside the partition's date"),
            ("bad_label", "TX_FRAUD not 0/1"),
            ("negative_amount", "negative TX_AMOUNT"),
        ):
            if row[field]:
                raise JobError(f"{row[field]} transaction(s) of {day_str} with {meaning}")
        counts[day_str] = int(row["rows"])

    total = sum(counts.values())
    distinct = tx.select("TRANSACTION_ID").distinct().count()
    if distinct != total:
        raise JobError(f"duplicate TRANSACTION_ID: {total - distinct} duplicate row(s) in the window")
    unknown_customers = tx.join(customers, "CUSTOMER_ID", "left_anti").count()
    if unknown_customers:
        raise JobError(f"{unknown_customers} transaction(s) name a CUSTOMER_ID missing from customers")
    unknown_terminals = tx.join(terminals, "TERMINAL_ID", "left_anti").count()
    if unknown_terminals:
        raise JobError(f"{unknown_terminals} transaction(s) name a TERMINAL_ID missing from terminals")
    return counts


def check_unique_ids(df, column: str, what: str) -> None:
    rows = df.count()
    if rows == 0:
        raise JobError(f"{what} is empty")
    distinct = df.select(column).distinct().count()
    if distinct != rows:
        raise JobError(f"{what}: {rows - distinct} duplicate {column}(s)")


def main(argv: Sequence[str] | None = None) -> dict[str, int]:
    args = build_parser().parse_args(argv)
    window = date_window(args.date, args.days)
    spark = spark_session(f"fraud-save_to_hdfs-{args.date}")

    customers = read_checked(spark, layout.landing_customers(args.landing_root),
                             layout.CUSTOMER_SCHEMA, "landed customers")
    terminals = read_checked(spark, layout.landing_terminals(args.landing_root),
                             layout.TERMINAL_SCHEMA, "landed terminals")
    check_unique_ids(customers, "CUSTOMER_ID", "landed customers")
    check_unique_ids(terminals, "TERMINAL_ID", "landed terminals")
    tx = read_landed_window(spark, args.landing_root, window)
    counts = validate_transactions(tx, customers, terminals, window)

    order = [c for c, _ in layout.TRANSACTION_SCHEMA] + [layout.DATE_COLUMN]
    write_partitions_atomic(
        tx.select(*order).repartition(layout.DATE_COLUMN),
        layout.raw_transactions(args.data_root),
        layout.DATE_COLUMN,
        expected_values=counts.keys(),
    )
    cols = [c for c, _ in layout.CUSTOMER_SCHEMA]
    write_df_atomic(customers.select(*cols).coalesce(1), layout.raw_customers(args.data_root))
    cols = [c for c, _ in layout.TERMINAL_SCHEMA]
    write_df_atomic(terminals.select(*cols).coalesce(1), layout.raw_terminals(args.data_root))
    log(f"saved {sum(counts.values())} transactions for {window[0]}..{window[-1]} "
        f"into {layout.raw_transactions(args.data_root)}")
    return counts
