"""Binning, percentiles and summaries over run data (numpy); pure functions, no files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["percentiles", "percentiles_of_all", "times_over_all", "time_to_created", "bin_counts", "peak_rate_per_s",
           "finite", "turned_away"]

PERCENTILES = (50, 95, 99)


def finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite values (NaN marks 'not reached')."""
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def percentiles(values: Sequence[float] | np.ndarray, points: Sequence[int] = PERCENTILES) -> dict[str, float]:
    """``{"p50": …, "p95": …, "p99": …, "max": …}`` over finite values; zeros when there are none."""
    data = finite(values)
    if data.size == 0:
        return {**{f"p{p}": 0.0 for p in points}, "max": 0.0}
    found = np.percentile(data, points, method="linear")
    return {**{f"p{p}": round(float(v), 3) for p, v in zip(points, found, strict=True)},
            "max": round(float(data.max()), 3)}


def percentiles_of_all(reached: Sequence[float] | np.ndarray, total: int,
                       points: Sequence[int] = PERCENTILES) -> dict[str, object]:
    """Percentiles of a time over ``total`` items of which only ``reached`` got there: the others count as
    never (infinitely late). A percentile (or ``max``) that falls among them is ``None`` and named in
    ``not_reached``; ``mean`` is over those that got there."""
    data = np.sort(finite(reached))
    total = max(total, data.size)
    if total == 0:
        return {**{f"p{p}": 0.0 for p in points}, "max": 0.0, "mean": 0.0, "not_reached": []}
    result: dict[str, object] = {}
    if data.size:
        # Pad with the largest reached value: a percentile whose position (numpy's "linear": (n - 1)·p/100)
        # has both neighbours among the reached values never touches the pad, so it is exactly numpy's figure
        # over every item; one whose upper neighbour is a never-reached item is not reached.
        padded = np.concatenate((data, np.full(total - data.size, data[-1])))
        found = np.percentile(padded, [*points, 100], method="linear")
    for index, p in enumerate([*points, 100]):
        reached_it = data.size > 0 and math.ceil((total - 1) * p / 100 - 1e-9) < data.size
        result["max" if p == 100 else f"p{p}"] = round(float(found[index]), 3) if reached_it else None
    result["mean"] = round(float(data.mean()), 3) if data.size else None
    result["not_reached"] = [name for name, value in result.items() if value is None and name != "mean"]
    return result


def times_over_all(reached_s: Sequence[float] | np.ndarray, total: int, of_reached: str,
                   points: Sequence[int] = PERCENTILES) -> dict[str, object]:
    """A time over *every* one of ``total`` items (summary.json's ``time_to_created_s`` and
    ``time_to_confirmed_s``), one that never got there counting as never. A percentile that falls among those
    is ``None``, and so are ``max`` and ``mean`` as soon as one never came (a mean over all of them would be
    infinite); ``not_reached`` is true when any figure is. With ``total`` 0, every figure is ``None``. The key
    ``of_reached`` (``of_created``, ``of_confirmed``) holds the same figures over the items that got there alone
    (zeros when there are none): how long the ones that came took, which the figures draw."""
    data = finite(reached_s)
    of_those = {**percentiles(data, points), "mean": round(float(data.mean()), 3) if data.size else 0.0}
    if total == 0:
        over_all: dict[str, object] = {**{f"p{p}": None for p in points}, "max": None, "not_reached": ["all"]}
    else:
        over_all = percentiles_of_all(data, total, points)
    missing = over_all.pop("not_reached")
    over_all["mean"] = None if missing else of_those["mean"]
    return {**over_all, "not_reached": bool(missing), of_reached: of_those}


def time_to_created(created_s: Sequence[float] | np.ndarray, accepted: int,
                    points: Sequence[int] = PERCENTILES) -> dict[str, object]:
    """summary.json's ``time_to_created_s``: over every accepted registration, one dead-lettered or still pending
    at the horizon counting as never created (:func:`times_over_all`; created-only figures under ``of_created``)."""
    return times_over_all(created_s, accepted, "of_created", points)


def bin_counts(times_s: Sequence[float] | np.ndarray, bin_s: float, bins: int) -> np.ndarray:
    """How many of ``times_s`` fall in each of ``bins`` bins of width ``bin_s`` (NaN ignored)."""
    data = finite(times_s)
    index = np.minimum((data / bin_s).astype(np.int64), bins - 1)
    return np.bincount(index, minlength=bins)[:bins]


def peak_rate_per_s(counts_per_bin: Sequence[int] | np.ndarray, bin_s: float) -> float:
    counts = np.asarray(counts_per_bin)
    return float(counts.max()) / bin_s if counts.size else 0.0


def turned_away(summary: dict[str, Any]) -> dict[str, float]:
    """``{reason: count}`` of the submissions a catalog setting turned away (event full, session full, no
    waitlist: summary.json's ``demand_cut_by``, counted in ``rejected_by``). They are in
    ``submissions.rejected``, yet nothing failed validation: demand was cut by a limit."""
    cuts = summary.get("demand_cut_by")
    counts = summary.get("rejected_by") or {}
    return {reason: float(counts.get(reason, 0)) for reason in cuts} if isinstance(cuts, dict) else {}
