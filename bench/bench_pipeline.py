"""Benchmark: every pipeline step at full size, beside its I/O floor measured in the same run.

For each size (multiples of the handbook's 5,000 customers and 10,000 terminals, r = 5, simulated
from 2018-04-01; logical date 2018-08-14, so a first run lands the 58 days its 21 days of features
need), runs the seven steps on an empty work folder (local[2], the demo's Spark settings;
bench/pipeline_run.py) and prints per step:
  - its wall time;
  - its I/O floor: a plain Spark read of the tables the step reads (the same rows and columns,
    written to the `noop` sink) plus a plain write, in the same format and partitioning, of what it
    wrote (cached first, so only the write is timed);
  - the ratio step / floor (issue 13's target: within 3x for every data step);
  - the peak memory during the step: the JVM heap (its heap pools' peaks) and the Python process.
Across sizes it prints each step's growth exponent k (time ~ size^k, least squares over the
sizes; target k <= 1.1 between 1x and 4x).

Two ways to run them (--jvm):
  - per-step (default): each step in a fresh Python and JVM, as each spark-submit runs it, and its
    floor in another fresh one; both timed from their Spark session's start (the JVM start, the
    local backend's floor per step, is bench/bench_dag.py's). Both are cold: each pays the JVM
    compiling its code as it runs, as a real step does.
  - shared: every step and its floor in one session, the floor measured right after its step.
    The floor then runs on code its step made the JVM compile, while the step paid for that: an
    untimed small run warms the JVM first, and --repeat N runs each size N times and reports the
    last, but a step's time there still carries compilation its floor does not.

Usage (the jobs' Python):
  PYTHONPATH=jobs $(bash -c 'source scripts/lib.sh; jobs_venv')/bin/python bench/bench_pipeline.py \\
      [--scales 1,2,4] [--jvm per-step|shared] [--repeat 1] [--work /tmp/bench-pipeline]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_run import HANDBOOK_SIZE, local_session, loopback_mlflow, pipeline_steps  # noqa: E402

from fraud_jobs import layout  # noqa: E402  (pipeline_run put jobs/ on the path)
from fraud_jobs.bootstrap import MODELS  # noqa: E402
from fraud_jobs.train import predictions_path  # noqa: E402

HANDBOOK_CUSTOMERS, HANDBOOK_TERMINALS = HANDBOOK_SIZE["customers"], HANDBOOK_SIZE["terminals"]
DATE = "2018-08-14"
START = "2018-04-01"


def step_io(step: str, work: str) -> tuple[list[str], list[str]]:
    """(tables read, tables written) by a step: the Parquet folders its floor reads and writes.
    bootstrap writes, and compare reads and writes, only small JSON and MLflow records."""
    landing, data = f"file://{work}/landing", f"file://{work}/lake"
    predictions = [predictions_path(data, DATE, model) for model in MODELS]
    return {
        "generate": ([], [layout.landing_transactions(landing), layout.landing_customers(landing),
                          layout.landing_terminals(landing)]),
        "save_to_hdfs": ([layout.landing_transactions(landing), layout.landing_customers(landing),
                          layout.landing_terminals(landing)],
                         [layout.raw_transactions(data), layout.raw_customers(data), layout.raw_terminals(data)]),
        "preprocess": ([layout.raw_transactions(data)], [layout.features(data)]),
        "train_lr": ([layout.features(data)], [predictions[0]]),
        "train_rf": ([layout.features(data)], [predictions[1]]),
        "bootstrap": (predictions, []),
        "compare": ([], []),
    }[step]


def io_floor(spark, work: str, reads: list[str], writes: list[str]) -> float:
    """Seconds of a plain read of `reads` and a plain write of what is in `writes` (same format,
    same date partitioning)."""
    start = time.monotonic()
    for path in reads:
        spark.read.parquet(path).write.format("noop").mode("overwrite").save()
    seconds = time.monotonic() - start
    for i, path in enumerate(writes):
        df = spark.read.parquet(path).cache()
        df.count()
        out = f"file://{work}/floor/{i}"
        writer = df.write.mode("overwrite")
        if layout.DATE_COLUMN in df.columns:
            writer = writer.partitionBy(layout.DATE_COLUMN)
        start = time.monotonic()
        writer.parquet(out)
        seconds += time.monotonic() - start
        df.unpersist()
    shutil.rmtree(f"{work}/floor", ignore_errors=True)
    return seconds


@dataclass
class PeakMemory:
    """Peak memory while running: the JVM's heap (the sum of its heap pools' peaks, which the JVM
    tracks itself; reset on entry) and this Python process's resident set (sampled)."""
    spark: object
    interval: float = 0.1
    python_peak: int = 0
    jvm_heap_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _heap_pools(self) -> list:
        mf = self.spark._jvm.java.lang.management.ManagementFactory
        return [p for p in mf.getMemoryPoolMXBeans() if str(p.getType()) == "Heap memory"]

    def __enter__(self) -> "PeakMemory":
        for pool in self._heap_pools():
            pool.resetPeakUsage()
        page = os.sysconf("SC_PAGE_SIZE")

        def sample() -> None:
            while not self._stop.is_set():
                with open("/proc/self/statm", encoding="ascii") as fh:
                    self.python_peak = max(self.python_peak, int(fh.read().split()[1]) * page)
                self._stop.wait(self.interval)
        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.jvm_heap_peak = sum(p.getPeakUsage().getUsed() for p in self._heap_pools())


