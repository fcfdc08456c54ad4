"""Service-time distributions of Dataverse calls: today's log-normal unchanged draw for draw, the exponential and
the empirical ones drawn as their definitions say, measured-latency files resolved like workload.trace and
refused in one line when they cannot be used, and runs that honour them.

Statistical checks use fixed seeds; each states how rarely it would fail by chance for an arbitrary seed."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulator import latency
from simulator.engine.virtual import run_virtual
from simulator.scenario import ScenarioError, load_scenario, parse_scenario, scenario_to_toml
from simulator.uncertain import apply_draw, draw, parse_uncertain

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
ALPHA = 0.001  # a distribution test fails by chance once in 1,000 seeds


def draws(sample: latency.Sampler, n: int) -> np.ndarray:
    return np.array([sample() for _ in range(n)])


# --- the samplers ----------------------------------------------------------------------------------------------


def test_lognormal_draws_exactly_what_the_model_drew_before() -> None:
    """Identical results by seed: exp(gauss(μ, σ)) from the same stream, μ = ln median, σ = ln(p99/median)/z."""
    sample = latency.lognormal(0.060, 0.600, random.Random(11))
    before = random.Random(11)
    mu, sigma = math.log(0.060), math.log(0.600 / 0.060) / 2.3263478740408408
    assert [sample() for _ in range(1000)] == [math.exp(before.gauss(mu, sigma)) for _ in range(1000)]


def test_exponential_is_exponential_with_the_given_mean() -> None:
    values = draws(latency.exponential(0.1, random.Random(3)), 20_000)
    assert stats.kstest(values, stats.expon(scale=0.1).cdf).pvalue > ALPHA
    # the mean within 4 standard errors (sd = mean for an exponential): fails by chance < 1 in 10,000
    assert abs(values.mean() - 0.1) < 4 * 0.1 / math.sqrt(len(values))


def test_empirical_draws_are_the_linear_quantiles_of_the_measurements() -> None:
    """Law's piecewise-linear empirical distribution is numpy's default ("linear") quantile function: the draw
    from uniform u is the sample's u-quantile, interpolated between the order statistics."""
    measured = (0.25, 0.04, 0.06, 0.05, 0.9, 0.07, 0.05)
    sample = latency.empirical(measured, random.Random(5))
    uniforms = random.Random(5)
    u = np.array([uniforms.random() for _ in range(2000)])
    assert draws(sample, 2000) == pytest.approx(np.quantile(measured, u), abs=1e-12)


def test_empirical_from_two_values_is_uniform_between_them_and_one_value_is_constant() -> None:
    values = draws(latency.empirical((0.03, 0.01), random.Random(8)), 5000)
    assert values.min() >= 0.01 and values.max() <= 0.03
    assert stats.kstest(values, stats.uniform(0.01, 0.02).cdf).pvalue > ALPHA
    assert set(draws(latency.empirical((0.05,), random.Random(8)), 100)) == {0.05}


# --- the scenario keys -----------------------------------------------------------------------------------------


def test_the_median_p99_form_is_still_the_default_lognormal() -> None:
    scenario = parse_scenario({"dataverse": {"latency": {"read": {"median": "10ms", "p99": "90ms"}}}})
    read, write = scenario.dataverse.latency.read, scenario.dataverse.latency.write
    assert (read.dist, read.median, read.p99) == ("lognormal", 0.010, 0.090)
    assert (write.dist, write.median, write.p99) == ("lognormal", 0.060, 0.600)  # the default, unchanged


def write_files(tmp_path: Path, csv_text: str, latency_toml: str) -> Path:
    (tmp_path / "measured").mkdir()
    (tmp_path / "measured" / "w.csv").write_text(csv_text, encoding="utf-8")
    scenario = tmp_path / "x.toml"
    scenario.write_text(f"[dataverse.latency]\n{latency_toml}\n", encoding="utf-8")
    return scenario


