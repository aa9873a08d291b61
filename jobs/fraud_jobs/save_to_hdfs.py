"""Step 2, save_to_hdfs: make sure <data-root>/raw/ holds a validated copy of every landed day the run needs.

The run needs `--days` days ending at the logical date and the FEATURE_HISTORY_DAYS (37) before
them. A landed day is copied when raw/ lacks it or when it changed since it was copied (its
fingerprint differs from the one in <data-root>/manifests/raw.json); the profiles likewise. So the
first run on an empty data root (a new cluster) copies the whole history, later runs copy their
new day(s), and a run with nothing new writes nothing.

Checks of what is copied (any failure stops the step before anything is written): each needed day
has a landed partition; each copied day has exactly the expected columns and types, at least one
row, no null key fields, timestamps on the partition's own date, TX_FRAUD in {0, 1}, TX_AMOUNT a
finite, non-negative whole number of cents, no duplicate TRANSACTION_ID, and customers/terminals
that cover every transaction. The copied days' partitions of <data-root>/raw/transactions/ are
then replaced (never duplicated) by copies of the landed files, byte for byte, and the profiles'
folders swapped in whole.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from fraud_jobs import history, layout
from fraud_jobs.common import (
    JobArgumentParser,
    JobError,
    copy_folder_atomic,
    copy_partitions_atomic,
    date_arg,
    days_arg,
    log,
    spark_session,
    uri_arg,
)
from fraud_jobs.pipeline_spec import PipelineConfig


def build_parser() -> argparse.ArgumentParser:
    ap = JobArgumentParser(prog="save_to_hdfs", description=__doc__.splitlines()[0])
    ap.add_argument("--date", type=date_arg, required=True, help="logical date: the run's last day")
    ap.add_argument("--landing-root", type=uri_arg, required=True)
    ap.add_argument("--data-root", type=uri_arg, required=True)
    ap.add_argument("--days", type=days_arg, default=PipelineConfig().run_days,
                    help="days of features the run uses, ending at --date (their history is "
                         "copied too)")
    return ap


def read_landed_days(spark, landing_root: str, days):
    """The landed transactions of `days` (each day's files checked against the schema first)."""
    return history.read_days(spark, layout.landing_transactions(landing_root),
                             [d.isoformat() for d in days], layout.TRANSACTION_SCHEMA,
                             "landed transactions")


def validate_transactions(tx, customers, terminals, days) -> dict[str, int]:
    """One aggregation over the days to copy (the profiles joined in: Spark broadcasts them at the
    handbook's size) and one count of distinct ids; returns rows per date. Raises JobError on any
    problem."""
    from pyspark.sql import functions as F

    key_cols = ["TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_FRAUD"]

    def rows_where(condition):
        return F.sum(F.when(condition, 1).otherwise(0))

    # the ids are unique in the profiles (check_unique_ids), so the left joins keep every row once
    joined = (tx.join(customers.select("CUSTOMER_ID", F.lit(True).alias("_customer")), "CUSTOMER_ID", "left")
              .join(terminals.select("TERMINAL_ID", F.lit(True).alias("_terminal")), "TERMINAL_ID", "left"))
    per_day = (
        joined.groupBy(layout.DATE_COLUMN)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            rows_where(F.greatest(*[F.col(c).isNull() for c in key_cols])).alias("nulls"),
            rows_where(F.date_format("TX_DATETIME", "yyyy-MM-dd") != F.col(layout.DATE_COLUMN)).alias("off_date"),
            rows_where(~F.col("TX_FRAUD").isin(0, 1)).alias("bad_label"),
            rows_where(F.col("TX_AMOUNT") < 0).alias("negative_amount"),
            # preprocess sums amounts in cents; Spark's round keeps NaN and infinity as they are
            rows_where(F.isnan("TX_AMOUNT") | (F.col("TX_AMOUNT") == float("inf"))
                       | (F.round("TX_AMOUNT", 2) != F.col("TX_AMOUNT"))).alias("not_cents"),
            rows_where(F.col("_customer").isNull()).alias("unknown_customers"),
            rows_where(F.col("_terminal").isNull()).alias("unknown_terminals"),
        )
        .collect()  # one row per date copied: bounded by the days the run needs
    )
    stats = {r[layout.DATE_COLUMN]: r for r in per_day}
    counts = {}
    for day in days:
        day_str = day.isoformat()
        row = stats.get(day_str)
        if row is None or row["rows"] == 0:
            raise JobError(f"empty day: no transactions landed for {day_str}")
        for field, meaning in (
            ("nulls", "null key field(s)"),
            ("off_date", "TX_DATETIME outside the partition's date"),
            ("bad_label", "TX_FRAUD not 0/1"),
            ("negative_amount", "negative TX_AMOUNT"),
            ("not_cents", "TX_AMOUNT not a finite whole number of cents"),
        ):
            if row[field]:
                raise JobError(f"{row[field]} transaction(s) of {day_str} with {meaning}")
        counts[day_str] = int(row["rows"])

    total = sum(counts.values())
    distinct = tx.select("TRANSACTION_ID").distinct().count()
    if distinct != total:
        raise JobError(f"duplicate TRANSACTION_ID: {total - distinct} duplicate row(s) in the days copied")
    for field, key, profiles in (("unknown_customers", "CUSTOMER_ID", "customers"),
                                 ("unknown_terminals", "TERMINAL_ID", "terminals")):
        unknown = sum(int(r[field]) for r in per_day)
        if unknown:
            raise JobError(f"{unknown} transaction(s) name a {key} missing from {profiles}")
    return counts


