"""Benchmark: the vectorized simulator (jobs/fraud_jobs/simulator.py) vs a row-by-row Python loop
implementation of the same model (bench/loop_simulator.py). Prints times and the speed-up ratio.

Usage: python bench/bench_generate.py [--loop-subset 500] [--repeat 5]
Sizes: 500 customers / 100 terminals / 7 days and the handbook's 5,000 / 10,000 / 183 days, r = 5.
At the handbook size the loop runs on a subset of the customers and is extrapolated linearly
(its work is proportional to the number of customers); the output says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "jobs"))
sys.path.insert(0, HERE)

from fraud_jobs.simulator import Simulator, SimulatorParams  # noqa: E402
from loop_simulator import generate_loop  # noqa: E402

START = dt.date(2018, 4, 1)


def vectorized(customers, terminals, radius, days, seed):
    c0, t0 = time.process_time(), time.perf_counter()
    # start_date: compromises ramp up from the first day, as in the handbook's run
    sim = Simulator(SimulatorParams(customers=customers, terminals=terminals, radius=radius, seed=seed,
                                    start_date=START))
    data = sim.days(days)
    return time.process_time() - c0, time.perf_counter() - t0, data


def loop(customers, terminals, radius, days, seed, subset=None):
    c0, t0 = time.process_time(), time.perf_counter()
    rows = generate_loop(customers, terminals, radius, days, seed, customer_subset=subset)
    return time.process_time() - c0, time.perf_counter() - t0, rows


def run_size(label, customers, terminals, n_days, radius, repeat, subset=None):
    days = [START + dt.timedelta(days=i) for i in range(n_days)]
    vec_cpu, vec_wall = [], []
    for _ in range(repeat):
        cpu, wall, data = vectorized(customers, terminals, radius, days, seed=1)
        vec_cpu.append(cpu)
        vec_wall.append(wall)
    vec, vec_w = min(vec_cpu), min(vec_wall)
    n_tx = len(data["TX_AMOUNT"])
    fraud = data["TX_FRAUD"].mean() if n_tx else 0.0
    loop_cpu, loop_wall = [], []
    for _ in range(1 if subset else repeat):
        cpu, wall, rows = loop(customers, terminals, radius, days, seed=1, subset=subset)
        loop_cpu.append(cpu)
        loop_wall.append(wall)
    scale = customers / subset if subset else 1.0
    loop_est, loop_w = min(loop_cpu) * scale, min(loop_wall) * scale
    if subset:
        how = (f"EXTRAPOLATED x{scale:.0f} from {subset} of {customers} customers "
               f"({len(rows):,} rows measured: {min(loop_cpu):.2f} s CPU)")
    else:
        how = f"measured, {len(rows):,} rows, best of {repeat}"
    print(f"== {label}: {customers} customers / {terminals} terminals / {n_days} days / r = {radius}")
    print(f"   vectorized: {vec:8.3f} s CPU  {vec_w:8.3f} s wall  "
          f"({n_tx:,} transactions, fraud {fraud:.3%}, best of {repeat})")
    print(f"   loop:       {loop_est:8.3f} s CPU  {loop_w:8.3f} s wall  ({how})")
    print(f"   speed-up:   {loop_est / vec:8.1f}x CPU time   {loop_w / vec_w:8.1f}x wall time")
    return vec, loop_est


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop-subset", type=int, default=500, help="customers the loop runs at the big size")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    run_size("quick", 500, 100, 7, 5.0, args.repeat)
    vec, _ = run_size("handbook", 5000, 10000, 183, 5.0, max(1, args.repeat // 2), subset=args.loop_subset)
    print(f"handbook size in {vec:.2f} s CPU (target < 20 s); target speed-up >= 50x. CPU time is the fair")
    print("measure on a shared machine (wall time also counts waiting for a core); both are shown.")
    print("handbook's own run for comparison: 1,754,155 transactions, 0.837% fraud, ~3 minutes (pandas)")


if __name__ == "__main__":
    main()
