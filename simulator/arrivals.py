"""Arrival rates and times of an open workload, pure: a non-homogeneous Poisson process whose rate follows
the scenario's shape, independent of how fast the system answers.

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

from simulator.scenario import ScenarioError, Workload

__all__ = ["rate_function", "load_trace", "arrivals", "mean_rate_per_s"]


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


def mean_rate_per_s(workload: Workload, points: int = 2000) -> float:
    """Expected arrivals per second over the arrival period (midpoint rule; exact for constant and steps
    up to the grid). ``total`` caps are ignored."""
    rate, _ = rate_function(workload)
    if workload.duration <= 0:
        return 0.0
    step_s = workload.duration / points
    return sum(rate((i + 0.5) * step_s) for i in range(points)) / points
