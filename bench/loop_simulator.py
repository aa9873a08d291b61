"""Baseline for bench_generate.py: the same simulator written as a plain row-by-row Python loop.

Same model as jobs/fraud_jobs/simulator.py (profiles, reach, Poisson counts, times, amounts,
terminal choice, scenarios 1 -> 2 -> 3 with the same per-day compromise rules, ramping up from the
first day like the benchmark's vectorized run with start_date), one scalar draw at a time, the way
a straightforward pandas-free port of the handbook would run. Terminals in reach are found per
customer with one numpy distance computation over all terminals (as the handbook does);
everything else is a Python loop over customers, days and transactions.
"""

from __future__ import annotations

import datetime as dt
import math
import random

import numpy as np


def generate_loop(customers: int, terminals: int, radius: float, days: list[dt.date], seed: int,
                  customer_subset: int | None = None) -> list[tuple]:
    rs = np.random.RandomState(seed)
    py = random.Random(seed)
    profiles = []
    for _ in range(customers):
        x, y = rs.uniform(0, 100), rs.uniform(0, 100)
        mean = rs.uniform(5, 100)
        profiles.append((x, y, mean, mean / 2, rs.uniform(0, 4)))
    term_xy = np.array([(rs.uniform(0, 100), rs.uniform(0, 100)) for _ in range(terminals)])
    used = profiles[:customer_subset] if customer_subset else profiles
    reach = []
    for x, y, *_ in used:
        dist = np.sqrt((term_xy[:, 0] - x) ** 2 + (term_xy[:, 1] - y) ** 2)
        reach.append(list(np.nonzero(dist < radius)[0]))

    rows = []
    for day in days:
        for cid, (x, y, mean, std, rate) in enumerate(used):
            available = reach[cid]
            if not available:
                continue
            for _ in range(rs.poisson(rate)):
                seconds = int(rs.normal(43200, 20000))
                if not 0 < seconds < 86400:
                    continue
                amount = rs.normal(mean, std)
                if amount < 0:
                    amount = rs.uniform(0, 2 * mean)
                rows.append([day, seconds, cid, py.choice(available), round(amount, 2), 0, 0])
    # rows are in (day, customer, draw) order, like the vectorized version: no sort

    # fraud scenarios, one row at a time. Compromises ramp up from the first day (nothing is
    # compromised before it), as in the handbook's run and the benchmark's vectorized run.
    compromised_terminal_days = set()
    compromised_customer_days: dict[tuple[int, dt.date], int] = {}
    for i in range((days[-1] - days[0]).days + 1):
        start = days[0] + dt.timedelta(days=i)
        for term in py.sample(range(terminals), 2):
            for k in range(28):
                compromised_terminal_days.add((term, start + dt.timedelta(days=k)))
        for cust in py.sample(range(customers), 3):
            for k in range(14):
                key = (cust, start + dt.timedelta(days=k))
                compromised_customer_days[key] = compromised_customer_days.get(key, 0) + 1
    for row in rows:
        day, _, cid, term, amount, _, _ = row
        if amount > 220:
            row[5], row[6] = 1, 1
        if (term, day) in compromised_terminal_days:
            row[5], row[6] = 1, 2
        for _ in range(compromised_customer_days.get((cid, day), 0)):
            if py.random() < 1 / 3:
                row[4] = round(row[4] * 5, 2)
                row[5], row[6] = 1, 3
    out = []
    for idx, row in enumerate(rows):
        day, seconds = row[0], row[1]
        when = dt.datetime(day.year, day.month, day.day) + dt.timedelta(seconds=seconds)
        out.append((day.toordinal() * 10_000_000 + idx, when, *row[2:]))
    return out


def expected_daily_rate(customers: int) -> float:
    """Mean transactions per customer-day in the model (for reading the output): 2 * P(kept)."""
    keep = 0.5 * (math.erf((86400 - 43200) / (20000 * math.sqrt(2))) - math.erf((1 - 43200) / (20000 * math.sqrt(2))))
    return 2 * keep
