"""The tenant's ``[registration]`` settings: what each costs in the call plan, how the analytic ceiling and a
saturated run follow the plan, and how bad values are refused."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from simulator import plan as plans
from simulator.engine.virtual import run_virtual
from simulator.matching import RULES
from simulator.scenario import ScenarioError, load_scenario, parse_scenario, scenario_to_toml

STAMPEDE = Path(sys.executable).with_name("stampede")
AUDIENCES = ("contact", "lead")
PURPOSES = (0, 1, 3)


def scenario(registration: dict[str, Any] | None = None, plan: dict[str, Any] | None = None, **sections: Any
             ) -> Any:
    """One free event, event registrations only, no browsing: every submission is one attendee's plan."""
    raw: dict[str, Any] = {
        "name": "registration",
        "horizon": "30m",
        "catalog": {"events": 1, "capacity": 0, "session_capacity": 0},
        "workload": {"shape": "constant", "rate": 5, "duration": "30m", "browse_per_submission": 0,
                     "mix": {"event": 1.0, "session": 0.0, "waitlist": 0.0}},
        "api": {"processors": 48},
        "registration": registration or {},
        "dataverse": {"plan": plan or {}},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return parse_scenario(raw)


def one_attendee(s: Any, *, sessions: int = 0, waitlisted: bool = False, paid: bool = False
                 ) -> tuple[plans.Call, ...]:
    return plans.calls_for(plans.call_plan(s), sessions=sessions, waitlisted=waitlisted, paid=paid)


# --- the call plan ---------------------------------------------------------------------------------------------

BASELINE = scenario()  # matching "email", audience "contact", no consent purposes: the plan as it always was


@pytest.mark.parametrize("purposes", PURPOSES)
@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("matching", RULES)
def test_each_combination_costs_the_baseline_plus_purposes_minus_the_match_read_under_none(
        matching: str, audience: str, purposes: int) -> None:
    s = scenario({"matching": matching, "audience": audience, "consent_purposes": purposes})
    for shape in ({}, {"sessions": 2}, {"waitlisted": True}, {"paid": True}):
        expected = len(one_attendee(BASELINE, **shape)) + purposes - (1 if matching == "none" else 0)
        calls = one_attendee(s, **shape)
        assert len(calls) == expected, shape
        ops = [c.op for c in calls]
        assert ops.count(plans.CONSENT.op) == purposes
        match_op, write_op = ("lead_match", "lead") if audience == "lead" else ("contact_match", "contact")
        assert ops.count(match_op) == (0 if matching == "none" else 1)
        assert ops.count(write_op) == 1
        other_table = {"lead", "lead_match"} if audience == "contact" else {"contact", "contact_match"}
        assert not other_table & set(ops)
    baseline_calls = plans.capacity(BASELINE)["calls_per_registration"]
    assert plans.capacity(s)["calls_per_registration"] == pytest.approx(
        baseline_calls + purposes - (1 if matching == "none" else 0))


def test_a_plan_repeats_per_attendee_consent_included() -> None:
    s = scenario({"consent_purposes": 2})
    single = plans.calls_for(plans.call_plan(s), sessions=0, waitlisted=False, paid=False)
    triple = plans.calls_for(plans.call_plan(s), sessions=0, waitlisted=False, paid=False, attendees=3)
    assert len(triple) == 3 * len(single)
    assert [c.op for c in triple].count(plans.CONSENT.op) == 6


def test_dataverse_plan_numbers_apply_on_top_of_the_derived_plan() -> None:
    overridden = scenario({"matching": "none", "consent_purposes": 1}, {"contact_match": 2, "consent": 4})
    resolved = plans.call_plan(overridden)
    assert (resolved.contact_match, resolved.consent) == (2, 4)
    ops = [c.op for c in one_attendee(overridden)]
    assert ops.count("contact_match") == 2 and ops.count(plans.CONSENT.op) == 4
    # a number left out keeps following [registration]
    assert plans.call_plan(scenario({"matching": "none"}, {"consent": 1})).contact_match == 0
    assert plans.call_plan(scenario({"consent_purposes": 3}, {"contact_match": 0})).consent == 3


def test_the_resolved_scenario_keeps_the_plan_derived_after_a_round_trip() -> None:
    s = scenario({"matching": "none", "audience": "lead", "consent_purposes": 2})
    again = parse_scenario(tomllib.loads(scenario_to_toml(s)))
    assert again == s
    assert plans.call_plan(again) == plans.call_plan(s)
    # …and a changed setting still moves a re-read plan (the derived keys were not frozen into numbers)
    moved = parse_scenario({**tomllib.loads(scenario_to_toml(s)), "registration": {"consent_purposes": 0}})
    assert plans.call_plan(moved).consent == 0


def test_the_matching_default_is_the_audiences_rtm_default() -> None:
    """RTM forms: "Contact (default: Update contact using email)", "Lead (default: Always create a new record)"."""
    assert scenario().registration.matching == "email"
    assert scenario({"audience": "lead"}).registration.matching == "none"
    assert scenario({"audience": "lead", "matching": "email"}).registration.matching == "email"
    assert scenario({"audience": "contact", "matching": "none"}).registration.matching == "none"


def test_summary_says_which_audience_and_rule() -> None:
    s = scenario({"audience": "lead", "consent_purposes": 2}, workload={"duration": "1m"})
    block = run_virtual(s).summary["registration"]
    assert block == {"audience": "lead", "matching": "none", "consent_purposes": 2,
                     "match_reads_per_attendee": 0, "consent_writes_per_attendee": 2}


# --- the analytic ceiling, and a saturated run ---------------------------------------------------------------


@pytest.mark.parametrize("settings", [
    {"matching": "none"},
    {"consent_purposes": 2},
    {"audience": "lead", "matching": "email+name", "consent_purposes": 1},
], ids=["none", "two-purposes", "lead-email+name-one-purpose"])
def test_a_saturated_run_creates_at_the_ceiling_the_plan_gives(settings: dict[str, Any]) -> None:
    s = scenario(settings)
    ceiling = plans.capacity(s)
    dv = s.dataverse
    calls = plans.capacity(BASELINE)["calls_per_registration"] + settings.get("consent_purposes", 0) \
        - (1 if settings.get("matching") == "none" else 0)
    assert ceiling["calls_per_registration"] == pytest.approx(calls)
    assert ceiling["ceiling_created_per_s"] == pytest.approx(dv.requests_limit / dv.window / calls)
    # offered at 1.5 × the ceiling for 25 minutes: the requests limit binds, and once the first window is
    # past, each 5-minute window creates what the ceiling allows (the sliding log is exact: 2 % is ample)
    saturated = s.model_copy(update={
        "workload": s.workload.model_copy(update={"rate": 1.5 * ceiling["ceiling_created_per_s"],
                                                  "duration": 1500.0}),
        "horizon": 1500.0,
    })
    run = run_virtual(saturated)
    created = run.recorder.counts["created"]
    per_window = int(s.dataverse.window / s.bin)
    windows = [sum(created[i:i + per_window]) / s.dataverse.window
               for i in range(per_window, int(1500 / s.bin) - per_window + 1, per_window)]
    assert len(windows) == 4
    for created_per_s in windows:
        assert created_per_s == pytest.approx(ceiling["ceiling_created_per_s"], rel=0.02)
    assert run.summary["dataverse"]["binding_limit"] == "requests"


@pytest.mark.slow  # a subprocess that simulates each app-user count it tries (~40 s)
def test_plan_follows_the_consent_purposes(tmp_path: Path) -> None:
    """`stampede plan`'s analytic answer: the fewest app users whose ceiling covers 15/s, with 3 + 3 calls."""
    path = tmp_path / "demand.toml"
    path.write_text(
        'name = "plan-consent"\nhorizon = "1h"\n[catalog]\nevents = 1\ncapacity = 0\nsession_capacity = 0\n'
        '[workload]\nshape = "constant"\nrate = 15\nduration = "20m"\nbrowse_per_submission = 0\n'
        '[workload.mix]\nevent = 1.0\nsession = 0.0\nwaitlist = 0.0\n[api]\nprocessors = 64\n'
        "[registration]\nconsent_purposes = 3\n"
    )
    resolved = load_scenario(path)
    per_user_per_s = resolved.dataverse.requests_limit / resolved.dataverse.window \
        / plans.capacity(resolved)["calls_per_registration"]
    expected = math.ceil(resolved.workload.rate / per_user_per_s)
    result = subprocess.run([str(STAMPEDE), "plan", str(path), "--slo", "time_to_created_s.p95<=300", "--search",
                             "dataverse.app_users=1..8", "--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["analytic_value"] == expected == 5  # 3 calls would need 3 (tests/test_cli.py)
    tried = {row["value"]: row for row in answer["tried"]}
    assert all(row["ceiling_created_per_s"] == pytest.approx(per_user_per_s * value)
               for value, row in tried.items())


# --- bad values ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("toml", "expected"), [
    pytest.param('[registration]\nmatching = "fuzzy"\n',
                 ["registration.matching", "'fuzzy'", "'email', 'email+name' or 'none'"], id="unknown-rule"),
    pytest.param("[registration]\nconsent_purposes = -1\n",
                 ["registration.consent_purposes", "-1", "expected at least 0"], id="negative-purposes"),
    pytest.param('[registration]\naudience = "account"\n',
                 ["registration.audience", "'account'", "'contact' or 'lead'"], id="unknown-audience"),
    pytest.param('[registration]\nconsent_purposes = "two"\n',
                 ["registration.consent_purposes", "'two'", "whole number like 4"], id="purposes-not-a-number"),
    pytest.param('[registration]\nmatchng = "email"\n', ["registration.matchng", 'did you mean "matching"'],
                 id="misspelt-key"),
])
def test_bad_values_are_refused_in_one_line_naming_the_key(tmp_path: Path, toml: str, expected: list[str]) -> None:
    path = tmp_path / "x.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and message.startswith(str(path))
    for part in expected:
        assert part in message


@pytest.mark.slow  # stampede in a subprocess
@pytest.mark.parametrize("override", ["registration.matching=fuzzy", "registration.consent_purposes=-2"])
def test_the_cli_refuses_a_bad_setting_in_one_line_and_writes_nothing(tmp_path: Path, override: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text('name = "x"\n[workload]\nduration = "1m"\n', encoding="utf-8")
    result = subprocess.run([str(STAMPEDE), "simulate", str(path), "--set", override], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and override.split("=")[0] in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_the_report_headline_names_the_audience_and_rule(tmp_path: Path) -> None:
    from reports.headline import registration_settings
    from reports.rundata import load_run
    from simulator.records import run_files

    s = scenario({"audience": "lead", "matching": "email+name", "consent_purposes": 2}, workload={"duration": "1m"})
    run = run_virtual(s)
    for name, text in run_files(run.recorder, run.summary, scenario_to_toml(s)).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert registration_settings(load_run(tmp_path)) == "leads, matched by email+name, 2 consent purposes"


@pytest.mark.slow  # stampede serve in a subprocess
def test_serve_refuses_a_database_matched_under_another_rule_in_one_line(tmp_path: Path) -> None:
    from simulator.server.store import Store

    db = tmp_path / "people.db"
    with Store(db) as store:  # people matched by email, as every database before [registration] was
        store.accept("s1", "event-1", json.dumps({"attendees": [
            {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@contoso.com"}]}), 0.0)
        store.mark_created("s1", 1.0)
    result = subprocess.run([str(STAMPEDE), "serve", "--port", "0", "--db", str(db), "--set",
                             "registration.matching=none"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and 'registration.matching = "email", not "none"' in lines[0], result.stderr
    assert "Traceback" not in result.stderr
