"""The SimPy model's laws: conservation, determinism, deadline, the cache's worth (saturation throughput and
the other checks against theory: tests/test_validation.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import simpy

from simulator.engine.model import build_model
from simulator.engine.virtual import run_virtual
from simulator.engine.workload import workload
from simulator.scenario import Scenario, parse_scenario


def scenario(**sections: Any) -> Scenario:
    """A small scenario: one event, no browsing, registrations of 3 calls (match, contact, registration)."""
    raw: dict[str, Any] = {
        "name": "test",
        "horizon": "2h",
        "bin": "10s",
        "catalog": {"events": 1, "sessions_per_event": 2, "capacity": 0, "session_capacity": 0},
        "workload": {"shape": "constant", "rate": 5, "duration": "10m", "browse_per_submission": 0,
                     "mix": {"event": 1.0, "session": 0.0, "waitlist": 0.0}},
        "api": {"processors": 32},
    }
    for name, values in sections.items():
        if isinstance(values, dict):
            raw.setdefault(name, {}).update(values)
        else:
            raw[name] = values
    return parse_scenario(raw)


def window_sums(series: list[int], bin_s: float, window_s: float, start_s: float, end_s: float) -> list[int]:
    per_window = int(window_s / bin_s)
    first, last = int(start_s / bin_s), int(end_s / bin_s)
    return [sum(series[i:i + per_window]) for i in range(first, last - per_window + 1, per_window)]


def test_affinity_pins_each_user_to_one_server() -> None:
    run = run_virtual(scenario(
        horizon="20m",
        workload={"rate": 40, "duration": "20m"},
        dataverse={"app_users": 1, "web_servers": 4, "affinity": True},
    ))
    admitted = window_sums(run.recorder.counts["dv_admitted"], 10, 300, 300, 1200)
    assert all(w == pytest.approx(6000, rel=0.02) for w in admitted)
    assert run.summary["capacity"]["keys"] == 1


def test_capacity_is_never_exceeded_and_overflow_goes_to_the_waitlist() -> None:
    """100 seats, 600 offers: the first 100 accepted take the seats, every later one becomes a waitlist item
    (its calls write a waitlist item, not a registration), and none is rejected; without a waitlist the same
    overflow is refused as full."""
    sc = scenario(catalog={"capacity": 100, "waitlist": True}, workload={"rate": 2, "duration": "5m"})
    env = simpy.Environment()
    journal = AcceptedLog()
    model = build_model(env, sc, journal)
    env.process(workload(env, model.pipeline, model.catalog, sc, model.arrival_rng))
    env.run(until=sc.horizon)
    assert model.recorder.rejected_count == 0 and len(journal.waitlisted) == model.recorder.submissions > 100
    # in acceptance order: 100 seats, then only waitlist items
    assert journal.waitlisted == [False] * 100 + [True] * (len(journal.waitlisted) - 100)
    assert model.pipeline.registered[model.catalog.events[0].id] == 100
    plans = {calls: waitlisted for calls, waitlisted in journal.plans}
    assert plans == {("contact_match", "contact", "msevtmgt_waitlistitem"): True,
                     ("contact_match", "contact", "msevtmgt_eventregistration"): False}
    assert sorted(journal.created_numbers) == list(range(len(journal.waitlisted)))  # and every one was created

    no_waitlist = run_virtual(scenario(catalog={"capacity": 100, "waitlist": False},
                                       workload={"rate": 2, "duration": "5m"}))
    assert no_waitlist.summary["submissions"]["accepted"] == 100
    assert no_waitlist.summary["submissions"]["rejected"] == no_waitlist.summary["submissions"]["offered"] - 100
    assert no_waitlist.summary["rejected_by"] == {"event is full": no_waitlist.summary["submissions"]["rejected"]}


class AcceptedLog:
    """A journal that notes each accepted submission's waitlist decision and call kinds, and what was created."""

    def __init__(self) -> None:
        self.waitlisted: list[bool] = []
        self.plans: list[tuple[tuple[str, ...], bool]] = []
        self.created_numbers: list[int] = []

    def accepted(self, submission: Any) -> None:
        self.waitlisted.append(submission.waitlisted)
        self.plans.append((tuple(call.op for call in submission.calls), submission.waitlisted))

    def retrying(self, submission: Any, now_s: float, error: str) -> None:
        pass

    def created(self, submission: Any, now_s: float) -> None:
        self.created_numbers.append(submission.number)

    def dead_lettered(self, submission: Any, now_s: float, reason: str) -> None:
        pass


