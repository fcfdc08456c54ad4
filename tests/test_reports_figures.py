"""The figures that answer the planner's questions, checked against the run they draw (no pixel tests).

- "When is the last registration in Dataverse?": the cumulative figure and the "Last created" row;
- "Is creation flat at the ceiling?": created against the ceiling on its own, readable scale;
- "How long do people wait?": the time-to-created CDF on a linear axis ticked in minutes and hours;
- "Are we throttled?": the 429s on their own axis, not under the admitted calls.

Each is checked on a synthetic run (``fixtures_runs``, where every total is known) and on a real virtual run of
a small scenario whose demand is above one app user's ceiling, so it builds a backlog and draws 429s.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from fixtures_runs import make_run
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import reports
from reports import series
from reports.figures import cumulative_figure, latency_figure, throttling_figure, throughput_figure
from reports.headline import HEADLINE, format_count, format_duration
from reports.plotting import duration_label, duration_step_s, duration_ticks, time_axis
from simulator.engine.virtual import run_virtual
from simulator.records import run_files
from simulator.scenario import parse_scenario, scenario_to_toml

# Demand 12/s for 10 minutes against one app user's ceiling of 6000 / 300 s ÷ calls per registration: a
# backlog that drains after the arrivals stop, with 429s while it lasts.
BACKLOG = """
name = "backlog"
seed = 3
horizon = "2h"
bin = "10s"
[catalog]
events = 1
capacity = 0
session_capacity = 0
[workload]
shape = "constant"
rate = 12
duration = "10m"
browse_per_submission = 0
[workload.mix]
event = 1.0
session = 0.0
waitlist = 0.0
[api]
processors = 48
"""


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> reports.RunData:
    return reports.load_run(make_run(tmp_path_factory.mktemp("fig"), "email-blast-20250101T090000", pending=5))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> reports.RunData:
    scenario = parse_scenario(tomllib.loads(BACKLOG), "backlog")
    run = run_virtual(scenario)
    run_dir = tmp_path_factory.mktemp("sim") / "backlog"
    run_dir.mkdir()
    for name, text in run_files(run.recorder, run.summary, scenario_to_toml(scenario)).items():
        (run_dir / name).write_text(text, encoding="utf-8")
    return reports.load_run(run_dir)


@pytest.fixture(params=["synthetic", "simulated"])
def run(request: pytest.FixtureRequest) -> reports.RunData:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def lines_by_label(figure: Figure) -> dict[str, tuple[Axes, object]]:
    return {str(line.get_label()): (ax, line) for ax in figure.axes for line in ax.get_lines()}


def label_starting(figure: Figure, prefix: str) -> tuple[Axes, object]:
    found = [value for label, value in lines_by_label(figure).items() if label.startswith(prefix)]
    assert len(found) == 1, f"expected one line labelled {prefix!r}, got {sorted(lines_by_label(figure))}"
    return found[0]


# --- when is the last registration in Dataverse? --------------------------------------------------------------


def test_cumulative_counts_end_at_the_summary_totals(run: reports.RunData) -> None:
    data = series.cumulative_series(run)
    totals = run.summary["submissions"]
    assert data.offered[-1] == totals["offered"]
    assert data.accepted[-1] == totals["accepted"]
    assert data.created[-1] == totals["created"]
    assert data.dead_lettered[-1] == totals["dead_lettered"]
    assert data.backlog[-1] == totals["pending"]
    assert data.t_s[0] == 0 and data.offered[0] == data.created[0] == 0
    for counts in (data.offered, data.accepted, data.created, data.dead_lettered):
        assert np.all(np.diff(counts) >= 0), "a running total went down"
    assert np.all(data.backlog >= 0) and np.all(data.accepted <= data.offered)


def test_the_last_created_time_is_the_summarys(run: reports.RunData) -> None:
    data = series.cumulative_series(run)
    assert data.last_created_s == pytest.approx(run.summary["last_created_s"], abs=1e-3)
    assert data.last_offered_s == pytest.approx(float(np.nanmax(run.submissions.offered_s)))
    # By the end of the bin holding the last creation every created record is counted, and not before it.
    bin_end = data.t_s[np.searchsorted(data.t_s, data.last_created_s)]
    assert data.created[data.t_s == bin_end][0] == run.summary["submissions"]["created"]
    assert data.created[data.t_s < data.last_created_s][-1] < run.summary["submissions"]["created"]


def test_the_cumulative_figure_draws_the_totals_and_marks_the_last_created(run: reports.RunData) -> None:
    data = series.cumulative_series(run)
    figure = cumulative_figure(run)
    scale, _ = time_axis(float(run.timeseries.t_s[-1] + run.bin_s))
    _, created = label_starting(figure, "created (")
    np.testing.assert_allclose(created.get_ydata(), data.created)  # type: ignore[attr-defined]
    np.testing.assert_allclose(created.get_xdata(), data.t_s / scale)  # type: ignore[attr-defined]
    assert f"created ({format_count(run.summary['submissions']['created'])})" in lines_by_label(figure)
    [ax] = figure.axes
    vertical = [line.get_xdata()[0] for line in ax.get_lines() if len(set(line.get_xdata())) == 1]
    assert data.last_created_s is not None
    assert any(x == pytest.approx(data.last_created_s / scale) for x in vertical)
    labels = " ".join(text.get_text() for text in ax.texts)
    assert f"last created {format_duration(data.last_created_s)}" in labels
    drain = data.last_created_s - (data.last_offered_s or 0.0)
    assert (f"{format_duration(drain)} after the last arrival" if drain > 0 else "before the last arrival") in labels
    waiting = run.summary["submissions"]["pending"]
    assert (f"{format_count(waiting)} still waiting at the end" in labels) == (waiting > 0)


def test_the_simulated_backlog_closes_only_when_the_last_record_is_created(simulated: reports.RunData) -> None:
    data = series.cumulative_series(simulated)
    assert data.backlog.max() > 1000, "demand above the ceiling must build a backlog"
    open_until = data.t_s[np.flatnonzero(data.backlog > 0)[-1]]
    assert data.last_created_s is not None
    assert open_until <= data.last_created_s <= open_until + simulated.bin_s + 1e-6


@pytest.mark.slow  # draws every figure of a run
def test_the_headline_table_has_a_last_created_row(tmp_path: Path) -> None:
    [metric] = [m for m in HEADLINE if m.key == "last_created"]
    report = reports.write_report([make_run(tmp_path, "email-blast-20250101T090000")])
    html = report.read_text(encoding="utf-8")
    run = reports.load_run(report.parent)
    assert f"<td>{metric.label}</td><td>{format_duration(run.summary['last_created_s'])}</td>" in html
    assert metric.label.startswith("Last created")


# --- created against the ceiling, on its own scale ---------------------------------------------------------


def test_created_against_the_ceiling_has_its_own_readable_panel(run: reports.RunData) -> None:
    data = series.throughput_series(run)
    figure = throughput_figure(run)
    ceiling_ax, _ = label_starting(figure, "analytic ceiling")
    window_ax, window = label_starting(figure, "created /s over the last")
    offered_ax, _ = label_starting(figure, "offered /s")
    assert ceiling_ax is window_ax and ceiling_ax is not offered_ax, "created and the ceiling share the demand axis"
    np.testing.assert_allclose(window.get_ydata(), data.created_window_per_s)  # type: ignore[attr-defined]
    low, high = ceiling_ax.get_ylim()
    assert (low, high) == (0, pytest.approx(data.created_axis_top_per_s))
    assert data.ceiling_created_per_s is not None
    # Readable: the ceiling sits in the upper half of its panel, and the windowed rate fits under the top.
    assert data.ceiling_created_per_s / high >= 0.5
    assert np.nanmax(data.created_window_per_s) <= high


def test_the_simulated_run_creates_flat_at_the_ceiling(simulated: reports.RunData) -> None:
    data = series.throughput_series(simulated)
    ceiling = data.ceiling_created_per_s
    assert ceiling is not None
    # While the backlog lasts the exact sliding-window limit keeps the windowed rate at or under the ceiling;
    # the model's own limit, not a tuned number, sets both.
    backlog = series.cumulative_series(simulated).backlog[1:] > 0
    busy = data.created_window_per_s[backlog][int(300 / data.bin_s):]  # after the first full window
    assert busy.size > 0
    assert busy.max() <= ceiling * 1.02
    assert np.median(busy) >= ceiling * 0.9


def test_the_created_axis_top_ignores_per_bin_bursts() -> None:
    bursts = np.array([0.0, 60.0, 0.0, 0.0, 60.0])
    window = np.array([0.0, 5.0, 5.0, 5.0, 5.5])
    assert series.created_axis_top_per_s(5.7, window, bursts) == pytest.approx(1.5 * 5.7)
    assert series.created_axis_top_per_s(None, window, bursts) == pytest.approx(1.5 * 5.5)
    assert series.created_axis_top_per_s(None, np.zeros(3), np.array([0.0, 2.0, 1.0])) == pytest.approx(3.0)
    assert series.created_axis_top_per_s(None, np.zeros(0), np.zeros(0)) == 1.0


# --- time to created in minutes and hours ------------------------------------------------------------------


@pytest.mark.parametrize(("top_s", "expected"), [
    (8856, [(0, "0"), (1800, "30 min"), (3600, "1 h"), (5400, "1 h 30"), (7200, "2 h")]),
    (45, [(0, "0"), (10, "10 s"), (20, "20 s"), (30, "30 s"), (40, "40 s")]),
    (1500, [(0, "0"), (300, "5 min"), (600, "10 min"), (900, "15 min"), (1200, "20 min"), (1500, "25 min")]),
    (30 * 3600, [(i * 6 * 3600, "0" if i == 0 else f"{6 * i} h") for i in range(6)]),
])
def test_duration_ticks_are_round_minutes_and_hours(top_s: float, expected: list[tuple[float, str]]) -> None:
    assert duration_ticks(top_s) == expected


def test_duration_steps_keep_the_axis_uncrowded() -> None:
    for top_s in (1, 59, 61, 599, 3599, 3601, 6 * 3600, 24 * 3600, 10 * 86400):
        assert top_s / duration_step_s(top_s) <= 8
    assert duration_label(90 * 60) == "1 h 30" and duration_label(26 * 3600) == "26 h"


def test_the_cdf_is_drawn_on_a_linear_axis_in_minutes_and_hours(run: reports.RunData) -> None:
    cdf = series.time_to_created_cdf(run)
    figure = latency_figure(run)
    left = figure.axes[0]
    assert left.get_xscale() == "linear"
    [line] = [drawn for drawn in left.get_lines() if drawn.get_label() != "_continued"]
    for continued in [drawn for drawn in left.get_lines() if drawn.get_label() == "_continued"]:
        # The final share carries on to the right edge, so a curve that ends early stays visible.
        assert list(continued.get_ydata()) == [cdf.share[-1]] * 2
        assert continued.get_xdata()[-1] == pytest.approx(left.get_xlim()[1])
    np.testing.assert_allclose(line.get_xdata()[1:], cdf.seconds)
    np.testing.assert_allclose(line.get_ydata()[1:], cdf.share)
    assert line.get_xdata()[0] == 0 and line.get_ydata()[0] == 0
    figure.canvas.draw()
    ticks = [(tick, text.get_text()) for tick, text in zip(left.get_xticks(), left.get_xticklabels(), strict=True)
             if 0 <= tick <= left.get_xlim()[1]]
    assert ticks, "no tick on the CDF's time axis"
    for tick, label in ticks:
        assert label == duration_label(tick)
    assert left.get_xlim()[1] >= cdf.seconds.max()
    assert "(s, log)" not in left.get_xlabel()


# --- 429s on their own axis --------------------------------------------------------------------------------


def test_the_429s_have_their_own_axis_and_add_up(run: reports.RunData) -> None:
    data = series.throttling_series(run)
    figure = throttling_figure(run)
    admitted_ax, _ = label_starting(figure, "admitted /s")
    smooth_ax, smooth = label_starting(figure, "429s /s over the last")
    assert smooth_ax is not admitted_ax, "the 429 line shares the admitted calls' axis"
    total = run.summary["dataverse"]["throttled"]
    assert data.throttled_per_s.sum() * data.bin_s == pytest.approx(total)
    assert f"({format_count(total)} in all)" in str(smooth.get_label())  # type: ignore[attr-defined]
    # The smoothed line is the trailing-minute mean of the per-bin counts, computed here independently.
    counts = run.timeseries["dv_throttled"] if len(run.timeseries) <= series.MAX_POINTS else None
    if counts is not None:
        k = max(1, round(data.smooth_s / data.bin_s))
        expected = [counts[max(0, i - k + 1): i + 1].sum() / (k * data.bin_s) for i in range(len(counts))]
        np.testing.assert_allclose(smooth.get_ydata(), expected)  # type: ignore[attr-defined]
    assert smooth_ax.get_ylim()[1] >= np.max(data.throttled_smooth_per_s)


def test_the_simulated_run_was_throttled(simulated: reports.RunData) -> None:
    data = series.throttling_series(simulated)
    assert simulated.summary["dataverse"]["throttled"] > 0
    assert data.throttled_smooth_per_s.max() > 0


# --- nothing cut at the figure's edge ---------------------------------------------------------------------------


def texts_outside(figure: Figure) -> list[str]:
    """What reaches past the figure's edge once drawn: a text (title, annotation, legend entry) or an axes' tick
    labels and axis labels (ticks outside the view are not drawn, so they are not counted)."""
    from matplotlib.text import Text

    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    figure.draw(renderer)
    inside = figure.bbox.padded(1)
    out = []
    ticks = {id(label) for ax in figure.axes for axis in (ax.xaxis, ax.yaxis)
             for label in axis.get_ticklabels(which="both")}
    for text in figure.findobj(Text):
        if id(text) in ticks or not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        if not (inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)):
            out.append(f"{text.get_text()!r} at x {box.x0:.0f}–{box.x1:.0f}, y {box.y0:.0f}–{box.y1:.0f}")
    for ax in figure.axes:
        box = ax.get_tightbbox(renderer)
        if box is not None and not (inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)):
            out.append(f"axes {ax.get_title()!r} (ticks and labels) at x {box.x0:.0f}–{box.x1:.0f}")
    return out


def test_a_legend_below_with_long_labels_stays_inside_the_figure() -> None:
    """Five long labels in one row are wider than a 10-inch figure (the report's first figure cut "confirmed
    (62,06…" at its right edge): the legend takes fewer columns instead."""
    from reports.plotting import legend_below, new_figure

    figure = new_figure(10, 4.8)
    ax = figure.add_subplot()
    labels = ["offered (62,244)", "accepted (62,066)", "backlog: accepted, still waiting (peak 50,496)",
              "created (62,066)", "confirmed (62,066)"]
    handles = [ax.plot([0, 1], [i, i], label=label)[0] for i, label in enumerate(labels)]
    legend_below(figure, handles, labels, columns=5)
    assert texts_outside(figure) == []
    [legend] = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == labels  # every entry kept


def test_no_text_of_a_run_figure_is_cut_at_the_edge(run: reports.RunData) -> None:
    for chart in reports.figures.run_charts(run):
        assert texts_outside(chart.figure) == [], chart.slug
