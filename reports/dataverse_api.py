"""The Dataverse Web API face's calls in a live run (``dataverse_api.csv``, written by ``stampede serve --out``):
requests admitted per second by app user, and 429s per second by the limit that refused them.

``face_series`` is pure over the file's rows; ``face_chart`` draws it (None for a run without the file).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from reports.headline import format_count
from reports.plotting import COLOR, Chart, new_figure, time_axis, variant_colors
from reports.rundata import RunData

__all__ = ["FaceSeries", "face_series", "face_chart", "FACE_FILE"]

FACE_FILE = "dataverse_api.csv"
LIMITS = ("requests", "execution", "concurrency")


@dataclass(frozen=True)
class FaceSeries:
    """Per bin (``t_s`` each bin's start): admitted requests per second by app user, 429s per second by limit."""

    t_s: np.ndarray
    bin_s: float
    admitted_per_s: dict[str, np.ndarray]
    throttled_per_s: dict[str, np.ndarray]
    throttled_by_user: dict[str, int]


def face_series(rows: list[dict[str, str]], bin_s: float) -> FaceSeries:
    """Bin the face's calls (model seconds, as the run's time series)."""
    times = np.array([float(row["t_s"]) for row in rows]) if rows else np.zeros(0)
    start = float(times.min()) if len(times) else 0.0
    bins = int((times.max() - start) // bin_s) + 1 if len(times) else 1
    index = ((times - start) // bin_s).astype(int) if len(times) else np.zeros(0, dtype=int)
    admitted: dict[str, np.ndarray] = {}
    throttled = {limit: np.zeros(bins) for limit in LIMITS}
    by_user: dict[str, int] = {}
    for row, i in zip(rows, index, strict=True):
        if row["status"] == "200":
            admitted.setdefault(row["user"], np.zeros(bins))[i] += 1
        elif row["status"] == "429":
            throttled.setdefault(row["limit"], np.zeros(bins))[i] += 1
            by_user[row["user"]] = by_user.get(row["user"], 0) + 1
    return FaceSeries(start + np.arange(bins) * bin_s, bin_s, {u: a / bin_s for u, a in sorted(admitted.items())},
                      {k: v / bin_s for k, v in throttled.items()}, by_user)


def _rows(run: RunData) -> list[dict[str, str]] | None:
    path = run.path / FACE_FILE
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def face_figure(data: FaceSeries, name: str) -> Figure:
    span_s = float(data.t_s[-1] + data.bin_s) if len(data.t_s) else data.bin_s
    scale, unit = time_axis(span_s)
    x = data.t_s / scale
    figure = new_figure(10, 5.6)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[1, 1])
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    colors = variant_colors(len(data.admitted_per_s))
    for color, (user, per_s) in zip(colors, data.admitted_per_s.items(), strict=True):
        top.plot(x, per_s, drawstyle="steps-post", color=color, label=f"{user} admitted /s")
    top.set_ylabel("requests admitted per second")
    top.set_ylim(bottom=0)
    if data.admitted_per_s:
        top.legend(loc="upper right", fontsize=9)
    top.set_title(f"Dataverse Web API face — {name}", fontsize=11)
    limits = [k for k, v in data.throttled_per_s.items() if np.any(v)]
    if limits:
        bottom.stackplot(x, *(data.throttled_per_s[k] for k in limits), labels=[f"429 by {k} limit" for k in limits],
                         colors=[COLOR.get(k, COLOR["other"]) for k in limits], step="post", alpha=0.55)
        bottom.legend(loc="upper right", fontsize=9)
    else:
        bottom.text(0.5, 0.5, "no request was throttled", transform=bottom.transAxes, ha="center", color="#555")
    bottom.set_ylabel("429s per second")
    bottom.set_xlabel(f"time since start ({unit})")
    bottom.set_ylim(bottom=0)
    bottom.set_title("Throttled face requests (429)", fontsize=11)
    return figure


def face_chart(run: RunData) -> Chart | None:
    """The face's figure with its caption, or None when the run has no face calls."""
    rows = _rows(run)
    if not rows:
        return None
    data = face_series(rows, run.bin_s)
    throttled = ", ".join(f"{user} {format_count(n)}" for user, n in sorted(data.throttled_by_user.items()))
    caption = (f"{format_count(len(rows))} requests to the Dataverse Web API face (/api/data/v9.2/) by "
               f"{len(data.admitted_per_s) or 'no'} app user(s); each user × web server is a key with the scenario's "
               f"limits, shared with the event API's processors when the token names [dataverse] app_user. "
               f"429s by user: {throttled or 'none'}. One row per request in {FACE_FILE}.")
    return Chart("dataverse-api", "Dataverse Web API face", caption, face_figure(data, run.name))
