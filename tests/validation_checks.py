"""The checks of the validation report (docs/validation.md): for each, the run, the answer theory gives, the figure
the model gives, and how far apart they may be — an accuracy range fixed before running (Sargent, "Verification
and validation of simulation models", J. Simulation 7, 2013). Test support, not a test module:

    .venv/bin/python tests/validation_checks.py    print every row's figures (the table of docs/validation.md)
    tests/test_validation.py                        one test per row

The figures are computed from the run's own records — the rows of ``submissions.csv`` and the series of
``timeseries.csv`` — never from the summary's figures.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from simulator.engine.virtual import VirtualRun, run_virtual
from simulator.plan import capacity
from simulator.records import COUNT_COLUMNS
from simulator.scenario import Scenario, parse_scenario

#: a two-sided bound at this many standard errors fails by chance less than once in 1,000 runs
Z_1_IN_1000 = float(stats.norm.isf(0.0005))  # 3.29


# --- what a row reports ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One compared figure: theory's, the model's, and the accuracy range fixed before running. ``standard_error``
    is the observed figure's (batch means), where its deviation is random; None where it is bounded instead."""

    check: str
    unit: str
    expected: float
    observed: float
    tolerance: float  # absolute, in ``unit``
    standard_error: float | None = None

    @property
    def deviation(self) -> float:
        return self.observed - self.expected

    @property
    def within(self) -> bool:
        return abs(self.deviation) <= self.tolerance

    @property
    def false_failure(self) -> float | None:
        """The chance a correct model falls outside the range: two-sided normal tail at tolerance / SE."""
        if self.standard_error is None or self.standard_error <= 0:
            return None
        return float(2 * stats.norm.sf(self.tolerance / self.standard_error))

    def line(self) -> str:
        chance = self.false_failure
        odds = "" if chance is None else f", SE {self.standard_error:.3g}, false failure {chance:.1e}"
        return (f"{self.check}: expected {self.expected:.4g} {self.unit}, observed {self.observed:.4g} "
                f"({self.deviation:+.3g}, {100 * self.deviation / self.expected:+.2f} %), "
                f"range ±{self.tolerance:.3g}{odds} — {'PASS' if self.within else 'FAIL'}")


# --- what a run directory holds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    """A run's two records, as its run directory renders them: one row per submission (``submissions.csv``,
    here at full precision — the file rounds to the millisecond, coarser than these runs' gaps) and the per-bin
    counts (``timeseries.csv``)."""

    offered_s: np.ndarray
    created_s: np.ndarray  # NaN: not created
    outcome: np.ndarray
    attempts: np.ndarray
    bin_s: float
    series: dict[str, np.ndarray]

    @classmethod
    def of(cls, run: VirtualRun) -> Records:
        recorder = run.recorder
        bins = recorder.bins_until(run.simulated_s)
        series = {column: np.asarray(recorder.counts[column][:bins], dtype=float) for column in COUNT_COLUMNS}
        return cls(np.asarray(recorder.offered_s), np.asarray(recorder.created_s), np.asarray(recorder.outcome),
                   np.asarray(recorder.attempts), run.scenario.bin, series)

    @property
    def time_to_created_s(self) -> np.ndarray:
        return self.created_s - self.offered_s


def batch_means(values: np.ndarray, batches: int = 20, statistic: Any = np.mean) -> tuple[float, float]:
    """(the statistic over all values, its standard error from ``batches`` consecutive batches: their
    spread / √batches). Batches much longer than the correlation time make them nearly independent."""
    per_batch = np.array([statistic(b) for b in np.array_split(values, batches)])
    return float(statistic(values)), float(per_batch.std(ddof=1) / math.sqrt(batches))


# --- M/M/c: Erlang C and the sojourn-time distribution -----------------------------------------------------------


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability an arrival waits in M/M/c (Erlang C), from Erlang B = Poisson pmf(c) / cdf(c) at load a:
    C = B / (1 − ρ(1 − B)), ρ = a / c."""
    blocked = stats.poisson.pmf(servers, offered_load) / stats.poisson.cdf(servers, offered_load)
    return float(blocked / (1 - offered_load / servers * (1 - blocked)))