def check_unique_ids(df, column: str, what: str) -> None:
    from pyspark.sql import functions as F

    row = df.agg(F.count(F.lit(1)).alias("rows"), F.countDistinct(column).alias("ids")).first()
    rows, distinct = int(row["rows"]), int(row["ids"])
    if rows == 0:
        raise JobError(f"{what} is empty")
    if distinct != rows:
        raise JobError(f"{what}: {rows - distinct} duplicate {column}(s)")


def main(argv: Sequence[str] | None = None) -> dict[str, int]:
    """Returns {day: transactions} of the days copied by this run ({} when all were current)."""
    args = build_parser().parse_args(argv)
    needed = history.raw_days(args.date, args.days)
    spark = spark_session(f"fraud-save_to_hdfs-{args.date}")
    landing, data = args.landing_root, args.data_root

    profiles = {name: history.folder_fingerprint(spark, path) for name, path in (
        ("customers", layout.landing_customers(landing)),
        ("terminals", layout.landing_terminals(landing)))}
    for name, fingerprint in profiles.items():
        if fingerprint is None:
            raise JobError(f"landed {name} not found: {getattr(layout, 'landing_' + name)(landing)}")
    landed = history.partition_fingerprints(spark, layout.landing_transactions(landing))
    absent = [d for d in needed if d.isoformat() not in landed]
    if absent:
        raise JobError(
            f"no landed transactions for {history.plural(len(absent), 'day')} the run needs: "
            f"{history.ranges(absent)} (not in {layout.landing_transactions(landing)}; "
            "generate lands them)"
        )
    manifest = history.read_manifest(spark, layout.raw_manifest(data))
    copied = manifest.get("transactions", {})
    stored = set(history.partition_fingerprints(spark, layout.raw_transactions(data)))
    current = {d for d in stored if copied.get(d) is not None and copied.get(d) == landed.get(d)}
    stale_profiles = [n for n in profiles if manifest.get(n) != profiles[n]
                      or history.folder_fingerprint(spark, getattr(layout, "raw_" + n)(data)) is None]
    todo = history.report_plan("save_to_hdfs", "raw transactions", needed,
                               [d for d in needed if d.isoformat() not in current], stored)
    if not todo and not stale_profiles:
        return {}

    customers = history.read_folder(spark, layout.landing_customers(landing),
                                    layout.CUSTOMER_SCHEMA, "landed customers")
    terminals = history.read_folder(spark, layout.landing_terminals(landing),
                                    layout.TERMINAL_SCHEMA, "landed terminals")
    check_unique_ids(customers, "CUSTOMER_ID", "landed customers")
    check_unique_ids(terminals, "TERMINAL_ID", "landed terminals")
    counts: dict[str, int] = {}
    if todo:
        # checked as Spark reads them (only the columns the checks use), then copied as files:
        # the copy is the landed files, byte for byte (their schema was checked file by file)
        counts = validate_transactions(read_landed_days(spark, landing, todo), customers, terminals, todo)
        copy_partitions_atomic(spark, layout.landing_transactions(landing), layout.raw_transactions(data),
                               layout.DATE_COLUMN, counts.keys())
    for name in stale_profiles:
        copy_folder_atomic(spark, getattr(layout, "landing_" + name)(landing), getattr(layout, "raw_" + name)(data))
    # the files each copied day is now in (one listing), for preprocess: history.raw_day_sources
    written = history.partition_fingerprints(spark, layout.raw_transactions(data)) if counts else {}
    kept = {d for d in copied if d in stored and d not in counts}
    # last: a run that stops before this line copies the same days again next time
    history.write_manifest(spark, layout.raw_manifest(data), {
        "transactions": {**{d: copied[d] for d in kept}, **{d: landed[d] for d in counts}},
        "copies": {**{d: f for d, f in manifest.get("copies", {}).items() if d in kept},
                   **{d: written[d] for d in counts}},
        **profiles,
    })
    log(f"saved {sum(counts.values())} transactions of {history.plural(len(counts), 'day')} "
        f"into {layout.raw_transactions(data)}")
    return counts
