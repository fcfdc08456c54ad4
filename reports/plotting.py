"""Shared drawing helpers: figure construction, time axes, colours, fault shading.

Figures are built as ``matplotlib.figure.Figure`` objects directly (the Agg canvas renders them), never
through pyplot, so building a figure touches no global state and is safe in parallel processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from reports.rundata import RunData, duration_s

__all__ = [
    "COLOR",
    "Chart",
    "duration_axis",
    "duration_label",
    "duration_step_s",
    "duration_ticks",
    "legend_below",
    "new_figure",
    "shade_faults",
    "time_axis",
    "variant_colors",
]

COLOR = {
    "offered": "#8c8c8c",
    "accepted": "#1f77b4",
    "created": "#2ca02c",
    "created_window": "#0b5d1e",
    "confirmed": "#ff7f0e",
    "failed": "#222222",
    "queue": "#9467bd",
    "ceiling": "#d62728",
    "admitted": "#2ca02c",
    "throttled": "#d62728",
    "throttled_smooth": "#7f0000",
    "requests": "#d62728",
    "execution": "#ff7f0e",
    "concurrency": "#9467bd",
    "other": "#7f7f7f",
    "hit": "#17becf",
    "lookups": "#c7c7c7",
    "p50": "#1f77b4",
    "p95": "#ff7f0e",
    "p99": "#d62728",
}
_TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_TAB20 = [
    "#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd", "#c5b0d5",
    "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5",
]  # fmt: skip


@dataclass(frozen=True)
class Chart:
    """A figure with what the report shows around it; ``slug`` names its PNG file."""

    slug: str
    title: str
    caption: str
    figure: Figure


def new_figure(width_in: float, height_in: float) -> Figure:
    figure = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # attach the Agg canvas explicitly: no backend lookup, no pyplot
    return figure


def time_axis(span_s: float) -> tuple[float, str]:
    """Divisor and unit label that keep a run's time axis readable: seconds, minutes or hours."""
    if span_s > 3 * 3600:
        return 3600.0, "h"
    if span_s > 600:
        return 60.0, "min"
    return 1.0, "s"


def duration_axis(values_s: np.ndarray) -> tuple[float, str]:
    """Divisor and unit for an axis of durations, chosen from the largest finite value."""
    finite = values_s[np.isfinite(values_s)]
    top = float(finite.max()) if finite.size else 0.0
    if top > 3 * 3600:
        return 3600.0, "h"
    if top > 180:
        return 60.0, "min"
    return 1.0, "s"


_TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def duration_step_s(top_s: float, max_ticks: int = 8) -> float:
    """A round tick step (seconds, minutes or hours) giving at most ``max_ticks`` ticks up to ``top_s``."""
    for step in _TICK_STEPS_S:
        if top_s / step <= max_ticks:
            return float(step)
    return float(86400 * -(-top_s // (86400 * max_ticks)))


def duration_label(seconds: float) -> str:
    """A tick label a person reads at once: "0", "30 s", "15 min", "1 h", "1 h 30", "26 h"."""
    if seconds <= 0:
        return "0"
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d}" if minutes else f"{hours} h"


def duration_ticks(top_s: float) -> list[tuple[float, str]]:
    """The ticks of a linear duration axis from 0 to ``top_s``: (seconds, label)."""
    step = duration_step_s(max(top_s, 1.0))
    return [(i * step, duration_label(i * step)) for i in range(int(top_s // step) + 1)]


def set_duration_axis(ax: Axes, top_s: float, which: str = "x") -> None:
    """A linear axis of seconds from 0 to ``top_s``, ticked and labelled in s / min / h (``duration_ticks``)."""
    top = max(top_s, 1.0)
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(MultipleLocator(duration_step_s(top)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: duration_label(float(value))))
    (ax.set_xlim if which == "x" else ax.set_ylim)(0, top * 1.03)


def variant_colors(count: int) -> list[str]:
    palette = _TAB10 if count <= 10 else _TAB20
    return [palette[i % len(palette)] for i in range(count)]


def shade_faults(ax: Axes, run: RunData, scale_s: float, label: bool = True) -> None:
    """Shade the scenario's fault windows (outage, slow, limit) so dips line up with their cause."""
    faults = run.scenario_value("faults", [])
    if not isinstance(faults, list):
        return
    for fault in faults:
        if not isinstance(fault, dict):
            continue
        at, length = duration_s(fault.get("at")), duration_s(fault.get("duration"))
        if at is None or length is None:
            continue
        ax.axvspan(at / scale_s, (at + length) / scale_s, color="#f4cccc", alpha=0.5, lw=0, zorder=0)
        if label:
            ax.annotate(
                str(fault.get("kind", "fault")),
                xy=(at / scale_s, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -2),
                textcoords="offset points",
                va="top",
                fontsize=8,
                color="#a94442",
            )


def legend_below(figure: Figure, handles: Sequence[Artist], labels: Sequence[str], columns: int = 3) -> None:
    """A legend under the axes, in at most ``columns`` columns, and fewer while it is wider than the figure (long
    labels in one row would be cut at the figure's edges)."""
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for ncols in range(max(1, min(columns, len(labels))), 0, -1):
        legend = figure.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize=9)
        if ncols == 1 or legend.get_window_extent(renderer).width <= 0.98 * figure.bbox.width:
            return
        legend.remove()
