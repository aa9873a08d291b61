"""Step 1 as a job: lands every day a run needs (and only the missing ones), deterministic,
rerun-safe, with clear errors on bad arguments."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from fraud_jobs import layout
from fraud_jobs.common import JobError
from tests.jobs_helpers import SMALL, days_back, read_partitioned, run_entrypoint, run_generate, tree


def test_first_run_backfills_the_history_later_runs_add_their_days_only(spark, tmp_uri, tmp_path, capsys):
    one, two = f"{tmp_uri}/one", f"{tmp_uri}/two"
    # 2 days of features need those and the 37 days before them
    first = run_generate(two, "2024-05-08", days=2)
    assert list(first) == days_back("2024-05-08", 2 + layout.FEATURE_HISTORY_DAYS)
    assert "backfilling 39 days (2024-03-31..2024-05-08)" in capsys.readouterr().err
    before = tree(tmp_path / "two")

    later = run_generate(two, "2024-05-10", days=2)
    assert list(later) == ["2024-05-09", "2024-05-10"]
    assert "adding 2 new days of landed transactions (2024-05-09..2024-05-10)" in capsys.readouterr().err
    after = tree(tmp_path / "two")
    assert {k: after[k] for k in before} == before, "days already landed stay byte for byte"

    # the same days as one run lands them: a day's rows do not depend on the run that made it
    per_day = run_generate(one, "2024-05-10", days=4)
    assert min(per_day.values()) > 50
    a = read_partitioned(spark, layout.landing_transactions(one), layout.TRANSACTION_SCHEMA)
    b = read_partitioned(spark, layout.landing_transactions(two), layout.TRANSACTION_SCHEMA)
    b = b.where(f"TX_DATE >= '{min(per_day)}'")
    assert a.count() == sum(per_day.values()) == b.count()
    assert a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0
    assert a.select("TRANSACTION_ID").distinct().count() == a.count()
    assert a.where("TX_FRAUD = 1").count() > 0
    ca = spark.read.parquet(layout.landing_customers(one))
    cb = spark.read.parquet(layout.landing_customers(two))
    assert ca.count() == 60 and ca.exceptAll(cb).count() == 0


def test_a_rerun_writes_nothing_and_a_gap_is_said_and_filled(spark, tmp_uri, tmp_path, capsys):
    run_generate(tmp_uri, "2024-05-10", days=2)
    landed = tree(tmp_path)
    assert run_generate(tmp_uri, "2024-05-10", days=2) == {}
    assert "are up to date; nothing to do" in capsys.readouterr().err
    assert tree(tmp_path) == landed

    table = layout.landing_transactions(tmp_uri)
    gap = tmp_path / "transactions" / "TX_DATE=2024-04-20"
    shutil.rmtree(gap)
    assert list(run_generate(tmp_uri, "2024-05-10", days=2)) == ["2024-04-20"]
    assert "gap: landed transactions missing for 1 day (2024-04-20); filling it" in capsys.readouterr().err
    refilled = read_partitioned(spark, table, layout.TRANSACTION_SCHEMA).where("TX_DATE = '2024-04-20'")
    assert refilled.count() > 50
    assert {k: v for k, v in tree(tmp_path).items() if "2024-04-20" not in k} == \
        {k: v for k, v in landed.items() if "2024-04-20" not in k}


def test_other_parameters_regenerate_the_days_and_drop_those_made_with_the_old_ones(spark, tmp_uri, tmp_path, capsys):
    run_generate(tmp_uri, "2024-05-10", days=2)
    other = [a if a != "9" else "10" for a in SMALL]  # another seed
    made = run_generate(tmp_uri, "2024-05-05", days=1, extra=other)
    assert list(made) == days_back("2024-05-05", 1 + layout.FEATURE_HISTORY_DAYS)
    assert "made with other simulator parameters (seed: [9] -> [10])" in capsys.readouterr().err
    days = sorted(p.name for p in (tmp_path / "transactions").iterdir())
    assert days == [f"TX_DATE={d}" for d in made]
    with open(tmp_path / "simulation.json") as fh:
        assert json.load(fh)["seed"] == 10


def test_landed_tables_have_the_documented_schema(spark, tmp_uri):
    run_generate(tmp_uri, "2024-05-10", days=1)
    day = spark.read.parquet(layout.partition_dir(layout.landing_transactions(tmp_uri), "2024-05-10"))
    assert day.dtypes == list(layout.TRANSACTION_SCHEMA)
    assert spark.read.parquet(layout.landing_customers(tmp_uri)).dtypes == list(layout.CUSTOMER_SCHEMA)
    assert spark.read.parquet(layout.landing_terminals(tmp_uri)).dtypes == list(layout.TERMINAL_SCHEMA)


def test_bad_date_fails_before_writing_anything(tmp_path):
    landing = tmp_path / "landing"
    result = run_entrypoint("generate", "--date", "2024-02-30", "--landing-root", f"file://{landing}")
    assert result.returncode == 2
    assert "bad date '2024-02-30'" in result.stderr
    assert not landing.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--radius", "-1"], "'-1' must be a positive finite number"),
        (["--customers", "0"], "'0' must be a whole number from 1 to 10000000"),
        (["--landing-root", "relative/path"], "neither a URI"),
    ],
)
def test_bad_arguments_name_the_bad_value(tmp_path, args, message):
    base = ["--date", "2024-05-10", "--landing-root", f"file://{tmp_path}/landing"]
    result = run_entrypoint("generate", *base, *args)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "landing").exists()


def test_window_before_the_start_date_is_refused(spark, tmp_uri, tmp_path):
    with pytest.raises(JobError, match=r"the run needs days 2024-04-01..2024-05-10 \(3 days of features "
                                       r"and the 37 days of history before them\), which starts "
                                       "before --start-date 2024-05-09"):
        run_generate(tmp_uri, "2024-05-10", days=3, extra=[*SMALL, "--start-date", "2024-05-09"])
    assert os.listdir(tmp_path) == []
