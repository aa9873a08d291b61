"""The whole DAG through Airflow at the handbook's size: what a user of the local backend waits for.

Runs `make demo` (scripts/demo/demo.sh: `airflow dags test`, local backend, one `spark-submit` per
step) with DEMO_CONFIG set to the handbook's population (pipeline_run.HANDBOOK_SIZE, times --scale)
in a fresh work folder, then prints each step's wall time beside the local backend's floor for a
step measured in the same command: a `spark-submit` of an empty job with the run's own Spark
settings (JVM start, SparkSession, stop). The DAG's total is set against issue 13's 5 minutes.

Usage: PYTHONPATH=jobs $(bash -c 'source scripts/lib.sh; jobs_venv')/bin/python bench/bench_dag.py [--scale 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_run import HANDBOOK_SIZE, REPO  # noqa: E402

TARGET_S = 300  # issue 13: the whole DAG at the handbook's size under 5 minutes on 2 cores
STEP_LINE = re.compile(r"step ([a-z_]+) ended \((\d+) s\)")
RUN_LINE = re.compile(r"DAG run done in (\d+) s")


def empty_job_seconds(config_path: str, work: str, repeat: int = 2) -> float:
    """The fastest of `repeat` spark-submits of a job that starts a session and stops, with the
    spark-submit, master, properties and environment of the run's own pipeline config."""
    with open(config_path, encoding="utf-8") as fh:
        cfg = json.load(fh)
    script = os.path.join(work, "empty_job.py")
    with open(script, "w", encoding="utf-8") as fh:
        fh.write("from pyspark.sql import SparkSession\nSparkSession.builder.getOrCreate().stop()\n")
    argv = [cfg["spark_submit"], "--master", cfg["spark_master"]]
    for key, value in sorted(cfg.get("spark_properties", {}).items()):
        argv += ["--conf", f"{key}={value}"]
    env = dict(os.environ, **cfg.get("env", {}))
    best = float("inf")
    for _ in range(repeat):
        start = time.monotonic()
        subprocess.run([*argv, script], env=env, check=True, capture_output=True)
        best = min(best, time.monotonic() - start)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="x the handbook's customers and terminals")
    ap.add_argument("--work", default="/tmp/bench-dag", help="work folder (emptied first)")
    ap.add_argument("--date", default="2024-04-30", help="logical date (a first run: the history is backfilled)")
    args = ap.parse_args()
    if args.scale <= 0:
        ap.error(f"bad --scale {args.scale!r}: a positive number")
    size = {"customers": round(HANDBOOK_SIZE["customers"] * args.scale),
            "terminals": round(HANDBOOK_SIZE["terminals"] * args.scale), "radius": HANDBOOK_SIZE["radius"]}
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = dict(os.environ, DEMO_WORK_DIR=work, DEMO_DATE=args.date,
               DEMO_CONFIG=" ".join(f"{k}={json.dumps(v)}" for k, v in size.items()))
    env.pop("KEEP_SERVERS", None)
    print(f"[bench] make demo at {args.scale:g}x the handbook ({size}), work {work}", file=sys.stderr, flush=True)
    start = time.monotonic()
    output = []
    with subprocess.Popen(["bash", os.path.join(REPO, "scripts", "demo", "demo.sh")], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as demo:
        for line in demo.stdout:  # the demo's progress, as it goes
            sys.stderr.write(line)
            output.append(line)
    whole = time.monotonic() - start
    if demo.returncode != 0:
        print(f"error: make demo failed (exit {demo.returncode}); its output is above", file=sys.stderr)
        return 1
    text = "".join(output)
    steps = [(name, int(s)) for name, s in STEP_LINE.findall(text)]
    run = RUN_LINE.search(text)
    if not steps or run is None:
        print("error: no step times in make demo's output (above)", file=sys.stderr)
        return 1
    floor = empty_job_seconds(os.path.join(work, "pipeline.json"), work)

    print()
    print(f"The whole DAG through Airflow (airflow dags test, local backend, local[2]) at {args.scale:g}x the "
          f"handbook: {size['customers']} customers / {size['terminals']} terminals, first run for {args.date}")
    print(f"{'step':<14}{'s':>6}{'floor':>8}{'ratio':>7}")
    for name, seconds in steps:
        print(f"{name:<14}{seconds:>6}{floor:>8.1f}{seconds / floor:>7.1f}")
    dag = int(run.group(1))
    print(f"{'DAG run':<14}{dag:>6}{floor * len(steps):>8.1f}{dag / (floor * len(steps)):>7.1f}"
          f"   target {TARGET_S} s: {'met' if dag < TARGET_S else 'NOT met'}")
    print(f"{'make demo':<14}{whole:>6.0f}   (environments, MLflow start, Airflow DB, the run, the summary)")
    print("floor: one spark-submit of an empty job with the run's Spark settings (JVM + session start), "
          "the least a step of the local backend costs; DAG run's floor: one per step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
