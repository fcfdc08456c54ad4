"""Statistics over replications, pure (numpy + scipy.stats): Student-t intervals on each headline metric,
paired differences on common random numbers, Wilson intervals on a share, and the mean summary.

Independent replications of a terminating simulation give independent, identically distributed outputs, so
a metric's mean has the Student-t interval ``mean ± t(1 - (1 - c)/2, n - 1) · sd / √n`` (Law, *Simulation
Modeling and Analysis*, ch. 9). Two variants run on the same replication seeds see the same arrivals and
draws; their per-replication differences are again i.i.d., and the paired-t interval on those differences is
narrower than comparing two independent intervals.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from simulator.records import STOPPED_AT_S

__all__ = ["HEADLINE_METRICS", "Interval", "interval", "paired", "paired_difference", "wilson", "share_bounds",
           "metric_value", "headline_values", "interval_block", "not_reached_counts", "mean_summary", "precise_enough"]

# The metrics every replicated run reports an interval for, named by their summary.json paths.
HEADLINE_METRICS = (
    "submissions.offered", "submissions.accepted", "submissions.rejected", "submissions.created",
    "submissions.dead_lettered", "submissions.pending", "submissions.created_share",
    "submissions.dead_lettered_share", "time_to_created_s.mean", "time_to_created_s.p50", "time_to_created_s.p95",
    "time_to_confirmed_s.p95", "time_to_created_s.p99", "time_to_created_s.max",
    "throughput.peak_created_per_s", "throughput.mean_created_per_s", "throughput.drain_s",
    "dataverse.throttled", "dataverse.admitted", "cache.hit_ratio", "attempts_per_created", "last_created_s",
)


@dataclass(frozen=True)
class Interval:
    """A mean and its two-sided interval at ``confidence``, over ``n`` values."""

    mean: float
    sd: float
    low: float
    high: float
    n: int
    confidence: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Interval:
    """The Student-t interval on the mean of ``values``. One value, or values all equal, give a zero-width
    interval at the mean (no evidence of spread)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values")
    mean = float(np.mean(data))
    sd = float(np.std(data, ddof=1)) if data.size > 1 else 0.0
    if data.size == 1 or sd == 0.0:
        return Interval(mean, sd, mean, mean, int(data.size), confidence)
    low, high = stats.t.interval(confidence, df=data.size - 1, loc=mean, scale=sd / math.sqrt(data.size))
    return Interval(mean, sd, float(low), float(high), int(data.size), confidence)


def paired(values: Sequence[float], baseline: Sequence[float], confidence: float = 0.95) -> Interval:
    """The paired-t interval on ``values[i] - baseline[i]`` (replication i of both on the same seed)."""
    if len(values) != len(baseline):
        raise ValueError(f"paired differences need as many values as baseline values ({len(values)} vs "
                         f"{len(baseline)})")
    return interval(np.asarray(values, dtype=float) - np.asarray(baseline, dtype=float), confidence)