def test_same_scenario_and_seed_give_the_same_summary() -> None:
    sc = scenario(workload={"rate": 30, "duration": "5m", "browse_per_submission": 3,  # 9,000 journeys a run
                            "mix": {"event": 0.6, "session": 0.3, "waitlist": 0.1}},
                  retry={"policy": "full-jitter", "honor_retry_after": False})
    first, second = run_virtual(sc).summary, run_virtual(sc).summary
    first.pop("wall_s"), second.pop("wall_s")
    assert first == second
    other = run_virtual(sc.model_copy(update={"seed": sc.seed + 1})).summary
    other.pop("wall_s")
    assert other != first


def test_outage_longer_than_the_deadline_dead_letters_at_the_deadline() -> None:
    run = run_virtual(scenario(
        horizon="3h",
        workload={"rate": 2, "duration": "5m"},
        retry={"deadline": "30m", "cap": "5m"},
        faults=[{"at": "1m", "duration": "2h", "kind": "outage"}],  # after the first minute warmed the cache
    ))
    s = run.summary["submissions"]
    assert s["dead_lettered"] > 100 and s["pending"] == 0
    accepted_s, dead_s = np.array(run.recorder.accepted_s), np.array(run.recorder.dead_lettered_s)
    dead = np.isfinite(dead_s)
    assert np.all(accepted_s[dead] >= 60 - 1), "only work caught by the outage dead-letters"
    late_by_s = dead_s[dead] - accepted_s[dead] - 1800
    assert np.all(np.abs(late_by_s) <= 10), "every item dead-letters within one bin of its deadline"
    reasons = run.summary["dead_letter_reasons"]
    assert all("deadline 30m reached" in reason and "503" in reason for reason in reasons)


def test_outage_shorter_than_the_deadline_loses_nothing() -> None:
    run = run_virtual(scenario(
        horizon="3h",
        workload={"rate": 2, "duration": "5m"},
        retry={"deadline": "30m", "cap": "5m"},
        faults=[{"at": "1m", "duration": "20m", "kind": "outage"}],
    ))
    s = run.summary["submissions"]
    assert s["dead_lettered"] == 0
    assert s["created"] == s["accepted"] > 0
    assert run.summary["attempts_per_created"] > 1


@pytest.mark.slow  # two saturated 40-minute runs
def test_without_a_cache_validation_reads_spend_the_same_budget() -> None:
    """Saturated, every accepted submission's validation read displaces 1/3 of a registration (3 calls each)."""
    common = {"horizon": "40m", "workload": {"rate": 10, "duration": "40m"}}
    with_cache = run_virtual(scenario(**common, api={"cache": "ttl", "on_validation_throttle": "wait"}))
    without = run_virtual(scenario(**common, api={"cache": "none", "on_validation_throttle": "wait"}))

    def rate(run: Any, column: str) -> float:
        return sum(window_sums(run.recorder.counts[column], 10, 300, 600, 2400)) / 1800

    assert rate(with_cache, "created") == pytest.approx(20 / 3, rel=0.02)
    reads_per_s = rate(without, "accepted")  # every lookup misses: each accepted offer had one admitted read
    assert rate(without, "created") == pytest.approx((20 - reads_per_s) / 3, rel=0.03)
    assert rate(without, "created") < 0.9 * rate(with_cache, "created")
    assert without.summary["cache"]["hit_ratio"] == 0.0
    assert with_cache.summary["cache"]["hit_ratio"] > 0.99


def test_slow_fault_makes_execution_time_bind() -> None:
    run = run_virtual(scenario(
        horizon="30m",
        workload={"rate": 6, "duration": "20m"},
        dataverse={"latency": {"read": {"median": "200ms", "p99": "1s"}, "write": {"median": "400ms", "p99": "2s"}}},
        api={"processors": 60},
        faults=[{"at": "0s", "duration": "30m", "kind": "slow", "factor": 5}],
    ))
    assert run.summary["dataverse"]["throttled_by"]["execution"] > 0


def test_limit_fault_lowers_throughput_while_it_lasts() -> None:
    run = run_virtual(scenario(
        horizon="40m",
        workload={"rate": 10, "duration": "40m"},
        faults=[{"at": "10m", "duration": "20m", "kind": "limit", "requests_limit": 3000}],
    ))
    admitted = window_sums(run.recorder.counts["dv_admitted"], 10, 300, 900, 1800)
    assert all(w == pytest.approx(3000, rel=0.03) for w in admitted)


def test_time_to_created_percentiles_are_ordered() -> None:
    run = run_virtual(scenario(workload={"rate": 10, "duration": "20m"}))
    ttc = run.summary["time_to_created_s"]
    assert 0 < ttc["p50"] <= ttc["p95"] <= ttc["p99"] <= ttc["max"]
    assert not math.isnan(run.summary["throughput"]["mean_created_per_s"])
