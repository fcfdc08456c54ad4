"""Binning, percentiles and summaries over run data (numpy); pure functions, no files."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["percentiles", "time_to_created", "bin_counts", "peak_rate_per_s", "finite"]

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


def time_to_created(created_s: Sequence[float] | np.ndarray, accepted: int,
                    points: Sequence[int] = PERCENTILES) -> dict[str, object]:
    """Time to created over *every accepted* registration: the ``created_s`` values (one per created
    registration) and ``accepted - len(created_s)`` that never came (dead-lettered, or still pending at the
    horizon), which count as never created — later than any value.

    A percentile that falls among those is ``None`` (not reached), as are ``max`` and ``mean`` as soon as one
    never came; ``not_reached`` says whether any is. ``of_created`` holds the same figures over the created
    registrations alone (zeros when there are none), for the figures that show how long the created ones took.
    """
    data = np.sort(finite(created_s))
    created, never = int(data.size), max(0, accepted - int(data.size))
    of_created = {**percentiles(data, points),
                  "mean": round(float(data.mean()), 3) if created else 0.0}
    total = created + never
    figures: dict[str, object] = {}
    if created:
        # Pad with the largest created value: linear interpolation at a reached percentile never touches the
        # pad (its position's upper neighbour is a created value), so the figure is exactly numpy's over all.
        padded = np.concatenate([data, np.full(never, data[-1])])
        found = np.percentile(padded, points, method="linear")
    for p, index in zip(points, range(len(points)), strict=True):
        position = (total - 1) * p / 100
        reached = created > 0 and math.ceil(position - 1e-9) < created
        figures[f"p{p}"] = round(float(found[index]), 3) if reached else None
    figures["max"] = of_created["max"] if created and not never else None
    figures["mean"] = of_created["mean"] if created and not never else None
    figures["not_reached"] = any(figures[f"p{p}"] is None for p in points) or figures["max"] is None
    figures["of_created"] = of_created
    return figures


def bin_counts(times_s: Sequence[float] | np.ndarray, bin_s: float, bins: int) -> np.ndarray:
    """How many of ``times_s`` fall in each of ``bins`` bins of width ``bin_s`` (NaN ignored)."""
    data = finite(times_s)
    index = np.minimum((data / bin_s).astype(np.int64), bins - 1)
    return np.bincount(index, minlength=bins)[:bins]


def peak_rate_per_s(counts_per_bin: Sequence[int] | np.ndarray, bin_s: float) -> float:
    counts = np.asarray(counts_per_bin)
    return float(counts.max()) / bin_s if counts.size else 0.0
