"""Step 2: validation of the landed days a run needs and an idempotent, atomic, incremental copy
into raw/ (file:// and HDFS)."""

from __future__ import annotations

import shutil

import pytest

from fraud_jobs import layout, preprocess, save_to_hdfs
from fraud_jobs.common import JobError, list_names, read_features, run_job
from tests.jobs_helpers import (days_back, make_unreadable, read_partitioned, run_generate, run_preprocess,
                                run_save, tree)

DATE, DAYS = "2024-06-12", 3
WINDOW = ["2024-06-10", "2024-06-11", "2024-06-12"]
# the days of raw data a 3-day run needs: those and the 37 days of history before them
NEEDED = [f"TX_DATE={d}" for d in days_back(DATE, DAYS + layout.FEATURE_HISTORY_DAYS)]


@pytest.fixture(scope="module")
def landed(spark, tmp_path_factory):
    """A landing root with the run's days and one more, generated once for this module."""
    path = tmp_path_factory.mktemp("landing")
    counts = run_generate(f"file://{path}", DATE, days=DAYS + 1)
    return path, counts


@pytest.fixture()
def landing_copy(landed, tmp_path):
    """A private copy of the landing root that a test may damage."""
    src, counts = landed
    dst = tmp_path / "landing"
    shutil.copytree(src, dst)
    return dst, counts


def rewrite_day(spark, landing, day: str, transform):
    """Replace one landed day's Parquet with transform(its rows)."""
    folder = landing / "transactions" / f"TX_DATE={day}"
    df = transform(spark.read.parquet(f"file://{folder}")).localCheckpoint()
    shutil.rmtree(folder)
    df.write.parquet(f"file://{folder}")


def test_first_run_copies_every_day_the_run_needs(spark, landed, tmp_uri, capsys):
    src, counts = landed
    data = f"{tmp_uri}/data"
    saved = run_save(f"file://{src}", data, DATE, DAYS)
    assert sorted(f"TX_DATE={d}" for d in saved) == NEEDED
    assert "backfilling 40 days" in capsys.readouterr().err
    assert saved == {d: counts[d] for d in saved}
    raw = read_partitioned(spark, layout.raw_transactions(data), layout.TRANSACTION_SCHEMA)
    landing = read_partitioned(spark, layout.landing_transactions(f"file://{src}"), layout.TRANSACTION_SCHEMA)
    assert raw.exceptAll(landing.where(landing.TX_DATE.isin(list(saved)))).count() == 0
    assert raw.count() == sum(saved.values())
    assert spark.read.parquet(layout.raw_customers(data)).count() == 60
    assert spark.read.parquet(layout.raw_terminals(data)).count() == 150


def test_later_runs_copy_only_new_or_changed_days_and_fill_gaps(spark, landing_copy, tmp_path, capsys):
    landing, counts = landing_copy
    data = tmp_path / "data"
    run_save(f"file://{landing}", f"file://{data}", "2024-06-11", DAYS)
    capsys.readouterr()
    stored = tree(data)
    assert run_save(f"file://{landing}", f"file://{data}", "2024-06-11", DAYS) == {}
    assert tree(data) == stored, "a rerun with nothing new writes nothing"

    # the next day is new; one stored day is gone (a gap); one landed day was generated again
    shutil.rmtree(data / "raw" / "transactions" / "TX_DATE=2024-05-20")
    rewrite_day(spark, landing, "2024-06-01", lambda df: df)
    copied = run_save(f"file://{landing}", f"file://{data}", DATE, DAYS)
    assert sorted(copied) == ["2024-05-20", "2024-06-01", "2024-06-12"]
    err = capsys.readouterr().err
    assert "gap: raw transactions missing for 1 day (2024-05-20); filling it" in err
    assert "raw transactions of 1 day (2024-06-01) are outdated" in err
    assert "adding 1 new day of raw transactions (2024-06-12)" in err
    raw = read_partitioned(spark, layout.raw_transactions(f"file://{data}"), layout.TRANSACTION_SCHEMA)
    per_day = {r["TX_DATE"]: r["count"] for r in raw.groupBy("TX_DATE").count().collect()}
    assert per_day == {d: counts[d] for d in per_day} and len(per_day) == 41
    assert raw.select("TRANSACTION_ID").distinct().count() == raw.count()
    assert list_names(spark, layout.raw_transactions(f"file://{data}")) == sorted(f"TX_DATE={d}" for d in per_day)


