"""Global sensitivity of summary metrics to a scenario's ``[uncertain]`` inputs, pure (SALib does the maths).

The design lives in probability space: input *j* at point *u* ∈ [0, 1] takes the value ``entry.ppf(u)`` of
its ``[uncertain]`` distribution (:mod:`simulator.uncertain`), so Morris steps and Sobol samples follow each
input's own distribution. Bounded distributions use the whole of [0, 1]; normal and lognormal ones, whose
inverse CDF is infinite at 0 or 1, use [TAIL, 1 − TAIL] — an explicit assumption: the analysis says what
the inputs do over their central 98 %.

- **morris** (default): Morris elementary effects (SALib ``sample.morris`` / ``analyze.morris``), ``R``
  trajectories of D + 1 points each; per input ``mu_star`` (mean absolute effect, in the metric's unit per
  unit step of the normalised design) and ``sigma`` (spread: interactions or non-linearity).
- **sobol**: Saltelli's sampling and Sobol' indices (SALib ``sample.sobol`` / ``analyze.sobol``), N × (D + 2)
  points with N = R rounded up to a power of two; first-order ``s1`` and total ``st`` with confidence
  half-widths.

Every point runs with the scenario's own seed (common random numbers): an input that cannot change the
metric gives equal outputs at both ends of each of its steps, hence ``mu_star`` exactly 0.

Errors::

    SensitivityError     base (a ValueError): names the option or section, the bad value and what to write
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from simulator.errors import StampedeError
from simulator.records import skeleton_summary
from simulator.uncertain import Uncertain
from simulator.units import metric_text

__all__ = ["METHODS", "MORRIS_COLUMNS", "SOBOL_COLUMNS", "SensitivityError", "Design", "design", "draws",
           "analyze", "sensitivity_csv", "read_sensitivity_csv", "ranking", "check_metrics", "check_entries"]

METHODS = ("morris", "sobol")
MORRIS_COLUMNS = ("input", "metric", "mu_star", "sigma")
SOBOL_COLUMNS = ("input", "metric", "s1", "s1_conf", "st", "st_conf")
TAIL = 0.01  # unbounded distributions: the design spans their [1 %, 99 %] quantiles
MORRIS_LEVELS = 4
_ABSENT = object()
BARELY = 0.05  # an input whose index is below this share of the top one "barely matters"


class SensitivityError(StampedeError, ValueError):
    """A sensitivity option or the scenario's [uncertain] section cannot be used as given."""


class Design:
    """SALib's problem, the points (one row per run, in probability space) and the method that made them."""

    def __init__(self, method: str, problem: dict[str, Any], points: np.ndarray) -> None:
        self.method = method
        self.problem = problem
        self.points = points


def check_entries(entries: Sequence[Uncertain], source: str) -> None:
    if not entries:
        raise SensitivityError(
            f'{source}: no [uncertain] section — add the inputs to study, e.g. [uncertain] '
            f'"dataverse.latency.write.median" = {{ dist = "uniform", low = "40ms", high = "200ms" }}')


def check_metrics(paths: Sequence[str], summary: dict[str, Any] | None = None) -> None:
    """Every ``--metric`` must name a number in summary.json: checked on ``summary`` (a short run of the
    scenario, whose summary has every block the engine adds), else on an empty record's summary."""
    if not paths:
        raise SensitivityError("--metric is required, e.g. --metric time_to_created_s.p95")
    skeleton = summary if summary is not None else skeleton_summary()
    for path in paths:
        node: Any = skeleton
        for part in path.split("."):
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
        if node is _ABSENT or isinstance(node, bool | str | dict | list):
            raise SensitivityError(f"--metric {path!r}: not a number in summary.json — expected a path like "
                                   "time_to_created_s.p95, throughput.peak_created_per_s or submissions.created")


def _bounds(entry: Uncertain) -> list[float]:
    return [TAIL, 1.0 - TAIL] if entry.dist in ("normal", "lognormal") else [0.0, 1.0]


def design(entries: Sequence[Uncertain], method: str, trajectories: int, seed: int) -> Design:
    """The points to run: Morris trajectories or a Saltelli sample over the inputs' probability space."""
    if method not in METHODS:
        raise SensitivityError(f"--method {method!r}: expected morris or sobol")
    if trajectories < 2:
        raise SensitivityError(f"--trajectories {trajectories}: expected a whole number >= 2, e.g. 10")
    problem = {"num_vars": len(entries), "names": [e.key for e in entries], "bounds": [_bounds(e) for e in entries]}
    if method == "morris":
        from SALib.sample import morris as morris_sample

        points = morris_sample.sample(problem, trajectories, num_levels=MORRIS_LEVELS, seed=seed)
    else:
        from SALib.sample import sobol as sobol_sample

        base = 2 ** math.ceil(math.log2(trajectories))
        points = sobol_sample.sample(problem, base, calc_second_order=False, seed=seed)
    return Design(method, problem, np.asarray(points, dtype=float))


