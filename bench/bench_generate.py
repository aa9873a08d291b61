"""Benchmark: the vectorized simulator (jobs/fraud_jobs/simulator.py) vs a row-by-row Python loop
implementation of the same model (bench/loop_simulator.py). Prints times and the speed-up ratio.

Usage: python bench/bench_generate.py [--repeat 51] [--big-repeat 5] [--loop-subset 0]
Sizes: 500 customers / 100 terminals / 7 days and the handbook's 5,000 / 10,000 / 183 days, r = 5.
Both sides do the same work: profiles, terminals in reach, transactions, the three fraud scenarios
(compromises ramping up from the first day) and transaction ids. Each time is the median of its
runs, as CPU time (time.process_time, the fair measure on a shared machine) and wall time; the
vectorized side's first run is shown too (it also pays the page faults of its ~100 MB of arrays,
as the loop's single run at the handbook size pays for its Python objects).
At the handbook size the loop runs once on all customers by default (~15 s). With --loop-subset N
it runs on N and N/2 customers and is extrapolated linearly from those two points (its work per
customer is constant; the fixed part, terminal profiles and compromise picks, is not scaled up);
the output says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "jobs"))
sys.path.insert(0, HERE)

from fraud_jobs.simulator import Simulator, SimulatorParams  # noqa: E402
from loop_simulator import generate_loop  # noqa: E402
from pipeline_run import HANDBOOK_SIZE  # noqa: E402

START = dt.date(2018, 4, 1)


def timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - t0, out


def vectorized(customers, terminals, radius, days, seed):
    # start_date: compromises ramp up from the first day, as in the handbook's run
    sim = Simulator(SimulatorParams(customers=customers, terminals=terminals, radius=radius, seed=seed,
                                    start_date=START))
    return sim.days(days)


def medians(runs):
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def run_size(label, customers, terminals, n_days, radius, repeat, subset=0):
    days = [START + dt.timedelta(days=i) for i in range(n_days)]
    vec_runs = []
    for _ in range(repeat):  # keep only the last output, so runs do not pile up memory
        vec_runs.append(timed(lambda: vectorized(customers, terminals, radius, days, seed=1)))
        data = vec_runs[-1][2]
        vec_runs[-1] = vec_runs[-1][:2]
    vec, vec_w = medians(vec_runs)
    n_tx = len(data["TX_AMOUNT"])
    fraud = data["TX_FRAUD"].mean() if n_tx else 0.0
    if subset and subset < customers:
        half = max(1, subset // 2)
        big = timed(lambda: generate_loop(customers, terminals, radius, days, 1, customer_subset=subset))
        small = timed(lambda: generate_loop(customers, terminals, radius, days, 1, customer_subset=half))
        per_cpu, per_wall = (big[0] - small[0]) / (subset - half), (big[1] - small[1]) / (subset - half)
        loop_est = big[0] + per_cpu * (customers - subset)
        loop_w = big[1] + per_wall * (customers - subset)
        how = (f"EXTRAPOLATED from runs on {subset} and {half} of {customers} customers "
               f"({len(big[2]):,} rows at {subset}: {big[0]:.2f} s CPU)")
    else:
        loop_repeat = repeat if n_days * customers <= 100_000 else 1
        loop_runs = []
        for _ in range(loop_repeat):
            loop_runs.append(timed(lambda: generate_loop(customers, terminals, radius, days, 1)))
            n_rows = len(loop_runs[-1][2])
            loop_runs[-1] = loop_runs[-1][:2]
        loop_est, loop_w = medians(loop_runs)
        how = f"measured, {n_rows:,} rows, median of {loop_repeat}"
    print(f"== {label}: {customers} customers / {terminals} terminals / {n_days} days / r = {radius}")
    first, first_w = vec_runs[0]
    print(f"   vectorized: {vec:8.4f} s CPU  {vec_w:8.4f} s wall  "
          f"({n_tx:,} transactions, fraud {fraud:.3%}, median of {repeat})")
    print(f"     1st run:  {first:8.4f} s CPU  {first_w:8.4f} s wall  (cold: the process first faults in "
          f"the memory for its arrays)")
    print(f"   loop:       {loop_est:8.4f} s CPU  {loop_w:8.4f} s wall  ({how})")
    print(f"   speed-up:   {loop_est / vec:8.1f}x CPU time   {loop_w / vec_w:8.1f}x wall time  (medians)")
    print(f"     1st run:  {loop_est / first:8.1f}x CPU time   {loop_w / first_w:8.1f}x wall time")
    return vec, loop_est


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=51, help="runs per side at the small size (median)")
    ap.add_argument("--big-repeat", type=int, default=5, help="vectorized runs at the handbook size (median)")
    ap.add_argument("--loop-subset", type=int, default=0,
                    help="customers the loop runs at the handbook size (0: all, no extrapolation)")
    args = ap.parse_args()
    run_size("quick", 500, 100, 7, 5.0, args.repeat)
    vec, _ = run_size("handbook", HANDBOOK_SIZE["customers"], HANDBOOK_SIZE["terminals"], 183, HANDBOOK_SIZE["radius"],
                      args.big_repeat, subset=args.loop_subset)
    print(f"handbook size in {vec:.2f} s CPU (target < 20 s); target speed-up >= 50x. CPU time is the fair")
    print("measure on a shared machine (wall time also counts waiting for a core); both are shown.")
    print("handbook's own run for comparison: 1,754,155 transactions, 0.837% fraud, ~3 minutes (pandas)")


if __name__ == "__main__":
    main()
