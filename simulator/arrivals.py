"""Arrival rates and times of an open workload, pure: a non-homogeneous Poisson process whose rate follows
the scenario's shape, independent of how fast the system answers.

Shapes (rate in submissions per second, t from 0 to ``duration``):
constant ``rate``; ramp ``rate·t/duration``; spike ``rate·2^(−t/half_life)`` (an email blast: everyone opens
it at once, then interest decays); steps: ``rate`` of the last step whose ``at`` ≤ t; trace: the same from a
CSV (``t_s, rate_per_s``); window: the spike from ``window.opens`` on; journey: the registrations an invitation
journey brings (:mod:`simulator.journey`, drawn at once with numpy from one draw of the arrival stream).

:func:`journeys` adds what each arrival does — which event, which kind of registration, which sessions, how
many catalog pages it loads — drawn from the same generator in a fixed order, so the virtual workload and a
Locust run of the same scenario and seed offer the very same traffic.
"""

from __future__ import annotations

import bisect
import csv
import random
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from simulator.catalog import Catalog, Event
from simulator.journey import registration_times
from simulator.scenario import Scenario, ScenarioError, Workload

__all__ = ["rate_function", "load_trace", "arrivals", "arrival_times", "arrival_period_s", "mean_rate_per_s",
           "peak_rate_per_s", "Journey", "journeys", "arrival_count"]