def test_a_daily_run_reads_only_the_new_landed_day(spark, landing_copy, tmp_path):
    """The run after a run copies the one new day and reads no other landed day: every landed day
    but the new one is unreadable (same listing, garbage content), and the run still succeeds."""
    landing, counts = landing_copy
    data = tmp_path / "data"
    run_save(f"file://{landing}", f"file://{data}", "2024-06-11", DAYS)
    folders = sorted((landing / "transactions").glob("TX_DATE=*"))
    for folder in folders:
        if folder.name != f"TX_DATE={DATE}":
            make_unreadable(folder)
    assert len(folders) == DAYS + 1 + layout.FEATURE_HISTORY_DAYS
    assert run_save(f"file://{landing}", f"file://{data}", DATE, DAYS) == {DATE: counts[DATE]}
    raw = read_partitioned(spark, layout.raw_transactions(f"file://{data}"), layout.TRANSACTION_SCHEMA)
    assert raw.where(raw.TX_DATE == DATE).count() == counts[DATE]


@pytest.fixture()
def saved_before(spark, landed, tmp_path):
    """A data root holding an earlier good save, and a snapshot of its files."""
    src, _ = landed
    data = tmp_path / "data"
    run_save(f"file://{src}", f"file://{data}", DATE, DAYS)
    return data, tree(data)


def expect_refusal(spark, landing, data, snapshot, message):
    with pytest.raises(JobError, match=message):
        run_save(f"file://{landing}", f"file://{data}", DATE, DAYS)
    assert tree(data) == snapshot, "a refused run must leave the earlier output as it was"


def test_missing_landing_root_is_named(spark, saved_before, tmp_path):
    data, snapshot = saved_before
    missing = tmp_path / "nowhere"
    expect_refusal(spark, missing, data, snapshot, f"landed customers not found: file://{missing}/customers")


def test_missing_day_is_named(spark, landing_copy, saved_before):
    (landing, _), (data, snapshot) = landing_copy, saved_before
    shutil.rmtree(landing / "transactions" / "TX_DATE=2024-06-11")
    expect_refusal(spark, landing, data, snapshot,
                   "no landed transactions for 1 day the run needs: 2024-06-11")


def test_wrong_column_type_is_named(spark, landing_copy, saved_before):
    (landing, _), (data, snapshot) = landing_copy, saved_before
    rewrite_day(spark, landing, "2024-06-12", lambda df: df.withColumn("TX_AMOUNT", df.TX_AMOUNT.cast("string")))
    expect_refusal(spark, landing, data, snapshot, "column TX_AMOUNT is string, expected double")


def test_missing_column_is_named(spark, landing_copy, saved_before):
    (landing, _), (data, snapshot) = landing_copy, saved_before
    rewrite_day(spark, landing, "2024-06-10", lambda df: df.drop("TX_FRAUD"))
    expect_refusal(spark, landing, data, snapshot, r"missing column\(s\) TX_FRAUD")


def test_empty_day_is_refused(spark, landing_copy, saved_before):
    (landing, _), (data, snapshot) = landing_copy, saved_before
    rewrite_day(spark, landing, "2024-06-11", lambda df: df.limit(0))
    expect_refusal(spark, landing, data, snapshot, "empty day: no transactions landed for 2024-06-11")


def test_duplicate_transaction_ids_are_refused(spark, landing_copy, saved_before):
    (landing, _), (data, snapshot) = landing_copy, saved_before
    rewrite_day(spark, landing, "2024-06-12", lambda df: df.unionByName(df.limit(5)))
    expect_refusal(spark, landing, data, snapshot, "duplicate TRANSACTION_ID: 5 duplicate row")


@pytest.mark.parametrize("amount", [12.345, float("nan"), float("inf")])
def test_an_amount_that_is_not_whole_cents_is_refused(spark, landing_copy, saved_before, amount):
    """preprocess sums amounts in cents: a sub-cent or non-finite amount never reaches raw/."""
    from pyspark.sql import functions as F

    (landing, _), (data, snapshot) = landing_copy, saved_before
    first = spark.read.parquet(f"file://{landing}/transactions/TX_DATE=2024-06-11").agg(F.min("TRANSACTION_ID")).first()[0]
    rewrite_day(spark, landing, "2024-06-11", lambda df: df.withColumn(
        "TX_AMOUNT", F.when(df.TRANSACTION_ID == first, F.lit(amount)).otherwise(df.TX_AMOUNT)))
    expect_refusal(spark, landing, data, snapshot,
                   "1 transaction\\(s\\) of 2024-06-11 with TX_AMOUNT not a finite whole number of cents")