def growth_exponent(sizes: list[float], seconds: list[float]) -> float:
    """Least-squares slope of log(time) on log(size)."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(t, 1e-3)) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def size_steps(folder: str, scale: float, mlflow_uri: str):
    """The seven steps at `scale` x the handbook in `folder`."""
    return pipeline_steps(folder, DATE, mlflow_uri, "bench-pipeline", customers=round(HANDBOOK_CUSTOMERS * scale),
                          terminals=round(HANDBOOK_TERMINALS * scale), radius=HANDBOOK_SIZE["radius"],
                          start_date=START)


def timed_step(spark, main, argv) -> tuple[float, int, int]:
    """(seconds, peak JVM heap bytes, peak Python bytes) of one step run in `spark`'s JVM."""
    with PeakMemory(spark) as memory:
        start = time.monotonic()
        main(argv)
        seconds = time.monotonic() - start
    return seconds, memory.jvm_heap_peak, memory.python_peak


def in_fresh_jvm(part: str, step: str, folder: str, scale: float, mlflow_uri: str, driver_memory: str) -> dict:
    """This script's --child mode in a new process: the step ('step') or its floor ('floor')."""
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", part, step, "--work", folder,
         "--scales", f"{scale!r}", "--mlflow-uri", mlflow_uri, "--driver-memory", driver_memory],
        stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_size(spark, work: str, scale: float, driver_memory: str) -> dict[str, tuple[float, float, int, int]]:
    """{step: (seconds, floor seconds, peak JVM heap bytes, peak Python bytes)} of one pipeline run
    at `scale` x the handbook; `spark` None: each step and each floor in a fresh JVM."""
    if spark is not None:
        # one session runs every size: a DataFrame a step cached would otherwise answer a later read
        # of the same path with the old rows (Spark matches cached plans by path, not by content)
        spark.catalog.clearCache()
    work = os.path.join(work, f"{scale:g}x")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    out = {}
    with loopback_mlflow(work) as mlflow_uri:
        for name, main, argv in size_steps(work, scale, mlflow_uri):
            if spark is None:
                step = in_fresh_jvm("step", name, work, scale, mlflow_uri, driver_memory)
                seconds, heap, python = step["seconds"], step["heap"], step["python"]
                floor = in_fresh_jvm("floor", name, work, scale, mlflow_uri, driver_memory)["floor"]
            else:
                seconds, heap, python = timed_step(spark, main, argv)
                floor = io_floor(spark, work, *step_io(name, work))
                spark.catalog.clearCache()
            out[name] = (seconds, floor, heap, python)
            print(f"[bench] {scale:g}x {name}: {seconds:.1f} s (floor {floor:.1f} s, peak JVM heap "
                  f"{heap / 2**20:.0f} MiB, Python {python / 2**20:.0f} MiB)", file=sys.stderr, flush=True)
    return out


