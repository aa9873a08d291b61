"""The simulator alone (numpy, no Spark): reach, determinism, and its statistics against derived values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy import stats

from fraud_jobs.simulator import (
    MAX_TX_PER_DAY,
    SECONDS_PER_DAY,
    TIME_MEAN,
    TIME_STD,
    Simulator,
    SimulatorParams,
    compromised_customers,
    compromised_terminals,
)

D0 = dt.date(2024, 3, 1)


def dates(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


@pytest.mark.parametrize("radius", [0.7, 5.0, 23.0, 150.0])
def test_terminals_in_reach_are_exactly_those_closer_than_r(radius):
    sim = Simulator(SimulatorParams(customers=300, terminals=2000, radius=radius, seed=7))
    c, t = sim.customers, sim.terminals
    for i in range(300):
        dist = np.hypot(c.x[i] - t.x, c.y[i] - t.y)
        expected = np.nonzero(dist < radius)[0]
        got = sim.reach.indices[sim.reach.indptr[i]:sim.reach.indptr[i + 1]]
        np.testing.assert_array_equal(got, expected)


def test_a_window_generated_in_pieces_equals_one_run():
    params = SimulatorParams(customers=200, terminals=400, radius=10, seed=3)
    whole = Simulator(params).days(dates(D0, 40))
    first = Simulator(params).days(dates(D0, 17))
    second = Simulator(params).days(dates(D0 + dt.timedelta(days=17), 23))
    for name, column in whole.items():
        np.testing.assert_array_equal(column, np.concatenate([first[name], second[name]]), err_msg=name)
    # the compromise windows span the split, so scenarios 2 and 3 are present on both sides
    assert {2, 3} <= set(first["TX_FRAUD_SCENARIO"]) and {2, 3} <= set(second["TX_FRAUD_SCENARIO"])


def test_another_seed_gives_other_data():
    a = Simulator(SimulatorParams(customers=100, terminals=100, radius=20, seed=1)).day(D0)
    b = Simulator(SimulatorParams(customers=100, terminals=100, radius=20, seed=2)).day(D0)
    assert len(a["TX_AMOUNT"]) != len(b["TX_AMOUNT"]) or not np.array_equal(a["TX_AMOUNT"], b["TX_AMOUNT"])


def test_transaction_ids_are_unique_and_encode_the_day():
    data = Simulator(SimulatorParams(customers=300, terminals=300, radius=15, seed=5)).days(dates(D0, 5))
    ids = data["TRANSACTION_ID"]
    assert len(np.unique(ids)) == len(ids)
    days = ids // MAX_TX_PER_DAY
    as_dates = data["TX_DATETIME"].astype("datetime64[D]").astype(object)
    assert all(dt.date.fromordinal(int(o)) == d for o, d in zip(days, as_dates))
    assert (data["TX_DATE"] == np.array([d.isoformat() for d in as_dates], dtype=object)).all()


def test_start_date_means_no_compromise_before_it():
    p = SimulatorParams(customers=100, terminals=100, radius=20, seed=1, start_date=D0)
    assert len(compromised_terminals(p, D0)) == 2
    assert len(compromised_terminals(p, D0 + dt.timedelta(days=40))) > 2
    assert len(compromised_customers(p, D0)) == 1
    with pytest.raises(ValueError, match="before the simulation start date"):
        Simulator(p).day(D0 - dt.timedelta(days=1))


# ---------------------------------------------------------------------------------------------
# Statistics: each expectation is derived from the model, each tolerance from its variance.

N_CUSTOMERS, N_TERMINALS, N_DAYS, RADIUS = 1000, 2000, 120, 5.0
Z = 4.5  # tolerance in standard deviations: a false alarm is ~1e-5 per check


@pytest.fixture(scope="module")
def simulated():
    params = SimulatorParams(customers=N_CUSTOMERS, terminals=N_TERMINALS, radius=RADIUS, seed=11)
    sim = Simulator(params)
    return sim, sim.days(dates(D0, N_DAYS))


P_TIME_KEPT = stats.norm.cdf(SECONDS_PER_DAY, TIME_MEAN, TIME_STD) - stats.norm.cdf(1, TIME_MEAN, TIME_STD)


def test_transaction_count_matches_poisson_rates(simulated):
    sim, data = simulated
    active = sim.reach.counts > 0
    # a sum of independent Poisson counts, thinned by the kept time window: Poisson itself
    expected = sim.customers.mean_nb_tx_per_day[active].sum() * N_DAYS * P_TIME_KEPT
    assert abs(len(data["TX_AMOUNT"]) - expected) < Z * np.sqrt(expected)
    assert not np.isin(data["CUSTOMER_ID"], np.nonzero(~active)[0]).any()
    seconds = (data["TX_DATETIME"] - data["TX_DATETIME"].astype("datetime64[D]")).astype(np.int64)
    assert seconds.min() > 0 and seconds.max() < SECONDS_PER_DAY


def test_mean_terminals_in_reach_matches_the_density(simulated):
    sim, _ = simulated
    # customers far from the edges see the full disc: pi r^2 * density terminals, a Poisson count
    c = sim.customers
    inner = (c.x > RADIUS) & (c.x < 100 - RADIUS) & (c.y > RADIUS) & (c.y < 100 - RADIUS)
    lam = np.pi * RADIUS**2 * N_TERMINALS / 100**2
    counts = sim.reach.counts[inner]
    assert abs(counts.mean() - lam) < Z * np.sqrt(lam / inner.sum())


def test_amounts_follow_the_redrawn_normal(simulated):
    sim, data = simulated
    intact = data["TX_FRAUD_SCENARIO"] != 3  # scenario 3 multiplies amounts; the others do not
    ratio = data["TX_AMOUNT"][intact] / sim.customers.mean_amount[data["CUSTOMER_ID"][intact]]
    # Y = X/mean ~ N(1, 1/2); Y < 0 is redrawn from U(0, 2)
    mu, sd = 1.0, 0.5
    a = (0 - mu) / sd
    p_neg = stats.norm.cdf(a)
    e_pos = mu * (1 - p_neg) + sd * stats.norm.pdf(a)
    e2_pos = (mu**2 + sd**2) * (1 - p_neg) + sd * mu * stats.norm.pdf(a)
    mean = e_pos + p_neg * 1.0
    var = e2_pos + p_neg * 4 / 3 - mean**2
    # rounding to cents adds at most 0.005 / 5 to a ratio
    assert abs(ratio.mean() - mean) < Z * np.sqrt(var / len(ratio)) + 0.001
    assert ratio.min() >= 0


def test_scenario_1_labels_every_large_amount(simulated):
    sim, data = simulated
    large = data["TX_AMOUNT"] > 220
    scen = data["TX_FRAUD_SCENARIO"]
    assert (data["TX_FRAUD"][large] == 1).all()
    # expected count of original amounts > 220: per customer rate * P(N(m, m/2) > 220)
    c = sim.customers
    p_large = stats.norm.sf(220, c.mean_amount, c.std_amount)
    active = sim.reach.counts > 0
    expected_all = (c.mean_nb_tx_per_day * p_large)[active].sum() * N_DAYS * P_TIME_KEPT
    # rows not touched by scenario 3 keep their amount; a row is touched with prob q (derived below)
    q = 1 - (1 - 1 / N_CUSTOMERS) ** 14
    expected = expected_all * (1 - q)
    observed = (large & (scen != 3)).sum()
    assert abs(observed - expected) < Z * np.sqrt(expected) + 1


def _compromise_tolerance(per_unit_rate: np.ndarray, picks: int, duration: int, share: float) -> float:
    """Std of the fraud count when `picks` random units are each compromised for `duration` days.

    A pick of unit u adds about share * duration * rate_u frauds: the variance is the spread of that
    over units (traffic differs a lot between units) plus the Poisson noise of the counts.
    """
    contribution = share * duration * per_unit_rate
    return float(np.sqrt(picks * (contribution.var() + contribution.mean())))


def test_scenario_2_rate_matches_compromised_terminal_share(simulated):
    sim, data = simulated
    n = len(data["TX_AMOUNT"])
    # a terminal is compromised on a day when it was picked on one of the last 28 days (2 per day)
    p = 1 - (1 - 2 / N_TERMINALS) ** 28
    scen = data["TX_FRAUD_SCENARIO"]
    # scenario 3 overwrites the label, so count the rows at compromised terminals directly
    at_compromised = sum(
        np.isin(data["TERMINAL_ID"][data["TX_DATE"] == d.isoformat()], compromised_terminals(sim.params, d)).sum()
        for d in dates(D0, N_DAYS)
    )
    assert at_compromised >= (scen == 2).sum()
    rate = np.bincount(data["TERMINAL_ID"], minlength=N_TERMINALS) / N_DAYS
    tol = _compromise_tolerance(rate, 2 * (N_DAYS + 27), 28, 1.0)
    assert abs(at_compromised - n * p) < Z * tol


def test_scenario_3_selects_a_third_of_compromised_customers_transactions(simulated):
    sim, data = simulated
    n = len(data["TX_AMOUNT"])
    # each of the 14 active picks of 3 customers takes a transaction with prob 1/3:
    # P(selected) = 1 - E[(2/3)^m], m ~ Binomial(14, 3/N) = 1 - (1 - 1/N)^14
    expected = n * (1 - (1 - 1 / N_CUSTOMERS) ** 14)
    rate = np.bincount(data["CUSTOMER_ID"], minlength=N_CUSTOMERS) / N_DAYS
    tol = _compromise_tolerance(rate, 3 * (N_DAYS + 13), 14, 1 / 3)
    assert abs((data["TX_FRAUD_SCENARIO"] == 3).sum() - expected) < Z * tol
