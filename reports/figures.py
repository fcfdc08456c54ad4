"""Figures of one run: throughput, throttling, cache, retry latency.

Each ``*_figure(run)`` is pure: it reads a :class:`RunData`, draws the arrays of :mod:`reports.series`
and returns a ``Figure``; :func:`run_charts` adds titles and captions that say how to read each one.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from reports.headline import format_count, format_duration, format_rate, format_share
from reports.plotting import COLOR, Chart, duration_axis, new_figure, shade_faults, time_axis
from reports.rundata import RunData
from reports.series import (
    attempts_histogram,
    cache_series,
    latency_by_submission_time,
    throttling_series,
    throughput_series,
    time_to_created_cdf,
)

__all__ = [
    "cache_figure",
    "latency_figure",
    "run_charts",
    "throttling_figure",
    "throughput_figure",
]


def _span_s(run: RunData) -> float:
    t_s = run.timeseries.t_s
    return float(t_s[-1] + run.bin_s) if len(t_s) else run.bin_s


def throughput_figure(run: RunData) -> Figure:
    data = throughput_series(run)
    scale, unit = time_axis(_span_s(run))
    x = data.t_s / scale
    figure = new_figure(10, 4.8)
    ax = figure.add_subplot()
    shade_faults(ax, run, scale)
    lines = [
        ax.plot(x, data.offered_per_s, drawstyle="steps-post", color=COLOR["offered"], label="offered /s")[0],
        ax.plot(x, data.accepted_per_s, drawstyle="steps-post", color=COLOR["accepted"], label="accepted /s")[0],
        ax.plot(x, data.created_per_s, drawstyle="steps-post", color=COLOR["created"], lw=1, alpha=0.55,
                label="created /s")[0],
    ]
    if data.window_s:
        lines.append(
            ax.plot(x + data.bin_s / scale, data.created_window_per_s, color=COLOR["created_window"], lw=2.2,
                    label=f"created /s over the last {format_duration(data.window_s)}")[0]
        )
    if data.ceiling_created_per_s is not None:
        lines.append(
            ax.axhline(
                data.ceiling_created_per_s,
                color=COLOR["ceiling"],
                ls="--",
                label=f"analytic ceiling {format_rate(data.ceiling_created_per_s)}",
            )
        )
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_ylabel("submissions per second")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    lines.append(
        twin.plot(x, data.queue_depth, drawstyle="steps-post", color=COLOR["queue"], ls=":", lw=1.8,
                  label="queue depth (right)")[0]
    )
    twin.set_ylabel("queue depth (submissions)", color=COLOR["queue"])
    twin.set_ylim(bottom=0)
    ax.legend(handles=lines, loc="upper right", fontsize=9)
    ax.set_title(f"Throughput — {run.name}", fontsize=11)
    return figure


def throttling_figure(run: RunData) -> Figure:
    data = throttling_series(run)
    scale, unit = time_axis(_span_s(run))
    x = data.t_s / scale
    figure = new_figure(10, 5.6)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[1, 1])
    for ax in (top, bottom):
        shade_faults(ax, run, scale, label=ax is top)
        ax.grid(alpha=0.3)
    top.plot(x, data.admitted_per_s, drawstyle="steps-post", color=COLOR["admitted"], label="admitted /s")
    top.plot(x, data.throttled_per_s, drawstyle="steps-post", color=COLOR["throttled"], label="throttled (429) /s")
    if data.failed_per_s is not None and np.any(data.failed_per_s):
        top.plot(x, data.failed_per_s, drawstyle="steps-post", color=COLOR["failed"], label="failed (503) /s")
    top.set_ylabel("Dataverse calls per second")
    top.set_ylim(bottom=0)
    top.legend(loc="upper right", fontsize=9)
    top.set_title(f"Dataverse calls — {run.name}", fontsize=11)
    names = list(data.throttled_by)
    bottom.stackplot(
        x,
        *(data.throttled_by[name] for name in names),
        labels=[f"throttled by {name}" for name in names],
        colors=[COLOR[name] for name in names],
        step="post",
        alpha=0.8,
    )
    if not np.any(data.throttled_per_s):
        bottom.text(0.5, 0.5, "no call was throttled", transform=bottom.transAxes, ha="center", color="#555")
    bottom.set_ylabel("throttled calls per second")
    bottom.set_xlabel(f"time since start ({unit})")
    bottom.set_ylim(bottom=0)
    bottom.set_xlim(left=0)
    bottom.legend(loc="upper right", fontsize=9)
    return figure


def cache_figure(run: RunData) -> Figure:
    data = cache_series(run)
    scale, unit = time_axis(_span_s(run))
    x = data.t_s / scale
    figure = new_figure(10, 4.8)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    shade_faults(top, run, scale)
    top.plot(x, data.hit_ratio, drawstyle="steps-post", color=COLOR["hit"], lw=1.8, label="hit ratio per bin")
    if data.overall_hit_ratio is not None:
        top.axhline(data.overall_hit_ratio, color="#333", ls="--", lw=1,
                    label=f"whole run {format_share(data.overall_hit_ratio)}")
    top.set_ylim(-0.02, 1.02)
    top.yaxis.set_major_formatter(PercentFormatter(1.0))
    top.set_ylabel("cache hit ratio")
    top.grid(alpha=0.3)
    top.legend(loc="lower right", fontsize=9)
    setting = run.scenario_value("api.cache", "?")
    ttl = run.scenario_value("api.cache_ttl")
    top.set_title(f"Read cache ({setting}{', TTL ' + str(ttl) if setting == 'ttl' and ttl else ''}) — {run.name}",
                  fontsize=11)
    bottom.bar(x, data.lookups_per_s, width=data.bin_s / scale, align="edge", color=COLOR["lookups"])
    bottom.set_ylabel("lookups /s")
    bottom.set_xlabel(f"time since start ({unit})")
    bottom.set_xlim(left=0)
    bottom.grid(alpha=0.3)
    return figure


def draw_cdf(ax: Axes, seconds: np.ndarray, share: np.ndarray, **style: object) -> None:
    ax.step(np.maximum(seconds, 1e-3), share, where="post", **style)  # type: ignore[arg-type]


def style_cdf_axes(ax: Axes) -> None:
    """Axes of a time-to-created CDF (log seconds, share created), in a run's figure and in comparisons."""
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("time from submission to created record (s, log)")
    ax.set_ylabel("share of offered submissions created")
    ax.set_title("Time to created (CDF)", fontsize=11)
    ax.grid(alpha=0.3, which="both")