def paired_difference(values: Sequence[float], baseline: Sequence[float], confidence: float = 0.95
                      ) -> Interval | None:
    """The one paired test of a comparison (``compare``'s comparison.csv and table, the comparison report's
    stars and sentences): the paired-t interval on ``values[i] - baseline[i]``, replication i of both on the same
    seed. None when a replication of either did not reach the metric (NaN: a percentile among registrations
    never created, no last-created time) — a difference from a figure that was never reached is not a number —
    or when there is no replication."""
    if not len(values) or any(math.isnan(v) for v in (*values, *baseline)):
        return None
    return paired(values, baseline, confidence)


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval on a share ``successes / n`` (scipy.stats.binomtest)."""
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def share_bounds(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """One-sided Clopper–Pearson (exact) bounds on a share ``successes / n``: the true share is at least ``low``
    with ``confidence``, and at most ``high`` with ``confidence`` (each bound on its own; scipy.stats.beta).
    All successes: ``low`` is (1 − confidence)^(1/n), so 0.95 at 95 % needs 59 straight successes."""
    low = float(stats.beta.ppf(1 - confidence, successes, n - successes + 1)) if successes > 0 else 0.0
    high = float(stats.beta.ppf(confidence, successes + 1, n - successes)) if successes < n else 1.0
    return low, high


def metric_value(summary: dict[str, Any], path: str) -> float:
    """The number at ``path`` in a summary; NaN where it is absent or not a number (e.g. no registration was
    created, so there is no last-created time)."""
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return math.nan
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, int | float):
        return math.nan
    return float(node)


def headline_values(summary: dict[str, Any], paths: Iterable[str] = HEADLINE_METRICS) -> dict[str, float]:
    """Each figure at ``paths``; NaN (not reached) for every one of a run cut short (``stopped_at_s``: a `plan`
    probe's replication stopped once an SLO could no longer hold), whose figures are partial."""
    if STOPPED_AT_S in summary:
        return {path: math.nan for path in paths}
    return {path: metric_value(summary, path) for path in paths}


def interval_block(columns: Mapping[str, Sequence[float]], confidence: float) -> dict[str, dict[str, float]]:
    """``{path: {mean, sd, ci_low, ci_high, min, max}}`` for summary.json's ``replications.metrics``. A metric
    that some replication did not reach (NaN: a percentile among registrations never created, no last-created
    time) has no mean and no interval: it is left out here and counted by :func:`not_reached_counts`."""
    block: dict[str, dict[str, float]] = {}
    for path, raw in columns.items():
        data = np.asarray(raw, dtype=float)
        if data.size == 0 or not np.isfinite(data).all():
            continue
        found = interval(data, confidence)
        block[path] = {"mean": _r(found.mean), "sd": _r(found.sd), "ci_low": _r(found.low),
                       "ci_high": _r(found.high), "min": _r(float(data.min())), "max": _r(float(data.max()))}
    return block


def not_reached_counts(columns: Mapping[str, Sequence[float]]) -> dict[str, int]:
    """``{path: replications that did not reach it}`` for the metrics some replication did not reach."""
    counts = {path: int(np.count_nonzero(~np.isfinite(np.asarray(raw, dtype=float)))) for path, raw in columns.items()}
    return {path: count for path, count in counts.items() if count}


def _r(value: float) -> float:
    return round(value, 6)


def mean_summary(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One summary with every key of the replications' summaries, over *all* replications: numbers are means,
    and a number missing from a replication's map (a dead-letter or rejection reason that did not occur there)
    counts 0; a figure that is null in any replication (not reached) is null; ``not_reached`` is true if it is
    in any replication; text is the most common value, lists are the first replication's."""
    if not summaries:
        raise ValueError("no summaries")
    return _merge(list(summaries))


_MISSING = object()


def _merge(values: list[Any]) -> Any:
    present = [v for v in values if v is not _MISSING]
    if not present:
        return None
    first = next((v for v in present if v is not None), None)
    if isinstance(first, dict):
        keys: list[str] = []
        for value in present:
            if isinstance(value, dict):
                keys.extend(k for k in value if k not in keys)
        return {k: _merge([v.get(k, _MISSING) if isinstance(v, dict) else _MISSING for v in present])
                for k in keys}
    if isinstance(first, bool):
        return any(v is True for v in present)
    if isinstance(first, int | float) and all(v is None or (isinstance(v, int | float) and not isinstance(v, bool))
                                              for v in present):
        if any(v is None for v in present):
            return None  # not reached in some replication: no mean says how long it took
        numbers = [0 if v is _MISSING else v for v in values]  # a count absent from a replication is 0
        return round(float(np.mean(np.asarray(numbers, dtype=float))), 6)
    if first is None:
        return None
    if all(isinstance(v, str) for v in present):
        return Counter(present).most_common(1)[0][0]
    return first


def precise_enough(block: dict[str, dict[str, float]], relative: float, paths: Iterable[str]) -> bool:
    """Whether every interval in ``paths`` has a half-width within ``relative`` × |mean| (a zero-width
    interval always is; a mean of 0 with any spread is not)."""
    for path in paths:
        entry = block.get(path)
        if entry is None:
            continue
        half = (entry["ci_high"] - entry["ci_low"]) / 2
        if half > relative * abs(entry["mean"]) + 1e-12:
            return False
    return True
