"""Open workload: submissions arrive as a non-homogeneous Poisson process whose rate follows the scenario's
shape, independent of how fast the system answers; each arrival browses the catalog, then offers.

Shapes (rate in submissions per second, t from 0 to ``duration``):
constant ``rate``; ramp ``rate·t/duration``; spike ``rate·2^(−t/half_life)`` (an email blast: everyone opens
it at once, then interest decays); steps: ``rate`` of the last step whose ``at`` ≤ t; trace: the same from a
CSV (``t_s, rate_per_s``).
"""

from __future__ import annotations

import bisect
import csv
import random
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import simpy

from simulator.catalog import Catalog
from simulator.engine.pipeline import EventPipeline, Offer
from simulator.scenario import ScenarioError, Workload

__all__ = ["rate_function", "load_trace", "arrivals", "workload"]


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
    if workload.shape == "ramp":
        return (lambda t: peak * t / duration if duration else peak), peak
    if workload.shape == "spike":
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
    while True:
        t += rng.expovariate(peak)
        if t >= workload.duration:
            return
        if rng.random() * peak < rate(t):
            yield t
            count += 1
            if total and count >= total:
                return


def workload(
    env: simpy.Environment, pipeline: EventPipeline, catalog: Catalog, workload: Workload, rng: random.Random
) -> Generator[Any, Any, None]:
    """A process: offer every arrival to the pipeline, then tell it arrivals are over."""
    mix = workload.mix
    event_share = mix.event
    session_share = mix.event + mix.session
    events = catalog.events
    browse_whole = int(workload.browse_per_submission)
    browse_fraction = workload.browse_per_submission - browse_whole
    want_sessions = workload.sessions_per_submission
    for t in arrivals(workload, rng):
        yield env.timeout(t - env.now)
        event = events[rng.randrange(len(events))]
        draw = rng.random()
        pages = browse_whole + (1 if browse_fraction and rng.random() < browse_fraction else 0)
        pipeline.browse(event.id, pages)
        if draw < event_share or (draw < session_share and not event.sessions):
            offer = Offer("event", event)
        elif draw < session_share:
            chosen = rng.sample(event.sessions, min(want_sessions, len(event.sessions)))
            offer = Offer("session", event, tuple(s.id for s in chosen))
        else:
            offer = Offer("waitlist", event, waitlisted=True)
        pipeline.offer(offer)
    pipeline.arrivals_over()
