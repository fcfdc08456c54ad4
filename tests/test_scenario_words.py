"""Scenario errors in our words, naming where the bad value came from; a bare number for a duration below a
minute is taken as seconds, with one line saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.engine.batch import resolve_variants
from simulator.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
BLAST = ROOT / "scenarios" / "email-blast.toml"


@pytest.mark.parametrize(("override", "says"), [
    ("catalog.events=abc", "catalog.events = 'abc' — expected a whole number like 4"),
    ("api.instances=1.5", "api.instances = 1.5 — not a whole number — expected a whole number like 4"),
    ("workload.rate=fast", "workload.rate = 'fast' — expected a number like 0.25"),
    ("retry.honor_retry_after=maybe", "retry.honor_retry_after = 'maybe' — expected true or false"),
    ("api.processors=0", "api.processors = 0 — expected at least 1"),
])
def test_no_pydantic_wording_reaches_the_user(override: str, says: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(BLAST, [override])
    message = str(caught.value)
    assert says in message and "Input should" not in message and "unable to" not in message


def test_an_error_names_the_option_its_value_came_from() -> None:
    with pytest.raises(ScenarioError, match=r"\(with --vary catalog.events=abc\): catalog.events"):
        resolve_variants(BLAST, [["catalog.events=1"], ["catalog.events=abc"]], None,
                         ["--vary catalog.events=1", "--vary catalog.events=abc"])
    with pytest.raises(ScenarioError, match=r"\(with --set overrides\): catalog.events"):
        load_scenario(BLAST, ["catalog.events=abc"])


def test_a_bare_number_under_a_minute_for_a_duration_is_seconds_with_a_warning() -> None:
    heard: list[str] = []
    scenario = load_scenario(BLAST, ["workload.half_life=6", "api.cache_ttl=600", "workload.rate=6"], warn=heard.append)
    assert scenario.workload.half_life == 6.0 and scenario.api.cache_ttl == 600.0
    assert heard == ['workload.half_life = 6 is 6 seconds; write "6m" for minutes, "6s" for seconds']
    heard.clear()
    load_scenario(BLAST, ['workload.half_life="6s"', "retry.base=1"], warn=heard.append)
    assert heard == ['retry.base = 1 is 1 second; write "1m" for minutes, "1s" for second']
