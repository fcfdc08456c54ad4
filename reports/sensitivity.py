"""The sensitivity report: a bar chart per metric from a run directory's ``sensitivity.csv``, in report.html."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reports.html import Picture, environment, figures_data
from reports.plotting import Chart, new_figure
from reports.write import REPORT_FILE, render

__all__ = ["sensitivity_charts", "write_sensitivity_report"]


def sensitivity_charts(rows: Sequence[Mapping[str, Any]]) -> list[Chart]:
    """One horizontal bar chart per metric, inputs from the most influential down."""
    charts = []
    morris = bool(rows) and "mu_star" in rows[0]
    for index, metric in enumerate(dict.fromkeys(row["metric"] for row in rows)):
        mine = [r for r in rows if r["metric"] == metric]
        key, spread = ("mu_star", "sigma") if morris else ("st", "st_conf")
        mine.sort(key=lambda r: np.nan_to_num(float(r[key])))
        figure = new_figure(8, 0.5 * len(mine) + 1.6)
        ax = figure.add_subplot()
        positions = np.arange(len(mine))
        values = [float(r[key]) for r in mine]
        if morris:
            ax.barh(positions, values, color="#4c72b0", label="μ* (mean |effect|)")
            ax.plot([float(r[spread]) for r in mine], positions, "o", color="#dd8452", label="σ (spread)")
            ax.set_xlabel(f"{metric} per unit step of the normalised design")
        else:
            ax.barh(positions - 0.2, values, height=0.4, xerr=[float(r[spread]) for r in mine],
                    color="#4c72b0", label="total order ST")
            ax.barh(positions + 0.2, [float(r["s1"]) for r in mine], height=0.4,
                    xerr=[float(r["s1_conf"]) for r in mine], color="#55a868", label="first order S1")
            ax.set_xlabel("share of the metric's variance")
        ax.set_yticks(positions, [r["input"] for r in mine])
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(metric)
        caption = ("Morris elementary effects: the longer the bar, the more the input moves the metric; a dot far "
                   "right of its bar's end means interactions or curvature." if morris else
                   "Sobol' indices with their confidence half-widths: ST counts interactions, S1 does not.")
        charts.append(Chart(f"sensitivity-{index + 1}", f"What drives {metric}", caption, figure))
    return charts


def write_sensitivity_report(run_dir: str | Path, rows: Sequence[Mapping[str, Any]], ranking: list[str],
                             out_dir: str | Path | None = None) -> Path:
    """report.html (and a PNG per chart) for the sensitivity run in ``run_dir``, written into ``out_dir``
    (default: ``run_dir`` itself); returns the report's path. ``rows`` are sensitivity.csv's rows, ``ranking``
    the sentences saying what drives each metric."""
    target = Path(out_dir) if out_dir is not None else Path(run_dir)
    pictures: list[Picture] = [render(chart) for chart in sensitivity_charts(rows)]
    target.mkdir(parents=True, exist_ok=True)
    for picture in pictures:
        (target / f"{picture.slug}.png").write_bytes(picture.png)
    report = target / REPORT_FILE
    page = environment().get_template("sensitivity.html.j2").render(
        title=f"Sensitivity — {Path(run_dir).name}", ranking=ranking, figures=figures_data(pictures))
    report.write_text(page, encoding="utf-8")
    return report
