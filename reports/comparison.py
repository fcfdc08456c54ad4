"""Comparisons of several runs (variants): what differs between them, the table of headline figures with
the best of each column marked, and one line per variant on each figure.

The variants are described by the scenario keys that differ between their ``scenario.toml`` files, so a
comparison made by ``stampede compare --vary retry.policy=none,full-jitter`` labels its lines
``policy=none`` and ``policy=full-jitter`` without being told.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from reports.figures import draw_cdf, style_cdf_axes
from reports.headline import HEADLINE, Metric, format_duration, show_value, throttled_share
from reports.plotting import Chart, duration_axis, legend_below, new_figure, time_axis, variant_colors
from reports.rundata import RunData, duration_s
from reports.series import (
    ThroughputSeries,
    attempts_histogram,
    cache_series,
    latency_by_submission_time,
    nice_bucket_s,
    throttling_series,
    throughput_series,
    time_to_created_cdf,
)
from reports.stars import complete_rows, stars
from simulator.comparison import short_value
from simulator.decision import Decision

__all__ = [
    "CACHE_KEYS",
    "ComparisonTable",
    "cache_settings_figure",
    "cache_ttl_s",
    "comparison_charts",
    "comparison_table",
    "variant_labels",
    "varied_settings",
]

IGNORED_KEYS = frozenset({"name", "description"})
CACHE_KEYS = ("api.cache", "api.cache_ttl")


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(data, list):
        return {prefix[:-1]: json.dumps(data, sort_keys=True)}
    return {prefix[:-1]: data}


def varied_settings(runs: Sequence[RunData]) -> dict[str, list[Any]]:
    """Each scenario key whose value differs between the runs, with its value in each run (None if absent),
    in the order the keys appear in the scenario files."""
    flat = [_flatten(run.scenario) for run in runs]
    keys = [key for key in dict.fromkeys(key for f in flat for key in f) if key not in IGNORED_KEYS]
    varied = {}
    for key in keys:
        values = [f.get(key) for f in flat]
        if any(v != values[0] for v in values[1:]):
            varied[key] = values
    return varied


def variant_labels(runs: Sequence[RunData], varied: dict[str, list[Any]] | None = None) -> list[str]:
    """A short name per run from its varied settings, as the console names it ("full-jitter · RA off",
    "cache_ttl=1m"); the run directory's name when nothing differs."""
    varied = varied_settings(runs) if varied is None else varied
    if not varied:
        labels = [run.name for run in runs]
    else:
        labels = [  # as `stampede compare` labels them: "none · RA on"
            " · ".join(short_value(key, show_value(values[i])) for key, values in varied.items())
            for i in range(len(runs))
        ]
    if len(set(labels)) < len(labels):
        labels = [f"{label} [{run.name}]" for label, run in zip(labels, runs, strict=True)]
    return labels


@dataclass(frozen=True)
class ComparisonTable:
    """Variants × headline figures. ``best[c]`` holds the row indices starred in column ``c`` (see
    reports/stars.py), ``flagged[c]`` those not ranked there because the variant lost registrations;
    ``common`` holds the figures that are the same in every variant (shown once, not as columns)."""

    metrics: list[Metric]
    labels: list[str]
    values: list[list[Any]]
    best: list[set[int]]
    common: list[tuple[Metric, Any]]
    flagged: list[set[int]] = field(default_factory=list)
    texts: list[list[str]] = field(default_factory=list)
    """Each cell as shown: a time column whose different values would round to the same text ("1 h 11 min" for
    70.5 and 70.6 min) is shown to the tenth of a second, so a difference the decision names can be seen."""

    def text(self, row: int, column: int) -> str:
        return self.texts[row][column] if self.texts else self.metrics[column].display(self.values[row][column])


def finer_duration(seconds: float) -> str:
    """One step finer than ``format_duration``: "1 h 10 min 33 s", "4 min 57.8 s", "2.763 s"."""
    if seconds >= 3600:
        hours, rest = divmod(round(seconds), 3600)
        return f"{hours} h {rest // 60} min {rest % 60:02d} s"
    if seconds >= 60:
        minutes, rest_s = divmod(round(seconds, 1), 60)
        return f"{minutes:.0f} min {rest_s:04.1f} s"
    return f"{seconds:.4g} s"


