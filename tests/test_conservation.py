"""Every accepted registration ends: created, or dead-lettered with a reason — counted from each submission's
own row (tests/ledger.py), never from the counter that defines the figure."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ledger import assert_every_registration_ended
from test_engine import scenario

from simulator.engine.virtual import run_virtual
from simulator.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_breaker_with_adaptive_throttling_strands_nothing_through_an_outage() -> None:
    """Issue 20's reproduction: the breaker's half-open probe went to a processor whose call adaptive throttling
    then dropped locally, the probe was never given back, the breaker never allowed another, and the waits never
    looked at the deadline: 827 registrations were still pending at the 8 h horizon."""
    sc = load_scenario(SCENARIOS / "outage.toml", [
        "workload.duration=20m", "workload.rate=10", "retry.breaker=true", "retry.adaptive=true",
        "retry.breaker_min_throughput=20"])
    run = run_virtual(sc)
    counts = assert_every_registration_ended(run.summary, run.recorder)
    assert counts["accepted"] > 4000
    # The outage (12–27 min) is far shorter than the 6 h deadline: everything is created once Dataverse is back.
    assert counts["created"] == counts["accepted"]


# --- every combination of strategies, under faults --------------------------------------------------------

WINDOW_S = 60
DEADLINE_S = 600

#: Every strategy, each with the knobs that change when it acts. Hypothesis draws combinations of them.
strategy_sets = st.fixed_dictionaries({
    "api": st.fixed_dictionaries({
        "cache": st.sampled_from(["none", "ttl", "shared", "stale-while-revalidate", "refresh-ahead"]),
        "coalesce_misses": st.booleans(),
        "pacing": st.sampled_from(["none", "token-bucket"]),
        "concurrency": st.sampled_from(["fixed", "aimd"]),
        "on_validation_throttle": st.sampled_from(["reject", "wait"]),
    }),
    "retry": st.fixed_dictionaries({
        "policy": st.sampled_from(["none", "fixed", "exponential", "full-jitter", "equal-jitter",
                                   "decorrelated-jitter"]),
        "honor_retry_after": st.booleans(),
        "max_attempts": st.sampled_from([0, 0, 3]),
        "budget": st.sampled_from(["none", "ratio", "token-bucket"]),
        "breaker": st.booleans(),
        "breaker_min_throughput": st.integers(2, 50),
        "adaptive": st.booleans(),
    }),
    "batch_size": st.sampled_from([1, 1, 5, 1000]),
})

FAULTS = {
    "none": [],
    "outage": [{"at": "30s", "duration": "3m", "kind": "outage"}],
    "slow": [{"at": "20s", "duration": "2m", "kind": "slow", "factor": 4}],
    "limit": [{"at": "10s", "duration": "2m", "kind": "limit", "requests_limit": 20}],
    "all": [{"at": "30s", "duration": "3m", "kind": "outage"},
            {"at": "4m", "duration": "1m", "kind": "slow", "factor": 4},
            {"at": "5m", "duration": "2m", "kind": "limit", "requests_limit": 20, "concurrency_limit": 2}],
}


def settled_run(strategies: dict[str, Any], *, rate: float, duration_s: int, requests_limit: int, seed: int,
                faults: str, capacity: int = 0, waitlist: bool = True,
                mix: tuple[float, float, float] = (0.5, 0.4, 0.1)) -> Any:
    """A small run whose horizon passes the last arrival by the deadline plus a window (and a minute for
    calls under way): by then every accepted registration must have ended."""
    return run_virtual(scenario(
        seed=seed, horizon=f"{duration_s + DEADLINE_S + WINDOW_S + 60}s",
        catalog={"capacity": capacity, "waitlist": waitlist, "session_capacity": capacity // 2},
        workload={"rate": rate, "duration": f"{duration_s}s", "browse_per_submission": 1.5,
                  "mix": dict(zip(("event", "session", "waitlist"), mix, strict=True))},
        api={**strategies["api"], "processors": 4},
        retry={**strategies["retry"], "deadline": f"{DEADLINE_S}s", "cap": "2m"},
        dataverse={"requests_limit": requests_limit, "window": f"{WINDOW_S}s",
                   "batch_size": strategies["batch_size"]},
        faults=FAULTS[faults],
    ))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    strategies=strategy_sets,
    rate=st.floats(0.5, 30),
    duration_s=st.integers(10, 300),
    capacity=st.integers(0, 300),
    waitlist=st.booleans(),
    mix=st.sampled_from([(1.0, 0.0, 0.0), (0.5, 0.4, 0.1), (0.0, 0.0, 1.0)]),
    requests_limit=st.integers(30, 3000),
    seed=st.integers(0, 1000),
    faults=st.sampled_from(sorted(FAULTS)),
)
@example(  # the reproduction's pair: the breaker's half-open probe dropped locally by adaptive throttling
    strategies={"api": {"cache": "ttl", "coalesce_misses": False, "pacing": "none", "concurrency": "fixed",
                        "on_validation_throttle": "reject"},
                "retry": {"policy": "exponential", "honor_retry_after": True, "max_attempts": 0, "budget": "none",
                          "breaker": True, "breaker_min_throughput": 20, "adaptive": True},
                "batch_size": 1},
    rate=10.0, duration_s=300, capacity=0, waitlist=True, mix=(0.5, 0.4, 0.1), requests_limit=3000, seed=7,
    faults="outage")
def test_every_accepted_registration_ends_under_any_strategies_and_faults(
        strategies: dict[str, Any], rate: float, duration_s: int, capacity: int, waitlist: bool,
        mix: tuple[float, float, float], requests_limit: int, seed: int, faults: str) -> None:
    run = settled_run(strategies, rate=rate, duration_s=duration_s, requests_limit=requests_limit, seed=seed,
                      faults=faults, capacity=capacity, waitlist=waitlist, mix=mix)
    assert_every_registration_ended(run.summary, run.recorder)
    assert sum(run.recorder.counts["offered"]) == run.summary["submissions"]["offered"]
    assert sum(run.recorder.counts["created"]) == run.summary["submissions"]["created"]
    assert sum(run.recorder.counts["dead_lettered"]) == run.summary["submissions"]["dead_lettered"]


@pytest.mark.slow  # 96 small runs
@pytest.mark.parametrize(("budget", "breaker", "adaptive", "pacing", "concurrency", "batch_size"), list(
    itertools.product(["none", "ratio", "token-bucket"], [False, True], [False, True], ["none", "token-bucket"],
                      ["fixed", "aimd"], [1, 5])))
def test_every_combination_of_the_processors_strategies_ends_every_registration(
        budget: str, breaker: bool, adaptive: bool, pacing: str, concurrency: str, batch_size: int) -> None:
    """Each on/off combination once, through an outage, a slow spell and a cut limit (Hypothesis above samples
    the rest of the space: caches, policies, knobs)."""
    strategies = {
        "api": {"cache": "ttl", "coalesce_misses": False, "pacing": pacing, "concurrency": concurrency,
                "on_validation_throttle": "reject"},
        "retry": {"policy": "exponential", "honor_retry_after": True, "max_attempts": 0, "budget": budget,
                  "breaker": breaker, "breaker_min_throughput": 10, "adaptive": adaptive},
        "batch_size": batch_size,
    }
    run = settled_run(strategies, rate=4.0, duration_s=420, requests_limit=120, seed=3, faults="all")
    counts = assert_every_registration_ended(run.summary, run.recorder)
    assert counts["accepted"] > 1000
