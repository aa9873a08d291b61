"""Step 1, generate: simulate the `--days` days ending at the logical date and land them as Parquet.

Deterministic per (seed, day): rerunning a date, or generating a window in several runs, lands the
same rows. Output (each part swapped into place atomically):
    <landing-root>/transactions/TX_DATE=YYYY-MM-DD/   one folder per day of the window
    <landing-root>/customers/, <landing-root>/terminals/   the profiles
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Sequence

import numpy as np

from fraud_jobs import layout
from fraud_jobs.common import (
    JobArgumentParser,
    JobError,
    date_arg,
    date_window,
    days_arg,
    int_in,
    log,
    positive_float,
    seed_arg,
    spark_session,
    uri_arg,
    write_df_atomic,
    write_partitions_atomic,
)
from fraud_jobs.pipeline_spec import PipelineConfig
from fraud_jobs.simulator import Simulator, SimulatorParams


def build_parser() -> argparse.ArgumentParser:
    defaults = SimulatorParams()
    ap = JobArgumentParser(prog="generate", description=__doc__.splitlines()[0])
    ap.add_argument("--date", type=date_arg, required=True, help="logical date: last day generated")
    ap.add_argument("--landing-root", type=uri_arg, required=True)
    ap.add_argument("--days", type=days_arg, default=PipelineConfig.days)
    ap.add_argument("--customers", type=int_in(1, 10_000_000), default=defaults.customers)
    ap.add_argument("--terminals", type=int_in(1, 10_000_000), default=defaults.terminals)
    ap.add_argument("--radius", type=positive_float, default=defaults.radius)
    ap.add_argument("--seed", type=seed_arg, default=defaults.seed)
    ap.add_argument(
        "--start-date", type=date_arg, default=None,
        help="first day of the simulation (no compromises before it); default: steady state",
    )
    return ap


def params_from_args(args: argparse.Namespace) -> SimulatorParams:
    try:
        return SimulatorParams(
            customers=args.customers,
            terminals=args.terminals,
            radius=args.radius,
            seed=args.seed,
            start_date=args.start_date,
        )
    except ValueError as exc:
        raise JobError(str(exc)) from None


def to_pandas_frame(columns: dict, schema: tuple[tuple[str, str], ...], extra: Sequence[str] = ()):
    import pandas as pd

    frame = pd.DataFrame({name: columns[name] for name, _ in schema})
    for name in extra:
        frame[name] = columns[name]
    if "TX_DATETIME" in frame:
        frame["TX_DATETIME"] = frame["TX_DATETIME"].astype("datetime64[ns]")
    return frame


def main(argv: Sequence[str] | None = None) -> dict[str, int]:
    args = build_parser().parse_args(argv)
    params = params_from_args(args)
    window = date_window(args.date, args.days)
    if params.start_date is not None and window[0] < params.start_date:
        raise JobError(
            f"window {window[0]}..{window[-1]} starts before --start-date {params.start_date}"
        )
    spark = spark_session(f"fraud-generate-{args.date}")
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")

    sim = Simulator(params)
    tx = sim.days(window)
    per_day = {d.isoformat(): 0 for d in window}
    values, counts = np.unique(tx["TX_DATE"], return_counts=True)
    per_day.update({str(v): int(c) for v, c in zip(values, counts)})
    empty = [d for d, n in per_day.items() if n == 0]
    if empty:
        log(f"warning: no transactions generated on {', '.join(empty)}")

    tx_schema = (*layout.TRANSACTION_SCHEMA, (layout.DATE_COLUMN, "string"))
    tx_df = spark.createDataFrame(
        to_pandas_frame(tx, layout.TRANSACTION_SCHEMA, extra=[layout.DATE_COLUMN]),
        schema=layout.ddl(tx_schema),
    )
    customers_df = spark.createDataFrame(
        to_pandas_frame(sim.customer_table(), layout.CUSTOMER_SCHEMA),
        schema=layout.ddl(layout.CUSTOMER_SCHEMA),
    )
    terminals_df = spark.createDataFrame(
        to_pandas_frame(sim.terminal_table(), layout.TERMINAL_SCHEMA),
        schema=layout.ddl(layout.TERMINAL_SCHEMA),
    )
    root = args.landing_root
    # One file per day: the data are small and the reader is Spark.
    write_partitions_atomic(
        tx_df.repartition(layout.DATE_COLUMN),
        layout.landing_transactions(root),
        layout.DATE_COLUMN,
        expected_values=per_day.keys(),
    )
    write_df_atomic(customers_df.coalesce(1), layout.landing_customers(root))
    write_df_atomic(terminals_df.coalesce(1), layout.landing_terminals(root))
    n_fraud = int(tx["TX_FRAUD"].sum())
    log(
        f"generated {len(tx['TX_FRAUD'])} transactions ({n_fraud} fraud) for "
        f"{window[0]}..{window[-1]} into {root}"
    )
    return per_day