def load_trace(path: str) -> list[tuple[float, float]]:
    """(t_s, rate_per_s) steps from a CSV with a header row ``t_s,rate_per_s``."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        steps = sorted((float(r["t_s"]), float(r["rate_per_s"])) for r in rows)
    except FileNotFoundError:
        raise ScenarioError(f"workload.trace = {path!r}: no such file") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise ScenarioError(
            f"workload.trace = {path!r}: expected CSV columns t_s,rate_per_s with numbers ({exc})"
        ) from None
    if not steps:
        raise ScenarioError(f"workload.trace = {path!r}: no rows")
    return steps


def rate_function(workload: Workload) -> tuple[Callable[[float], float], float]:
    """(rate_per_s(t), its maximum over the arrival period)."""
    peak = workload.rate
    duration = workload.duration
    if workload.shape == "constant":
        return (lambda t: peak), peak
    if workload.shape == "journey":
        raise ValueError("a journey's arrivals have no rate function: use arrival_times(scenario, rng)")
    if workload.shape == "ramp":
        return (lambda t: peak * t / duration if duration else peak), peak
    if workload.shape in ("spike", "window"):  # window: the spike, from window.opens on (see arrival_times)
        half_life = workload.half_life or 1e-9
        return (lambda t: peak * 0.5 ** (t / half_life)), peak
    steps = (
        [(s.at, s.rate) for s in sorted(workload.steps, key=lambda s: s.at)]
        if workload.shape == "steps"
        else load_trace(workload.trace)
    )
    starts = [at for at, _ in steps]
    rates = [rate for _, rate in steps]

    def stepped(t: float) -> float:
        index = bisect.bisect_right(starts, t) - 1
        return rates[index] if index >= 0 else 0.0

    return stepped, max(rates)


def arrivals(workload: Workload, rng: random.Random) -> Generator[float, None, None]:
    """Arrival times (seconds) by thinning (Lewis & Shedler): candidates at the peak rate, each kept with
    probability rate(t)/peak. Stops at ``duration`` or after ``total`` arrivals."""
    rate, peak = rate_function(workload)
    if peak <= 0:
        return
    t = 0.0
    count = 0
    total = workload.total
    thinning = workload.shape != "constant"  # a constant rate keeps every candidate
    while True:
        t += rng.expovariate(peak)
        if t >= workload.duration:
            return
        if not thinning or rng.random() * peak < rate(t):
            yield t
            count += 1
            if total and count >= total:
                return


def arrival_times(scenario: Scenario, rng: random.Random) -> Iterator[float]:
    """Arrival times (seconds from the run's start, ascending) of ``scenario``'s workload shape."""
    workload = scenario.workload
    if workload.shape == "journey":
        times = registration_times(scenario.journey, scenario.horizon, np.random.default_rng(rng.getrandbits(64)))
        return iter((times[: workload.total] if workload.total else times).tolist())
    if workload.shape == "window":
        opens_s = scenario.window.opens
        return (opens_s + t for t in arrivals(workload, rng))
    return arrivals(workload, rng)


def _journey_times(scenario: Scenario) -> np.ndarray:
    """The journey's arrival times for the scenario's own seed (as the workload draws them)."""
    return np.fromiter(arrival_times(scenario, random.Random(f"{scenario.seed}-arrivals")), dtype=float)


def arrival_period_s(scenario: Scenario) -> float:
    """When arrivals stop, from the run's start."""
    workload = scenario.workload
    if workload.shape == "journey":
        times = _journey_times(scenario)
        return float(times[-1]) if len(times) else 0.0
    return workload.duration + (scenario.window.opens if workload.shape == "window" else 0.0)


def mean_rate_per_s(scenario: Scenario, points: int = 2000) -> float:
    """Expected arrivals per second over the arrival period (midpoint rule; exact for constant and steps
    up to the grid; a journey: its arrivals for the scenario's seed over their span). ``total`` caps are
    ignored, except by a journey."""
    workload = scenario.workload
    if workload.shape == "journey":
        times = _journey_times(scenario)
        return len(times) / max(float(times[-1] - times[0]), scenario.bin) if len(times) else 0.0
    rate, _ = rate_function(workload)
    if workload.duration <= 0:
        return 0.0
    step_s = workload.duration / points
    return sum(rate((i + 0.5) * step_s) for i in range(points)) / points


def peak_rate_per_s(scenario: Scenario) -> float:
    """The shape's peak arrivals per second (a journey: the most in any of the run's bins, per second)."""
    if scenario.workload.shape != "journey":
        return rate_function(scenario.workload)[1]
    times = _journey_times(scenario)
    if not len(times):
        return 0.0
    counts = np.bincount((times // scenario.bin).astype(np.int64))
    return float(counts.max()) / scenario.bin


class Journey(NamedTuple):
    """One arrival: at ``t_s`` a visitor loads ``pages`` catalog pages of ``event`` and submits a registration
    of ``kind`` (event | session | waitlist) naming ``session_ids``."""

    t_s: float
    event: Event
    kind: str
    session_ids: tuple[str, ...]
    pages: int


def journeys(scenario: Scenario, catalog: Catalog, rng: random.Random) -> Generator[Journey, None, None]:
    """Every arrival of :func:`arrival_times` with what it does. The draws per arrival, in order: the arrival time,
    the event, the kind, a fractional page (only when ``browse_per_submission`` has a fraction), the sessions
    (session registrations only). A session registration on an event without sessions is an event one."""
    workload = scenario.workload
    mix = workload.mix
    event_share = mix.event
    session_share = mix.event + mix.session
    events = catalog.events
    event_count = len(events)
    browse_whole = int(workload.browse_per_submission)
    browse_fraction = workload.browse_per_submission - browse_whole
    want_sessions = workload.sessions_per_submission
    random_ = rng.random
    for t in arrival_times(scenario, rng):
        event = events[int(random_() * event_count)]
        draw = random_()
        pages = browse_whole + (1 if browse_fraction and random_() < browse_fraction else 0)
        if draw < event_share or (draw < session_share and not event.sessions):
            yield Journey(t, event, "event", (), pages)
        elif draw < session_share:
            if want_sessions == 1:  # one draw, the very one sample(sessions, 1) makes, without the list
                session_ids: tuple[str, ...] = (rng.choice(event.sessions).id,)
            else:
                chosen = rng.sample(event.sessions, min(want_sessions, len(event.sessions)))
                session_ids = tuple(s.id for s in chosen)
            yield Journey(t, event, "session", session_ids, pages)
        else:
            yield Journey(t, event, "waitlist", (), pages)


def arrival_count(scenario: Scenario, catalog: Catalog, rng: random.Random) -> int:
    """How many journeys ``journeys(scenario, catalog, rng)`` will yield, drawn from a copy of ``rng`` (left
    as it was): every offer a virtual run of ``scenario`` will make, known before it starts."""
    copy = random.Random()
    copy.setstate(rng.getstate())
    return sum(1 for _ in journeys(scenario, catalog, copy))
