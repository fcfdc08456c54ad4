"""The data behind each figure, computed from a :class:`RunData` (pure numpy, no drawing).

Figures draw exactly these arrays, so the tests check them against the run instead of checking pixels.
Long time series are coarsened (counts summed, end-of-bin values taken at the end) so no line has more than
a few thousand points; sums are preserved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reports.rundata import RunData, Timeseries, duration_s

__all__ = [
    "AttemptsHistogram",
    "CacheSeries",
    "CumulativeSeries",
    "LatencyByTime",
    "ThrottlingSeries",
    "ThroughputSeries",
    "TimeToCreatedCdf",
    "attempts_histogram",
    "cache_series",
    "coarsen",
    "created_axis_top_per_s",
    "cumulative_series",
    "latency_by_submission_time",
    "throttling_series",
    "throughput_series",
    "time_to_created_cdf",
    "trailing_mean_per_s",
]

MAX_POINTS = 2000
LEVEL_COLUMNS = frozenset({"queue_depth", "retrying"})  # values at a bin's end, not counts


def coarsen(timeseries: Timeseries, max_bins: int = MAX_POINTS) -> Timeseries:
    """Merge consecutive bins so there are at most ``max_bins``: counts add up, levels keep the last value."""
    n = len(timeseries)
    if n <= max_bins:
        return timeseries
    factor = -(-n // max_bins)
    starts = np.arange(0, n, factor)
    columns: dict[str, np.ndarray] = {}
    for name, values in timeseries.columns.items():
        if name == "t_s":
            columns[name] = values[starts]
        elif name in LEVEL_COLUMNS:
            columns[name] = values[np.minimum(starts + factor - 1, n - 1)]
        else:
            columns[name] = np.add.reduceat(values, starts)
    # The last merged bin may be short; its rate is still computed over the full width (a slight underestimate
    # of one point, never a change in the sums).
    return Timeseries(timeseries.bin_s * factor, columns)


@dataclass(frozen=True)
class ThroughputSeries:
    """Figure 1: submissions offered/accepted/created per second, queue depth, and the analytic ceiling."""

    t_s: np.ndarray
    bin_s: float
    offered_per_s: np.ndarray
    accepted_per_s: np.ndarray
    created_per_s: np.ndarray
    queue_depth: np.ndarray
    ceiling_created_per_s: float | None
    window_s: float | None
    created_window_per_s: np.ndarray
    """Created per second over the trailing limit window (``window_s``) — the rate the sliding-window limit
    actually caps. Per-bin creation is bursty (a fresh window's budget can be spent at once), so this is
    the line to hold against the ceiling."""
    created_axis_top_per_s: float
    """Top of the created-vs-ceiling panel: room above the ceiling and the windowed rate, so both read
    clearly; per-bin bursts above it are drawn clipped (and said so)."""


def created_axis_top_per_s(ceiling_per_s: float | None, window_per_s: np.ndarray, per_bin: np.ndarray) -> float:
    """1.5 × the larger of the ceiling and the windowed created rate — the scale on which "flat at the
    ceiling" is visible; per-bin bursts (a fresh window spent at once) would flatten it, so they do not
    set it unless nothing else does."""
    finite = window_per_s[np.isfinite(window_per_s)]
    top = max(ceiling_per_s or 0.0, float(finite.max()) if finite.size else 0.0)
    if top <= 0:
        finite_bins = per_bin[np.isfinite(per_bin)]
        top = float(finite_bins.max()) if finite_bins.size else 0.0
    return 1.5 * top if top > 0 else 1.0


def trailing_mean_per_s(counts: np.ndarray, bin_s: float, window_s: float) -> np.ndarray:
    """Count in the trailing ``window_s`` ending at each bin's end, per second of window (time before the
    run counts as empty, as it does for the limiter)."""
    k = max(1, round(window_s / bin_s))
    total = np.concatenate([[0.0], np.cumsum(counts, dtype=float)])
    index = np.arange(1, len(counts) + 1)
    return (total[index] - total[np.maximum(index - k, 0)]) / (k * bin_s)


def throughput_series(run: RunData) -> ThroughputSeries:
    ts = coarsen(run.timeseries)
    ceiling = run.summary_value("capacity.ceiling_created_per_s")
    window_s = duration_s(run.scenario_value("dataverse.window"))
    created = ts["created"]
    created_window = trailing_mean_per_s(created, ts.bin_s, window_s or ts.bin_s)
    ceiling_per_s = float(ceiling) if ceiling is not None else None
    return ThroughputSeries(
        t_s=ts.t_s,
        bin_s=ts.bin_s,
        offered_per_s=ts.rate_per_s("offered"),
        accepted_per_s=ts.rate_per_s("accepted"),
        created_per_s=ts.rate_per_s("created"),
        queue_depth=ts["queue_depth"],
        ceiling_created_per_s=ceiling_per_s,
        window_s=window_s,
        created_window_per_s=created_window,
        created_axis_top_per_s=created_axis_top_per_s(ceiling_per_s, created_window, ts.rate_per_s("created")),
    )


@dataclass(frozen=True)
class CumulativeSeries:
    """Figure 0: how many submissions were offered, accepted, created and dead-lettered by each time
    (``t_s`` are bin ends, starting at 0 with all counts 0). The gap between accepted and settled
    (created + dead-lettered) is the backlog; ``last_created_s`` is when the last record was created
    (None when none was), ``last_offered_s`` when the last submission arrived."""

    t_s: np.ndarray
    offered: np.ndarray
    accepted: np.ndarray
    created: np.ndarray
    dead_lettered: np.ndarray
    last_created_s: float | None
    last_offered_s: float | None
    confirmed: np.ndarray | None = None  # confirmation emails sent (runs with the confirmation journey)

    @property
    def backlog(self) -> np.ndarray:
        """Accepted and not yet settled at each time: queued, in progress or waiting to retry."""
        return self.accepted - self.created - self.dead_lettered


def cumulative_series(run: RunData) -> CumulativeSeries:
    ts = coarsen(run.timeseries)
    start = float(ts.t_s[0]) if len(ts) else 0.0

    def running(name: str) -> np.ndarray:
        values = ts[name] if name in ts.columns else np.zeros(len(ts))
        return np.concatenate([[0.0], np.cumsum(values, dtype=float)])

    subs = run.submissions
    created_s = subs.created_s[subs.created & ~np.isnan(subs.created_s)]
    return CumulativeSeries(
        t_s=np.concatenate([[start], ts.t_s + ts.bin_s]),
        offered=running("offered"),
        accepted=running("accepted"),
        created=running("created"),
        dead_lettered=running("dead_lettered"),
        last_created_s=float(created_s.max()) if created_s.size else None,
        last_offered_s=float(np.nanmax(subs.offered_s)) if len(subs) else None,
        confirmed=running("confirmed") if "confirmed" in ts.columns else None,
    )


THROTTLE_LIMITS = ("requests", "execution", "concurrency")


@dataclass(frozen=True)
class ThrottlingSeries:
    """Figure 2: Dataverse calls admitted and throttled per second; ``throttled_by`` splits the throttled
    calls by the limit that refused them (plus ``other`` when the split does not cover them all), so the
    parts always add up to ``throttled_per_s``."""

    t_s: np.ndarray
    bin_s: float
    admitted_per_s: np.ndarray
    throttled_per_s: np.ndarray
    throttled_by: dict[str, np.ndarray]
    failed_per_s: np.ndarray | None
    """Calls that failed outright (503 during an outage), when the run records them."""
    smooth_s: float
    throttled_smooth_per_s: np.ndarray
    """429s per second over the trailing ``smooth_s`` (a minute, or one bin if bins are longer): per-bin
    429s come in thin bursts when a window turns over, which this line keeps visible."""


THROTTLE_SMOOTH_S = 60.0


def throttling_series(run: RunData) -> ThrottlingSeries:
    ts = coarsen(run.timeseries)
    throttled_by = {limit: ts.rate_per_s(f"dv_throttled_{limit}") for limit in THROTTLE_LIMITS}
    rest = ts.rate_per_s("dv_throttled") - sum(throttled_by.values())
    if np.any(np.abs(rest) > 1e-9):
        throttled_by["other"] = rest
    return ThrottlingSeries(
        t_s=ts.t_s,
        bin_s=ts.bin_s,
        admitted_per_s=ts.rate_per_s("dv_admitted"),
        throttled_per_s=ts.rate_per_s("dv_throttled"),
        throttled_by=throttled_by,
        failed_per_s=ts.rate_per_s("dv_failed") if "dv_failed" in ts.columns else None,
        smooth_s=max(THROTTLE_SMOOTH_S, ts.bin_s),
        throttled_smooth_per_s=trailing_mean_per_s(ts["dv_throttled"], ts.bin_s, max(THROTTLE_SMOOTH_S, ts.bin_s)),
    )


@dataclass(frozen=True)
class CacheSeries:
    """Figure 3: read-cache hit ratio per bin (nan where no lookup happened) and lookups per second."""

    t_s: np.ndarray
    bin_s: float
    hit_ratio: np.ndarray
    lookups_per_s: np.ndarray
    overall_hit_ratio: float | None


def cache_series(run: RunData) -> CacheSeries:
    ts = coarsen(run.timeseries)
    hits, misses = ts["cache_hits"], ts["cache_misses"]
    lookups = hits + misses
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(lookups > 0, hits / lookups, np.nan)
    total = float(lookups.sum())
    return CacheSeries(
        t_s=ts.t_s,
        bin_s=ts.bin_s,
        hit_ratio=ratio,
        lookups_per_s=lookups / ts.bin_s,
        overall_hit_ratio=float(hits.sum()) / total if total > 0 else None,
    )


@dataclass(frozen=True)
class TimeToCreatedCdf:
    """Figure 4a: cumulative count of created registrations against time-to-created, subsampled from the
    sorted values (the last point is always the slowest one, so ``count[-1]`` is the created count).
    ``offered`` is the denominator the figure uses for shares."""

    seconds: np.ndarray
    count: np.ndarray
    offered: int

    @property
    def share(self) -> np.ndarray:
        return self.count / max(self.offered, 1)


def time_to_created_cdf(run: RunData, max_points: int = MAX_POINTS) -> TimeToCreatedCdf:
    values = np.sort(run.submissions.time_to_created_s())
    n = len(values)
    # Evenly spaced ranks, always including the first and the last (the slowest created registration).
    index = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64)) if n > max_points else np.arange(n)
    return TimeToCreatedCdf(seconds=values[index], count=index + 1, offered=len(run.submissions))


@dataclass(frozen=True)
class LatencyByTime:
    """Figure 4b: percentiles of time-to-created for the submissions offered in each bucket of run time.
    Buckets with no created submission hold nan; ``created`` is how many each percentile rests on."""

    bucket_start_s: np.ndarray
    bucket_s: float
    p50: np.ndarray
    p95: np.ndarray
    p99: np.ndarray
    created: np.ndarray


_NICE_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def nice_bucket_s(span_s: float, buckets: int = 30) -> float:
    """A round bucket width giving roughly ``buckets`` buckets over ``span_s``."""
    target = span_s / buckets
    for width in _NICE_S:
        if width >= target:
            return float(width)
    return float(_NICE_S[-1] * -(-target // _NICE_S[-1]))


def latency_by_submission_time(run: RunData, bucket_s: float | None = None) -> LatencyByTime:
    subs = run.submissions
    mask = subs.created & ~np.isnan(subs.created_s)
    offered = subs.offered_s[mask]
    waited = subs.created_s[mask] - offered
    span = float(np.nanmax(subs.offered_s)) if len(subs) else 0.0
    width = bucket_s or nice_bucket_s(max(span, 1.0))
    nbuckets = int(span // width) + 1
    which = np.minimum((offered // width).astype(np.int64), nbuckets - 1)
    order = np.argsort(which, kind="stable")
    which, waited = which[order], waited[order]
    edges = np.searchsorted(which, np.arange(nbuckets + 1))
    p = np.full((3, nbuckets), np.nan)
    counts = np.diff(edges)
    for b in np.flatnonzero(counts):
        p[:, b] = np.percentile(waited[edges[b] : edges[b + 1]], (50, 95, 99))
    return LatencyByTime(
        bucket_start_s=np.arange(nbuckets) * width,
        bucket_s=width,
        p50=p[0],
        p95=p[1],
        p99=p[2],
        created=counts,
    )


@dataclass(frozen=True)
class AttemptsHistogram:
    """Figure 4c: how many created registrations needed 1, 2, 3… attempts (``created[i]`` for
    ``attempts[i]``)."""

    attempts: np.ndarray
    created: np.ndarray

    @property
    def mean(self) -> float | None:
        total = int(self.created.sum())
        return float((self.attempts * self.created).sum()) / total if total else None


def attempts_histogram(run: RunData) -> AttemptsHistogram:
    subs = run.submissions
    attempts = subs.attempts[subs.created]
    # A created registration took at least one attempt; a 0 in the file is counted as 1 so the bars add
    # up to the created count.
    counts = np.bincount(np.maximum(attempts, 1), minlength=2)
    values = np.arange(len(counts))
    keep = values >= 1
    return AttemptsHistogram(attempts=values[keep], created=counts[keep])
