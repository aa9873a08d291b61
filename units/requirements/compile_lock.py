#!/usr/bin/env python3
"""Compile a hash-pinned requirements lock for the VMs, keeping only the hashes a VM can use.

Why not plain `uv pip compile --generate-hashes`: it lists the hash of EVERY file of a release
(Windows, macOS, musl, ARM, every CPython), which makes the MLflow lock ~230 KB and the Airflow lock
larger still. The lock is embedded in the VM's user-data, whose size is limited, so we keep only the
files pip may pick on the VMs: Linux x86_64 (glibc) on the fleet's CPython (`python` in
versions.json: the VMs' Debian release has it, and so does the boot test's root), plus pure-Python
wheels; an sdist only when no wheel fits. `pip install --require-hashes` still verifies every download.

The pins of versions.json always apply (as constraints); `--constraints-from` adds every pin of
another lock, so a VM runs exactly the versions the tests run. `make upgrade` (scripts/toolchain/versions.py)
runs this for both VM locks:
  compile_lock.py --uv UV --requirements units/requirements/mlflow-server.in \
      --constraints-from jobs/requirements.lock --out units/requirements/mlflow-server.lock
  compile_lock.py --uv UV --pins-from jobs/requirements-airflow.lock --out units/requirements/airflow-host.lock
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT = "sys_platform == 'linux' and platform_machine == 'x86_64'"
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+==[^\s;\\]+)", re.M)


def fleet_python() -> str:
    """The fleet's Python minor ("3.11") from versions.json."""
    return json.loads((REPO / "versions.json").read_text())["python"]


def wheel_fits(filename: str, python: str) -> bool:
    """True if pip on Linux x86_64 glibc with CPython `python` (e.g. "3.11") could install this wheel."""
    parts = filename[: -len(".whl")].split("-")
    if len(parts) < 5:
        return False
    cp = "cp" + python.replace(".", "")
    minor = int(python.split(".")[1])
    pys, abis, plats = parts[-3].split("."), parts[-2].split("."), parts[-1].split(".")
    # a stable-ABI wheel built for cp3X runs on every CPython 3.Y with Y >= X
    stable_abi = "abi3" in abis and any(re.fullmatch(r"cp3(\d+)", p) and int(p[3:]) <= minor for p in pys)
    if not (stable_abi or any(p in {"py3", "py2.py3", "py3.py2", cp} for p in pys)):
        return False
    if not any(a in {"none", "abi3", cp} for a in abis):
        return False
    return any(
        p == "any" or (p.endswith("_x86_64") and ("manylinux" in p or p == "linux_x86_64"))
        for p in plats
    )


def lock_pins(path: str | Path) -> list[str]:
    """Every `name==version` line of a requirements lock."""
    pins = PIN.findall(Path(path).read_text())
    if not pins:
        sys.exit(f"error: no 'name==version' pins found in {path}")
    return pins


def read_requirements(args: argparse.Namespace) -> list[str]:
    if args.requirements:
        lines = Path(args.requirements).read_text().splitlines()
        return [l.split("#", 1)[0].strip() for l in lines if l.split("#", 1)[0].strip()]
    # every pinned `name==version` of another lock: the same versions, fewer hashes
    return lock_pins(args.pins_from)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--requirements", help="a requirements .in file")
    src.add_argument("--pins-from", help="an existing lock whose pins to keep")
    ap.add_argument("--constraints-from", action="append", default=[],
                    help="a lock whose pins constrain the resolution (repeatable)")
    ap.add_argument("--uv", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    python = fleet_python()
    reqs = read_requirements(args)
    pins = json.loads((REPO / "versions.json").read_text())["pins"]
    constraints = [f"{n}=={v}" for n, v in pins.items()]
    for lock in args.constraints_from:
        constraints += lock_pins(lock)

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        as_list = lambda items: ",\n".join(f"  {r!r}" for r in items)
        (project / "pyproject.toml").write_text(
            f"[project]\nname = 'vm-lock'\nversion = '0'\nrequires-python = '=={python}.*'\n"
            f"dependencies = [\n{as_list(reqs)}\n]\n\n[tool.uv]\npackage = false\n"
            f"environments = [\"{ENVIRONMENT}\"]\n"
            f"constraint-dependencies = [\n{as_list(constraints)}\n]\n"
        )
        subprocess.run([args.uv, "lock", "-q", "--python", python], cwd=project, check=True)
        lock = tomllib.loads((project / "uv.lock").read_text())
        exported = subprocess.run(
            [args.uv, "export", "-q", "--format", "requirements-txt", "--no-header",
             "--no-emit-project", "--frozen"],
            cwd=project, check=True, capture_output=True, text=True,
        ).stdout

    files: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for pkg in lock["package"]:
        entries = [(w["url"].rsplit("/", 1)[-1], w["hash"]) for w in pkg.get("wheels", [])]
        usable = [(n, h) for n, h in entries if wheel_fits(n, python)]
        if not usable and "sdist" in pkg:
            sd = pkg["sdist"]
            usable = [(sd.get("url", "sdist").rsplit("/", 1)[-1], sd["hash"])]
        files[(pkg["name"], pkg.get("version", ""))] = usable

    out_lines = [
        "# Generated by `make upgrade` (units/requirements/compile_lock.py: uv lock + a hash filter for",
        f"# Linux x86_64, CPython {python} from versions.json). Do not edit.",
    ]
    for block in re.split(r"\n(?=\S)", exported.strip()):
        head = block.splitlines()[0].rstrip(" \\")
        m = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", head)
        if not m:
            continue
        name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
        usable = files.get((name, m.group(2)))
        if not usable:
            sys.exit(f"error: no installable file for {name}=={m.group(2)} on Linux x86_64 CPython {python}")
        out_lines.append(head + " \\")
        out_lines += [f"    --hash={h} \\" for _, h in usable]
        out_lines[-1] = out_lines[-1].rstrip(" \\")
    Path(args.out).write_text("\n".join(out_lines) + "\n")
    print(f"wrote {args.out}: {len(out_lines) - 2} lines")


if __name__ == "__main__":
    main()
