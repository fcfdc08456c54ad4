"""--vary grids, SLO expressions and the bisection behind `stampede plan`."""

from __future__ import annotations

import pytest

from simulator.sweep import (
    SweepError,
    Vary,
    grid,
    largest_meeting,
    largest_within,
    parse_search,
    parse_slo,
    parse_vary,
    smallest_meeting,
    smallest_within,
)

SUMMARY = {"time_to_created_s": {"p95": 800.0}, "submissions": {"dead_lettered": 0}, "name": "x"}


def test_vary_grid_is_every_combination_first_key_slowest() -> None:
    varies = [parse_vary("retry.policy=none,full-jitter"), parse_vary("api.cache_ttl=1m, 10m")]
    assert varies[1] == Vary("api.cache_ttl", ("1m", "10m"))
    assert grid(varies) == [
        ["retry.policy=none", "api.cache_ttl=1m"], ["retry.policy=none", "api.cache_ttl=10m"],
        ["retry.policy=full-jitter", "api.cache_ttl=1m"], ["retry.policy=full-jitter", "api.cache_ttl=10m"],
    ]


@pytest.mark.parametrize(("text", "holds"), [
    ("time_to_created_s.p95<=900", True), ("time_to_created_s.p95<800", False),
    ("time_to_created_s.p95>=800", True), ("submissions.dead_lettered==0", True),
    ("submissions.dead_lettered!=0", False), ("time_to_created_s.p95 > 1", True),
])
def test_slo_expressions_over_summary_keys(text: str, holds: bool) -> None:
    assert parse_slo(text).holds(SUMMARY) is holds


@pytest.mark.parametrize("bad", ["p95 about 900", "x<=fast", ""])
def test_malformed_slo_is_refused_with_an_example(bad: str) -> None:
    with pytest.raises(SweepError, match="time_to_created_s.p95<=15m"):
        parse_slo(bad)


@pytest.mark.parametrize(("text", "threshold", "shown"), [
    ("time_to_created_s.p95<=15m", 900.0, "time_to_created_s.p95<=15m"),
    ("time_to_created_s.p95<=900", 900.0, "time_to_created_s.p95<=15m"),
    ("last_created_s < 2h", 7200.0, "last_created_s<2h"),
    ("throughput.drain_s<=1h30m", 5400.0, "throughput.drain_s<=90m"),
    ("load.latency_ms.registration.p99<=250ms", 250.0, "load.latency_ms.registration.p99<=250ms"),
    ("submissions.dead_lettered==0", 0.0, "submissions.dead_lettered==0"),
    ("throughput.peak_created_per_s>=12.5", 12.5, "throughput.peak_created_per_s>=12.5"),
])
def test_an_slo_on_a_time_takes_and_echoes_a_duration(text: str, threshold: float, shown: str) -> None:
    slo = parse_slo(text)
    assert slo.threshold == threshold and str(slo) == shown
    assert parse_slo(str(slo)) == slo  # what is echoed reads back to the same SLO


@pytest.mark.parametrize(("bad", "says"), [
    ("throughput.peak_created_per_s>=15m", "expected PATH OP NUMBER"),  # a rate is not a time
    ("submissions.created>=2h", "expected PATH OP NUMBER"),
    ("time_to_created_s.p95<=15 minutes", "is a time; expected a number of seconds or a duration"),
])
def test_a_duration_where_the_figure_is_not_a_time_is_refused(bad: str, says: str) -> None:
    with pytest.raises(SweepError, match=says):
        parse_slo(bad)


def test_slo_on_a_missing_or_non_numeric_key_names_it() -> None:
    with pytest.raises(SweepError, match="no 'time_to_created_s.p42'.*known: p95"):
        parse_slo("time_to_created_s.p42<=1").metric(SUMMARY)
    with pytest.raises(SweepError, match="not a number"):
        parse_slo("name==1").metric(SUMMARY)


@pytest.mark.parametrize("bad", ["dataverse.app_users=1-16", "dataverse.app_users", "=1..2", "retry.cap=1m..soon",
                                 "x=nan..1"])
def test_malformed_search_is_refused(bad: str) -> None:
    with pytest.raises(SweepError, match="LOW..HIGH"):
        parse_search(bad)


@pytest.mark.parametrize("answer", [1, 2, 7, 16])
def test_bisection_finds_the_smallest_value_and_tries_few(answer: int) -> None:
    tried: list[int] = []

    def meets(value: int) -> bool:
        tried.append(value)
        return value >= answer

    assert smallest_meeting(1, 16, meets) == answer
    assert len(tried) <= 6


def test_bisection_says_none_when_even_the_top_fails() -> None:
    assert smallest_meeting(1, 8, lambda v: False) is None


@pytest.mark.parametrize(("text", "message"), [
    ("x=5..1", "--search 'x=5..1': the range is reversed (5 is above 1); write it low to high, e.g. --search x=1..5"),
    ("retry.cap=10m..1m", "reversed (10m is above 1m)"),
    ("retry.base=2.5..0.5", "reversed"),
])
def test_a_reversed_range_is_called_reversed(text: str, message: str) -> None:
    with pytest.raises(SweepError, match="reversed") as raised:
        parse_search(text)
    assert message in str(raised.value)


