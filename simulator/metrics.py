"""Binning, percentiles and summaries over run data (numpy); pure functions, no files."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["percentiles", "bin_counts", "peak_rate_per_s", "finite"]

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


def bin_counts(times_s: Sequence[float] | np.ndarray, bin_s: float, bins: int) -> np.ndarray:
    """How many of ``times_s`` fall in each of ``bins`` bins of width ``bin_s`` (NaN ignored)."""
    data = finite(times_s)
    index = np.minimum((data / bin_s).astype(np.int64), bins - 1)
    return np.bincount(index, minlength=bins)[:bins]


def peak_rate_per_s(counts_per_bin: Sequence[int] | np.ndarray, bin_s: float) -> float:
    counts = np.asarray(counts_per_bin)
    return float(counts.max()) / bin_s if counts.size else 0.0
