"""--vary grids, SLO expressions and the bisection behind `stampede plan`."""

from __future__ import annotations

import pytest

from simulator.sweep import SweepError, Vary, grid, parse_search, parse_slo, parse_vary, smallest_meeting

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
    with pytest.raises(SweepError, match="time_to_created_s.p95<=900"):
        parse_slo(bad)


def test_slo_on_a_missing_or_non_numeric_key_names_it() -> None:
    with pytest.raises(SweepError, match="no 'time_to_created_s.p42'.*known: p95"):
        parse_slo("time_to_created_s.p42<=1").metric(SUMMARY)
    with pytest.raises(SweepError, match="not a number"):
        parse_slo("name==1").metric(SUMMARY)


@pytest.mark.parametrize("bad", ["dataverse.app_users=1-16", "dataverse.app_users", "x=5..1", "=1..2"])
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
