"""Figures of one run: throughput, throttling, cache, retry latency.

Each ``*_figure(run)`` is pure: it reads a :class:`RunData`, draws the arrays of :mod:`reports.series`
and returns a ``Figure``; :func:`run_charts` adds titles and captions that say how to read each one.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from reports.dataverse_api import face_chart
from reports.headline import format_count, format_duration, format_rate, format_share
from reports.launch import has_launch, launch_caption, launch_figure
from reports.plotting import (
    COLOR,
    Chart,
    duration_axis,
    legend_below,
    new_figure,
    set_duration_axis,
    shade_faults,
    time_axis,
)
from reports.replicated import headline_text, interval_bounds, replications
from reports.rundata import RunData
from reports.series import (
    CumulativeSeries,
    attempts_histogram,
    cache_series,
    cumulative_series,
    latency_by_submission_time,
    throttling_series,
    throughput_series,
    time_to_created_cdf,
)

__all__ = [
    "cache_figure",
    "cumulative_figure",
    "latency_figure",
    "run_charts",
    "throttling_figure",
    "throughput_figure",
]


def _span_s(run: RunData) -> float:
    t_s = run.timeseries.t_s
    return float(t_s[-1] + run.bin_s) if len(t_s) else run.bin_s


def cumulative_figure(run: RunData) -> Figure:
    """Offered, accepted, created (and dead-lettered) so far against time: the backlog is the gap between
    accepted and settled, and the last created record is marked — "when is the last one in Dataverse?"."""
    data = cumulative_series(run)
    scale, unit = time_axis(_span_s(run))
    x = data.t_s / scale
    figure = new_figure(10, 4.8)
    ax = figure.add_subplot()
    shade_faults(ax, run, scale)
    n = replications(run)

    def total(name: str, count: float) -> str:  # a replicated run's curves are replication 1's: no totals of its own
        return name if n else f"{name} ({format_count(count)})"

    # Offered is drawn wide and pale under accepted: where validation rejects little the two nearly coincide.
    ax.plot(x, data.offered, color=COLOR["offered"], lw=5, alpha=0.45, label=total("offered", data.offered[-1]))
    ax.plot(x, data.accepted, color=COLOR["accepted"], lw=1.6, label=total("accepted", data.accepted[-1]))
    settled = data.created + data.dead_lettered
    ax.fill_between(x, settled, data.accepted, color=COLOR["queue"], alpha=0.18, lw=0,
                    label="backlog: accepted, still waiting" + (
                        "" if n else f" (peak {format_count(float(data.backlog.max()))})"))
    ax.plot(x, data.created, color=COLOR["created"], lw=2.2, label=total("created", data.created[-1]))
    if data.confirmed is not None and data.confirmed[-1] > 0:  # the confirmation journey's emails, beside created
        ax.plot(x, data.confirmed, color=COLOR["confirmed"], lw=1.6, ls="-.",
                label=total("confirmed", data.confirmed[-1]))
    if data.dead_lettered[-1] > 0:
        ax.plot(x, data.dead_lettered, color=COLOR["failed"], lw=1.2,
                label=total("dead-lettered", data.dead_lettered[-1]))
    top = float(max(data.offered[-1], 1.0))
    if data.last_offered_s is not None:
        ax.axvline(data.last_offered_s / scale, color=COLOR["offered"], ls=":", lw=1.2)
        when = "(replication 1)" if n else format_duration(data.last_offered_s)
        ax.annotate(f"last arrival\n{when}", xy=(data.last_offered_s / scale, 0.04),
                    xycoords=("data", "axes fraction"), xytext=(-4, 0), textcoords="offset points", ha="right",
                    fontsize=9, color="#555",
                    bbox={"boxstyle": "square,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    # Replicated: the headline's figure, the mean of every replication; a single run: its own last record (the
    # same figure, measured on the drawn timeline)
    last_s = run.summary_value("last_created_s") if n else data.last_created_s
    right_s = float(last_s) if isinstance(last_s, int | float) else 0.0
    if isinstance(last_s, int | float):
        last_x = float(last_s) / scale
        ax.axvline(last_x, color=COLOR["created_window"], ls="--", lw=1.4)
        if n:  # the interval of the mean, shaded as the headline states it
            low, high = interval_bounds(run, "last_created_s") or (last_s, last_s)
            ax.axvspan(low / scale, high / scale, color=COLOR["created_window"], alpha=0.12, lw=0)
            right_s = max(right_s, high)
            after = (f"mean of {n} replications\ndrain {headline_text(run, 'drain')} after the last arrival"
                     + (f"\n{headline_text(run, 'pending')} still waiting at the end"
                        if (run.summary_value("submissions.pending") or 0) > 0 else ""))
        else:
            after = _after_last_arrival(data)
            if data.backlog[-1] > 0:
                after += f"\n{format_count(float(data.backlog[-1]))} still waiting at the end"
        said = headline_text(run, "last_created") if n else format_duration(float(last_s))
        ax.annotate(f"last created {said}\n{after}", xy=(last_x, 0.5),
                    xycoords=("data", "axes fraction"), xytext=(-6, 0), textcoords="offset points", ha="right",
                    fontsize=10, fontweight="bold", color=COLOR["created_window"],
                    bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": COLOR["created_window"], "alpha": 0.9})
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_ylabel("submissions so far")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: format_count(value)))
    ax.set_ylim(0, top * 1.05)
    ax.set_xlim(left=0, right=max(float(x[-1]), right_s / scale) * 1.02 or 1.0)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    legend_below(figure, handles, labels, columns=len(labels) if len(labels) <= 5 else 3)  # never over the marks
    ax.set_title(f"Offered, accepted and created so far — {run.name}", fontsize=11)
    return figure


def _after_last_arrival(data: CumulativeSeries) -> str:
    if data.last_created_s is None or data.last_offered_s is None:
        return ""
    drain_s = data.last_created_s - data.last_offered_s
    return f"{format_duration(drain_s)} after the last arrival" if drain_s > 0 else "before the last arrival"


def throughput_figure(run: RunData) -> Figure:
    """Top: demand (offered, accepted per second) and the queue; bottom, on its own scale: created per
    second against the analytic ceiling."""
    data = throughput_series(run)
    scale, unit = time_axis(_span_s(run))
    x = data.t_s / scale
    figure = new_figure(10, 6.4)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[1, 1])
    for ax in (top, bottom):
        shade_faults(ax, run, scale, label=ax is top)
        ax.grid(alpha=0.3)
    lines = [
        top.plot(x, data.offered_per_s, drawstyle="steps-post", color=COLOR["offered"], lw=4, alpha=0.45,
                 label="offered /s")[0],
        top.plot(x, data.accepted_per_s, drawstyle="steps-post", color=COLOR["accepted"], label="accepted /s")[0],
    ]
    top.set_ylabel("submissions per second")
    top.set_ylim(bottom=0)
    top.set_title(f"Demand and queue — {run.name}", fontsize=11)
    twin = top.twinx()
    lines.append(
        twin.plot(x, data.queue_depth, drawstyle="steps-post", color=COLOR["queue"], ls=":", lw=1.8,
                  label="queue depth (right)")[0]
    )
    twin.set_ylabel("queue depth (submissions)", color=COLOR["queue"])
    twin.set_ylim(bottom=0)
    twin.yaxis.set_major_formatter(FuncFormatter(lambda value, _: format_count(value)))
    top.legend(handles=lines, loc="upper right", fontsize=9)

    ceiling_top = data.created_axis_top_per_s
    bottom.plot(x, np.minimum(data.created_per_s, ceiling_top), drawstyle="steps-post", color=COLOR["created"],
                lw=1, alpha=0.3, label="created /s per bin")
    if data.window_s:
        bottom.plot(x + data.bin_s / scale, data.created_window_per_s, color=COLOR["created_window"], lw=2.2,
                    label=f"created /s over the last {format_duration(data.window_s)}")
    if data.ceiling_created_per_s is not None:
        bottom.axhline(data.ceiling_created_per_s, color=COLOR["ceiling"], ls="--", lw=1.6,
                       label=f"analytic ceiling {format_rate(data.ceiling_created_per_s)}")
    peak = float(np.nanmax(data.created_per_s)) if len(data.created_per_s) else 0.0
    if peak > ceiling_top:
        bottom.text(0.01, 0.97, f"per-bin bursts reach {format_rate(peak)} (clipped at the top)",
                    transform=bottom.transAxes, va="top", fontsize=8, color="#555",
                    bbox={"boxstyle": "square,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})
    bottom.set_ylim(0, ceiling_top)
    bottom.set_ylabel("created per second")
    bottom.set_xlabel(f"time since start ({unit})")
    bottom.set_xlim(left=0)
    bottom.legend(loc="upper right", fontsize=9)
    bottom.set_title("Created against the ceiling", fontsize=11)
    return figure


def throttling_figure(run: RunData) -> Figure:
    """Top: Dataverse calls admitted per second; bottom, on its own axis: the 429s, split by the limit
    that refused them, with their one-minute average on top."""
    data = throttling_series(run)
    scale, unit = time_axis(_span_s(run))
    x = data.t_s / scale
    figure = new_figure(10, 5.6)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[1, 1])
    for ax in (top, bottom):
        shade_faults(ax, run, scale, label=ax is top)
        ax.grid(alpha=0.3)
    top.plot(x, data.admitted_per_s, drawstyle="steps-post", color=COLOR["admitted"], label="admitted /s")
    if data.failed_per_s is not None and np.any(data.failed_per_s):
        top.plot(x, data.failed_per_s, drawstyle="steps-post", color=COLOR["failed"], label="failed (503) /s")
    top.set_ylabel("calls admitted per second")
    top.set_ylim(bottom=0)
    top.legend(loc="upper right", fontsize=9)
    top.set_title(f"Dataverse calls — {run.name}", fontsize=11)
    names = list(data.throttled_by)
    total = float(data.throttled_per_s.sum() * data.bin_s)
    bottom.stackplot(
        x,
        *(data.throttled_by[name] for name in names),
        labels=[f"429 by {name} limit" for name in names],
        colors=[COLOR[name] for name in names],
        step="post",
        alpha=0.55,
    )
    if np.any(data.throttled_per_s):
        in_all = "" if replications(run) else f" ({format_count(total)} in all)"  # replicated: in the headline
        bottom.plot(x + data.bin_s / scale, data.throttled_smooth_per_s, color=COLOR["throttled_smooth"], lw=2,
                    label=f"429s /s over the last {format_duration(data.smooth_s)}{in_all}")
    else:
        bottom.text(0.5, 0.5, "no call was throttled", transform=bottom.transAxes, ha="center", color="#555")
    bottom.set_ylabel("429s per second")
    bottom.set_xlabel(f"time since start ({unit})")
    bottom.set_ylim(bottom=0)
    bottom.set_xlim(left=0)
    bottom.legend(loc="upper right", fontsize=9)
    bottom.set_title("Throttled calls (429)", fontsize=11)
    return figure


def cache_figure(run: RunData) -> Figure:
    data = cache_series(run)
    scale, unit = time_axis(_span_s(run))
    x = data.t_s / scale
    figure = new_figure(10, 4.8)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    shade_faults(top, run, scale)
    top.plot(x, data.hit_ratio, drawstyle="steps-post", color=COLOR["hit"], lw=1.8, label="hit ratio per bin")
    n = replications(run)
    if n:  # the headline's mean over every replication, not replication 1's own
        mean = run.summary_value("cache.hit_ratio")
        if isinstance(mean, int | float):
            top.axhline(float(mean), color="#333", ls="--", lw=1,
                        label=f"mean of {n} replications {headline_text(run, 'hit_ratio')}")
    elif data.overall_hit_ratio is not None:
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
    """The CDF as steps from (0, 0), on a linear axis of seconds (``style_cdf_axes`` labels it)."""
    ax.step(np.concatenate([[0.0], seconds]), np.concatenate([[0.0], share]), where="post",
            **style)  # type: ignore[arg-type]


def style_cdf_axes(ax: Axes, top_s: float | None = None) -> None:
    """Axes of a time-to-created CDF (linear time ticked in s / min / h, share created), in a run's figure and
    in comparisons; ``top_s`` defaults to the slowest time drawn. Call it after drawing the curves: each is
    continued flat (dotted) to the right edge, since the share created stays where it ended."""
    if top_s is None:
        drawn = ax.dataLim.x1
        top_s = float(drawn) if np.isfinite(drawn) and drawn > 0 else 1.0
    set_duration_axis(ax, top_s)
    right_s = ax.get_xlim()[1]
    for line in list(ax.get_lines()):
        # A variant that created its last record early (or created few) ends near x = 0 on a linear axis, where
        # it would vanish into the spine: continue its final share, dotted, to the right edge.
        x, y = np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)
        if x.size and x[-1] < right_s:
            ax.plot([x[-1], right_s], [y[-1], y[-1]], color=line.get_color(), ls=":", lw=line.get_linewidth(),
                    label="_continued")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("time from submission to created record")
    ax.set_ylabel("share of offered submissions created")
    ax.set_title("Time to created (CDF)", fontsize=11)
    ax.grid(alpha=0.3)


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


def _cumulative_caption(run: RunData) -> str:
    data = cumulative_series(run)
    n = replications(run)
    if n:
        return (
            "How many submissions had been offered (grey), accepted with a 202 (blue) and created in Dataverse "
            "(green) by each time since the start, in replication 1. The shaded gap between accepted and created is "
            "its backlog. The dashed line and its box give the headline's figure, the mean over all "
            f"{n} replications: the last record was created at {headline_text(run, 'last_created')} (shaded: the "
            "interval), so where replication 1's backlog closes earlier or later than the line is one draw's luck."
            + _FAULTS_NOTE * bool(run.scenario_value("faults"))
        )
    last = (f" The last record was created at {format_duration(data.last_created_s)} (dashed line)"
            if data.last_created_s is not None else " No record was created")
    after = f", {_after_last_arrival(data)} (dotted line)." if data.last_created_s is not None else "."
    if data.backlog[-1] > 0:
        after += (f" {format_count(float(data.backlog[-1]))} accepted submissions were still waiting when the run "
                  "ended, so the last registration is later than this run shows.")
    return (
        "How many submissions had been offered (grey), accepted with a 202 (blue) and created in Dataverse "
        "(green) by each time since the start. The shaded gap between accepted and created is the backlog: "
        "accepted submissions still queued, in progress or waiting to retry; where it closes, every accepted "
        "registration is in Dataverse. The gap between offered and accepted is what validation rejected."
        + (" The dash-dotted orange line counts confirmation emails sent by the confirmation journey: its gap to "
           "created is the trigger queue and the email's latency." if data.confirmed is not None else "")
        + last + after + _FAULTS_NOTE * bool(run.scenario_value("faults"))
    )


def _throughput_caption(run: RunData) -> str:
    ceiling = run.summary_value("capacity.ceiling_created_per_s")
    line = f" ({format_rate(ceiling)})" if ceiling is not None else ""
    return (
        "Top: submissions offered (grey) and accepted with a 202 (blue) per second, and the queue of accepted "
        "submissions waiting for a processor (dotted purple, right axis). Bottom, on its own scale: "
        "registrations created per second — per time bin (light green) and averaged over the trailing limit "
        f"window (dark green) — against the analytic ceiling{line}, dashed red: keys × requests limit ÷ window "
        "÷ Dataverse calls per registration. Per-bin creation bursts when a fresh window opens; the dark green "
        "line is what the limit caps, so while the queue grows it runs flat at the red line. The backlog is "
        "drained when the queue returns to zero."
        + _FAULTS_NOTE * bool(run.scenario_value("faults"))
    )


def _throttling_caption(run: RunData) -> str:
    binding = run.summary_value("dataverse.binding_limit", "none")
    return (
        "Top: Dataverse calls admitted per second, all keys together (and failed with 503 in black, if an "
        "outage made any). Bottom, on its own axis: calls throttled with 429 per second, stacked by the limit "
        "that refused them (requests, execution time, concurrency), with the dark red line averaging them over "
        "the last minute. The tallest band names the binding limit; "
        f"in this run the summary reports “{binding}”. Throttled calls come back as retries, so 429s that "
        "persist after arrivals stop mean the retry policy is feeding the limit."
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
    counts = "" if replications(run) else f" ({format_count(created)} of {format_count(len(run.submissions))})"
    return (
        "Left: share of all offered submissions whose record was created within the time on the x axis "
        f"(minutes and hours); the curve ends at the created share{counts} and the gap above it is what was "
        "rejected, dead-lettered or "
        "still pending. Middle: p50/p95/p99 time-to-created for submissions grouped by when they were "
        "submitted — rising lines mean later arrivals wait behind the backlog. Right: how many attempts each "
        "created registration needed; a long tail means the retry policy kept hitting throttled windows."
    )


def run_charts(run: RunData) -> list[Chart]:
    """The figures of a single-run report, with titles and captions, the planner's question first."""
    return [
        Chart("cumulative", "When is the last registration in Dataverse?", _cumulative_caption(run),
              cumulative_figure(run)),
        *([Chart("launch", "When do invitations go out, when do people register, when are they confirmed?",
                 launch_caption(run), launch_figure(run))] if has_launch(run) else []),
        Chart("throughput", "Throughput", _throughput_caption(run), throughput_figure(run)),
        Chart("throttling", "Dataverse throttling", _throttling_caption(run), throttling_figure(run)),
        Chart("cache", "Read cache", _cache_caption(run), cache_figure(run)),
        Chart("latency", "Retry latency", _latency_caption(run), latency_figure(run)),
        *([face] if (face := face_chart(run)) is not None else []),
    ]