def mmc_sojourn_sf(t_s: float, servers: int, arrival_per_s: float, service_per_s: float) -> float:
    """P(T > t) for the time in system T of FCFS M/M/c (Gross, Shortle, Thompson & Harris, *Fundamentals of
    Queueing Theory*, 4th ed., 2008, §2.3.1): T = S + W with S ~ Exp(μ) and W = 0 with probability 1 − C,
    else Exp(cμ − λ); so P(T > t) = e^{−μt}·[1 + C·μ/((c−1)μ − λ)·(1 − e^{−((c−1)μ−λ)t})],
    and e^{−μt}·(1 + Cμt) when (c − 1)μ = λ."""
    mu, c = service_per_s, servers
    waits = erlang_c(c, arrival_per_s / mu)
    gap = (c - 1) * mu - arrival_per_s
    if abs(gap) < 1e-12:
        return math.exp(-mu * t_s) * (1 + waits * mu * t_s)
    return math.exp(-mu * t_s) * (1 + waits * mu / gap * (1 - math.exp(-gap * t_s)))


def mmc_mean_sojourn_s(servers: int, arrival_per_s: float, service_per_s: float) -> float:
    """E[T] = C / (cμ − λ) + 1/μ."""
    waits = erlang_c(servers, arrival_per_s / service_per_s)
    return waits / (servers * service_per_s - arrival_per_s) + 1 / service_per_s


def mmc_sojourn_quantile_s(q: float, servers: int, arrival_per_s: float, service_per_s: float) -> float:
    """The q-quantile of T: the root of P(T > t) = 1 − q (brentq; P(T > t) falls from 1 to 0)."""
    upper = 100 / service_per_s
    return float(optimize.brentq(lambda t: mmc_sojourn_sf(t, servers, arrival_per_s, service_per_s) - (1 - q),
                                 0.0, upper, xtol=1e-12))


# --- the fluid drain -------------------------------------------------------------------------------------------------


def spike_arrivals(rate_per_s: float, half_life_s: float, duration_s: float) -> Any:
    """A(t): expected arrivals by t of ``workload.shape = "spike"`` (rate·2^(−t/h), stopped at the duration)."""
    scale = rate_per_s * half_life_s / math.log(2)
    return lambda t: scale * (1 - 2 ** (-min(t, duration_s) / half_life_s))


def fluid_last_departure_s(arrived: Any, peak_per_s: float, ceiling_per_s: float) -> float:
    """The fluid solution's last departure: work above the ceiling queues and drains at the ceiling. With a
    rate that starts above the ceiling and falls, the queue is never empty from 0 until it drains, at the
    root of ceiling·t = A(t) past the moment the rate falls below the ceiling."""
    assert peak_per_s > ceiling_per_s
    total = arrived(math.inf)
    return float(optimize.brentq(lambda t: ceiling_per_s * t - arrived(t), 1e-9, 10 * total / ceiling_per_s + 1,
                                 xtol=1e-9))


# --- the runs ------------------------------------------------------------------------------------------------------

ONE_KIND = {"event": 1.0, "session": 0.0, "waitlist": 0.0}


@dataclass(frozen=True)
class MMc:
    """M/M/c as the model: c processors, Poisson arrivals at utilisation ρ, exponential service of one write.

    What else would add to time to created is switched off or made negligible: no catalog browsing
    (``browse_per_submission = 0``); validation reads take e^−30 s (a read latency with median 0) and are
    rare (a 10-minute read cache); one call per registration (``registration.matching = "none"``: no contact
    match; ``contact_write = 0``, ``registration = 1``; event registrations only, no capacity, no payments);
    no limit can bind (requests, execution time and concurrency far above the load) and web-server worker
    slots exceed c, so no call is throttled, retried or queued at Dataverse; no faults; no confirmation
    journey (it starts after created, so it only costs CPU). Time to created
    (created − offered) is then the M/M/c sojourn: the wait for a processor plus the write."""

    servers: int = 8
    utilisation: float = 0.8
    service_mean_s: float = 0.1
    arrivals_s: float = 3600.0
    warmup_s: float = 60.0  # arrivals before this are left out (the system starts empty)
    bin_s: float = 0.25  # fine bins: the time series samples the number in system often (Little's law)

    @property
    def arrival_per_s(self) -> float:
        return self.utilisation * self.servers / self.service_mean_s

    def scenario(self) -> Scenario:
        return parse_scenario({
            "name": "validation-mmc", "seed": 7, "horizon": f"{self.arrivals_s + 600}s", "bin": f"{self.bin_s}s",
            "catalog": {"events": 1, "capacity": 0, "session_capacity": 0},
            "workload": {"shape": "constant", "rate": self.arrival_per_s, "duration": f"{self.arrivals_s}s",
                         "browse_per_submission": 0, "mix": ONE_KIND},
            "api": {"processors": self.servers},
            "registration": {"matching": "none"},
            "confirmation": {"enabled": False},
            "dataverse": {
                "requests_limit": 10**9, "execution_limit": "100000h", "concurrency_limit": 10**6,
                "worker_slots": 10**6,
                "latency": {"read": {"median": "0s", "p99": "0s"},
                            "write": {"dist": "exponential", "mean": f"{self.service_mean_s}s"}},
                "plan": {"contact_write": 0, "registration": 1},
            },
        }, "validation: M/M/c")


