"""What a replicated run adds to its report: intervals beside the headline figures ("2 h 24 min ± 1.1 min"),
percentile bands across replications (``bands.csv``), and the inputs each replication drew
(``replications.csv``). A run without replications has none of these files and gets none of this.

The files and their columns are fixed by DESIGN.md ("Run directories"); summary.json's ``replications``
block holds each metric's mean, sd, interval, min and max.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from reports.headline import HEADLINE, Metric, format_count, format_duration
from reports.plotting import COLOR, Chart, duration_axis, new_figure, time_axis
from reports.rundata import RunData
from simulator.metrics import turned_away
from simulator.units import half_width_text

__all__ = ["METRIC_PATHS", "Replicated", "load_replicated", "headline_rows", "headline_text", "interval_bounds",
           "headline_value", "replications", "replication_charts", "DrawnInputs", "drawn_inputs"]

# The summary.json path behind each headline metric that has an interval.
METRIC_PATHS = {
    "offered": "submissions.offered", "created": "submissions.created",
    "dead_lettered": "submissions.dead_lettered", "rejected": "submissions.rejected",
    "pending": "submissions.pending", "last_created": "last_created_s", "p50": "time_to_created_s.p50",
    "p95": "time_to_created_s.p95", "confirmed_p95": "time_to_confirmed_s.p95",
    "p99": "time_to_created_s.p99", "max": "time_to_created_s.max", "drain": "throughput.drain_s",
    "mean_created": "throughput.mean_created_per_s", "peak_created": "throughput.peak_created_per_s",
    "hit_ratio": "cache.hit_ratio", "attempts": "attempts_per_created",
}


@dataclass(frozen=True)
class Replicated:
    """A replicated run's extra data: ``rows`` of replications.csv (as text), the uncertain keys among its
    columns, and the bands (``{series: (x, p05, p50, p95)}``)."""

    n: int
    confidence: float
    sampling: str
    uncertain: dict[str, str]
    rows: list[dict[str, str]]
    bands: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def load_replicated(run: RunData) -> Replicated | None:
    """The replication data of ``run``, or None for a single run."""
    block = run.summary.get("replications")
    if not isinstance(block, dict):
        return None
    rows: list[dict[str, str]] = []
    table = run.path / "replications.csv"
    if table.is_file():
        with table.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    bands: dict[str, list[list[float]]] = {}
    band_file = run.path / "bands.csv"
    if band_file.is_file():
        with band_file.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                bands.setdefault(row["series"], []).append(
                    [float(row["x"]), float(row["p05"]), float(row["p50"]), float(row["p95"])])
    arrays = {name: tuple(np.asarray(column) for column in np.asarray(values).T) for name, values in bands.items()}
    return Replicated(int(block.get("n", len(rows))), float(block.get("confidence", 0.95)),
                      str(block.get("sampling", "")), dict(block.get("uncertain", {})), rows,
                      arrays)  # type: ignore[arg-type]


def headline_value(run: RunData, metric: Metric) -> str:
    """The metric as the headline table shows it; with replications, ``mean ± half-width``: the mean rounded as a
    single run's, the half-width in its unit (simulator.units, as the console prints it: "2 h 24 min ± 1.1 min")."""
    value = metric.display(metric.value(run))
    path = METRIC_PATHS.get(metric.key)
    entry = _interval(run, path) if path is not None else None
    if path is None or entry is None:
        return value
    return f"{value} ± {half_width_text(path, (entry['ci_high'] - entry['ci_low']) / 2)}"


def _interval(run: RunData, path: str) -> dict[str, float] | None:
    block = run.summary.get("replications")
    entry = block.get("metrics", {}).get(path) if isinstance(block, dict) else None
    return entry if isinstance(entry, dict) else None


def replications(run: RunData) -> int:
    """How many replications the run's figures are means of; 0 for a single run."""
    block = run.summary.get("replications")
    return int(block.get("n", 0)) if isinstance(block, dict) else 0


def headline_text(run: RunData, key: str) -> str:
    """The headline table's text for the metric ``key`` ("3 h 15 min ± 12.4 min"): what a figure's annotation
    says, so no figure contradicts the table above it."""
    return headline_value(run, next(m for m in HEADLINE if m.key == key))


def interval_bounds(run: RunData, path: str) -> tuple[float, float] | None:
    """The interval (low, high) of the mean at ``path``; None for a single run."""
    entry = _interval(run, path)
    return (float(entry["ci_low"]), float(entry["ci_high"])) if entry is not None else None


def headline_rows(run: RunData) -> list[tuple[str, str]]:
    """The run page's headline table, (figure, value): capacity turn-aways on lines of their own, each naming
    the limit that cut demand, apart from what failed validation; a figure the run has not (time to confirmed,
    without the confirmation journey) is left out."""
    rows = []
    away = turned_away(run.summary)
    for metric in HEADLINE:
        if metric.key == "confirmed_p95" and run.summary_value("time_to_confirmed_s") is None:
            continue
        if metric.key == "rejected" and away:
            rejected = float(run.summary_value("submissions.rejected") or 0.0)
            rows.append((metric.label, format_count(rejected - sum(away.values()))))
            rows.extend((f"Turned away: {reason} ({run.summary['demand_cut_by'][reason]['said']})",
                         format_count(count)) for reason, count in away.items())
            continue
        rows.append((metric.label, headline_value(run, metric)))
    return rows


