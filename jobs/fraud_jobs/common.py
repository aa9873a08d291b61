"""Plumbing shared by every pipeline job: Spark session, CLI dates, errors, atomic outputs.

Outputs are never written in place. A job writes to `<target>.tmp-<uuid>` and then swaps the result
into place through the Hadoop FileSystem API, so the same code works on file://, hdfs:// and s3a://;
a rerun replaces the earlier output and a failure before the swap leaves it untouched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import re
import sys
import traceback
import uuid
from typing import Any, Callable, Iterable, Sequence

from fraud_jobs.pipeline_spec import JOB_ERROR_PREFIX, STEPS, step_main
from fraud_jobs.pipeline_spec import parse_date as _spec_parse_date

# Exit code of a job that stopped on bad input (argparse uses 2 for bad arguments too).
BAD_INPUT_EXIT = 2
# Names starting with "_" are ignored by Spark's file listing, so leftovers never leak into reads.
_HIDDEN_PREFIX = "_"


class JobError(Exception):
    """Bad input or state a user can fix; the message names the problem. Exit code 2."""

    exit_code = BAD_INPUT_EXIT


def log(message: str) -> None:
    print(f"[fraud_jobs] {message}", file=sys.stderr, flush=True)


def run_job(main: Callable[[Sequence[str] | None], Any], argv: Sequence[str] | None = None) -> None:
    """Run a job's main(argv); on failure print `error: ...` to stderr and exit non-zero."""
    try:
        main(argv)
    except JobError as exc:
        print(f"{JOB_ERROR_PREFIX}{exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print(f"{JOB_ERROR_PREFIX}interrupted", file=sys.stderr, flush=True)
        sys.exit(130)
    except Exception as exc:  # an unexpected failure: keep the traceback for the operator
        traceback.print_exc()
        print(f"{JOB_ERROR_PREFIX}{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)


def run_step(argv: Sequence[str]) -> Any:
    """The entry script's main: `STEP ARGS...` runs STEP's main function with ARGS. An unknown or
    missing step is a JobError naming it (run_job: one line, exit 2)."""
    if not argv or argv[0].startswith("-"):
        raise JobError(f"no step given: the first argument must be one of {', '.join(STEPS)}")
    step, *args = argv
    try:
        main = step_main(step)
    except ValueError as exc:
        raise JobError(str(exc)) from None
    return main(args)


# ---------------------------------------------------------------------------------------------
# CLI helpers


_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _strict_date(value: str) -> dt.date:
    # date.fromisoformat on Python 3.11 also takes "20240720" or "2024-W29-6": insist on YYYY-MM-DD
    if not isinstance(value, str) or not _DATE_SHAPE.fullmatch(value):
        raise ValueError(f"bad date {value!r}: expected YYYY-MM-DD")
    return _spec_parse_date(value)


def parse_date(value: str) -> dt.date:
    """Strict YYYY-MM-DD; raises JobError naming the bad value."""
    try:
        return _strict_date(value)
    except ValueError as exc:
        raise JobError(str(exc)) from None


def date_arg(value: str) -> dt.date:
    """argparse `type=` for dates: a bad value ends in `error: argument --date: bad date ...`."""
    try:
        return _strict_date(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _number(value: str, convert: Callable[[str], Any], what: str) -> Any:
    """int(value) or float(value), or the argparse error naming the value."""
    try:
        return convert(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad {what} {value!r}") from None


def int_in(low: int, high: int) -> Callable[[str], int]:
    """argparse `type=` for a whole number from low to high (inclusive)."""

    def parse(value: str) -> int:
        number = _number(value, int, "integer")
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value!r} must be a whole number from {low} to {high}")
        return number

    parse.__name__ = f"integer from {low} to {high}"
    return parse


# A seed every consumer takes: numpy's SeedSequence (>= 0) and Spark's Java long (< 2**63).
seed_arg = int_in(0, 2**63 - 1)
# Day counts: up to ten years of days (each day is generated or read separately).
days_arg = int_in(1, 3660)


def positive_int(value: str) -> int:
    number = _number(value, int, "integer")
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive integer")
    return number


def non_negative_int(value: str) -> int:
    number = _number(value, int, "integer")
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be >= 0")
    return number


def positive_float(value: str) -> float:
    number = _number(value, float, "number")
    if not number > 0 or number != number or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive finite number")
    return number


class JobArgumentParser(argparse.ArgumentParser):
    """argparse with the jobs' error contract: a bad argument prints ONE line,
    `<prog>: error: <message naming the value>`, and exits 2 (argparse alone prints the usage too)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(BAD_INPUT_EXIT, f"{self.prog}: error: {message}\n")


# Data roots the pipeline reads and writes through Hadoop's FileSystem API: local files, HDFS and
# Object Storage (S3A). Anything else (foo://, http://, s3://) would only fail deep inside Hadoop.
DATA_URI_SCHEMES = ("file", "hdfs", "s3a")
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/]*)(?P<path>/.*)?$", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_uri(value: str, schemes: Sequence[str] = DATA_URI_SCHEMES) -> str:
    """A URI with one of `schemes`, or an absolute local path; ValueError naming the value otherwise."""
    if not value:
        raise ValueError("empty path")
    if _CONTROL.search(value):
        raise ValueError(f"{value!r} contains a control character (line break, tab, NUL, ...)")
    listed = ", ".join(f"{s}://" for s in schemes)
    if value.startswith("/"):
        return value
    m = _URI.match(value)
    if not m:
        raise ValueError(f"{value!r} is neither a URI ({listed}) nor an absolute path")
    scheme = m["scheme"]
    if scheme not in schemes:
        raise ValueError(f"{value!r} has the unsupported scheme {scheme + '://'!r}; use {listed} or an absolute path")
    if scheme == "s3a" and not m["authority"]:
        raise ValueError(f"{value!r} names no bucket (expected s3a://BUCKET/path)")
    if scheme == "file" and (m["authority"] or not m["path"]):
        raise ValueError(f"{value!r} is not a local file URI (expected file:///absolute/path)")
    return value


def uri_arg(value: str) -> str:
    """A data root: a URI (file://, hdfs://, s3a://) or an absolute local path."""
    value = value.strip()
    try:
        check_uri(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value.rstrip("/") if value not in ("/",) else value


def mlflow_uri_arg(value: str) -> str:
    """The MLflow tracking server: http:// or https:// with a host (anything else MLflow would
    silently take for a local folder to create runs in)."""
    m = _URI.match(value)
    if _CONTROL.search(value) or not m or m["scheme"] not in ("http", "https") or not m["authority"]:
        raise argparse.ArgumentTypeError(f"{value!r} is not an MLflow server URL (expected http(s)://host[:port])")
    return value


# MLflow experiment and registered model names the pipeline uses: no control characters, no
# slashes (a registered model name with "/" breaks its model URIs), at most 256 characters.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,255}$")


def name_arg(value: str) -> str:
    """An MLflow experiment or registered model name."""
    if not _NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"bad name {value!r}: expected 1-256 letters, digits, spaces, '_', '.', '-', starting with a letter or digit"
        )
    return value


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    """argparse `type=` for a number in the open interval (low, high)."""

    def parse(value: str) -> float:
        number = _number(value, float, "number")
        if not low < number < high:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{value!r} must be a number in ({low:g}, {high:g})")
        return number

    parse.__name__ = f"number in ({low:g}, {high:g})"
    return parse


def non_negative_float(value: str) -> float:
    number = _number(value, float, "number")
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} must be a finite number >= 0")
    return number


def date_window(end: dt.date, days: int) -> list[dt.date]:
    """The `days` consecutive dates ending at `end` (inclusive), oldest first."""
    if days <= 0:
        raise JobError(f"days must be positive, got {days}")
    return [end - dt.timedelta(days=days - 1 - i) for i in range(days)]


def join_path(root: str, *parts: str) -> str:
    out = root.rstrip("/")
    for part in parts:
        out += "/" + part.strip("/")
    return out


# ---------------------------------------------------------------------------------------------
# Spark session


# Up to this many folders a read lists on the driver (a year of days and their history).
DRIVER_LISTED_PATHS = 512


def spark_session(app_name: str, conf: dict[str, str] | None = None):
    """The job's SparkSession.

    Under spark-submit (or when a session already exists, as in tests) the master and config come
    from there. Run as a plain `python` script, it falls back to $SPARK_MASTER or local[*].
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    launched_by_spark_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    if SparkSession.getActiveSession() is None and not launched_by_spark_submit:
        builder = builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        # a local run serves nothing beyond the loopback interface
        builder = builder.config("spark.ui.enabled", "false")
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1")
        builder = builder.config("spark.driver.host", "127.0.0.1")
    # Partition dates and hours are computed in UTC everywhere (the cluster and a laptop agree).
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # A step reads a few dozen day folders (58 on a first run). Past 32 paths Spark lists them in
    # a Spark job of one task per folder, which took 0.5-1.2 s where the driver lists them in 0.1 s.
    spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", str(DRIVER_LISTED_PATHS))
    return spark


# ---------------------------------------------------------------------------------------------
# Hadoop FileSystem helpers (file://, hdfs://, s3a:// alike)


def _fs_and_path(spark, path: str):
    jvm = spark._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark._jsc.hadoopConfiguration())
    return fs, hpath


class _HadoopFs:
    """The FileSystem of `uri` and the JVM classes the helpers below call, looked up once: every
    py4j call is a round trip (0.4 ms on a 2-core machine), and a step that writes or copies ~60
    day folders would otherwise spend seconds resolving the same classes and file systems."""

    def __init__(self, spark, uri: str):
        self._jvm = spark._jvm
        self.Path = self._jvm.org.apache.hadoop.fs.Path
        self.conf = spark._jsc.hadoopConfiguration()
        self.fs = self.Path(uri).getFileSystem(self.conf)

    @functools.cached_property
    def copy(self):
        return self._jvm.org.apache.hadoop.fs.FileUtil.copy


def path_exists(spark, path: str) -> bool:
    fs, hpath = _fs_and_path(spark, path)
    return bool(fs.exists(hpath))


def require_path(spark, path: str, what: str = "input") -> None:
    """Raise JobError naming the path when it does not exist."""
    if not path_exists(spark, path):
        raise JobError(f"{what} not found: {path}")


def list_names(spark, path: str, include_hidden: bool = False) -> list[str]:
    """Names of the entries directly under `path` (sorted); [] if it does not exist."""
    fs, hpath = _fs_and_path(spark, path)
    if not fs.exists(hpath):
        return []
    names = [status.getPath().getName() for status in fs.listStatus(hpath)]
    if not include_hidden:
        names = [n for n in names if not n.startswith(("_", "."))]
    return sorted(names)


def delete_path(spark, path: str, hfs: _HadoopFs | None = None) -> None:
    h = hfs or _HadoopFs(spark, path)
    hpath = h.Path(path)
    if h.fs.exists(hpath):
        h.fs.delete(hpath, True)


def read_bytes(spark, path: str) -> bytes:
    fs, hpath = _fs_and_path(spark, path)
    if not fs.exists(hpath):
        raise JobError(f"file not found: {path}")
    stream = fs.open(hpath)
    try:
        buf = spark._jvm.java.io.ByteArrayOutputStream()
        spark._jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, buf, 65536, False)
        return bytes(buf.toByteArray())
    finally:
        stream.close()


def read_json(spark, path: str) -> Any:
    data = read_bytes(spark, path)
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise JobError(f"{path} is not valid JSON: {exc}") from None


def _tmp_sibling(target: str) -> str:
    return f"{target.rstrip('/')}.tmp-{uuid.uuid4().hex}"


def swap_into_place(spark, tmp: str, target: str, hfs: _HadoopFs | None = None) -> None:
    """Replace `target` with `tmp` (a file or a directory): old -> hidden backup, tmp -> target.

    If the second rename fails the backup is put back, so the earlier output survives.
    """
    h = hfs or _HadoopFs(spark, target)
    fs, tmp_path, target_path = h.fs, h.Path(tmp), h.Path(target)
    parent, name = target.rstrip("/").rsplit("/", 1)
    backup_path = None
    if fs.exists(target_path):
        backup_path = h.Path(f"{parent}/{_HIDDEN_PREFIX}old-{uuid.uuid4().hex}-{name}")
        if not fs.rename(target_path, backup_path):
            raise JobError(f"could not move the earlier output {target} aside")
    else:
        parent_path = h.Path(parent)
        if not fs.exists(parent_path):
            fs.mkdirs(parent_path)
    if not fs.rename(tmp_path, target_path):
        if backup_path is not None:
            fs.rename(backup_path, target_path)
        raise JobError(f"could not move {tmp} into place at {target}")
    if backup_path is not None:
        fs.delete(backup_path, True)


def _write_with(h: _HadoopFs, path: str, data: bytes) -> None:
    out = h.fs.create(h.Path(path), True)
    try:
        out.write(bytearray(data))
    finally:
        out.close()


def write_bytes_atomic(spark, target: str, data: bytes) -> None:
    """Write a small file: to `<target>.tmp-<uuid>`, then swapped into place."""
    tmp = _tmp_sibling(target)
    h = _HadoopFs(spark, tmp)
    try:
        _write_with(h, tmp, data)
        swap_into_place(spark, tmp, target, h)
    finally:
        delete_path(spark, tmp, h)


def write_json_atomic(spark, target: str, payload: Any) -> None:
    data = json.dumps(payload, indent=2, sort_keys=True, default=str).encode("utf-8")
    write_bytes_atomic(spark, target, data)


def write_df_atomic(
    df,
    target: str,
    fmt: str = "parquet",
    partition_by: Sequence[str] | None = None,
    options: dict[str, str] | None = None,
) -> None:
    """Write the whole of `target` from `df`: into a temp sibling, then swapped into place."""
    spark = df.sparkSession
    tmp = _tmp_sibling(target)
    try:
        writer = df.write.mode("error").format(fmt).options(**(options or {}))
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.save(tmp)
        swap_into_place(spark, tmp, target)
    finally:
        delete_path(spark, tmp)


def write_partitions_atomic(
    df,
    target: str,
    partition_col: str,
    expected_values: Iterable[str] | None = None,
    fmt: str = "parquet",
    before_swap: Callable[[], None] | None = None,
) -> list[str]:
    """Replace only the partitions `partition_col=<v>` of `target` that `df` holds (or `expected_values`).

    Other partitions stay as they are: this is how a rerun of one date replaces that date's data and
    never duplicates it. Everything is written to a temp sibling first; partitions are then swapped
    in one by one. Partitions named in `expected_values` but absent from `df` are removed, so
    the target holds exactly what this run produced for those values. `before_swap` runs after
    the write and before the first swap: an error it raises leaves `target` as it was. Returns the
    partition values.
    """
    spark = df.sparkSession
    tmp = _tmp_sibling(target)
    try:
        df.write.mode("error").format(fmt).partitionBy(partition_col).save(tmp)
        if before_swap is not None:
            before_swap()
        prefix = f"{partition_col}="
        written = [n[len(prefix):] for n in list_names(spark, tmp) if n.startswith(prefix)]
        return _swap_partitions(spark, tmp, target, partition_col, written, expected_values)
    finally:
        delete_path(spark, tmp)


def write_tables_atomic(spark, target: str, partition_col: str, tables, schema,
                        expected_values: Iterable[str] | None = None) -> list[str]:
    """write_partitions_atomic for data already in the driver's memory: `tables` maps a partition
    value to its columns ({column: numpy array}); each becomes its partition's one Parquet file,
    with `schema`'s columns and Spark types (`arrow_table`). The files are encoded here with
    pyarrow and copied through Hadoop's FileSystem (any URI Spark writes to), which spares the
    rows the trip into Spark's rows and a shuffle: for the landed days this is most of generate's
    time. Same temp sibling, swaps and removals as write_partitions_atomic."""
    tmp = _tmp_sibling(target)
    h = _HadoopFs(spark, tmp)
    try:
        for value, columns in tables.items():
            _write_parquet_file(h, join_path(tmp, f"{partition_col}={value}"), columns, schema)
        return _swap_partitions(spark, tmp, target, partition_col, list(tables), expected_values, h)
    finally:
        delete_path(spark, tmp, h)


def write_table_atomic(spark, target: str, columns, schema) -> None:
    """The whole of the folder `target` as one Parquet file of `columns` (as write_tables_atomic
    writes a partition), swapped into place."""
    tmp = _tmp_sibling(target)
    h = _HadoopFs(spark, tmp)
    try:
        _write_parquet_file(h, tmp, columns, schema)
        swap_into_place(spark, tmp, target, h)
    finally:
        delete_path(spark, tmp, h)


def _write_parquet_file(h: _HadoopFs, folder: str, columns, schema) -> None:
    """One Parquet file in `folder`, named as Spark names its files (a new name on every write,
    which the steps' fingerprints rely on)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(arrow_table(columns, schema), sink, compression="snappy")
    name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    _write_with(h, join_path(folder, name), sink.getvalue().to_pybytes())


def copy_partitions_atomic(spark, source: str, target: str, partition_col: str,
                           values: Iterable[str]) -> list[str]:
    """Copy the partitions `partition_col=<v>` of the table `source` (their visible files, byte for
    byte, by Hadoop's FileSystem: no Spark job, the rows are not decoded) into the table `target`,
    replacing those partitions there; the same temp sibling and swaps as write_partitions_atomic."""
    prefix = f"{partition_col}="
    values = sorted(values)
    tmp = _tmp_sibling(target)
    src, dst = _HadoopFs(spark, source), _HadoopFs(spark, tmp)
    try:
        for value in values:
            _copy_visible_files(src, dst, join_path(source, f"{prefix}{value}"), join_path(tmp, f"{prefix}{value}"))
        return _swap_partitions(spark, tmp, target, partition_col, values, None, dst)
    finally:
        delete_path(spark, tmp, dst)


def copy_folder_atomic(spark, source: str, target: str) -> None:
    """The visible files of the folder `source`, copied byte for byte to the folder `target`,
    which is replaced whole (swapped into place)."""
    tmp = _tmp_sibling(target)
    src, dst = _HadoopFs(spark, source), _HadoopFs(spark, tmp)
    try:
        _copy_visible_files(src, dst, source, tmp)
        swap_into_place(spark, tmp, target, dst)
    finally:
        delete_path(spark, tmp, dst)


def _copy_visible_files(src: _HadoopFs, dst: _HadoopFs, source: str, dest: str) -> None:
    dst.fs.mkdirs(dst.Path(dest))
    for status in src.fs.listStatus(src.Path(source)):
        path = status.getPath()
        name = path.getName()
        if status.isFile() and not name.startswith(("_", ".")):
            if not src.copy(src.fs, path, dst.fs, dst.Path(f"{dest}/{name}"), False, src.conf):
                raise JobError(f"could not copy {source}/{name} to {dest}")


def _swap_partitions(spark, tmp: str, target: str, partition_col: str, written: list[str],
                     expected_values: Iterable[str] | None, hfs: _HadoopFs | None = None) -> list[str]:
    """Swap the partitions written under `tmp` into `target`; remove the expected ones not written."""
    prefix = f"{partition_col}="
    h = hfs or _HadoopFs(spark, target)
    target_path = h.Path(target)
    if not h.fs.exists(target_path):
        h.fs.mkdirs(target_path)
    for value in sorted(set(written) | set(expected_values or ())):
        part_target = join_path(target, f"{prefix}{value}")
        if value in written:
            swap_into_place(spark, join_path(tmp, f"{prefix}{value}"), part_target, h)
        else:
            delete_path(spark, part_target, h)
    return sorted(written)


def arrow_table(columns, schema):
    """`schema`'s columns of `columns` ({name: numpy array}; naive datetime64 values are UTC) as an
    Arrow table whose Parquet Spark reads with exactly `schema`'s types."""
    import pyarrow as pa

    # timestamps as UTC instants (isAdjustedToUTC): a local timestamp would read as timestamp_ntz
    arrow_types = {"bigint": pa.int64(), "int": pa.int32(), "double": pa.float64(),
                   "timestamp": pa.timestamp("us", tz="UTC"), "string": pa.string()}
    return pa.Table.from_arrays([pa.array(columns[name]).cast(arrow_types[kind]) for name, kind in schema],
                                names=[name for name, _ in schema])


def read_parquet(spark, path: str, what: str = "input"):
    """Read Parquet, with a JobError naming the path when it is missing."""
    require_path(spark, path, what)
    return spark.read.parquet(path)


def read_partitioned_table(spark, table: str, schema, what: str, dates: Iterable[str] | None = None):
    """A date-partitioned table with its documented schema, TX_DATE kept a string (Spark would
    otherwise infer a date type from the folder names); optionally only some dates."""
    from pyspark.sql import functions as F

    from fraud_jobs import layout

    require_path(spark, table, what)
    df = spark.read.schema(layout.ddl((*schema, (layout.DATE_COLUMN, "string")))).parquet(table)
    if dates is not None:
        df = df.where(F.col(layout.DATE_COLUMN).isin(list(dates)))
    return df


def read_features(spark, data_root: str, dates: Iterable[str] | None = None):
    """<data-root>/features/ as preprocess wrote it (layout.FEATURE_TABLE_SCHEMA + TX_DATE string)."""
    from fraud_jobs import layout

    return read_partitioned_table(
        spark, layout.features(data_root), layout.FEATURE_TABLE_SCHEMA,
        "features (run preprocess first)", dates,
    )


def check_schema(df, expected: tuple[tuple[str, str], ...], where: str) -> None:
    """Exact column names and types (order free); the error lists every difference."""
    actual = dict(df.dtypes)
    wanted = dict(expected)
    problems = []
    missing = [c for c in wanted if c not in actual]
    extra = [c for c in actual if c not in wanted]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(extra)}")
    for name, kind in wanted.items():
        if name in actual and actual[name] != kind:
            problems.append(f"column {name} is {actual[name]}, expected {kind}")
    if problems:
        raise JobError(f"bad schema in {where}: {'; '.join(problems)}")