def draws(entries: Sequence[Uncertain], points: np.ndarray) -> list[dict[str, Any]]:
    """``{key: value}`` per point: each column through its input's inverse CDF."""
    columns = [entry.ppf(points[:, j]) for j, entry in enumerate(entries)]
    return [{entry.key: columns[j][i] for j, entry in enumerate(entries)} for i in range(len(points))]


def analyze(design_: Design, outputs: Mapping[str, Sequence[float]], seed: int) -> list[dict[str, Any]]:
    """One row per (input, metric) with the method's fixed columns."""
    rows: list[dict[str, Any]] = []
    for metric, values in outputs.items():
        y = np.asarray(values, dtype=float)
        missing = int(np.count_nonzero(~np.isfinite(y)))
        if missing:  # a percentile among registrations never created: no number to attribute to the inputs
            raise SensitivityError(f"--metric {metric}: not reached at {missing} of {y.size} points (registrations "
                                   "never created, or none at all) — study one every point has, e.g. --metric "
                                   "submissions.created_share or time_to_created_s.of_created.p95")
        if design_.method == "morris":
            from SALib.analyze import morris

            found = morris.analyze(design_.problem, design_.points, y, num_levels=MORRIS_LEVELS, seed=seed)
            for j, name in enumerate(design_.problem["names"]):
                rows.append({"input": name, "metric": metric, "mu_star": float(found["mu_star"][j]),
                             "sigma": float(found["sigma"][j])})
        else:
            from SALib.analyze import sobol

            found = sobol.analyze(design_.problem, y, calc_second_order=False, seed=seed)
            for j, name in enumerate(design_.problem["names"]):
                rows.append({"input": name, "metric": metric, "s1": float(found["S1"][j]),
                             "s1_conf": float(found["S1_conf"][j]), "st": float(found["ST"][j]),
                             "st_conf": float(found["ST_conf"][j])})
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def sensitivity_csv(rows: Sequence[dict[str, Any]], method: str) -> str:
    columns = MORRIS_COLUMNS if method == "morris" else SOBOL_COLUMNS
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    return out.getvalue()


def read_sensitivity_csv(text: str, source: str = "sensitivity.csv") -> list[dict[str, Any]]:
    """The rows :func:`sensitivity_csv` wrote, numbers as floats (an empty cell is NaN), so a saved run's
    ranking and charts can be made again. Raises SensitivityError naming ``source`` when the header is
    neither method's columns or a number does not parse."""
    reader = csv.reader(io.StringIO(text))
    header = tuple(next(reader, ()))
    if header not in (MORRIS_COLUMNS, SOBOL_COLUMNS):
        raise SensitivityError(f"{source}: expected the columns {', '.join(MORRIS_COLUMNS)} (morris) or "
                               f"{', '.join(SOBOL_COLUMNS)} (sobol), found {', '.join(header) or 'nothing'}")
    rows = []
    for line, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            raise SensitivityError(f"{source}, line {line}: {len(cells)} cells, expected {len(header)}")
        row: dict[str, Any] = dict(zip(header[:2], cells[:2], strict=True))
        for column, cell in zip(header[2:], cells[2:], strict=True):
            try:
                row[column] = float(cell) if cell else math.nan
            except ValueError:
                raise SensitivityError(f"{source}, line {line}: {column} = {cell!r} is not a number") from None
        rows.append(row)
    return rows


def _index(row: dict[str, Any]) -> float:
    value = row["mu_star"] if "mu_star" in row else row["st"]
    return 0.0 if math.isnan(value) else float(value)


def ranking(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One sentence per metric, inputs from the most to the least influential, e.g. "time_to_created_s.p95:
    dataverse.latency.write.median drives it (μ* 8.5 min); api.cache_ttl barely matters (μ* 0.0 s)"."""
    sentences = []
    for metric in dict.fromkeys(row["metric"] for row in rows):
        ranked = sorted((r for r in rows if r["metric"] == metric), key=_index, reverse=True)
        top = _index(ranked[0])
        name = "μ*" if "mu_star" in ranked[0] else "ST"
        parts = []
        for place, row in enumerate(ranked):
            value = _index(row)
            shown = f"{name} {metric_text(metric, value) if name == 'μ*' else f'{value:.3g}'}"  # μ*: the metric's unit
            if top <= 0 or value < BARELY * top:
                parts.append(f"{row['input']} barely matters ({shown})")
            elif place == 0:
                parts.append(f"{row['input']} drives it ({shown})")
            else:
                parts.append(f"{row['input']} matters less ({shown}, {value / top:.0%} of the first)")
        if top <= 0:
            parts = [f"no input moves it ({name} 0 for all)"]
        sentences.append(f"{metric}: " + "; ".join(parts))
    return sentences
