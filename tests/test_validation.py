"""The validation report (docs/validation.md), one test per row: the model against queueing theory (M/M/c),
the analytic ceiling (saturation), the fluid solution (a drain) and Little's law, each within an accuracy range
fixed before running. The runs and the figures are in ``validation_checks.py``; live against simulated is
``test_load_live.py::test_live_agrees_with_the_simulation_of_the_same_scenario``.

Each statistical bound was sized so that a correct model fails it by chance less than once in 1,000 seeds; the
tests check that the run's own standard error (batch means) still supports that, so shortening a run cannot
silently weaken a row."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from validation_checks import (
    Drain,
    MMc,
    Records,
    Saturation,
    drain_figures,
    erlang_c,
    little_figure,
    mmc_figures,
    mmc_mean_sojourn_s,
    mmc_sojourn_quantile_s,
    mmc_sojourn_sf,
    run,
    saturation_figures,
)

ONE_IN_1000 = 1e-3


# --- the analytic side, checked on its own ---------------------------------------------------------------------


def test_erlang_c_and_the_sojourn_distribution_reduce_to_m_m_1() -> None:
    """c = 1: an arrival waits with probability ρ, and the time in system is Exp(μ − λ)."""
    assert erlang_c(1, 0.8) == pytest.approx(0.8)
    assert mmc_mean_sojourn_s(1, 8.0, 10.0) == pytest.approx(1 / (10.0 - 8.0))
    assert mmc_sojourn_quantile_s(0.95, 1, 8.0, 10.0) == pytest.approx(math.log(20) / 2.0)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # a textbook value: M/M/2 at ρ = 0.5


@pytest.mark.parametrize(("servers", "arrival_per_s"), [(8, 64.0), (5, 40.0), (3, 5.0)],
                         ids=["validation-run", "equal-rates-branch", "light"])
def test_the_sojourn_survival_is_the_convolution_of_wait_and_service(servers: int, arrival_per_s: float) -> None:
    """P(T > t) against the convolution of Exp(μ) service with the Erlang-C wait computed numerically (quad),
    an independent route to the closed form — including (c − 1)μ = λ, where the closed form changes."""
    mu = 10.0
    waits = erlang_c(servers, arrival_per_s / mu)
    alpha = servers * mu - arrival_per_s
    for t in (0.01, 0.1, 0.35, 1.0):
        queued, _ = integrate.quad(lambda w, t=t: alpha * math.exp(-alpha * w) * math.exp(-mu * (t - w)), 0, t)
        tail = math.exp(-alpha * t)  # waited longer than t: still in system
        expected = (1 - waits) * math.exp(-mu * t) + waits * (queued + tail)
        assert mmc_sojourn_sf(t, servers, arrival_per_s, mu) == pytest.approx(expected, rel=1e-9)


# --- the rows ----------------------------------------------------------------------------------------------------


@pytest.mark.slow  # 60 simulated minutes of M/M/8 (about 230,000 registrations)
def test_mmc_time_to_created_is_the_erlang_c_sojourn_time() -> None:
    design = MMc()
    records = Records.of(run(design))
    # It is the M/M/c it claims to be: every arrival created on its first attempt, nothing throttled ...
    assert np.all(records.outcome == "created") and np.all(records.attempts == 1)
    assert run(design).summary["dataverse"]["throttled"] == 0
    # ... with Poisson arrivals: exponential gaps at λ (fails by chance once in 1,000 seeds)
    gaps = np.diff(np.sort(records.offered_s))
    assert stats.kstest(gaps, stats.expon(scale=1 / design.arrival_per_s).cdf).pvalue > ONE_IN_1000
    for figure in mmc_figures(design):
        assert figure.within, figure.line()
        assert figure.false_failure is not None and figure.false_failure < ONE_IN_1000, figure.line()


@pytest.mark.parametrize("design", [
    Saturation(1, 1),
    pytest.param(Saturation(2, 2), marks=pytest.mark.slow),  # 4 and 3 keys: the same law over 4 and 3 times
    pytest.param(Saturation(3, 1), marks=pytest.mark.slow),  # the traffic
], ids=["1x1", "2x2", "3x1"])
def test_saturation_creates_at_the_analytic_ceiling_in_every_window(design: Saturation) -> None:
    records = Records.of(run(design))
    admitted = design.windows(records.series["dv_admitted"])
    assert len(admitted) == 7
    assert admitted == pytest.approx(np.full(7, 6000 * design.keys), rel=0.02)  # the requests limit, each window
    assert design.windows(records.series["created"]) / 300 == pytest.approx(np.full(7, design.ceiling_per_s),
                                                                            rel=0.02)
    assert run(design).summary["dataverse"]["binding_limit"] == "requests"
    (figure,) = saturation_figures(design)
    assert figure.within and figure.false_failure is not None and figure.false_failure < ONE_IN_1000, figure.line()


def test_a_spike_drains_at_the_ceiling_as_the_fluid_solution_says() -> None:
    records = Records.of(run(Drain()))
    assert np.all(records.outcome == "created")  # every arrival drains: none turned away, none dead-lettered
    (figure,) = drain_figures()
    # An exact sliding log admits each window's 6,000 requests in a burst, so the drain ends within one window
    # before the fluid's continuous one (or a burst's length after it).
    assert figure.within, figure.line()


@pytest.mark.parametrize("name", [
    pytest.param("stationary M/M/c", marks=pytest.mark.slow),  # the M/M/c row's run
    "fluid drain",
])
def test_littles_law_holds_between_the_time_series_and_the_submission_rows(name: str) -> None:
    figure = little_figure(name)
    assert figure.within, figure.line()
    assert figure.false_failure is not None and figure.false_failure < ONE_IN_1000, figure.line()
