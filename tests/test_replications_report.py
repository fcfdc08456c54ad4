"""A replicated run directory and its report: the files' columns, the intervals, the bands, the draws."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

import reports
from simulator.engine.replicate import replicate
from simulator.replications import replicated_files, replicated_summary
from simulator.scenario import parse_scenario, scenario_to_toml
from simulator.stats import HEADLINE_METRICS
from simulator.uncertain import parse_uncertain

TINY = {
    "name": "tiny", "seed": 5, "horizon": "30m",
    "catalog": {"events": 1, "capacity": 0, "session_capacity": 0},
    "workload": {"shape": "constant", "rate": 4, "duration": "3m", "browse_per_submission": 1},
    "api": {"processors": 4},
    "uncertain": {"workload.rate": {"dist": "uniform", "low": 2, "high": 6},
                  "dataverse.latency.write.median": {"dist": "uniform", "low": "40ms", "high": "120ms"}},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = parse_scenario(TINY)
    entries = parse_uncertain(scenario, "tiny")
    [results] = replicate([scenario], [[]], entries, 6, sampling="lhs", source="tiny", workers=1)
    summary = replicated_summary(results, seed=scenario.seed, confidence=0.9, sampling="lhs",
                                 uncertain={e.key: e.describe() for e in entries})
    path = tmp_path_factory.mktemp("rep") / "tiny"
    path.mkdir()
    for name, text in replicated_files(results, summary, scenario_to_toml(scenario),
                                       [e.key for e in entries]).items():
        (path / name).write_text(text, encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_replications_csv_has_the_fixed_columns_and_one_row_per_replication(run_dir: Path) -> None:
    rows = _rows(run_dir / "replications.csv")
    assert list(rows[0]) == ["replication", "seed", "workload.rate", "dataverse.latency.write.median",
                             *HEADLINE_METRICS]
    assert [int(r["replication"]) for r in rows] == list(range(6))
    summary = json.loads((run_dir / "summary.json").read_text())
    block = summary["replications"]
    assert block["n"] == 6 and block["confidence"] == 0.9 and block["sampling"] == "lhs"
    created = np.array([float(r["submissions.created"]) for r in rows])
    entry = block["metrics"]["submissions.created"]
    assert entry["mean"] == pytest.approx(created.mean()) == summary["submissions"]["created"]
    assert entry["min"] == created.min() and entry["max"] == created.max()
    assert entry["ci_low"] < entry["mean"] < entry["ci_high"]
    for key in ("submissions.offered", "time_to_created_s.p95", "time_to_confirmed_s.p95",
                "throughput.mean_created_per_s",
                "dataverse.throttled", "cache.hit_ratio", "attempts_per_created"):
        assert key in block["metrics"]
    rates = [float(r["workload.rate"]) for r in rows]
    assert min(rates) >= 2 and max(rates) <= 6 and len(set(rates)) == 6


def test_bands_are_percentiles_across_the_replications(run_dir: Path) -> None:
    replications = _rows(run_dir / "replications.csv")
    bands = {(r["series"], float(r["x"])): r for r in _rows(run_dir / "bands.csv")}
    median_p50 = float(np.median([float(r["time_to_created_s.p50"]) for r in replications]))
    assert float(bands[("time_to_created_s", 0.5)]["p50"]) == pytest.approx(median_p50, abs=2e-3)
    created = [r for (series, _), r in bands.items() if series == "created_per_s"]
    bin_s = json.loads((run_dir / "summary.json").read_text())["bin_s"]
    assert all(float(r["p05"]) <= float(r["p50"]) <= float(r["p95"]) for r in created)
    total_median = sum(float(r["p50"]) for r in created) * bin_s
    assert total_median == pytest.approx(np.median([float(r["submissions.created"]) for r in replications]),
                                         rel=0.2)


@pytest.mark.slow  # renders every figure of a replicated run
def test_the_report_shows_intervals_bands_and_the_drawn_inputs(run_dir: Path) -> None:
    page = reports.write_report([run_dir]).read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    entry = summary["replications"]["metrics"]["submissions.created"]
    half = (entry["ci_high"] - entry["ci_low"]) / 2
    assert f"<td>Created</td><td>{entry['mean']:,.0f} ± {half:.2g}</td>" in page or \
        f"<td>Created</td><td>{entry['mean']:,.0f} ± {half:,.0f}</td>" in page
    assert 'id="fig-replications"' in page and (run_dir / "replications.png").is_file()
    assert "workload.rate" in page and "uniform(low=2.0, high=6.0)" in page


def test_every_single_run_figure_says_it_is_one_sample_path(run_dir: Path) -> None:
    """The headline holds means; the single-run figures draw replication 1: each says so, none passes for the
    table above it."""
    page = reports.write_report([run_dir]).read_text()
    titles = re.findall(r"<h3>([^<]*)</h3>", page)
    single = [t for t in titles if "replication" not in t.lower() or "one sample path" in t]
    assert single and all(t.endswith("(replication 1: one sample path)") for t in single
                          if t not in ("Replications", "Across replications")), titles
    assert "One sample path: the curves are replication 1 (seed " in page


def test_a_drawn_duration_is_shown_as_a_duration() -> None:
    from reports.replicated import drawn_text

    assert drawn_text(0.04662, "uniform(low=40ms, high=120ms)") == "47 ms"
    assert drawn_text(5400.0, 'lognormal(median="1h", p95="3h")') == "1 h 30 min"
    assert drawn_text(132.3, "triangular(low=80.0, mode=120.0, high=200.0)") == "132.3"


def test_a_replicated_figure_states_the_headlines_figures_not_replication_1s(run_dir: Path) -> None:
    """One truth per page: the cumulative figure's "last created" box and the cache figure's line say the
    headline's mean ± half-width; the curves, replication 1's, carry no totals of their own."""
    from reports.figures import cache_figure, cumulative_figure
    from reports.replicated import headline_rows

    run = reports.load_run(run_dir)
    rows = dict(headline_rows(run))
    last = rows["Last created (from the start of the run)"]
    assert "±" in last
    [ax] = cumulative_figure(run).axes
    box = next(t.get_text() for t in ax.texts if t.get_text().startswith("last created"))
    assert box.splitlines()[0] == f"last created {last}"
    assert f"drain {rows['Drain time after the last arrival']} after the last arrival" in box
    own = json.loads((run_dir / "summary.json").read_text())["replications"]["metrics"]["last_created_s"]
    assert box.splitlines()[0] != "last created " + reports.headline.format_duration(own["min"])
    labels = [str(line.get_label()) for line in ax.get_lines()]
    assert not any(re.search(r"\(\d[\d,]*\)", label) for label in labels), labels  # no replication-1 totals
    cache_labels = [str(line.get_label()) for a in cache_figure(run).axes for line in a.get_lines()]
    assert f"mean of 6 replications {rows['Cache hit ratio']}" in cache_labels


def test_no_text_of_a_replicated_runs_figures_is_cut_at_the_edge(run_dir: Path) -> None:
    from test_reports_figures import texts_outside

    from reports.figures import run_charts
    from reports.replicated import replication_charts

    run = reports.load_run(run_dir)
    for chart in run_charts(run) + replication_charts(run):
        assert texts_outside(chart.figure) == [], chart.slug


def test_a_figure_no_replication_has_is_not_counted_as_not_reached() -> None:
    """Without the confirmation journey no replication has time_to_confirmed_s: it has no interval, and it is
    not "not reached in 2 of 2" either; a p99 null in one replication is."""
    from simulator.replications import ReplicationResult

    def result(i: int, p99: float | None) -> ReplicationResult:
        summary = {"submissions": {"created": 10 + i}, "time_to_created_s": {"p95": 5.0 + i, "p99": p99},
                   "bin_s": 10.0}
        return ReplicationResult(0, i, i, {}, summary, (), ())

    summary = replicated_summary([result(0, 7.0), result(1, None)], seed=1, confidence=0.95, sampling="lhs",
                                 uncertain={})
    block = summary["replications"]
    assert "time_to_confirmed_s.p95" not in block["metrics"]
    assert block["not_reached"] == {"time_to_created_s.p99": 1}