@dataclass(frozen=True)
class Drain:
    """A spike well above the analytic ceiling, on the default plan (3 calls: match, contact, registration)
    and one app user's limits (6,000 requests per 300 s: 6.67 registrations/s)."""

    overload: float = 10.0  # the spike's peak, in ceilings
    half_life_s: float = 300.0
    arrivals_s: float = 3600.0
    processors: int = 16

    def scenario(self) -> Scenario:
        return parse_scenario({
            "name": "validation-drain", "seed": 7, "horizon": "6h", "bin": "10s",
            "catalog": {"events": 1, "capacity": 0, "session_capacity": 0},
            "workload": {"shape": "spike", "rate": self.overload * self.ceiling_per_s,
                         "half_life": f"{self.half_life_s}s", "duration": f"{self.arrivals_s}s",
                         "browse_per_submission": 0, "mix": ONE_KIND},
            # a validation read refused while throttled waits (nobody is turned away: every arrival drains)
            "api": {"processors": self.processors, "on_validation_throttle": "wait"},
            "confirmation": {"enabled": False},
        }, "validation: fluid drain")

    @property
    def ceiling_per_s(self) -> float:
        return 6000 / 300 / 3


@dataclass(frozen=True)
class Saturation:
    """Demand 1.5 × the ceiling for 40 minutes on ``users × servers`` keys without affinity (each key its own
    6,000 requests per 300 s), the default 3-call plan, retries that honour Retry-After: the ceiling is
    keys × 6,000 / 300 / 3 registrations per second."""

    users: int = 1
    servers: int = 1
    minutes: int = 40

    @property
    def keys(self) -> int:
        return self.users * self.servers

    @property
    def ceiling_per_s(self) -> float:
        return self.keys * 6000 / 300 / 3

    def scenario(self) -> Scenario:
        return parse_scenario({
            "name": "validation-saturation", "seed": 7, "horizon": f"{self.minutes}m", "bin": "10s",
            "catalog": {"events": 1, "sessions_per_event": 2, "capacity": 0, "session_capacity": 0},
            "workload": {"shape": "constant", "rate": 1.5 * self.ceiling_per_s, "duration": f"{self.minutes}m",
                         "browse_per_submission": 0, "mix": ONE_KIND},
            "api": {"processors": 24 * self.keys},
            "retry": {"policy": "exponential", "honor_retry_after": True},
            "dataverse": {"app_users": self.users, "web_servers": self.servers, "affinity": False},
            "confirmation": {"enabled": False},
        }, "validation: saturation")

    def windows(self, column: Records | np.ndarray, first_s: float = 300.0) -> np.ndarray:
        """Per-300 s sums of a per-bin series from ``first_s`` (the first window fills the backlog) on."""
        per_window = int(300 / 10)
        series = np.asarray(column)[int(first_s / 10):int(self.minutes * 60 / 10)]
        return series[:len(series) // per_window * per_window].reshape(-1, per_window).sum(axis=1)


@functools.cache
def run(design: MMc | Drain | Saturation) -> VirtualRun:
    """Each design's run, once per process (the M/M/c run serves two rows)."""
    return run_virtual(design.scenario())


# --- the rows ------------------------------------------------------------------------------------------------------


def mmc_figures(design: MMc = MMc()) -> list[Figure]:
    """Mean and 95th percentile of time to created against M/M/c's sojourn time, ±5 % each."""
    records = Records.of(run(design))
    steady = records.time_to_created_s[records.offered_s >= design.warmup_s]
    lam, mu, c = design.arrival_per_s, 1 / design.service_mean_s, design.servers
    mean_s, mean_se = batch_means(steady)
    p95_s, p95_se = batch_means(steady, statistic=lambda v: np.percentile(v, 95))
    expected_mean, expected_p95 = mmc_mean_sojourn_s(c, lam, mu), mmc_sojourn_quantile_s(0.95, c, lam, mu)
    return [
        Figure("M/M/c mean time to created", "s", expected_mean, mean_s, 0.05 * expected_mean, mean_se),
        Figure("M/M/c p95 time to created", "s", expected_p95, p95_s, 0.05 * expected_p95, p95_se),
    ]


def saturation_figures(design: Saturation = Saturation()) -> list[Figure]:
    """Created per second in each 300 s window of the saturated run against the ceiling, ±2 %: the window
    farthest from it is reported, with the spread of one window as its standard error."""
    records = Records.of(run(design))
    rates = design.windows(records.series["created"]) / 300
    worst = float(rates[np.argmax(abs(rates - design.ceiling_per_s))])
    return [Figure(f"saturation, {design.users}×{design.servers} keys: created/s per window (worst of "
                   f"{len(rates)})", "/s", design.ceiling_per_s, worst, 0.02 * design.ceiling_per_s,
                   float(rates.std(ddof=1)))]  # one window's spread: the figure is one window


def drain_figures(design: Drain = Drain()) -> list[Figure]:
    """The last registration created against the fluid solution, ± one limit window (300 s)."""
    records = Records.of(run(design))
    arrived = spike_arrivals(design.overload * design.ceiling_per_s, design.half_life_s, design.arrivals_s)
    ceiling = capacity(design.scenario())["ceiling_created_per_s"]
    expected = fluid_last_departure_s(arrived, design.overload * ceiling, ceiling)
    return [Figure("fluid drain: last created", "s", expected, float(np.nanmax(records.created_s)), 300.0)]


def littles_law(records: Records, batches: int = 20) -> tuple[float, float, float]:
    """(L from the time series, λ·W from the submission rows, the standard error of their difference) over the
    whole run, which starts and ends empty — so L = λW holds exactly for the continuous sample path, and what is
    left is how well the series' bin ends sample the number in system.

    L: offered − created − rejected − dead-lettered so far at each bin's end, averaged over the bins; λ: offered
    per second of the run; W: mean time in system. The standard error comes from ``batches`` stretches of the
    run: in each, the bin-end average against the exact time average the rows give (each stay's overlap)."""
    series, bin_s = records.series, records.bin_s
    left = np.cumsum(series["created"] + series["rejected"] + series["dead_lettered"])
    in_system = np.cumsum(series["offered"]) - left
    assert in_system[-1] == 0 and np.all(records.outcome == "created"), "every arrival leaves, by being created"
    span_s = len(in_system) * bin_s
    offered, created = records.offered_s, records.created_s
    differences = []
    for bins in np.array_split(np.arange(len(in_system)), batches):
        start_s, end_s = bins[0] * bin_s, (bins[-1] + 1) * bin_s
        stayed_s = np.clip(np.minimum(created, end_s) - np.maximum(offered, start_s), 0, None).sum()
        differences.append(in_system[bins].mean() - stayed_s / (end_s - start_s))
    standard_error = float(np.std(differences, ddof=1) / math.sqrt(batches))
    return float(in_system.mean()), len(offered) / span_s * float(records.time_to_created_s.mean()), standard_error


LITTLE_RUNS = {"stationary M/M/c": MMc(), "fluid drain": Drain()}


def little_figure(name: str) -> Figure:
    """Little's law on one of the runs (``LITTLE_RUNS``), ±1 %."""
    level, product, standard_error = littles_law(Records.of(run(LITTLE_RUNS[name])))
    return Figure(f"Little's law, {name}: L against λW", "registrations", product, level, 0.01 * product,
                  standard_error)


if __name__ == "__main__":
    for figure in (*mmc_figures(), *saturation_figures(), *saturation_figures(Saturation(2, 2)),
                   *saturation_figures(Saturation(3, 1)), *drain_figures(), *map(little_figure, LITTLE_RUNS)):
        print(figure.line())
    sys.exit(0)