def test_cli_wrapper_prints_the_error_and_exits_2(spark, tmp_path, capsys):
    argv = ["--date", DATE, "--landing-root", f"file://{tmp_path}/none", "--data-root", f"file://{tmp_path}/data"]
    with pytest.raises(SystemExit) as exit_info:
        run_job(save_to_hdfs.main, argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: landed customers not found:") and f"{tmp_path}/none" in err
    assert not (tmp_path / "data").exists()


def test_a_new_clusters_copy_of_the_same_days_recomputes_no_features(spark, landed, tmp_path, capsys):
    """dataproc.lifecycle per-run: every run's cluster comes with a new, empty HDFS, into which
    save_to_hdfs copies the landed days again (new files, new times); preprocess, whose features live
    in the bucket, finds them current and computes nothing. A raw day rewritten by anything but
    save_to_hdfs still recomputes the features that reach it."""
    landing, _ = landed
    lake = f"file://{tmp_path / 'lake'}"

    def run_on(cluster: str) -> dict:
        hdfs = f"file://{tmp_path / cluster}"
        run_save(f"file://{landing}", hdfs, DATE, DAYS)
        return preprocess.main(["--date", DATE, "--data-root", lake, "--raw-root", hdfs, "--days", str(DAYS)])

    assert sorted(run_on("cluster-1")) == WINDOW
    features = tree(tmp_path / "lake")
    shutil.rmtree(tmp_path / "cluster-1")  # deleted with its cluster
    capsys.readouterr()
    assert run_on("cluster-2") == {}
    assert f"all {DAYS} days of features for {WINDOW[0]}..{WINDOW[-1]} are up to date" in capsys.readouterr().err
    assert tree(tmp_path / "lake") == features

    # the last day's raw files rewritten behind save_to_hdfs's back (same rows, new files): only the
    # features of that day reach it
    folder = tmp_path / "cluster-2" / "raw" / "transactions" / f"TX_DATE={WINDOW[-1]}"
    rows = spark.read.parquet(f"file://{folder}").localCheckpoint()
    shutil.rmtree(folder)
    rows.write.parquet(f"file://{folder}")
    again = preprocess.main(["--date", DATE, "--data-root", lake, "--raw-root", f"file://{tmp_path / 'cluster-2'}",
                             "--days", str(DAYS)])
    assert sorted(again) == [WINDOW[-1]]


def test_preprocess_checks_a_copied_day_again_once_it_is_no_longer_the_copy(spark, landed, tmp_path):
    """preprocess trusts the schema of the raw days that are still save_to_hdfs's checked copies
    (it skips reading their footers); a day rewritten since, here with a column renamed, is checked
    and named, and nothing is written."""
    from pyspark.sql import functions as F

    landing, _ = landed
    data = tmp_path / "data"
    run_save(f"file://{landing}", f"file://{data}", DATE, DAYS)
    folder = data / "raw" / "transactions" / f"TX_DATE={WINDOW[0]}"
    rows = spark.read.parquet(f"file://{folder}").select(
        *[F.col(c).alias("AMOUNT") if c == "TX_AMOUNT" else F.col(c) for c, _ in layout.TRANSACTION_SCHEMA]
    ).localCheckpoint()
    shutil.rmtree(folder)
    rows.write.parquet(f"file://{folder}")
    before = tree(data)
    with pytest.raises(JobError, match=rf"raw transactions of {WINDOW[0]} at .*TX_DATE={WINDOW[0]} .*"
                                       r"missing column\(s\) TX_AMOUNT"):
        run_preprocess(f"file://{data}", DATE, DAYS)
    assert tree(data) == before


@pytest.mark.hdfs
def test_saves_into_a_real_hdfs_and_preprocess_reads_it(spark, landed, hdfs):
    src, counts = landed
    data = f"{hdfs}/user/fraud/data"
    saved = run_save(f"file://{src}", data, DATE, DAYS)
    assert run_save(f"file://{src}", data, DATE, DAYS) == {}  # nothing new: nothing copied again
    assert list_names(spark, layout.raw_transactions(data)) == NEEDED
    raw = read_partitioned(spark, layout.raw_transactions(data), layout.TRANSACTION_SCHEMA)
    assert raw.count() == sum(saved.values())
    assert not [n for n in list_names(spark, f"{hdfs}/user/fraud", include_hidden=True) if ".tmp-" in n]

    run_preprocess(data, DATE, DAYS)
    features = read_features(spark, data)
    assert features.count() == sum(saved[d] for d in WINDOW)
    assert sorted(r["TX_DATE"] for r in features.select("TX_DATE").distinct().collect()) == WINDOW