def child(part: str, step: str, folder: str, scale: float, mlflow_uri: str, driver_memory: str) -> int:
    """--child: one step, or its floor, in this fresh process; its figures as a JSON line on stdout."""
    spark = local_session(f"bench-{step}-{part}", driver_memory)
    if part == "step":
        main, argv = {n: (m, a) for n, m, a in size_steps(folder, scale, mlflow_uri)}[step]
        seconds, heap, python = timed_step(spark, main, argv)
        result = {"seconds": seconds, "heap": heap, "python": python}
    else:
        result = {"floor": io_floor(spark, folder, *step_io(step, folder))}
    print(json.dumps(result), flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,2,4", help="sizes as multiples of the handbook's (comma-separated)")
    ap.add_argument("--work", default="/tmp/bench-pipeline", help="work folder (a subfolder per size, emptied first)")
    ap.add_argument("--driver-memory", default="8g")
    ap.add_argument("--jvm", choices=("per-step", "shared"), default="per-step",
                    help="a fresh JVM for each step and each floor, or one for everything")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size; the last one is reported")
    ap.add_argument("--warmup", type=float, default=0.02,
                    help="--jvm shared: size of an untimed first run that warms the JVM (0: none)")
    ap.add_argument("--child", nargs=2, metavar=("PART", "STEP"), help=argparse.SUPPRESS)
    ap.add_argument("--mlflow-uri", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child, args.work, float(args.scales), args.mlflow_uri, args.driver_memory)
    scales = [float(s) for s in args.scales.split(",")]
    if len(scales) != len(set(scales)) or any(s <= 0 for s in scales):
        ap.error(f"bad --scales {args.scales!r}: distinct positive numbers")
    if args.repeat < 1:
        ap.error(f"bad --repeat {args.repeat}: at least 1")
    work = os.path.abspath(args.work)
    spark = None
    if args.jvm == "shared":
        spark = local_session("bench-pipeline", args.driver_memory)
        if args.warmup > 0:
            # the first steps in a fresh JVM pay its class loading and JIT: not the first size's cost
            print(f"[bench] warm-up run at {args.warmup:g}x (not reported)", file=sys.stderr, flush=True)
            run_size(spark, work, args.warmup, args.driver_memory)
    runs = {}
    for scale in scales:
        for _ in range(args.repeat):
            runs[scale] = run_size(spark, work, scale, args.driver_memory)

    steps = list(next(iter(runs.values())))
    print()
    how = "a fresh JVM for each step and each floor" if spark is None else "one Spark session"
    print(f"Pipeline steps, local[2], {how}; sizes x the handbook's {HANDBOOK_CUSTOMERS} customers / "
          f"{HANDBOOK_TERMINALS} terminals, first run for {DATE} (58 days landed, 21 days of features)"
          + (f"; the last of {args.repeat} runs per size" if args.repeat > 1 else ""))
    header = "".join(f"{f'{s:g}x s':>9}{'floor':>7}{'ratio':>7}{'heap':>7}{'py':>6}" for s in scales)
    print(f"{'step':<14}{header}{'k':>7}")
    for step in steps:
        cells = ""
        for s in scales:
            seconds, floor, heap, python = runs[s][step]
            ratio = f"{seconds / floor:.1f}" if floor >= 0.05 else "-"
            cells += f"{seconds:>9.1f}{floor:>7.1f}{ratio:>7}{heap / 2**20:>7.0f}{python / 2**20:>6.0f}"
        k = growth_exponent(scales, [runs[s][step][0] for s in scales]) if len(scales) > 1 else float("nan")
        print(f"{step:<14}{cells}{k:>7.2f}")
    totals = [sum(v[0] for v in runs[s].values()) for s in scales]
    print(f"{'whole run':<14}" + "".join(f"{t:>9.1f}{'':>27}" for t in totals)
          + (f"{growth_exponent(scales, totals):>7.2f}" if len(scales) > 1 else ""))
    print("ratio: step / its I/O floor ('-': the step reads and writes no table); heap, py: peak MiB of the "
          "JVM heap and of this Python process during the step; k: time ~ size^k")
    return 0


if __name__ == "__main__":
    sys.exit(main())
