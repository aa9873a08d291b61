#!/usr/bin/env python3
"""versions.json, the fleet's one list of shared versions, and the locks made from it.

  versions.py get KEY                      print one value (dotted key, e.g. vm.debianSuite)
  versions.py upgrade --uv UV [VAR=VER...] set pins, then re-lock every lock that installs them

`make upgrade MLFLOW=3.18.0` runs the second form. VAR is a pin's name in upper case with `-` as `_`
and without the `APACHE_` prefix: MLFLOW, PYSPARK, AIRFLOW, AIRFLOW_PROVIDERS_YANDEX. Without any
VAR, every lock is compiled again from its .in file (after editing one). The locks, in the order
they depend on each other:

  jobs/requirements.lock            the jobs (local runs, tests; the cluster's pip packages)
  jobs/requirements-airflow.lock    Airflow and its providers (the DAG tests, the demo)
  units/requirements/mlflow-server.lock   the MLflow VM: constrained to the jobs' pins
  units/requirements/airflow-host.lock    the Airflow VM: exactly the Airflow lock's pins

Each is compiled for the fleet's Python (versions.json `python`) with versions.json's pins as
constraints. If any step fails, every file is put back as it was.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSIONS = REPO / "versions.json"
JOB_LOCKS = [("jobs/requirements.in", "jobs/requirements.lock"),
             ("jobs/requirements-airflow.in", "jobs/requirements-airflow.lock")]
VM_LOCKS = [
    ("units/requirements/mlflow-server.lock",
     ["--requirements", "units/requirements/mlflow-server.in", "--constraints-from", "jobs/requirements.lock"]),
    ("units/requirements/airflow-host.lock", ["--pins-from", "jobs/requirements-airflow.lock"]),
]
VERSION_RE = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?$")
PIN_RE = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", re.M)


class UsageError(Exception):
    pass


def load() -> dict:
    return json.loads(VERSIONS.read_text())


def get(data: dict, key: str) -> str:
    value: object = data
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise UsageError(f"versions.json has no key {key!r}")
        value = value[part]
    if isinstance(value, dict):
        raise UsageError(f"versions.json {key!r} is a section, not a value")
    return str(value)


def variable_of(pin: str) -> str:
    """The make variable that sets a pin: apache-airflow-providers-yandex -> AIRFLOW_PROVIDERS_YANDEX."""
    return re.sub(r"[^A-Z0-9]+", "_", pin.upper()).removeprefix("APACHE_")


def parse_assignments(args: list[str], pins: dict[str, str]) -> dict[str, str]:
    """`VAR=VERSION` arguments -> {pin name: version}; an empty VERSION leaves the pin as it is."""
    by_variable = {variable_of(p): p for p in pins}
    wanted: dict[str, str] = {}
    for arg in args:
        var, sep, version = arg.partition("=")
        if not sep:
            raise UsageError(f"expected VAR=VERSION, got {arg!r}")
        if var not in by_variable:
            raise UsageError(f"unknown variable {var!r}: versions.json pins {', '.join(sorted(by_variable))}")
        if version == "":
            continue
        if not VERSION_RE.match(version):
            raise UsageError(f"{var}={version!r} is not an exact release such as 1.2.3")
        wanted[by_variable[var]] = version
    return wanted


def lock_pins(text: str) -> dict[str, str]:
    return {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in PIN_RE.findall(text)}


def compile_job_lock(uv: str, python: str, source: str, out: str, constraints: Path) -> None:
    subprocess.run(
        [uv, "pip", "compile", "-q", "--python-version", python, "--generate-hashes",
         # the header names the command to run again, and the Python the drift test checks
         "--custom-compile-command", f"make upgrade  (uv pip compile --python-version {python} {source})",
         source, "-c", str(constraints), "-o", out],
        cwd=REPO, check=True)
    # uv names the constraints file it was given (a temporary copy) in its annotations
    path = REPO / out
    path.write_text(path.read_text().replace(str(constraints), VERSIONS.name))


def relock(uv: str, data: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "versions-pins.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in data["pins"].items()))
        for source, out in JOB_LOCKS:
            print(f"locking {out} (CPython {data['python']})", flush=True)
            compile_job_lock(uv, data["python"], source, out, constraints)
    for out, source_args in VM_LOCKS:
        print(f"locking {out} (CPython {data['python']}, Linux x86_64 hashes only)", flush=True)
        subprocess.run([sys.executable, "units/requirements/compile_lock.py", "--uv", uv, *source_args,
                        "--out", out], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def upgrade(uv: str, assignments: list[str]) -> None:
    data = load()
    wanted = parse_assignments(assignments, data["pins"])
    files = [VERSIONS] + [REPO / out for _, out in JOB_LOCKS] + [REPO / out for out, _ in VM_LOCKS]
    before = {f: f.read_text() for f in files}
    data["pins"].update(wanted)
    try:
        VERSIONS.write_text(json.dumps(data, indent=2) + "\n")
        relock(uv, data)
    except BaseException:
        for f, text in before.items():
            f.write_text(text)
        print("error: re-locking failed; versions.json and every lock are back as they were", file=sys.stderr)
        raise
    for f in files[1:]:
        old, new = lock_pins(before[f]), lock_pins(f.read_text())
        changed = [f"{n} {old.get(n, '-')} -> {new.get(n, '-')}" for n in sorted(set(old) | set(new))
                   if old.get(n) != new.get(n)]
        print(f"{f.relative_to(REPO)}: " + ("; ".join(changed) if changed else "no version changed"))
    print("next: `make test` (the snapshots do not embed the locks; the drift tests read versions.json)")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("get", help="print one value of versions.json")
    g.add_argument("key")
    u = sub.add_parser("upgrade", help="set pins and re-lock")
    u.add_argument("--uv", required=True)
    u.add_argument("assignments", nargs="*", metavar="VAR=VERSION")
    args = ap.parse_args(argv)
    try:
        if args.command == "get":
            print(get(load(), args.key))
        else:
            upgrade(args.uv, args.assignments)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as e:
        print(f"error: {' '.join(map(str, e.cmd[:3]))} ... failed (exit {e.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
