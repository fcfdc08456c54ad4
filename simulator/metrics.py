"""Binning, percentiles and summaries over run data (numpy); pure functions, no files."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["percentiles", "percentiles_of_all", "bin_counts", "peak_rate_per_s", "finite"]

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
    padded = np.concatenate((data, np.full(total - data.size, np.inf)))
    with np.errstate(invalid="ignore"):  # between two never-reached values: NaN, also not reached
        found = np.percentile(padded, [*points, 100], method="linear")
    result: dict[str, object] = {}
    for name, value in zip([*(f"p{p}" for p in points), "max"], found, strict=True):
        result[name] = round(float(value), 3) if np.isfinite(value) else None
    result["mean"] = round(float(data.mean()), 3) if data.size else None
    result["not_reached"] = [name for name, value in result.items() if value is None and name != "mean"]
    return result


def bin_counts(times_s: Sequence[float] | np.ndarray, bin_s: float, bins: int) -> np.ndarray:
    """How many of ``times_s`` fall in each of ``bins`` bins of width ``bin_s`` (NaN ignored)."""
    data = finite(times_s)
    index = np.minimum((data / bin_s).astype(np.int64), bins - 1)
    return np.bincount(index, minlength=bins)[:bins]


def peak_rate_per_s(counts_per_bin: Sequence[int] | np.ndarray, bin_s: float) -> float:
    counts = np.asarray(counts_per_bin)
    return float(counts.max()) / bin_s if counts.size else 0.0
