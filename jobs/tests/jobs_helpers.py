"""Small helpers for the step tests: run a step's main with CLI arguments, read its outputs."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from fraud_jobs import generate, layout, preprocess, save_to_hdfs
from fraud_jobs.pipeline_spec import ENTRY_SCRIPT

JOBS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tiny but complete: ~115 transactions a day, ~20 terminals per customer, all scenarios present.
SMALL = ["--customers", "60", "--terminals", "150", "--radius", "20", "--seed", "9"]


def days_back(end: str, n: int) -> list[str]:
    """The n dates ending at `end`, oldest first (YYYY-MM-DD)."""
    last = dt.date.fromisoformat(end)
    return [(last - dt.timedelta(days=n - 1 - i)).isoformat() for i in range(n)]


def run_generate(landing: str, date: str, days: int = 3, extra=SMALL):
    return generate.main(["--date", date, "--landing-root", landing, "--days", str(days), *extra])


def run_save(landing: str, data: str, date: str, days: int = 3):
    return save_to_hdfs.main(
        ["--date", date, "--landing-root", landing, "--data-root", data, "--days", str(days)]
    )


def run_preprocess(data: str, date: str, days: int = 3):
    return preprocess.main(["--date", date, "--data-root", data, "--days", str(days)])


def run_entrypoint(*argv: str) -> subprocess.CompletedProcess:
    """The real entry script in a fresh interpreter, argv being `STEP ARGS...` (used for argument
    errors, which stop before Spark)."""
    return subprocess.run(
        [sys.executable, os.path.join(JOBS_DIR, ENTRY_SCRIPT), *argv],
        capture_output=True, text=True, timeout=120,
    )


def rows_by_id(df) -> dict:
    return {r["TRANSACTION_ID"]: r.asDict() for r in df.collect()}


def tree(path: str) -> dict[str, bytes]:
    """Every file under a local folder with its bytes: to prove that nothing changed."""
    out = {}
    for folder, _, names in os.walk(path):
        for name in names:
            full = os.path.join(folder, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, path)] = fh.read()
    return out


def read_partitioned(spark, table: str, schema):
    return spark.read.schema(layout.ddl((*schema, (layout.DATE_COLUMN, "string")))).parquet(table)


def make_unreadable(folder) -> None:
    """Replace every data file of one stored day (a partition folder) with garbage of the same size
    and modification time: a listing, and so a fingerprint, sees nothing new; a read fails. How the
    tests prove that a run reads no partition but those it needs."""
    for part in Path(folder).iterdir():
        if part.is_file() and not part.name.startswith((".", "_")):
            stat = part.stat()
            part.write_bytes(b"x" * stat.st_size)
            os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns))
