"""Every step's CLI, each argument given a bad value: one readable line that names the value, exit 2,
no traceback, nothing written. These fail in argument parsing, before Spark or MLflow start, so the
whole table runs in-process in a few seconds; one case per step also runs the real entry script
(jobs/entrypoints/run_step.py STEP ...) in a fresh interpreter, and so do an unknown and a missing
step."""

from __future__ import annotations

import os
import re

import pytest

from fraud_jobs import bootstrap, compare, generate, preprocess, save_to_hdfs, train
from fraud_jobs.common import run_job
from fraud_jobs.pipeline_spec import STEPS, step_main
from tests.jobs_helpers import run_entrypoint

DATE = ["--date", "2024-04-07"]
MLFLOW = ["--mlflow-uri", "http://127.0.0.1:9", "--experiment", "fraud-detection"]
MODEL = ["--registered-model", "fraud-detector"]

# step -> (its main, valid arguments with {root} for the data folder)
CLIS = {
    "generate": (generate.main, [*DATE, "--landing-root", "{root}"]),
    "save_to_hdfs": (save_to_hdfs.main, [*DATE, "--landing-root", "{root}/landing", "--data-root", "{root}"]),
    "preprocess": (preprocess.main, [*DATE, "--data-root", "{root}"]),
    "train_lr": (train.main_lr, [*DATE, "--data-root", "{root}", *MLFLOW, *MODEL]),
    "train_rf": (train.main_rf, [*DATE, "--data-root", "{root}", *MLFLOW, *MODEL]),
    "bootstrap": (bootstrap.main, [*DATE, "--data-root", "{root}", *MLFLOW]),
    "compare": (compare.main, [*DATE, "--data-root", "{root}", *MLFLOW, *MODEL]),
}

BAD_DATES = ["2024-02-30", "20240101", "2024-01-01;reboot", "2024-1-1"]
BAD_ROOTS = ["foo://x", "relative/dir", "http://host/x", "s3://bucket/x", "s3a:///x", "file://host/x",
             "/tmp/a\nb", "", "$(reboot)"]
BAD_MLFLOW_URIS = ["foo", "file:///tmp/mlruns", "http://", "ftp://host", "http://host\n"]
BAD_NAMES = ["", "a/b", "x" * 300, "e; rm -rf /", "name\n", "_lead", "ünïcode"]
BAD_BY_FLAG = {
    "--date": BAD_DATES,
    "--landing-root": BAD_ROOTS,
    "--data-root": BAD_ROOTS,
    "--raw-root": BAD_ROOTS,
    "--mlflow-uri": BAD_MLFLOW_URIS,
    "--experiment": BAD_NAMES,
    "--registered-model": BAD_NAMES,
    "--mlflow-username": ["a b", "x'y", "u\n"],
    "--mlflow-password-secret": ["../x", "id with space", "e6q;x"],
    "--mlflow-ca-uri": ["ftp://x/ca.pem", "/etc/ca.pem", "s3a:///ca.pem", "relative.pem"],
    "--days": ["0", "-1", "3661", "1e3", "x", "9" * 40],
    "--customers": ["0", "10000001", "many"],
    "--terminals": ["0", "10000001"],
    "--radius": ["0", "-1", "nan", "inf", "x"],
    "--seed": ["-1", "9223372036854775808", "x"],
    "--start-date": BAD_DATES,
    "--train-days": ["0", "3661"],
    "--delay-days": ["0", "3661"],
    "--test-days": ["0", "3661"],
    "--validation-days": ["0", "3661"],
    "--max-iter": ["0", "100001"],
    "--reg-param": ["-0.1", "inf", "nan"],
    "--elastic-net": ["-0.1", "1.5", "nan"],
    "--class-weight": ["heavy", ""],
    "--num-trees": ["0", "10001"],
    "--max-depth": ["0", "31"],
    "--max-bins": ["1", "65537"],
    "--min-instances-per-node": ["0"],
    "--feature-subset-strategy": ["some", "-1"],
    "--subsampling-rate": ["0", "1.5"],
    "--dfs-tmpdir": ["foo://x", "relative"],
    "--n-boot": ["99", "1000001", "x"],
    "--confidence": ["0.5", "1", "nan"],
    "--alpha": ["0", "0.5", "nan", "x"],
}


def flags_of(main) -> set[str]:
    """The options a CLI declares, read from its argparse parser."""
    import argparse
    captured = {}

    def grab(self, *a, **k):
        captured["parser"] = self
        raise SystemExit(0)

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = grab
    try:
        with pytest.raises(SystemExit):
            main(["--help"])
    finally:
        argparse.ArgumentParser.parse_args = original
    return {o for a in captured["parser"]._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


def cases():
    for cli, (main, _) in CLIS.items():
        for flag in sorted(flags_of(main)):
            for bad in BAD_BY_FLAG.get(flag, []):
                yield pytest.param(cli, flag, bad, id=f"{cli} {flag}={bad[:20]!r}")


def test_every_step_is_in_the_table_with_the_main_the_entry_script_runs():
    assert list(CLIS) == list(STEPS)
    assert all(step_main(step) is main for step, (main, _) in CLIS.items())


def test_every_option_of_every_cli_has_bad_values_in_the_table():
    missing = {cli: sorted(f for f in flags_of(main) if f not in BAD_BY_FLAG and f != "--model")
               for cli, (main, _) in CLIS.items()}
    assert {k: v for k, v in missing.items() if v} == {}


def _argv(cli: str, root: str, flag: str, bad: str) -> list[str]:
    _, base = CLIS[cli]
    argv = [a.replace("{root}", root) for a in base]
    if flag in argv:
        argv[argv.index(flag) + 1] = bad
    else:
        argv += [flag, bad]
    return argv


@pytest.mark.parametrize("cli,flag,bad", list(cases()))
def test_bad_argument_gives_one_line_naming_it_and_exit_2(cli, flag, bad, tmp_path, capsys):
    main, _ = CLIS[cli]
    with pytest.raises(SystemExit) as exit_info:
        run_job(main, _argv(cli, str(tmp_path), flag, bad))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert flag in lines[0] and (repr(bad) in lines[0] or bad in lines[0]), lines[0]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("cli", STEPS)
def test_the_real_entry_script_refuses_an_unsupported_scheme_in_one_line(cli, tmp_path):
    flag = "--landing-root" if cli == "generate" else "--data-root"
    result = run_entrypoint(cli, *_argv(cli, str(tmp_path), flag, "foo://x"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "'foo://x' has the unsupported scheme 'foo://'" in result.stderr
    assert "Traceback" not in result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv,message", [
    (["fit_all", "--date", "2024-04-07"], "unknown step 'fit_all'; expected one of " + ", ".join(STEPS)),
    (["--date", "2024-04-07"], "no step given: the first argument must be one of " + ", ".join(STEPS)),
    ([], "no step given"),
])
def test_the_entry_script_refuses_an_unknown_or_missing_step_in_one_line(argv, message):
    result = run_entrypoint(*argv)
    assert result.returncode == 2, result.stderr
    assert re.fullmatch(r"error: [^\n]*\n", result.stderr), result.stderr
    assert message in result.stderr
