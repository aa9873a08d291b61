"""The days a run needs, which of them are stored, and whether a stored day is still current.

Every data step makes sure the days it needs exist and works only on the missing or outdated ones:
generate lands the days the landing zone lacks, save_to_hdfs copies the landed days that are new or
changed since its last copy, preprocess computes the features of the days whose raw inputs it has
not seen. A run with nothing to do writes nothing, so its outputs stay byte for byte as they were.

"Changed" is judged by fingerprints: a day's fingerprint is a hash of its partition's file names,
sizes and modification times. Spark gives every file it writes a new name, so any rewrite of a
day changes it; a manifest (a small JSON file next to the tables) records the fingerprints each
stored day was made from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Collection, Iterable, Mapping, Sequence

from fraud_jobs import layout
from fraud_jobs.common import (
    JobError,
    check_schema,
    date_window,
    log,
    path_exists,
    read_json,
    require_path,
    write_json_atomic,
)


def raw_days(end: dt.date, feature_days: int) -> list[dt.date]:
    """The raw days behind `feature_days` days of features ending at `end`: those days and the
    FEATURE_HISTORY_DAYS before them, oldest first."""
    return date_window(end, feature_days + layout.FEATURE_HISTORY_DAYS)


def _day_of(folder: str) -> str | None:
    prefix = f"{layout.DATE_COLUMN}="
    return folder[len(prefix):] if folder.startswith(prefix) else None


def partition_fingerprints(spark, table: str) -> dict[str, str]:
    """{YYYY-MM-DD: fingerprint} of every date partition of `table` ({} if it does not exist).

    Two listings whatever the number of days: the table's folder, then its files in one recursive
    listing (on S3 a flat listing of the prefix). On the local file system the day folders are
    listed instead, in one call: there Hadoop builds each file of a recursive listing with a `stat`
    process (~6 ms a file, a third of a second for 58 days). Hidden files (Hadoop's .crc, _SUCCESS)
    do not count; an empty partition folder does."""
    jvm = spark._jvm
    root = jvm.org.apache.hadoop.fs.Path(table)
    fs = root.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(root):
        return {}
    folders = {}
    for status in fs.listStatus(root):
        day = _day_of(status.getPath().getName())
        if day is not None and status.isDirectory():
            folders[day] = status.getPath()
    if fs.getScheme() == "file":
        paths = spark.sparkContext._gateway.new_array(jvm.org.apache.hadoop.fs.Path, len(folders))
        for i, path in enumerate(folders.values()):
            paths[i] = path
        statuses = iter(fs.listStatus(paths))
    else:
        listing = fs.listFiles(root, True)
        statuses = (listing.next() for _ in iter(listing.hasNext, False))
    files: dict[str, list[tuple[str, int, int]]] = {day: [] for day in folders}
    for status in statuses:
        # the path as one string (parent folder and name split here: fewer py4j round trips)
        folder, name = str(status.getPath().toString()).rsplit("/", 2)[-2:]
        day = _day_of(folder)
        if day is None or day not in files or name.startswith(("_", ".")) or status.isDirectory():
            continue
        files[day].append((name, int(status.getLen()), int(status.getModificationTime())))
    return {day: _digest(sorted(entries)) for day, entries in files.items()}


def folder_fingerprint(spark, folder: str) -> str | None:
    """Fingerprint of the visible files directly in `folder` (a profile table); None if absent."""
    jvm = spark._jvm
    root = jvm.org.apache.hadoop.fs.Path(folder)
    fs = root.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(root):
        return None
    entries = sorted(
        (s.getPath().getName(), int(s.getLen()), int(s.getModificationTime()))
        for s in fs.listStatus(root)
        if s.isFile() and not s.getPath().getName().startswith(("_", "."))
    )
    return _digest(entries)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()


def digest(*parts) -> str:
    """A fingerprint of JSON-able values (e.g. the fingerprints a day was computed from)."""
    return _digest(list(parts))


_COPY_OF_LANDED = "landed:"


def raw_day_sources(spark, raw_root: str) -> dict[str, str]:
    """{YYYY-MM-DD: what the stored raw day is} for every day of the raw table under `raw_root`.

    A day that save_to_hdfs copied, still in the files it wrote (the manifest's "copies"), is named
    by the landed day it was copied from ("landed:<fingerprint>", see checked_copies); any other
    day by its own files' fingerprint. A per-run cluster copies the same landed days into a new
    HDFS every run: new files, new modification times, the same data, so the features made from
    them stay current; a day rewritten by anything else than save_to_hdfs changes its name, so they
    do not."""
    stored = partition_fingerprints(spark, layout.raw_transactions(raw_root))
    manifest = read_manifest(spark, layout.raw_manifest(raw_root))
    landed, copies = manifest.get("transactions", {}), manifest.get("copies", {})
    return {day: f"{_COPY_OF_LANDED}{landed[day]}" if day in landed and copies.get(day) == files else files
            for day, files in stored.items()}


def checked_copies(sources: Mapping[str, str]) -> set[str]:
    """The days of raw_day_sources(...) that are still the files save_to_hdfs checked and copied
    (a reader need not check their schema again)."""
    return {day for day, source in sources.items() if source.startswith(_COPY_OF_LANDED)}


def read_manifest(spark, path: str) -> dict:
    """A manifest, or {} if there is none yet (a first run, or a data root from before manifests)."""
    if not path_exists(spark, path):
        return {}
    data = read_json(spark, path)
    if not isinstance(data, dict):
        raise JobError(f"{path} is not a manifest (a JSON object); delete it to rebuild the days")
    return data


def write_manifest(spark, path: str, data: Mapping) -> None:
    write_json_atomic(spark, path, dict(data))


def ranges(days: Sequence[dt.date]) -> str:
    """'2024-01-01..2024-01-05, 2024-01-09' for sorted days."""
    out, start, prev = [], None, None
    for day in list(days) + [None]:
        if start is not None and (day is None or day - prev != dt.timedelta(days=1)):
            out.append(start.isoformat() if start == prev else f"{start}..{prev}")
            start = None
        if day is not None and start is None:
            start = day
        prev = day
    return ", ".join(out)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def report_plan(step: str, what: str, needed: Sequence[dt.date], todo: Iterable[dt.date],
                stored: Iterable[str]) -> list[dt.date]:
    """Log what the step will do with the days it needs and return the days to work on (sorted).

    `stored`: the days (YYYY-MM-DD) already there. A day to work on that is older than the
    newest stored day is a gap (or an outdated day) and is said so."""
    todo = sorted(set(todo))
    stored = {d for d in stored}
    span = f"{needed[0]}..{needed[-1]}"
    if not todo:
        log(f"{step}: all {plural(len(needed), 'day')} of {what} for {span} are up to date; nothing to do")
        return todo
    in_range = sorted(d for d in stored if needed[0].isoformat() <= d <= needed[-1].isoformat())
    if not in_range:
        log(f"{step}: no {what} stored for {span} yet: backfilling {plural(len(todo), 'day')} "
            f"({ranges(todo)})")
        return todo
    newest = dt.date.fromisoformat(in_range[-1])
    new = [d for d in todo if d > newest]
    older = [d for d in todo if d <= newest]
    if older:
        missing = [d for d in older if d.isoformat() not in stored]
        outdated = [d for d in older if d.isoformat() in stored]
        if missing:
            log(f"{step}: gap: {what} missing for {plural(len(missing), 'day')} ({ranges(missing)}); "
                "filling it")
        if outdated:
            log(f"{step}: {what} of {plural(len(outdated), 'day')} ({ranges(outdated)}) are outdated "
                "(their inputs changed); redoing them")
    if new:
        log(f"{step}: adding {plural(len(new), 'new day')} of {what} ({ranges(new)})")
    return todo


def parquet_columns(spark, folder: str) -> dict[str, list[tuple[str, str]]]:
    """{file: [(column, Spark SQL type)]} of the Parquet files directly in `folder`, read from
    their footers on the driver the way Spark maps Parquet types (no Spark job: checking the
    schema of 58 days costs 58 small reads, not 58 schema-inference jobs). A dozen py4j calls a
    file: the schema crosses as one JSON string."""
    from pyspark.sql.types import StructType

    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    root = jvm.org.apache.hadoop.fs.Path(folder)
    fs = root.getFileSystem(conf)
    converter = jvm.org.apache.spark.sql.execution.datasources.parquet.ParquetToSparkSchemaConverter(
        spark._jsparkSession.sessionState().conf())
    open_reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open
    input_file = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromStatus
    out = {}
    for status in fs.listStatus(root):
        name = status.getPath().getName()
        if name.startswith(("_", ".")) or not status.isFile():
            continue
        try:
            reader = open_reader(input_file(status, conf))
            try:
                schema = reader.getFooter().getFileMetaData().getSchema()
            finally:
                reader.close()
            struct = StructType.fromJson(json.loads(converter.convert(schema).json()))
        except Exception as exc:  # py4j: a file that is not Parquet, or a broken one
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise JobError(f"cannot read {folder}/{name} as Parquet: {first}") from None
        out[name] = [(f.name, f.dataType.simpleString()) for f in struct.fields]
    return out


def check_day_files(spark, folder: str, schema, what: str) -> int:
    """Every Parquet file of one stored day (or one profile folder) has exactly `schema`'s columns
    and types; the JobError names the folder, the file and every difference. Returns how many
    files there are."""
    from types import SimpleNamespace

    files = parquet_columns(spark, folder)
    for name, columns in sorted(files.items()):
        check_schema(SimpleNamespace(dtypes=columns), schema, f"{what} at {folder} ({name})")
    return len(files)


def read_folder(spark, folder: str, schema, what: str):
    """A table that is one folder of Parquet files (a profile), each file checked against `schema`
    first (no schema-inference job); a missing or empty folder is an error naming it."""
    require_path(spark, folder, what)
    if not check_day_files(spark, folder, schema, what):
        raise JobError(f"cannot read {what} at {folder}: no Parquet file in it")
    return spark.read.schema(layout.ddl(schema)).parquet(folder)


def read_days(spark, table: str, days: Sequence[str], schema, what: str, checked: Collection[str] = ()):
    """The rows of some date partitions of `table` (TX_DATE a string), each day's files checked
    against `schema` first unless the day is in `checked`; one read for all the days."""
    for day in days:
        if day not in checked:
            check_day_files(spark, layout.partition_dir(table, day), schema, f"{what} of {day}")
    ddl = layout.ddl((*schema, (layout.DATE_COLUMN, "string")))
    return (spark.read.schema(ddl).option("basePath", table)
            .parquet(*[layout.partition_dir(table, d) for d in days]))