def precise_duration(seconds: float) -> str:
    """A duration to the tenth of a second: "1 h 10 min 32.4 s", "4 min 58.3 s", "2.8 s"."""
    tenths = round(seconds * 10)
    hours, rest = divmod(tenths, 36_000)
    minutes, tenth_s = divmod(rest, 600)
    parts = ([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if hours or minutes else [])
    return " ".join([*parts, f"{tenth_s / 10:.1f} s"])


def _column_texts(metric: Metric, column: Sequence[Any]) -> list[str]:
    """The column's cells, in the coarsest duration format that keeps different values different."""
    texts = [metric.display(value) for value in column]
    if metric.text is not format_duration:
        return texts
    values = {float(value) for value in column if value is not None}
    for text in (format_duration, finer_duration, precise_duration):
        if len({text(value) for value in values}) == len(values):
            break
    return [metric.missing if value is None else text(float(value)) for value in column]


def comparison_table(runs: Sequence[RunData], labels: Sequence[str]) -> ComparisonTable:
    metrics, columns, common = [], [], []
    for metric in HEADLINE:
        if not metric.in_comparison:
            continue
        column = [metric.value(run) for run in runs]
        if len(runs) > 1 and all(value == column[0] for value in column):
            common.append((metric, column[0]))
        else:
            metrics.append(metric)
            columns.append(column)
    values = [[column[r] for column in columns] for r in range(len(runs))]
    complete = complete_rows(runs)
    marks = [stars(runs, metric, column, complete) for column, metric in zip(columns, metrics, strict=True)]
    texts = [list(row) for row in zip(*(_column_texts(m, c) for m, c in zip(metrics, columns, strict=True)),
                                      strict=True)] if metrics else [[] for _ in runs]
    return ComparisonTable(metrics, list(labels), values, [m[0] for m in marks], common, [m[1] for m in marks],
                           texts)


# --- figures -----------------------------------------------------------------------------------------------


def _span_s(runs: Sequence[RunData]) -> float:
    return max((float(r.timeseries.t_s[-1] + r.bin_s) if len(r.timeseries) else r.bin_s) for r in runs)


def _width(count: int) -> float:
    return 11.0 if count <= 6 else 12.0


def _styles(count: int) -> list[dict[str, Any]]:
    """Colour and dash per variant: identical variants draw on top of each other, and the dashes let the
    line underneath show through."""
    dashes = ["-", "--", "-.", ":"]
    return [{"color": color, "ls": dashes[i % len(dashes)]} for i, color in enumerate(variant_colors(count))]


def _same_offered(series: Sequence[ThroughputSeries]) -> bool:
    length = max(len(s.offered_per_s) for s in series)
    padded = [np.pad(s.offered_per_s, (0, length - len(s.offered_per_s))) for s in series]
    same_bins = len({s.bin_s for s in series}) == 1
    return same_bins and all(np.allclose(p, padded[0]) for p in padded[1:])


def throughput_comparison_figure(runs: Sequence[RunData], labels: Sequence[str]) -> Figure:
    scale, unit = time_axis(_span_s(runs))
    styles = _styles(len(runs))
    figure = new_figure(_width(len(runs)), 6.4)
    top, bottom = figure.subplots(2, 1, sharex=True)
    series = [throughput_series(run) for run in runs]
    same_demand = _same_offered(series)
    if same_demand:
        first = max(series, key=lambda s: len(s.t_s))
        top.fill_between(first.t_s / scale, first.offered_per_s, step="post", color="#e3e3e3", label="offered /s")
    handles = []
    for s, style in zip(series, styles, strict=True):
        x = s.t_s / scale
        (line,) = top.plot(x + s.bin_s / scale, s.created_window_per_s, lw=1.8, **style)
        if not same_demand:
            top.plot(x, s.offered_per_s, drawstyle="steps-post", color=style["color"], lw=0.8, ls=":")
        bottom.plot(x, s.queue_depth, drawstyle="steps-post", lw=1.6, **style)
        handles.append(line)
    ceilings = {s.ceiling_created_per_s for s in series if s.ceiling_created_per_s is not None}
    if len(ceilings) == 1:
        top.axhline(ceilings.pop(), color="#d62728", ls="--", lw=1.2, label="analytic ceiling")
    else:
        label = "analytic ceiling of each variant"
        for s, style in zip(series, styles, strict=True):
            if s.ceiling_created_per_s is not None:
                top.axhline(s.ceiling_created_per_s, color=style["color"], ls="--", lw=1, label=label)
                label = "_"  # one legend entry for all of them
    window = next((s.window_s for s in series if s.window_s), None)
    over = f" over the last {format_duration(window)}" if window else ""
    top.set_ylabel("created /s")  # the window goes in the title: a long label is clipped by the panel's height
    top.set_ylim(bottom=0)
    if same_demand:
        # Offered can be an order of magnitude above what Dataverse creates; keep the created lines readable.
        top_created = max(float(np.max(s.created_window_per_s, initial=0.0)) for s in series)
        ceiling_top = max((s.ceiling_created_per_s or 0.0) for s in series)
        top.set_ylim(0, 1.6 * max(top_created, ceiling_top, 1e-9))
    top.legend(loc="upper right", fontsize=9)
    top.set_title(f"Registrations created per second{over} (top) and queue depth (bottom)", fontsize=11)
    bottom.set_ylabel("queue depth")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel(f"time since start ({unit})")
    bottom.set_xlim(left=0)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    legend_below(figure, handles, list(labels))
    return figure


def throttling_comparison_figure(runs: Sequence[RunData], labels: Sequence[str]) -> Figure:
    scale, unit = time_axis(_span_s(runs))
    figure = new_figure(_width(len(runs)), 6.4)
    top, bottom = figure.subplots(2, 1, sharex=True)
    handles = []
    for run, style in zip(runs, _styles(len(runs)), strict=True):
        s = throttling_series(run)
        x = s.t_s / scale
        (line,) = top.plot(x, s.throttled_per_s, drawstyle="steps-post", lw=1.4, **style)
        bottom.plot(x, s.admitted_per_s, drawstyle="steps-post", lw=1.4, **style)
        handles.append(line)
    top.set_ylabel("throttled (429) /s")
    top.set_title("Dataverse calls throttled (top) and admitted (bottom) per second", fontsize=11)
    bottom.set_ylabel("admitted /s")
    bottom.set_xlabel(f"time since start ({unit})")
    bottom.set_xlim(left=0)
    for ax in (top, bottom):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    legend_below(figure, handles, list(labels))
    return figure


def cache_comparison_figure(runs: Sequence[RunData], labels: Sequence[str]) -> Figure:
    scale, unit = time_axis(_span_s(runs))
    figure = new_figure(_width(len(runs)), 4.6)
    ax = figure.add_subplot()
    handles = []
    for run, style in zip(runs, _styles(len(runs)), strict=True):
        s = cache_series(run)
        (line,) = ax.plot(s.t_s / scale, s.hit_ratio, drawstyle="steps-post", lw=1.4, **style)
        handles.append(line)
    ax.set_ylim(-0.02, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("cache hit ratio")
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.set_title("Read-cache hit ratio over time", fontsize=11)
    legend_below(figure, handles, list(labels))
    return figure


def _log_percent(share: float, _position: object = None) -> str:
    """A share on a log axis as a percentage with the digits it needs: "10%", "1%", "0.1%", "0.01%"
    (PercentFormatter rounds everything under 0.5 % to "0%")."""
    if share <= 0:
        return ""
    percent = share * 100
    decimals = max(0, -math.floor(math.log10(percent) + 1e-9))
    return f"{percent:.{decimals}f}%"


def latency_comparison_figure(runs: Sequence[RunData], labels: Sequence[str]) -> Figure:
    figure = new_figure(15, 5.0)
    left, middle, right = figure.subplots(1, 3)
    styles = _styles(len(runs))
    span = max((float(np.nanmax(r.submissions.offered_s)) if len(r.submissions) else 0.0) for r in runs)
    bucket_s = nice_bucket_s(max(span, 1.0))
    scale, unit = time_axis(max(span, 1.0))
    by_time = [latency_by_submission_time(run, bucket_s) for run in runs]
    y_scale, y_unit = duration_axis(np.concatenate([b.p95 for b in by_time]))
    handles = []
    for run, b, style in zip(runs, by_time, styles, strict=True):
        cdf = time_to_created_cdf(run)
        if len(cdf.seconds):
            draw_cdf(left, cdf.seconds, cdf.share, lw=1.6, **style)
        (line,) = middle.plot((b.bucket_start_s + b.bucket_s / 2) / scale, b.p95 / y_scale, marker="o", ms=3,
                              lw=1.4, **style)
        handles.append(line)
        hist = attempts_histogram(run)
        total = max(int(hist.created.sum()), 1)
        shown = hist.created > 0
        right.plot(hist.attempts[shown], hist.created[shown] / total, marker="o", ms=3, lw=1.2, **style)
    style_cdf_axes(left)
    middle.set_xlabel(f"submitted at ({unit} since start; buckets of {format_duration(bucket_s)})")
    middle.set_ylabel(f"p95 time to created ({y_unit})")
    middle.set_ylim(bottom=0)
    middle.set_title("p95 by submission time", fontsize=11)
    middle.grid(alpha=0.3)
    right.set_yscale("log")
    right.set_xlabel("attempts")
    right.set_ylabel("share of created registrations (log)")
    right.yaxis.set_major_formatter(FuncFormatter(_log_percent))
    right.set_title("Attempts per created registration", fontsize=11)
    right.grid(alpha=0.3, which="both")
    legend_below(figure, handles, list(labels))
    return figure


def cache_ttl_s(run: RunData) -> float | None:
    """The read cache's TTL in seconds; 0 when the cache is off."""
    if run.scenario_value("api.cache") == "none":
        return 0.0
    return duration_s(run.scenario_value("api.cache_ttl"))


def _created_share(run: RunData) -> float:
    offered = run.summary_value("submissions.offered", 0)
    return float(run.summary_value("submissions.created", 0)) / offered if offered else np.nan


def cache_settings_figure(
    runs: Sequence[RunData], labels: Sequence[str], varied: dict[str, list[Any]], decision: Decision | None = None
) -> Figure:
    """Hit ratio, Dataverse 429 share, share created and p95 time-to-created against the cache setting that
    varies: the TTL (0 = no cache) when ``api.cache_ttl`` varies, else the strategy (``api.cache``) as categories
    — placing every strategy at its TTL put them all at 10 min. One line per combination of the other varied
    settings (those of the shown variants when there are more than ``MAX_LINES``); hollow points lost
    registrations (†)."""
    by_ttl = "api.cache_ttl" in varied
    axis_key = "api.cache_ttl" if by_ttl else "api.cache"
    others = [key for key in varied if key != axis_key]
    strategies = list(dict.fromkeys(show_value(value) for value in varied.get("api.cache", [])))

    def x_of(i: int) -> float:
        if by_ttl:
            return (cache_ttl_s(runs[i]) or 0.0) / 60
        return float(strategies.index(show_value(varied["api.cache"][i])))

    groups: dict[str, list[int]] = {}
    for i in range(len(runs)):
        name = ", ".join(f"{key.rsplit('.', 1)[-1]}={show_value(varied[key][i])}" for key in others)
        groups.setdefault(name, []).append(i)
    if len(groups) > MAX_LINES:
        chosen = set(shown_variants(labels, decision)[0])
        groups = {name: members for name, members in groups.items() if chosen & set(members)}
    lossy = decision.lossy if decision is not None else set()
    figure = new_figure(16, 4.6)
    axes = figure.subplots(1, 4)
    p95_all = np.array([run.summary_value("time_to_created_s.p95", np.nan) for run in runs], dtype=float)
    y_scale, y_unit = duration_axis(p95_all)
    handles, names = [], []
    for (name, members), color in zip(groups.items(), variant_colors(len(groups)), strict=True):
        members = sorted(members, key=x_of)
        x = np.array([x_of(i) for i in members])
        hollow = np.array([i in lossy for i in members])
        columns = (
            np.array([runs[i].summary_value("cache.hit_ratio", np.nan) for i in members], dtype=float),
            np.array([throttled_share(runs[i]) or 0.0 for i in members]),
            np.array([_created_share(runs[i]) for i in members]),
            p95_all[members] / y_scale,
        )
        for ax, values in zip(axes, columns, strict=True):
            (line,) = ax.plot(x, values, marker="o", color=color)
            if hollow.any():
                ax.plot(x[hollow], values[hollow], ls="", marker="o", mfc="white", color=color)
        handles.append(line)
        names.append(name)
    for ax, ylabel, title in (
        (axes[0], "cache hit ratio", "Hit ratio"),
        (axes[1], "calls throttled (429)", "429 share"),
        (axes[2], "share of offered created", "Created"),
        (axes[3], f"p95 time to created ({y_unit})", "p95 time-to-created"),
    ):
        if by_ttl:
            ax.set_xlabel("cache TTL (min; 0 = no cache)")
        else:
            ax.set_xticks(range(len(strategies)), [_short_strategy(s) for s in strategies], rotation=20, ha="right")
            ax.set_xlim(-0.4, len(strategies) - 0.6)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} by cache {'TTL' if by_ttl else 'strategy'}", fontsize=11)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    for ax in axes[:3]:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if len(groups) > 1:
        legend_below(figure, handles, names)
    return figure


def _short_strategy(name: str) -> str:
    return {"stale-while-revalidate": "stale-while-reval."}.get(name, name)


MAX_LINES = 6  # more variants than this: the figures draw the best, the baseline and the worst only


def shown_variants(labels: Sequence[str], decision: Decision | None) -> tuple[list[int], list[str], str]:
    """(indices, legend labels, caption note) of the variants the line figures draw: all of them up to
    ``MAX_LINES``; beyond that the best, the baseline (the first variant), the slowest that lost nothing and the
    one that lost most, each named by its role — the rest are in the table (30 overlapping lines and a 30-entry
    legend show nothing)."""
    count = len(labels)
    lossy = decision.lossy if decision is not None else set()

    def mark(i: int) -> str:
        return labels[i] + (" †" if i in lossy else "")

    if decision is None or count <= MAX_LINES:
        return list(range(count)), [mark(i) for i in range(count)], ""
    kept = [i for i in decision.order if i not in lossy]
    roles: dict[int, list[str]] = {}
    for index, role in ((decision.order[0], "best"), (0, "baseline"),
                        (kept[-1] if len(kept) > 1 else None, "slowest that lost nothing"),
                        (decision.order[-1] if lossy else None, "lost most")):
        if index is not None:
            roles.setdefault(index, []).append(role)
    indices = sorted(roles, key=decision.order.index)
    names = [f"{mark(i)} ({', '.join(roles[i])})" for i in indices]
    note = (f"Showing {len(indices)} of {count} variants — the best, the baseline (the first variant), the slowest "
            "that lost nothing and the one that lost most; every variant is in the table above. ")
    return indices, names, note


def comparison_charts(
    runs: Sequence[RunData], labels: Sequence[str], varied: dict[str, list[Any]] | None = None,
    decision: Decision | None = None,
) -> list[Chart]:
    """The figures of a comparison report, one line per shown variant (``shown_variants``), with captions."""
    varied = varied_settings(runs) if varied is None else varied
    chosen, shown_labels, note = shown_variants(labels, decision)
    all_runs, every = runs, labels
    runs, labels = [runs[i] for i in chosen], shown_labels
    charts = [
        Chart(
            "throughput",
            "Throughput",
            "Top: registrations created per second averaged over the trailing limit window, one line per variant "
            "(the grey area is the offered rate when all variants share it, cut off above so the created lines "
            "stay readable; dotted lines otherwise); the dashed red line is the analytic ceiling. Bottom: queue "
            "depth. A variant whose line stays near the ceiling and whose queue empties first uses Dataverse "
            "best; identical variants draw on top of each other (the dashes let the one below show).",
            throughput_comparison_figure(runs, labels),
        ),
        Chart(
            "throttling",
            "Dataverse throttling",
            "Throttled (429) Dataverse calls per second (top) and admitted calls per second (bottom), one line "
            "per variant. Admitted calls are capped by the limits, so variants differ mostly in how many calls "
            "they waste on throttled windows: a higher top line means retries that arrive while the window is "
            "still full.",
            throttling_comparison_figure(runs, labels),
        ),
        Chart(
            "cache",
            "Read cache",
            "Share of validation lookups answered from the read cache in each time bin, one line per variant. "
            "Lower lines send more validation reads to Dataverse, on the same limits as the writes.",
            cache_comparison_figure(runs, labels),
        ),
    ]
    if any(key in varied for key in CACHE_KEYS):
        charts.append(
            Chart(
                "cache-settings",
                "Cache settings",
                "Each point is one variant, placed at its cache TTL (0 = cache off) when the TTL varies, else at its "
                "cache strategy; hollow points lost registrations (†). From left: the whole-run hit ratio, the "
                "share of Dataverse calls answered 429, the share of offered submissions created, and p95 time "
                "from submission to created record. Read the last two together: p95 counts only created "
                "registrations, so a setting that gets most submissions rejected can show a short p95. A longer "
                "TTL raises the hit ratio and, where validation reads compete with the writes for the limit, "
                "lowers the 429 share.",
                cache_settings_figure(all_runs, every, varied, decision),
            )
        )
    charts.append(
        Chart(
            "latency",
            "Retry latency",
            "Left: share of offered submissions created within the time on the x axis (minutes and hours; "
            "dotted where a variant created nothing more), one line per "
            "variant; further left and higher is better, and where a line ends shows how many were created in the "
            "end. Middle: p95 time-to-created by when the submission was made. Right: share of created "
            "registrations by the number of attempts they needed (log scale, so rare long retry chains show).",
            latency_comparison_figure(runs, labels),
        )
    )
    return [chart if chart.slug == "cache-settings" else replace(chart, caption=note + chart.caption)
            for chart in charts]