def bands_figure(run: RunData, data: Replicated) -> Figure:
    """Left: created per second across replications (median and 5–95 % band) with this run directory's
    sample path; right: the time-to-created quantiles across replications (median and band)."""
    figure = new_figure(14, 4.6)
    left, right = figure.subplots(1, 2)
    if "created_per_s" in data.bands:
        x, low, mid, high = data.bands["created_per_s"]
        span = float(x[-1] + run.bin_s) if len(x) else run.bin_s
        scale, unit = time_axis(span)
        # 5-minute moving average: per-bin counts are spiky (never wider than the series itself)
        window = max(1, min(len(x), int(round(300 / run.bin_s))))

        def smooth(values: np.ndarray) -> np.ndarray:
            return np.convolve(values, np.ones(window) / window, mode="same")

        left.fill_between(x / scale, smooth(low), smooth(high), color=COLOR["created"], alpha=0.25,
                          label="5–95 % of replications")
        left.plot(x / scale, smooth(mid), color=COLOR["created_window"], lw=2, label="median replication")
        ceiling = run.summary_value("capacity.ceiling_created_per_s")
        if isinstance(ceiling, int | float):
            left.axhline(float(ceiling), color=COLOR["ceiling"], ls="--", lw=1.2, label="analytic ceiling (mean)")
        left.set_xlabel(f"time since start ({unit})")
        left.set_ylabel("created per second (5-minute average)")
        left.set_ylim(bottom=0)
        left.set_xlim(left=0)
        left.legend(fontsize=9, loc="upper right")
        left.grid(alpha=0.3)
    left.set_title(f"Created per second across {data.n} replications", fontsize=11)
    if "time_to_created_s" in data.bands:
        share, low, mid, high = data.bands["time_to_created_s"]
        y_scale, y_unit = duration_axis(high)
        right.fill_betweenx(share, low / y_scale, high / y_scale, color=COLOR["accepted"], alpha=0.25,
                            label="5–95 % of replications")
        right.plot(mid / y_scale, share, color=COLOR["accepted"], lw=2, label="median replication")
        right.set_xlabel(f"time from submission to created record ({y_unit})")
        right.set_ylabel("share of created registrations")
        right.yaxis.set_major_formatter(PercentFormatter(1.0))
        right.set_ylim(0, 1.02)
        right.set_xlim(left=0)
        right.legend(fontsize=9, loc="lower right")
        right.grid(alpha=0.3)
    right.set_title("Time to created across replications (CDF)", fontsize=11)
    return figure


def replication_charts(run: RunData) -> list[Chart]:
    """The extra figure of a replicated run (none for a single run)."""
    data = load_replicated(run)
    if data is None or not data.bands:
        return []
    caption = (
        f"Bands across the {data.n} replications ({data.sampling} sampling of the uncertain inputs, each on "
        "its own seed). Left: registrations created per second, 5-minute moving average; the shaded band holds "
        "the middle 90 % of replications in each time bin, the line is the median. Right: the time within which "
        "a given share of created registrations was created — the band is where that time lies in 90 % of "
        "replications. The other figures show replication 1 alone, as one sample path; the headline table "
        f"gives each figure's mean and {data.confidence:.0%} Student-t interval."
    )
    return [Chart("replications", "Across replications", caption, bands_figure(run, data))]


@dataclass(frozen=True)
class DrawnInputs:
    """The report's "Replications and uncertain inputs" section (rendered by ``templates/run.html.j2``):
    ``rows`` are (input, distribution, min drawn, median, max drawn)."""

    n: int
    level: str
    rows: list[tuple[str, str, str, str, str]]


def drawn_inputs(run: RunData) -> DrawnInputs | None:
    """Each uncertain input's distribution and the range its draws covered; None for an unreplicated run."""
    data = load_replicated(run)
    if data is None:
        return None
    rows = []
    for key, described in data.uncertain.items():
        values = [_number(row.get(key, "")) for row in data.rows]
        numbers = np.asarray([v for v in values if not math.isnan(v)])
        cells = (["—"] * 3 if numbers.size == 0 else
                 [drawn_text(v, described) for v in (numbers.min(), float(np.median(numbers)), numbers.max())])
        rows.append((key, described, cells[0], cells[1], cells[2]))
    return DrawnInputs(data.n, f"{data.confidence:.0%}", rows)


_DURATION = re.compile(r"\d(ms|s|m|h|d)\b")


def drawn_text(value: float, described: str) -> str:
    """A drawn value as its distribution is written: a duration (drawn in seconds) as one ("46.6 ms"), else
    a number ("132.3")."""
    return format_duration(float(value)) if _DURATION.search(described) else f"{value:.4g}"


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
