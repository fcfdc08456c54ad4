"""The data behind each figure agrees with the run it came from; run directories load, or fail naming the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fixtures_runs import make_run
from matplotlib.figure import Figure

import reports
from reports import rundata, series
from reports.comparison import comparison_table, variant_labels, varied_settings
from reports.headline import HEADLINE, best_indices, format_duration
from reports.rundata import RUN_FILES, NotARunDirectory, RunDataError, load_run
from reports.write import render


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs"), "email-blast-20250101T090000", pending=5)


@pytest.fixture(scope="module")
def run(run_dir: Path) -> reports.RunData:
    return load_run(run_dir)


# --- loading -----------------------------------------------------------------------------------------------


def test_load_run_reads_every_submission_and_bin(run: reports.RunData) -> None:
    summary = run.summary
    subs = run.submissions
    assert len(subs) == summary["submissions"]["offered"]
    for outcome in ("created", "dead_lettered", "rejected", "pending"):
        assert subs.count(outcome) == summary["submissions"][outcome]
    assert run.bin_s == 10.0
    assert len(run.timeseries) == len(run.timeseries.t_s) > 10
    assert "future_column" in run.timeseries.columns  # unknown columns are kept, not fatal


def test_empty_cells_are_nan_and_codes_are_known(run: reports.RunData) -> None:
    subs = run.submissions
    rejected = subs.outcome == rundata.OUTCOMES.index("rejected")
    assert np.isnan(subs.accepted_s[rejected]).all()
    assert np.isnan(subs.created_s[~subs.created]).all()
    assert not np.isnan(subs.created_s[subs.created]).any()
    assert set(np.unique(subs.kind)) <= set(range(len(rundata.KINDS)))


def test_fast_and_fallback_parsers_agree(run_dir: Path) -> None:
    # The fixture writes \r\n line ends, empty cells and quoted reasons with commas, as csv.writer does.
    file = run_dir / "submissions.csv"
    columns = [1, 2, 3, 4, 5, 6]  # kind … outcome
    fast = rundata._parse_fast(file.read_bytes(), columns)
    slow = rundata._parse_slow(file, columns)
    np.testing.assert_array_equal(fast, slow)


def test_a_run_with_no_submissions_loads_and_draws(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "empty", submissions=50)
    lines = (run_dir / "submissions.csv").read_text().splitlines()
    (run_dir / "submissions.csv").write_text(lines[0] + "\n")
    empty = load_run(run_dir)
    assert len(empty.submissions) == 0
    assert series.time_to_created_cdf(empty).count.size == 0
    latency = reports.run_charts(empty)[-1]
    assert render(latency).png.startswith(b"\x89PNG")


@pytest.mark.parametrize("missing", RUN_FILES)
def test_a_missing_run_file_is_named(tmp_path: Path, missing: str) -> None:
    run_dir = make_run(tmp_path, "broken", submissions=50)
    (run_dir / missing).unlink()
    with pytest.raises(NotARunDirectory, match=missing) as caught:
        load_run(run_dir)
    assert caught.value.missing == run_dir / missing


def test_paths_that_are_not_directories_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotARunDirectory, match="no such directory"):
        load_run(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotARunDirectory, match="a file, not a directory"):
        load_run(tmp_path / "file.txt")


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "no-created", submissions=50)
    text = (run_dir / "timeseries.csv").read_text().replace("dv_throttled_execution", "something_else", 1)
    (run_dir / "timeseries.csv").write_text(text)
    with pytest.raises(RunDataError, match=r"timeseries\.csv.*dv_throttled_execution"):
        load_run(run_dir)


def test_bad_json_names_the_file(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "bad-json", submissions=50)
    (run_dir / "summary.json").write_text("{not json")
    with pytest.raises(RunDataError, match=r"summary\.json: not valid JSON"):
        load_run(run_dir)


# --- the data behind the figures ---------------------------------------------------------------------------


def test_throughput_series_sums_to_the_summary_totals(run: reports.RunData) -> None:
    data = series.throughput_series(run)
    totals = run.summary["submissions"]
    assert data.offered_per_s.sum() * data.bin_s == pytest.approx(totals["offered"])
    assert data.accepted_per_s.sum() * data.bin_s == pytest.approx(totals["accepted"])
    assert data.created_per_s.sum() * data.bin_s == pytest.approx(totals["created"])
    assert data.ceiling_created_per_s == pytest.approx(run.summary["capacity"]["ceiling_created_per_s"])
    assert data.queue_depth[-1] == totals["pending"]


def test_created_over_the_limit_window_never_exceeds_the_ceiling(run: reports.RunData) -> None:
    # The fixture creates at exactly the ceiling while a backlog lasts, as an exact sliding-window limit would.
    data = series.throughput_series(run)
    assert data.window_s == 300
    assert data.created_window_per_s.max() <= data.ceiling_created_per_s * 1.01
    assert data.created_window_per_s.max() >= data.ceiling_created_per_s * 0.9


def test_coarsening_keeps_sums_and_end_of_bin_levels(run: reports.RunData) -> None:
    coarse = series.coarsen(run.timeseries, max_bins=7)
    assert len(coarse) <= 7
    assert coarse.bin_s == run.bin_s * -(-len(run.timeseries) // 7)
    for name in ("offered", "created", "dv_throttled"):
        assert coarse[name].sum() == run.timeseries[name].sum()
    assert coarse["queue_depth"][-1] == run.timeseries["queue_depth"][-1]


def test_throttled_split_adds_up_to_throttled(run: reports.RunData) -> None:
    data = series.throttling_series(run)
    np.testing.assert_allclose(sum(data.throttled_by.values()), data.throttled_per_s)
    assert set(data.throttled_by) == {"requests", "execution", "concurrency"}
    dv = run.summary["dataverse"]
    assert data.throttled_per_s.sum() * data.bin_s == pytest.approx(dv["throttled"])
    assert data.admitted_per_s.sum() * data.bin_s == pytest.approx(dv["admitted"])
    for limit, count in dv["throttled_by"].items():
        assert data.throttled_by[limit].sum() * data.bin_s == pytest.approx(count)


def test_unexplained_throttling_shows_as_other(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "other", submissions=300)
    lines = (run_dir / "timeseries.csv").read_text().splitlines()
    header = lines[0].split(",")
    at = header.index("dv_throttled")
    cells = lines[1].split(",")
    cells[at] = str(int(cells[at]) + 5)
    (run_dir / "timeseries.csv").write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    data = series.throttling_series(load_run(run_dir))
    assert data.throttled_by["other"].sum() * data.bin_s == pytest.approx(5)
    np.testing.assert_allclose(sum(data.throttled_by.values()), data.throttled_per_s)


def test_cache_hit_ratio_matches_the_summary(run: reports.RunData) -> None:
    data = series.cache_series(run)
    assert data.overall_hit_ratio == pytest.approx(run.summary["cache"]["hit_ratio"])
    lookups = run.timeseries["cache_hits"] + run.timeseries["cache_misses"]
    assert np.isnan(data.hit_ratio[lookups == 0]).all()
    assert ((data.hit_ratio[lookups > 0] >= 0) & (data.hit_ratio[lookups > 0] <= 1)).all()


def test_cdf_ends_at_the_created_count(run: reports.RunData) -> None:
    cdf = series.time_to_created_cdf(run)
    assert cdf.count[-1] == run.summary["submissions"]["created"]
    assert cdf.share[-1] == pytest.approx(run.summary["submissions"]["created"] / run.summary["submissions"]["offered"])
    assert cdf.seconds[-1] == pytest.approx(run.summary["time_to_created_s"]["max"], abs=2e-3)
    assert (np.diff(cdf.seconds) >= 0).all() and (np.diff(cdf.count) > 0).all()


def test_cdf_is_subsampled_but_keeps_both_ends(tmp_path: Path) -> None:
    big = load_run(make_run(tmp_path, "big", submissions=20_000, rejected_share=0, dead_share=0))
    cdf = series.time_to_created_cdf(big, max_points=500)
    assert len(cdf.seconds) <= 500
    assert cdf.count[0] == 1 and cdf.count[-1] == 20_000
    waits = np.sort(big.submissions.time_to_created_s())
    np.testing.assert_array_equal(cdf.seconds, waits[cdf.count - 1])


def test_percentiles_by_submission_time_cover_every_created_registration(run: reports.RunData) -> None:
    data = series.latency_by_submission_time(run)
    assert data.created.sum() == run.summary["submissions"]["created"]
    filled = ~np.isnan(data.p50)
    assert ((data.p50 <= data.p95) & (data.p95 <= data.p99))[filled].all()
    assert np.isnan(data.p50[data.created == 0]).all()
    assert data.bucket_s == 30  # 900 s of arrivals in about 30 round buckets


def test_attempts_histogram_adds_up_to_created(run: reports.RunData) -> None:
    data = series.attempts_histogram(run)
    assert data.created.sum() == run.summary["submissions"]["created"]
    assert data.attempts[0] == 1
    assert data.mean == pytest.approx(run.summary["attempts_per_created"])


@pytest.mark.slow  # a fresh interpreter
def test_figures_are_built_without_pyplot(run_dir: Path) -> None:
    # In a fresh interpreter, since other tests may import pyplot: building every chart never touches it.
    code = (
        "import sys, reports\n"
        f"run = reports.load_run({str(run_dir)!r})\n"
        "charts = reports.run_charts(run)\n"
        "assert [c.slug for c in charts] == ['cumulative', 'throughput', 'throttling', 'cache', 'latency']\n"
        "assert all(c.figure.axes for c in charts)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    "build", [reports.cumulative_figure, reports.throughput_figure,
               reports.throttling_figure, reports.cache_figure, reports.latency_figure]
)
def test_figure_functions_return_figures(run: reports.RunData, build: Callable[[reports.RunData], Figure]) -> None:
    assert isinstance(build(run), Figure)


def test_throughput_figure_draws_the_series(run: reports.RunData) -> None:
    figure = reports.throughput_figure(run)
    lines = {line.get_label(): line for ax in figure.axes for line in ax.get_lines()}
    data = series.throughput_series(run)
    # Per-bin bursts above the created panel's top are drawn clipped to it (the figure says so).
    np.testing.assert_allclose(lines["created /s per bin"].get_ydata(),
                               np.minimum(data.created_per_s, data.created_axis_top_per_s))
    assert lines["analytic ceiling 6.67/s"].get_ydata()[0] == pytest.approx(20 / 3)


# --- verdict -----------------------------------------------------------------------------------------------


def test_verdict_names_the_binding_limit_the_ceiling_and_the_losses(run: reports.RunData) -> None:
    text = " ".join(reports.run_verdict(run).sentences)
    assert "Dataverse requests limit (6,000 per 5 min per key) binds" in text
    assert "analytic ceiling is 6.67 registrations created per second" in text
    assert "1 key × 6,000 requests per 5 min ÷ 3 calls per registration" in text
    assert "is 2.0× the ceiling" in text or "× the ceiling, so a backlog builds" in text
    assert f"Draining the backlog took {format_duration(run.summary['throughput']['drain_s'])}" in text
    dead = run.summary["submissions"]["dead_lettered"]
    assert f"{dead} submissions" in text and "deadline reached (6h), last error 0x80072322" in text
    assert "5 submissions still pending" in text
    assert "rejected at validation: validation read throttled (429)" in text


def test_a_clean_run_says_nothing_was_lost(tmp_path: Path) -> None:
    clean = load_run(
        make_run(tmp_path, "clean", submissions=200, dead_share=0, rejected_share=0, app_users=4,
                 throttle_per_retry=0)
    )
    summary = json.loads((clean.path / "summary.json").read_text())
    text = " ".join(reports.run_verdict(clean).sentences)
    assert "Nothing was dead-lettered." in text
    assert "rejected" not in text and "pending" not in text
    assert summary["demand"]["peak_offered_per_s"] < summary["capacity"]["ceiling_created_per_s"]
    assert "stays below it" in text


# --- comparisons -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> list[reports.RunData]:
    parent = tmp_path_factory.mktemp("pair")
    fast = make_run(parent, "jitter", policy="full-jitter", dead_share=0.0, throttle_per_retry=0.2)
    slow = make_run(parent, "plain", policy="exponential", slowdown=4, dead_share=0.03)
    return [load_run(fast), load_run(slow)]


def test_varied_settings_and_labels(pair: list[reports.RunData]) -> None:
    varied = varied_settings(pair)
    assert varied == {"retry.policy": ["full-jitter", "exponential"]}
    assert variant_labels(pair, varied) == ["full-jitter", "exponential"]  # as `stampede compare` labels them


def test_identical_scenarios_are_labelled_by_directory(tmp_path: Path) -> None:
    a = load_run(make_run(tmp_path, "a", submissions=50))
    b_dir = tmp_path / "b"
    shutil.copytree(a.path, b_dir)
    assert variant_labels([a, load_run(b_dir)]) == ["a", "b"]


def test_comparison_table_marks_the_best_of_each_column(pair: list[reports.RunData]) -> None:
    table = comparison_table(pair, ["jitter", "plain"])
    column = {metric.key: c for c, metric in enumerate(table.metrics)}
    assert table.best[column["created"]] == {0}
    assert table.best[column["dead_lettered"]] == {0}
    assert table.best[column["p95"]] == {0}
    assert table.best[column["drain"]] == {0}
    assert table.best[column["throttled_share"]] == {0}
    common = {metric.key for metric, _ in table.common}
    assert {"offered", "ceiling", "binding"} <= common  # equal everywhere: shown once, not as a column
    assert not common & set(column)


@pytest.mark.parametrize(
    ("values", "better", "best"),
    [
        ([3, 1, 2], "lower", {1}),
        ([3, 1, 3], "higher", {0, 2}),
        ([2, 2], "lower", set()),
        ([None, 4.0], "lower", set()),
        ([1, 2], None, set()),
        ([float("nan"), 1.0, 2.0], "higher", {2}),
    ],
    ids=["lower", "tie-higher", "all-equal", "one-known", "unranked", "nan-ignored"],
)
def test_best_indices(values: list[float | None], better: str | None, best: set[int]) -> None:
    assert best_indices(values, better) == best  # type: ignore[arg-type]


def test_comparison_verdict_explains_the_ranking(pair: list[reports.RunData]) -> None:
    labels = ["policy=full-jitter", "policy=exponential"]
    verdict = reports.comparison_verdict(pair, labels, varied_settings(pair))
    assert reports.rank(pair) == [0, 1]
    assert verdict.ranking[0].startswith("policy=full-jitter: created")
    text = " ".join(verdict.sentences)
    assert "policy=full-jitter ranks first: against policy=exponential" in text
    assert "created more of the offered submissions" in text
    assert "Dead letters — policy=exponential" in text


def test_every_headline_metric_reads_a_value(run: reports.RunData) -> None:
    for metric in HEADLINE:
        assert metric.display(metric.value(run)) != "—", metric.key
