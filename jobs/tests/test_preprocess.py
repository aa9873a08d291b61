"""Step 3: the feature table against a brute-force reference, its contract, reruns and bad input."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from collections import defaultdict

import pytest

from fraud_jobs import generate, layout, preprocess
from fraud_jobs.common import JobError, list_names, read_features, write_tables_atomic
from fraud_jobs.simulator import Simulator, SimulatorParams
from tests.jobs_helpers import SMALL, make_unreadable, run_generate, run_preprocess, run_save, tree

END = dt.date(2024, 7, 20)
HISTORY = 40  # days of raw data: more than the 30-day window + 7-day delay before the output window
WINDOW = [(END - dt.timedelta(days=i)).isoformat() for i in (2, 1, 0)]
DAY = 86_400


def write_raw(spark, data_root: str, columns: dict) -> None:
    write_tables_atomic(spark, layout.raw_transactions(data_root), layout.DATE_COLUMN,
                        generate.day_tables(columns), layout.TRANSACTION_SCHEMA)


@pytest.fixture(scope="module")
def raw_root(spark, tmp_path_factory):
    """<data-root>/raw with HISTORY days of small simulated data; returns (path, transactions)."""
    root = tmp_path_factory.mktemp("data")
    sim = Simulator(SimulatorParams(customers=30, terminals=40, radius=30, seed=4))
    days = [END - dt.timedelta(days=HISTORY - 1 - i) for i in range(HISTORY)]
    columns = sim.days(days)
    write_raw(spark, f"file://{root}", columns)
    return root, rows_of(columns)


def rows_of(columns: dict) -> list[dict]:
    """Simulator output as plain Python rows for the reference."""
    return [
        {
            "id": int(columns["TRANSACTION_ID"][i]),
            "ts": int(columns["TX_DATETIME"][i].astype("datetime64[s]").astype(int)),
            "customer": int(columns["CUSTOMER_ID"][i]),
            "terminal": int(columns["TERMINAL_ID"][i]),
            "amount": float(columns["TX_AMOUNT"][i]),
            "fraud": int(columns["TX_FRAUD"][i]),
            "date": columns["TX_DATE"][i],
        }
        for i in range(len(columns["TX_AMOUNT"]))
    ]


def reference_features(rows: list[dict], dates=None) -> dict[int, dict]:
    """The handbook's definitions, by brute force over plain Python rows (those of `dates`)."""
    by_customer, by_terminal = defaultdict(list), defaultdict(list)
    for r in rows:
        by_customer[r["customer"]].append(r)
        by_terminal[r["terminal"]].append(r)
    out = {}
    for r in rows:
        if dates is not None and r["date"] not in dates:
            continue
        t = r["ts"]
        when = dt.datetime.fromtimestamp(t, dt.timezone.utc)
        f = {
            "TX_AMOUNT": r["amount"],
            "TX_DURING_WEEKEND": float(when.weekday() >= 5),
            "TX_DURING_NIGHT": float(when.hour <= 6),
            "TX_HOUR": when.hour,
        }
        for w in layout.WINDOWS_DAYS:
            mine = [o["amount"] for o in by_customer[r["customer"]] if t - w * DAY < o["ts"] <= t]
            f[f"CUSTOMER_ID_NB_TX_{w}DAY_WINDOW"] = float(len(mine))
            f[f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW"] = sum(mine) / len(mine)
            lo, hi = t - (layout.LABEL_DELAY_DAYS + w) * DAY, t - layout.LABEL_DELAY_DAYS * DAY
            seen = [o["fraud"] for o in by_terminal[r["terminal"]] if lo < o["ts"] <= hi]
            f[f"TERMINAL_ID_NB_TX_{w}DAY_WINDOW"] = float(len(seen))
            f[f"TERMINAL_ID_RISK_{w}DAY_WINDOW"] = sum(seen) / len(seen) if seen else 0.0
        out[r["id"]] = f
    return out


@pytest.fixture(scope="module")
def preprocessed(spark, raw_root):
    root, rows = raw_root
    counts = run_preprocess(f"file://{root}", END.isoformat(), days=3)
    return root, rows, counts


def test_features_match_the_handbook_definitions(spark, preprocessed):
    root, rows, counts = preprocessed
    features = read_features(spark, f"file://{root}")
    got = {r["TRANSACTION_ID"]: r.asDict() for r in features.collect()}  # a few hundred rows
    in_window = [r for r in rows if r["date"] in WINDOW]
    assert sorted(got) == sorted(r["id"] for r in in_window)
    assert counts == {d: sum(r["date"] == d for r in in_window) for d in WINDOW}
    assert_features_match(got, reference_features(rows, set(WINDOW)))
    # the windows saw real history: some terminal risk is non-zero, 30-day counts exceed 7-day ones
    assert any(r["TERMINAL_ID_RISK_30DAY_WINDOW"] > 0 for r in got.values())
    assert any(r["CUSTOMER_ID_NB_TX_30DAY_WINDOW"] > r["CUSTOMER_ID_NB_TX_7DAY_WINDOW"] for r in got.values())


def assert_features_match(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for tx_id, row in got.items():
        for name, value in expected[tx_id].items():
            assert math.isclose(row[name], value, rel_tol=1e-9, abs_tol=1e-9), (tx_id, name, row[name], value)


def test_the_first_run_on_empty_roots_computes_every_window_in_full(spark, tmp_path):
    """generate -> save_to_hdfs -> preprocess on an empty landing zone and data root, as the first
    run does: every feature equals its definition over a simulated history much longer than any
    window, so no window is shorter than its name and no feature is zero for lack of history."""
    landing, data = f"file://{tmp_path}/landing", f"file://{tmp_path}/data"
    end = "2024-06-12"
    run_generate(landing, end, days=2)
    run_save(landing, data, end, days=2)
    counts = run_preprocess(data, end, days=2)
    run_days = sorted(counts)
    assert run_days == ["2024-06-11", "2024-06-12"]

    sim = Simulator(generate.params_from_args(generate.build_parser().parse_args(
        ["--date", end, "--landing-root", landing, *SMALL])))
    history = [dt.date(2024, 6, 12) - dt.timedelta(days=i) for i in range(70)]
    expected = reference_features(rows_of(sim.days(history)), set(run_days))
    got = {r["TRANSACTION_ID"]: r.asDict() for r in read_features(spark, data).collect()}
    assert_features_match(got, expected)
    # the windows saw a month of history: terminal risk and the 30-day counts on the first day
    first = [r for r in got.values() if r["TX_DATE"] == run_days[0]]
    assert sum(r["TERMINAL_ID_RISK_30DAY_WINDOW"] > 0 for r in first) > 0
    assert min(r["TERMINAL_ID_NB_TX_30DAY_WINDOW"] for r in first) > 0
    assert sum(r["CUSTOMER_ID_NB_TX_30DAY_WINDOW"] > r["CUSTOMER_ID_NB_TX_7DAY_WINDOW"] + 5 for r in first) > 0


def test_feature_table_keeps_its_contract(spark, preprocessed):
    root, _, _ = preprocessed
    table = layout.features(f"file://{root}")
    assert list_names(spark, table) == [f"TX_DATE={d}" for d in WINDOW]
    one_day = spark.read.parquet(layout.partition_dir(table, WINDOW[0]))
    assert one_day.dtypes == list(layout.FEATURE_TABLE_SCHEMA)
    assert layout.KEY_COLUMN not in layout.FEATURE_COLUMNS and len(layout.FEATURE_COLUMNS) == 15
    assert preprocess.FEATURE_COLUMNS == layout.FEATURE_COLUMNS


def test_window_boundaries_are_half_open_and_delayed(spark):
    t = int(dt.datetime(2024, 7, 20, 12, tzinfo=dt.timezone.utc).timestamp())
    delay = layout.LABEL_DELAY_DAYS * DAY
    events = [  # (id, seconds, customer, terminal, amount, fraud)
        (1, t - DAY, 1, 9, 10.0, 0),  # exactly one day before: outside the customer's 1-day window
        (2, t - DAY + 1, 1, 8, 20.0, 0),  # inside it
        (3, t - delay - DAY, 2, 7, 1.0, 1),  # terminal 7: just outside (t-8d, t-7d]
        (4, t - delay, 2, 7, 1.0, 1),  # on the delayed edge: counted
        (5, t - delay + 1, 2, 7, 1.0, 1),  # too recent: its label is not known yet
        (6, t, 1, 7, 30.0, 0),  # the transaction we look at
    ]
    from pyspark.sql import functions as F

    df = spark.createDataFrame(
        [(i, s, c, term, a, f) for i, s, c, term, a, f in events],
        "TRANSACTION_ID long, s long, CUSTOMER_ID long, TERMINAL_ID long, TX_AMOUNT double, TX_FRAUD int",
    ).withColumn("TX_DATETIME", F.col("s").cast("timestamp")).drop("s").withColumn(
        layout.DATE_COLUMN, F.date_format("TX_DATETIME", "yyyy-MM-dd"))
    row = preprocess.add_features(df).where("TRANSACTION_ID = 6").first()
    assert row["CUSTOMER_ID_NB_TX_1DAY_WINDOW"] == 2 and row["CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW"] == 25
    assert row["CUSTOMER_ID_NB_TX_7DAY_WINDOW"] == 3
    assert row["TERMINAL_ID_NB_TX_1DAY_WINDOW"] == 1 and row["TERMINAL_ID_RISK_1DAY_WINDOW"] == 1
    assert row["TERMINAL_ID_NB_TX_7DAY_WINDOW"] == 2
    assert row["TX_DURING_WEEKEND"] == 1.0  # 2024-07-20 is a Saturday
    assert row["TX_DURING_NIGHT"] == 0.0


def test_ids_beyond_32_bits_get_their_own_windows(spark, raw_root):
    """add_features pre-sorts by id and time packed into one long (the id's low 32 bits): ids
    that share those bits (k and k + 2**32) must still be separate customers and terminals."""
    from pyspark.sql import functions as F

    _, rows = raw_root
    split = [{**r, "customer": r["customer"] // 2 + (r["customer"] % 2 << 32),
              "terminal": r["terminal"] // 2 + (r["terminal"] % 2 << 32)} for r in rows]
    assert len({r["customer"] & 0xFFFFFFFF for r in split}) < len({r["customer"] for r in split})
    df = spark.createDataFrame(
        [(r["id"], r["ts"], r["customer"], r["terminal"], r["amount"], r["fraud"], r["date"]) for r in split],
        "TRANSACTION_ID long, s long, CUSTOMER_ID long, TERMINAL_ID long, TX_AMOUNT double, TX_FRAUD int, "
        f"{layout.DATE_COLUMN} string",
    ).withColumn("TX_DATETIME", F.col("s").cast("timestamp")).drop("s")
    features = preprocess.add_features(df).where(F.col(layout.DATE_COLUMN).isin(WINDOW))
    got = {r["TRANSACTION_ID"]: r.asDict() for r in features.collect()}
    assert_features_match(got, reference_features(split, set(WINDOW)))


def test_a_rerun_computes_nothing_and_a_changed_raw_day_recomputes_the_days_it_reaches(spark, preprocessed, tmp_path, capsys):
    src, _, counts = preprocessed
    root = tmp_path / "data"
    shutil.copytree(src, root)
    data = f"file://{root}"
    before = tree(root)
    assert run_preprocess(data, END.isoformat(), days=3) == {}
    assert "are up to date; nothing to do" in capsys.readouterr().err
    assert tree(root) == before

    # raw day END-38 is in the windows of END-2 (history from END-39) and END-1 (from END-38) only
    changed = (END - dt.timedelta(days=38)).isoformat()
    folder = root / "raw" / "transactions" / f"TX_DATE={changed}"
    df = spark.read.parquet(f"file://{folder}").localCheckpoint()
    shutil.rmtree(folder)
    df.write.parquet(f"file://{folder}")
    assert sorted(run_preprocess(data, END.isoformat(), days=3)) == WINDOW[:2]
    assert f"features of 2 days ({WINDOW[0]}..{WINDOW[1]}) are outdated" in capsys.readouterr().err
    after = tree(root)
    untouched = [k for k in before if k.startswith(f"features/TX_DATE={WINDOW[2]}/")]
    assert untouched and all(after[k] == before[k] for k in untouched)
    per_day = {r["TX_DATE"]: r["count"] for r in read_features(spark, data).groupBy("TX_DATE").count().collect()}
    assert per_day == counts


def test_a_daily_run_reads_only_the_raw_days_its_windows_need(spark, preprocessed, tmp_path):
    """A run that adds one day of features reads the 38 raw days that day's windows reach (30 days
    plus the 7-day delay, and the day itself) and no other: every raw day outside them is made
    unreadable (its Parquet files replaced by garbage), and the run still succeeds with the same
    features. So the partitions it reads are exactly the needed ones (issue 13: a daily run's work
    follows the new data, not all history)."""
    src, _, counts = preprocessed
    root = tmp_path / "data"
    shutil.copytree(src, root)
    new_day = WINDOW[2]
    before = {r["TRANSACTION_ID"]: r.asDict() for r in read_features(spark, f"file://{root}", [new_day]).collect()}
    shutil.rmtree(root / "features" / f"TX_DATE={new_day}")  # as if END were a new day
    first_needed = END - dt.timedelta(days=layout.FEATURE_HISTORY_DAYS)
    raw = root / "raw" / "transactions"
    poisoned = []
    for folder in sorted(raw.glob("TX_DATE=*")):
        if folder.name < f"TX_DATE={first_needed.isoformat()}":
            make_unreadable(folder)
            poisoned.append(folder.name)
    assert len(poisoned) == HISTORY - layout.FEATURE_HISTORY_DAYS - 1 >= 2
    assert run_preprocess(f"file://{root}", END.isoformat(), days=1) == {new_day: counts[new_day]}
    after = {r["TRANSACTION_ID"]: r.asDict() for r in read_features(spark, f"file://{root}", [new_day]).collect()}
    assert after == before


def test_raw_days_can_come_from_another_root(spark, preprocessed, tmp_path):
    # a per-run cluster: the raw copy on its HDFS (--raw-root), the features in Object Storage
    raw, _, counts = preprocessed
    before = tree(raw / "raw")
    lake = tmp_path / "lake"
    got = preprocess.main(["--date", END.isoformat(), "--data-root", f"file://{lake}",
                           "--raw-root", f"file://{raw}", "--days", "3"])
    assert got == counts
    assert list_names(spark, layout.features(f"file://{lake}")) == [f"TX_DATE={d}" for d in WINDOW]
    assert not (lake / "raw").exists()
    assert tree(raw / "raw") == before


@pytest.fixture()
def copied_root(raw_root, tmp_path):
    src, _ = raw_root
    dst = tmp_path / "data"
    shutil.copytree(src / "raw", dst / "raw")
    return dst


def expect_refusal(root, message):
    before = tree(root)
    with pytest.raises(JobError, match=message):
        run_preprocess(f"file://{root}", END.isoformat(), days=3)
    assert tree(root) == before and not (root / "features").exists()


def test_missing_raw_data_is_named(spark, tmp_path):
    expect_refusal(tmp_path, f"raw transactions .*not found: file://{tmp_path}/raw/transactions")


def test_missing_window_day_is_named(spark, copied_root):
    shutil.rmtree(copied_root / "raw" / "transactions" / f"TX_DATE={WINDOW[1]}")
    expect_refusal(copied_root, rf"raw transactions missing for 1 day \({WINDOW[1]}\)")


def test_a_window_is_never_cut_short_by_missing_history(spark, copied_root):
    """The earliest raw day the 30-day terminal windows (7 days back) reach must be there: without
    it the features would be computed, wrongly, over a shorter window."""
    first = (END - dt.timedelta(days=len(WINDOW) - 1 + layout.FEATURE_HISTORY_DAYS)).isoformat()
    shutil.rmtree(copied_root / "raw" / "transactions" / f"TX_DATE={first}")
    expect_refusal(copied_root, rf"raw transactions missing for 1 day \({first}\): the features of "
                                rf"{WINDOW[0]}..{WINDOW[2]} need every day from {first}")


def test_wrong_columns_are_named(spark, copied_root):
    folder = copied_root / "raw" / "transactions" / f"TX_DATE={WINDOW[2]}"
    df = spark.read.parquet(f"file://{folder}").withColumnRenamed("TX_AMOUNT", "AMOUNT").localCheckpoint()
    shutil.rmtree(folder)
    df.write.parquet(f"file://{folder}")
    expect_refusal(copied_root, r"missing column\(s\) TX_AMOUNT; unexpected column\(s\) AMOUNT")


def test_empty_day_is_refused(spark, copied_root):
    folder = copied_root / "raw" / "transactions" / f"TX_DATE={WINDOW[0]}"
    df = spark.read.parquet(f"file://{folder}").limit(0).localCheckpoint()
    shutil.rmtree(folder)
    df.write.parquet(f"file://{folder}")
    expect_refusal(copied_root, f"empty day: no raw transactions for {WINDOW[0]}")


def test_bad_date_is_refused_before_spark(tmp_path):
    from tests.jobs_helpers import run_entrypoint

    result = run_entrypoint("preprocess", "--date", "20240720", "--data-root", f"file://{tmp_path}")
    assert result.returncode == 2 and "bad date '20240720'" in result.stderr