def latency_figure(run: RunData) -> Figure:
    cdf = time_to_created_cdf(run)
    by_time = latency_by_submission_time(run)
    attempts = attempts_histogram(run)
    figure = new_figure(14, 4.4)
    left, middle, right = figure.subplots(1, 3)

    if len(cdf.seconds):
        draw_cdf(left, cdf.seconds, cdf.share, color=COLOR["created"], lw=2)
        style_cdf_axes(left)

    scale, unit = time_axis(_span_s(run))
    mid_x = (by_time.bucket_start_s + by_time.bucket_s / 2) / scale
    y_scale, y_unit = duration_axis(by_time.p99)
    for name, values in (("p99", by_time.p99), ("p95", by_time.p95), ("p50", by_time.p50)):
        middle.plot(mid_x, values / y_scale, marker="o", ms=3, color=COLOR[name], label=name)
    middle.set_xlabel(f"submitted at ({unit} since start; buckets of {format_duration(by_time.bucket_s)})")
    middle.set_ylabel(f"time to created ({y_unit})")
    middle.set_ylim(bottom=0)
    middle.set_title("Percentiles by submission time", fontsize=11)
    middle.legend(fontsize=9)
    middle.grid(alpha=0.3)

    counts = attempts.created
    nonzero = counts[counts > 0]
    skewed = nonzero.size > 0 and nonzero.max() > 50 * nonzero.min()  # rare retry chains vanish on a linear axis
    right.bar(attempts.attempts, counts, color=COLOR["accepted"], width=0.8, log=bool(skewed))
    right.set_xlabel("attempts")
    right.set_ylabel("created registrations" + (" (log)" if skewed else ""))
    right.set_title("Attempts per created registration", fontsize=11)
    if len(attempts.attempts) and attempts.attempts[-1] <= 20:
        right.set_xticks(attempts.attempts)
    right.grid(alpha=0.3, axis="y")
    figure.suptitle(f"Retry latency — {run.name}", fontsize=11)
    return figure


_FAULTS_NOTE = " Pink bands mark the scenario's fault windows."


def _throughput_caption(run: RunData) -> str:
    ceiling = run.summary_value("capacity.ceiling_created_per_s")
    line = f" ({format_rate(ceiling)})" if ceiling is not None else ""
    return (
        "Grey: submissions offered per second; blue: accepted (answered 202); light green: registrations "
        "created in Dataverse per time bin; dark green: created per second averaged over the trailing limit "
        f"window. The dashed red line is the analytic ceiling{line}: keys × requests limit ÷ window ÷ Dataverse "
        "calls per registration. Per-bin creation can burst far above the ceiling when a fresh window opens; "
        "the dark green line is what the limit caps, so while offered stays above the ceiling it runs flat "
        "near the red line and the dotted purple queue depth (right axis) grows. The backlog is drained when "
        "the queue returns to zero."
        + _FAULTS_NOTE * bool(run.scenario_value("faults"))
    )


def _throttling_caption(run: RunData) -> str:
    binding = run.summary_value("dataverse.binding_limit", "none")
    return (
        "Top: Dataverse calls admitted (green) and throttled with 429 (red) per second, all keys together "
        "(and failed with 503 in black, if an outage made any). "
        "Bottom: the throttled calls stacked by the limit that refused them (requests, execution time, "
        "concurrency). The tallest band names the binding limit; "
        f"in this run the summary reports “{binding}”. Throttled calls come back as retries, so a red line "
        "that persists after arrivals stop means the retry policy is feeding the limit."
    )


def _cache_caption(run: RunData) -> str:
    return (
        "Top: share of validation lookups answered from the per-instance read cache in each time bin; the "
        "dashed line is the whole-run ratio. Bottom: lookups per second. Every miss costs Dataverse reads on "
        "the same budget as the registration writes, so dips in the hit ratio (a cold start, entries expiring "
        "every TTL) show up as extra load in the throttling figure."
    )


def _latency_caption(run: RunData) -> str:
    created = run.submissions.count("created")
    return (
        "Left: share of all offered submissions whose record was created within the time on the x axis (log "
        f"scale); the curve ends at the created share ({format_count(created)} of "
        f"{format_count(len(run.submissions))}) and the gap above it is what was rejected, dead-lettered or "
        "still pending. Middle: p50/p95/p99 time-to-created for submissions grouped by when they were "
        "submitted — rising lines mean later arrivals wait behind the backlog. Right: how many attempts each "
        "created registration needed; a long tail means the retry policy kept hitting throttled windows."
    )


def run_charts(run: RunData) -> list[Chart]:
    """The four figures of a single-run report, with titles and captions."""
    return [
        Chart("throughput", "Throughput", _throughput_caption(run), throughput_figure(run)),
        Chart("throttling", "Dataverse throttling", _throttling_caption(run), throttling_figure(run)),
        Chart("cache", "Read cache", _cache_caption(run), cache_figure(run)),
        Chart("latency", "Retry latency", _latency_caption(run), latency_figure(run)),
    ]