def test_an_empirical_file_is_resolved_against_the_scenario_file_and_round_trips(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_files(tmp_path, "ms\n40\n60\n", 'write = { dist = "empirical", file = "measured/w.csv" }')
    monkeypatch.chdir(SCENARIOS)  # not where the file is: the path is relative to the scenario, not the cwd
    scenario = load_scenario(path)
    assert scenario.dataverse.latency.write.file == str(tmp_path / "measured" / "w.csv")
    copy = tmp_path / "elsewhere.toml"  # as a run directory's scenario.toml is read back
    copy.write_text(scenario_to_toml(scenario), encoding="utf-8")
    assert load_scenario(copy) == scenario
    by_set = load_scenario(tmp_path / "x.toml", ['dataverse.latency.read={dist="empirical", file="measured/w.csv"}'])
    assert by_set.dataverse.latency.read.file == str(tmp_path / "measured" / "w.csv")


@pytest.mark.parametrize(("csv_text", "row", "says"), [
    (None, None, "no such file"),
    ("latency\n40\n", "row 1", "no column ms (found latency)"),
    ("", "row 1", "no column ms (found nothing)"),
    ("ms\n", None, "no latencies below the header"),
    ("ms\n40\n\n55 ms\n", "row 4", "ms = '55 ms' is not a number"),
    ("id,ms\n1,40\n2,-3\n", "row 3", "ms = '-3' — a latency is a finite number of milliseconds ≥ 0"),
    ("ms\nnan\n", "row 2", "ms = 'nan' — a latency is a finite number"),
    ("id,ms\n1\n", "row 2", "ms = '' is not a number"),
], ids=["missing", "no-ms-column", "empty-file", "no-rows", "not-a-number", "negative", "nan", "short-row"])
def test_a_bad_latency_file_is_refused_in_one_line_naming_file_row_and_fix(
        tmp_path: Path, csv_text: str | None, row: str | None, says: str) -> None:
    path = write_files(tmp_path, csv_text or "", 'write = { dist = "empirical", file = "measured/w.csv" }')
    if csv_text is None:
        (tmp_path / "measured" / "w.csv").unlink()
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: dataverse.latency.write.file = 'measured/w.csv' — {tmp_path}/measured/w.csv")
    assert says in message and (row is None or f", {row}:" in message)
    assert "e.g. 42.5" in message  # the fix: what a good file holds


@pytest.mark.parametrize(("table", "says"), [
    ('{ dist = "exponential" }', "dataverse.latency.write.mean = {…} — Field required"),
    ('{ dist = "exponential", mean = "0s" }', "dataverse.latency.write.mean = '0s' — expected more than 0"),
    ('{ dist = "exponential", mean = "1s", meen = "2s" }', 'write.meen is not a scenario key — did you mean "mean"?'),
    ('{ dist = "gamma", mean = "1s" }', "dist = 'gamma' — expected \"lognormal\", \"exponential\" or \"empirical\""),
    ('{ median = "1s" }', "dataverse.latency.write.p99 = {…} — Field required"),
])
def test_a_bad_latency_table_names_the_key_the_file_spells(tmp_path: Path, table: str, says: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(f"[dataverse.latency]\nwrite = {table}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert says in str(caught.value)


# --- runs that use them ------------------------------------------------------------------------------------------


def one_call_per_registration(write: dict[str, object], rate: float = 2.0) -> dict[str, object]:
    """A light load (no queueing: 8 processors, 2/s) where a registration is one write and nothing else; the
    validation reads of cache misses take no time (a median of 0: e^-30 s)."""
    return {
        "horizon": "20m",
        "catalog": {"events": 1, "capacity": 0, "session_capacity": 0},
        "workload": {"shape": "constant", "rate": rate, "duration": "10m", "browse_per_submission": 0,
                     "mix": {"event": 1.0, "session": 0.0, "waitlist": 0.0}},
        "api": {"processors": 8},
        "registration": {"matching": "none"},
        "dataverse": {"latency": {"read": {"median": "0s", "p99": "0s"}, "write": write},
                      "plan": {"contact_write": 0, "registration": 1}},
    }


def test_a_single_measured_latency_is_every_call_time(tmp_path: Path) -> None:
    (tmp_path / "w.csv").write_text("ms\n50\n", encoding="utf-8")
    raw = one_call_per_registration({"dist": "empirical", "file": str(tmp_path / "w.csv")})
    run = run_virtual(parse_scenario(raw))
    times = np.frombuffer(run.recorder.times_to_created_s, dtype=float)
    assert len(times) > 1000 and times == pytest.approx(0.050, abs=1e-9)


def test_an_exponential_write_latency_is_the_time_to_created_of_an_unqueued_run() -> None:
    """With one write per registration and idle processors, time to created is the write's service time."""
    run = run_virtual(parse_scenario(one_call_per_registration({"dist": "exponential", "mean": "100ms"})))
    times = np.frombuffer(run.recorder.times_to_created_s, dtype=float)
    assert len(times) > 1000
    assert stats.kstest(times, stats.expon(scale=0.1).cdf).pvalue > ALPHA


def test_the_latency_stream_is_seeded_by_the_scenario() -> None:
    raw = one_call_per_registration({"dist": "exponential", "mean": "100ms"})
    first, again = (np.frombuffer(run_virtual(parse_scenario(raw)).recorder.times_to_created_s) for _ in range(2))
    other = np.frombuffer(run_virtual(parse_scenario({**raw, "seed": 8})).recorder.times_to_created_s)
    assert np.array_equal(first, again) and not np.array_equal(first[:100], other[:100])


def test_the_shipped_example_file_loads_and_a_run_uses_it() -> None:
    measured = np.array(latency.read_latency_ms(SCENARIOS / "write-latency.csv"))
    assert 100 <= len(measured) <= 1000
    scenario = load_scenario(SCENARIOS / "steady.toml", [
        'dataverse.latency.write={dist="empirical", file="write-latency.csv"}', "workload.duration=2m",
        "horizon=10m"])
    assert scenario.dataverse.latency.write.file == str(SCENARIOS / "write-latency.csv")
    assert run_virtual(scenario).summary["submissions"]["created"] > 0


def test_an_uncertain_exponential_mean_is_a_duration_drawn_into_the_scenario() -> None:
    scenario = parse_scenario({
        "dataverse": {"latency": {"write": {"dist": "exponential", "mean": "100ms"}}},
        "uncertain": {"dataverse.latency.write.mean": {"dist": "uniform", "low": "50ms", "high": "150ms"}},
    })
    (entry,) = parse_uncertain(scenario, "x.toml")
    assert entry.kind == "duration" and dict(entry.params) == {"low": 0.05, "high": 0.15}
    (drawn,) = draw([entry], 1, "random", np.random.default_rng(2))
    applied = apply_draw(scenario, drawn, "x.toml", 0)
    assert applied.dataverse.latency.write.mean == drawn["dataverse.latency.write.mean"]
    assert 0.05 <= applied.dataverse.latency.write.mean <= 0.15
