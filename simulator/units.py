"""The unit of a summary.json figure, read from its path: names carry their units (STYLE.md), so
``time_to_created_s.p95`` and ``last_created_s`` are seconds, ``load.latency_ms.registration.p99`` is
milliseconds, ``throughput.peak_created_per_s`` is a rate (not a time), ``cache.hit_ratio`` a share."""

from __future__ import annotations

import math
import re

__all__ = ["duration_text", "half_width_text", "interval_text", "is_share", "metric_text", "time_unit_s"]

_STATISTIC = re.compile(r"^(p\d+(\.\d+)?|max|min|mean|median|sd|ci_low|ci_high)$")
_UNITS_S = (("_ms", 0.001), ("_s", 1.0))


def _unit_of_name(name: str) -> float | None:
    if name.endswith("_per_s"):
        return None
    return next((unit for suffix, unit in _UNITS_S if name.endswith(suffix)), None)


def time_unit_s(path: str) -> float | None:
    """Seconds per unit of the figure at ``path`` when it is a time (1.0 for ``*_s``, 0.001 for ``*_ms``),
    else None: the last name's unit, or for a statistic (``p95``, ``max``…) the unit of the name it is of."""
    parts = path.split(".")
    own = _unit_of_name(parts[-1])
    if own is not None or not _STATISTIC.match(parts[-1]):
        return own
    return next((unit for part in reversed(parts[:-1]) if (unit := _unit_of_name(part)) is not None), None)


def is_share(path: str) -> bool:
    """Whether the figure at ``path`` is a share of 1 (``cache.hit_ratio``, ``created_share``)."""
    last = path.split(".")[-1]
    return last.endswith(("_ratio", "_share")) or last in ("share", "ratio")


def duration_text(seconds: float | None) -> str:
    """A duration for people, three figures: "250 ms", "42.0 s", "14.6 min", "2.29 h"; "—" for None."""
    if seconds is None or math.isnan(seconds):
        return "—"
    if 0 < abs(seconds) < 1:
        return f"{seconds * 1000:.3g} ms"
    if abs(seconds) < 120:
        return f"{seconds:.1f} s"
    if abs(seconds) < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def metric_text(path: str, value: float | None) -> str:
    """A summary.json figure in its unit, read from its path: times as durations ("14.6 min", "250 ms"), shares
    as percentages, other figures as numbers; "not reached" for a null (a percentile never reached)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not reached"
    unit_s = time_unit_s(path)
    if unit_s is not None:
        return duration_text(value * unit_s)
    if is_share(path):
        return f"{value:.1%}"
    text = f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 1000 else f"{value:.3g}"
    return text + _rate_unit(path)


def _rate_unit(path: str) -> str:
    return "/s" if path.split(".")[-1].endswith("_per_s") else ""


def half_width_text(path: str, half: float) -> str:
    """An interval's ± half-width on the figure at ``path``, in its unit: a duration ("12.4 min"), percentage
    points for a share ("0.01 pts"), else two significant figures below 100 ("0.0029", "0.023/s")."""
    unit_s = time_unit_s(path)
    if unit_s is not None:
        return duration_text(half * unit_s) if half else "0 s"
    if is_share(path):
        return f"{half * 100:.2g} pts"
    return (f"{half:,.0f}" if abs(half) >= 100 or half == 0 else f"{half:.2g}") + _rate_unit(path)


def interval_text(path: str, mean: float, half: float) -> str:
    """A replicated figure as every table prints it: the mean rounded as a single run's figure, ± the
    half-width in the same unit ("67,955 ± 4,449", "3.25 h ± 12.4 min", "99.8% ± 0.01 pts")."""
    return f"{metric_text(path, mean)} ± {half_width_text(path, half)}"