def test_durations_and_floats_are_searched_in_seconds_and_numbers() -> None:
    cap = parse_search("retry.cap=1m..10m")
    assert (cap.key, cap.low, cap.high, cap.kind) == ("retry.cap", 60.0, 600.0, "duration")
    assert cap.tolerance == pytest.approx(5.4)  # 1 % of the 540 s range by default
    assert cap.override(90.0) == "retry.cap=90.0" and cap.show(90.0) == "1.5m" and cap.show(30.0) == "30s"
    assert parse_search("retry.cap=1m..10m", "10s").tolerance == 10.0
    base = parse_search("retry.base=0.5..8", "0.1")
    assert (base.kind, base.low, base.high, base.tolerance) == ("number", 0.5, 8.0, 0.1)
    assert parse_search("retry.base=1..8.0").kind == "number"  # one float bound makes a float search
    users = parse_search("dataverse.app_users=1..16")
    assert (users.kind, users.override(3)) == ("integer", "dataverse.app_users=3")


@pytest.mark.parametrize(("search", "tolerance", "message"), [
    ("retry.cap=1m..10m", "0s", "--tolerance '0s': expected a positive duration"),
    ("retry.base=0.5..8", "-1", "--tolerance '-1': expected a positive number"),
    ("retry.base=0.5..8", "fast", "expected a positive number"),
    ("dataverse.app_users=1..16", "1", "whole-number ranges are searched exactly"),
])
def test_a_bad_tolerance_is_refused(search: str, tolerance: str, message: str) -> None:
    with pytest.raises(SweepError) as raised:
        parse_search(search, tolerance)
    assert message in str(raised.value)


@pytest.mark.parametrize("threshold_s", [60.0, 61.0, 137.25, 599.0, 600.0])
def test_bisection_over_a_duration_lands_within_the_tolerance(threshold_s: float) -> None:
    span = parse_search("retry.cap=1m..10m", "2s")
    tried: list[float] = []

    def meets(value: float) -> bool:
        tried.append(value)
        return value >= threshold_s

    found = span.smallest(meets)
    assert found is not None and threshold_s <= found <= threshold_s + 2.0
    assert meets(found)
    assert len(set(tried)) <= span.max_probes


def test_continuous_bisection_says_none_when_the_top_fails_and_low_when_it_meets() -> None:
    assert smallest_within(0.5, 8.0, lambda v: False, 0.1) is None
    assert smallest_within(0.5, 8.0, lambda v: True, 0.1) == 0.5


@pytest.mark.parametrize("answer", [1, 2, 7, 16])
def test_the_integer_probe_count_is_an_upper_bound(answer: int) -> None:
    span = parse_search("dataverse.app_users=1..16")
    tried: set[int] = set()

    def meets(value: int) -> bool:
        tried.add(value)
        return value >= answer

    assert span.smallest(meets) == answer
    assert len(tried) <= span.max_probes == 5


@pytest.mark.parametrize("answer", [1, 5, 9, 16])
def test_largest_meeting_finds_the_threshold_and_the_value_above_fails(answer: int) -> None:
    probed: list[int] = []

    def meets(value: int) -> bool:
        probed.append(value)
        return value <= answer

    assert largest_meeting(1, 16, meets) == answer
    if answer < 16:
        assert answer + 1 in probed  # the next value above was probed, and failed
    assert largest_meeting(3, 8, lambda v: False) is None
    assert largest_within(0.5, 8.0, lambda v: v <= 3.0, 0.1) == pytest.approx(3.0, abs=0.1)
    assert largest_within(0.5, 8.0, lambda v: v <= 3.0, 0.1) <= 3.0


def test_a_stepped_search_probes_only_its_grid_both_ways() -> None:
    span = parse_search("journey.entry_limit=10000..100000", step=10000)
    probed: list[float] = []

    def meets(value: float) -> bool:
        probed.append(value)
        return value <= 37000

    assert span.largest(meets) == 30000 and 40000 in probed
    assert all(v % 10000 == 0 for v in probed)
    assert span.smallest(lambda v: v >= 37000) == 40000
    assert span.max_probes == 1 + 4  # 10 grid points
    with pytest.raises(SweepError, match="--step 0"):
        parse_search("journey.entry_limit=1..10", step=0)
    with pytest.raises(SweepError, match="--step 5: for a whole-number range"):
        parse_search("retry.cap=1m..10m", step=5)


def test_an_slo_on_a_time_never_reached_does_not_hold() -> None:
    summary = {"time_to_confirmed_s": {"p95": None, "not_reached": ["p95", "p99", "max"]}}
    assert not parse_slo("time_to_confirmed_s.p95<=900").holds(summary)


def test_the_answer_is_in_the_customers_terms() -> None:
    from simulator.levers import lever_answer
    from simulator.scenario import parse_scenario
    scenario = parse_scenario({"workload": {"shape": "journey"}, "journey": {"entry_limit": 30000,
                               "entry_days": ["mon", "tue", "wed", "thu", "fri"]}})
    answer = lever_answer(scenario, "journey.entry_limit", 30000, [("time_to_confirmed_s.p95", "<=", 900.0)], 0.96)
    # 14 hourly batches of 30,000 from Monday 09:00 (09:00..22:00 = 420,000): the 14th, of 10,000, enters at
    # 22:00 and takes 10,000 / 140,000 h = 4 min 17 s
    assert answer == ("journey.entry_limit = 30,000/h meets p95 time to confirmed ≤ 15 min with probability 0.96; "
                      "the 400,000 invitations then take 13.1 h (ending Monday 22:04)")
