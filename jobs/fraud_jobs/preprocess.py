"""Step 3, preprocess (Spark only): make sure the handbook's features exist for every day the run uses.

The run uses `--days` days ending at the logical date. A day's features are computed when they are
missing or when their inputs changed: the raw transactions of that day and of the
FEATURE_HISTORY_DAYS (37) before it (read from <raw-root>/raw/transactions; --raw-root defaults
to --data-root: a per-run cluster keeps the raw copy on its HDFS and the features in Object Storage),
named as history.raw_day_sources names them (a day save_to_hdfs copied by the landed day it came
from, so a new cluster's copy of the same days recomputes nothing), which <data-root>/manifests/features.json
records (with FEATURES_VERSION, so a change of the definitions below recomputes everything). Every
raw day those windows reach must be stored: a missing one is an error naming it, never a window
silently cut short. Only the computed days' partitions of <data-root>/features/ are replaced
(columns: layout.FEATURE_TABLE_COLUMNS plus TX_HOUR, TX_DAY_OF_WEEK and the partition column
TX_DATE); a run with nothing to compute writes nothing.

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
from typing import Mapping, Sequence

from fraud_jobs import history, layout
from fraud_jobs.common import (
    JobArgumentParser,
    JobError,
    date_arg,
    date_window,
    days_arg,
    log,
    require_path,
    spark_session,
    uri_arg,
    write_partitions_atomic,
)
from fraud_jobs.layout import FEATURE_COLUMNS, LABEL_DELAY_DAYS, WINDOWS_DAYS  # noqa: F401 (re-export)
from fraud_jobs.pipeline_spec import PipelineConfig

DAY_SECONDS = 86_400
HISTORY_DAYS = layout.FEATURE_HISTORY_DAYS
EXTRA_TIME_COLUMNS = ("TX_HOUR", "TX_DAY_OF_WEEK")
# Bump when add_features changes what it computes: every stored day is then computed again.
FEATURES_VERSION = 2  # 2: averages from whole-cent sums (exact; v1 summed doubles)


def build_parser() -> argparse.ArgumentParser:
    ap = JobArgumentParser(prog="preprocess", description=__doc__.splitlines()[0])
    ap.add_argument("--date", type=date_arg, required=True, help="logical date: the run's last day")
    ap.add_argument("--data-root", type=uri_arg, required=True)
    ap.add_argument("--raw-root", type=uri_arg, default=None,
                    help="where save_to_hdfs put the raw days (default: --data-root)")
    ap.add_argument("--days", type=days_arg, default=PipelineConfig().run_days,
                    help="days of features the run uses, ending at --date")
    return ap


def add_features(tx):
    """All feature columns for every row of `tx` (raw transaction columns + TX_DATE).

    Windows only look back, so features of the rows in the output window are exact as long as
    `tx` holds HISTORY_DAYS of history before them.

    Each windowed count or sum is the difference of two running totals per customer (terminal):
    up to t and up to t - w. Spark keeps a running total in one pass over the sorted rows, where a
    sliding frame (t - w, t] is summed again for every row (its cost grows with the window's
    length). Amounts are summed in whole cents (save_to_hdfs lets no other amount in), so every sum
    is exact and independent of the order of rows with the same time; the average is one division.

    Before each window stage the rows are sorted by one long, the key in the high 32 bits and the
    time in the low ones: Spark radix-sorts a single long, where it sorts the window's two keys
    (key, time) by comparisons that read both rows (a third of the features' CPU time in a
    profile at the handbook's size). The window's own sort then finds its input in order and only
    checks it. The pre-sort never decides the result: ids or times beyond 32 bits only leave the
    window's sort more to do.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    def with_running_totals(df, key: str, totals: dict):
        """`df` plus a column per {name: (column, s)}: the total of `column` (None: the number of
        rows) over the rows of the row's `key` at least s seconds older than it (s = 0: up to the
        row, the same second included)."""
        def total(column, seconds_before: int):
            frame = Window.partitionBy(key).orderBy("_ts").rangeBetween(Window.unboundedPreceding, -seconds_before)
            if column is None:
                return F.count(F.lit(1)).over(frame)
            return F.coalesce(F.sum(column).over(frame), F.lit(0))
        in_order = F.shiftleft(F.col(key).cast("long"), 32).bitwiseOR(F.col("_ts").bitwiseAND(F.lit(0xFFFFFFFF)))
        df = df.repartition(key).sortWithinPartitions(in_order)  # the partitioning the window needs
        return df.select("*", *(total(column, s).alias(name) for name, (column, s) in totals.items()))

    kept = ["TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_FRAUD", "TX_AMOUNT",
            layout.DATE_COLUMN, "_ts"]
    # the window stages carry only the raw columns the features and the table need
    rows = tx.select(*kept[:-1], F.col("TX_DATETIME").cast("long").alias("_ts"),
                     F.rint(F.col("TX_AMOUNT") * 100).cast("long").alias("_cents"))  # rint: round makes a BigDecimal a row
    back = {"": 0, **{f"_{w}": w * DAY_SECONDS for w in WINDOWS_DAYS}}  # up to t, up to t - w

    # customers: (t - w, t]
    rows = with_running_totals(rows, "CUSTOMER_ID", {
        **{f"_n{k}": (None, s) for k, s in back.items()},
        **{f"_sum{k}": ("_cents", s) for k, s in back.items()}})
    customer = {}
    for w in WINDOWS_DAYS:
        n = F.col("_n") - F.col(f"_n_{w}")  # the window holds the row itself: n >= 1
        customer[f"CUSTOMER_ID_NB_TX_{w}DAY_WINDOW"] = n
        customer[f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW"] = (
            (F.col("_sum") - F.col(f"_sum_{w}")).cast("double") / (n * 100).cast("double"))
    # final before the terminal stage: it shuffles these 6 columns, not the 8 totals
    rows = rows.select(*kept, *(column.cast("double").alias(name) for name, column in customer.items()))

    # terminals: (t - delay - w, t - delay], only labels at least `delay` old
    delay = LABEL_DELAY_DAYS * DAY_SECONDS
    rows = with_running_totals(rows, "TERMINAL_ID", {
        **{f"_n{k}": (None, delay + s) for k, s in back.items()},
        **{f"_fraud{k}": ("TX_FRAUD", delay + s) for k, s in back.items()}})
    features = {name: F.col(name) for name in customer}
    for w in WINDOWS_DAYS:
        n = F.col("_n") - F.col(f"_n_{w}")
        features[f"TERMINAL_ID_NB_TX_{w}DAY_WINDOW"] = n
        features[f"TERMINAL_ID_RISK_{w}DAY_WINDOW"] = F.when(
            n > 0, (F.col("_fraud") - F.col(f"_fraud_{w}")).cast("double") / n.cast("double")
        ).otherwise(F.lit(0.0))

    # the row's own time features after the window stages: they shuffle fewer columns
    time_of_row = {"TX_HOUR": F.hour("TX_DATETIME"), "TX_DAY_OF_WEEK": F.dayofweek("TX_DATETIME")}
    features["TX_DURING_WEEKEND"] = time_of_row["TX_DAY_OF_WEEK"].isin(1, 7)
    features["TX_DURING_NIGHT"] = time_of_row["TX_HOUR"] <= 6
    features["TX_AMOUNT"] = F.col("TX_AMOUNT")
    return rows.select(
        F.col("TRANSACTION_ID").cast("long"),
        "TX_DATETIME",
        F.col("CUSTOMER_ID").cast("long"),
        F.col("TERMINAL_ID").cast("long"),
        F.col("TX_FRAUD").cast("int"),
        *[features[c].cast("double").alias(c) for c in FEATURE_COLUMNS],
        *(time_of_row[c].alias(c) for c in EXTRA_TIME_COLUMNS),
        layout.DATE_COLUMN,
    )


def inputs_of(day: dt.date, raw: dict[str, str]) -> list:
    """What a day's features are made of: the definitions' version and the fingerprints of the raw
    days its windows reach (the day and the HISTORY_DAYS before it)."""
    days = date_window(day, HISTORY_DAYS + 1)
    return [FEATURES_VERSION, [(d.isoformat(), raw.get(d.isoformat())) for d in days]]


def read_raw(spark, data_root: str, todo: list[dt.date], raw: Mapping[str, str]):
    """The raw transactions from HISTORY_DAYS before the first day to compute to the last one
    (`raw`: history.raw_day_sources; the files of a day that is no longer save_to_hdfs's checked
    copy are checked against the schema first)."""
    first = todo[0] - dt.timedelta(days=HISTORY_DAYS)
    days = date_window(todo[-1], (todo[-1] - first).days + 1)
    return history.read_days(spark, layout.raw_transactions(data_root), [d.isoformat() for d in days],
                             layout.TRANSACTION_SCHEMA, "raw transactions", checked=history.checked_copies(raw))


def main(argv: Sequence[str] | None = None) -> dict[str, int]:
    """Returns {day: transactions} of the days computed by this run ({} when all were current)."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    args = build_parser().parse_args(argv)
    run_days = date_window(args.date, args.days)
    spark = spark_session(f"fraud-preprocess-{args.date}")
    data = args.data_root
    raw_root = args.raw_root or data
    table = layout.raw_transactions(raw_root)
    require_path(spark, table, "raw transactions (run save_to_hdfs first)")
    raw = history.raw_day_sources(spark, raw_root)
    needed = history.raw_days(args.date, args.days)
    absent = [d for d in needed if d.isoformat() not in raw]
    if absent:
        raise JobError(
            f"raw transactions missing for {history.plural(len(absent), 'day')} "
            f"({history.ranges(absent)}): the features of {run_days[0]}..{run_days[-1]} need "
            f"every day from {needed[0]} (their {max(WINDOWS_DAYS)}-day windows, "
            f"{LABEL_DELAY_DAYS} days before them for terminals); run save_to_hdfs for them"
        )
    manifest = history.read_manifest(spark, layout.features_manifest(data))
    computed = set(history.partition_fingerprints(spark, layout.features(data)))
    wanted = {d.isoformat(): history.digest(*inputs_of(d, raw)) for d in run_days}
    todo = history.report_plan(
        "preprocess", "features", run_days,
        [d for d in run_days if d.isoformat() not in computed or manifest.get(d.isoformat()) != wanted[d.isoformat()]],
        computed)
    if not todo:
        return {}
    todo_days = [d.isoformat() for d in todo]
    source = read_raw(spark, raw_root, todo, raw)
    # rows per day counted while the features are written (no second pass over the raw days)
    observed = Observation("rows per day")
    features = add_features(source).where(F.col(layout.DATE_COLUMN).isin(todo_days)).observe(
        observed, *[F.sum((F.col(layout.DATE_COLUMN) == day).cast("long")).alias(day) for day in todo_days])
    counts: dict[str, int] = {}

    def every_day_has_rows() -> None:  # before any partition is swapped in
        counts.update({day: int(n or 0) for day, n in observed.get.items()})
        empty = [d for d in todo_days if counts.get(d, 0) == 0]
        if empty:
            raise JobError(f"empty day: no raw transactions for {', '.join(empty)}")

    write_partitions_atomic(
        features.repartition(layout.DATE_COLUMN),
        layout.features(data),
        layout.DATE_COLUMN,
        expected_values=todo_days,
        before_swap=every_day_has_rows,
    )
    # last: a run that stops before this line computes the same days again next time
    history.write_manifest(spark, layout.features_manifest(data), {
        **{d: v for d, v in manifest.items() if d in computed}, **{d: wanted[d] for d in todo_days}})
    log(f"wrote features of {sum(counts.values())} transactions for "
        f"{history.plural(len(todo), 'day')} ({history.ranges(todo)}) into {layout.features(data)}")
    return counts
