"""The strategies in the one model: what each buys on the shipped scenarios, with every expected number derived
from the model's own limits and latency parameters (none tuned)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import simpy
from ledger import assert_every_registration_ended
from test_engine import scenario

from simulator.cache import MISS
from simulator.engine.model import build_model
from simulator.engine.virtual import run_virtual
from simulator.engine.workload import workload
from simulator.plan import call_plan, calls_for, capacity
from simulator.scenario import Latency, Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def email_blast(*overrides: str) -> Scenario:
    return load_scenario(SCENARIOS / "email-blast.toml", list(overrides))


def lognormal_mean_s(latency: Latency) -> float:
    """Mean of the log-normal the model draws service times from (its median and p99)."""
    sigma = math.log(latency.p99 / latency.median) / 2.3263478740408408
    return latency.median * math.exp(sigma * sigma / 2)


def mean_service_per_registration_s(sc: Scenario) -> float:
    """Mean service time of one registration's calls: per call kind (read/write) its latency mean, weighted
    by the workload's mix — the model's own parameters."""
    dv, mix, plan = sc.dataverse, sc.workload.mix, call_plan(sc)
    read_s, write_s = lognormal_mean_s(dv.latency.read), lognormal_mean_s(dv.latency.write)
    sessions = min(sc.workload.sessions_per_submission, sc.catalog.sessions_per_event)

    def service(calls: tuple[Any, ...]) -> float:
        return sum(write_s if call.write else read_s for call in calls)

    return (mix.event * service(calls_for(plan, sessions=0, waitlisted=False, paid=False))
            + mix.session * service(calls_for(plan, sessions=sessions, waitlisted=False, paid=False))
            + mix.waitlist * service(calls_for(plan, sessions=0, waitlisted=True, paid=False)))


def created_per_s(run: Any, start_s: float, end_s: float) -> float:
    bin_s = run.recorder.bin_s
    created = run.recorder.counts["created"][int(start_s / bin_s):int(end_s / bin_s)]
    return sum(created) / (end_s - start_s)


def conserved(run: Any) -> bool:
    """Every accepted registration ended (created or dead-lettered with a reason), counted from each
    submission's own row (tests/ledger.py)."""
    assert_every_registration_ended(run.summary, run.recorder)
    return True


# --- caches ------------------------------------------------------------------------------------------------

@pytest.mark.slow  # two long runs
def test_a_shared_cache_misses_one_instance_share_of_what_per_instance_caches_miss() -> None:
    instances = 4
    # Steady traffic spread round-robin over the instances, far from any limit, for six TTLs: each per-instance
    # cache misses every key once per TTL, the shared one once for all.
    base = dict(horizon="2h", workload={"rate": 4, "duration": "1h", "browse_per_submission": 2},
                api={"instances": instances, "cache_ttl": "10m"})
    per_instance = run_virtual(scenario(**base)).summary["cache"]["misses"]
    shared = run_virtual(scenario(**{**base, "api": {**base["api"], "cache": "shared"}})).summary["cache"]["misses"]
    # ≈ 1/I: misses that meet a read still in flight (30 ms median, at 4 submissions/s) add a few per cent.
    assert shared / per_instance == pytest.approx(1 / instances, rel=0.15)


@pytest.mark.slow  # a long run per strategy
def test_stale_while_revalidate_never_makes_a_caller_wait_after_a_keys_first_read() -> None:
    sc = email_blast("api.cache=stale-while-revalidate", "workload.duration=40m", "horizon=1h")
    env = simpy.Environment()
    model = build_model(env, sc)
    violations: list[tuple[Any, float]] = []
    filled: set[tuple[int, Any]] = set()

    class Spy:
        """Watches one instance's cache: after its first fill, a key must never be answered MISS."""

        def __init__(self, index: int, cache: Any) -> None:
            self.index, self.cache = index, cache

        def lookup(self, key: Any, now_s: float) -> tuple[Any, bool]:
            value, refresh = self.cache.lookup(key, now_s)
            if value is MISS and (self.index, key) in filled:
                violations.append((key, now_s))
            return value, refresh

        def get(self, key: Any, now_s: float) -> Any:
            return self.lookup(key, now_s)[0]

        def put(self, key: Any, value: Any, now_s: float) -> None:
            filled.add((self.index, key))
            self.cache.put(key, value, now_s)

        def refresh_failed(self, key: Any, retry_at_s: float) -> None:
            self.cache.refresh_failed(key, retry_at_s)

    for index, instance in enumerate(model.pipeline.instances):
        instance.cache = Spy(index, instance.cache)
    env.process(workload(env, model.pipeline, model.catalog, sc, model.arrival_rng))
    env.run(until=sc.horizon)
    refreshes = sum(model.recorder.counts["cache_refreshes"])
    # Four TTLs of a throttled key: entries expired and were refreshed in the background, often.
    assert refreshes >= len(filled) * 3
    assert violations == []


# --- batching ----------------------------------------------------------------------------------------------

@pytest.mark.slow  # a long saturated run
def test_large_batches_move_the_binding_limit_to_execution_time_at_its_analytic_rate() -> None:
    plain = run_virtual(email_blast()).summary
    sc = email_blast("dataverse.batch_size=100")
    run = run_virtual(sc)
    assert plain["dataverse"]["binding_limit"] == "requests"
    assert run.summary["dataverse"]["binding_limit"] == "execution"
    assert conserved(run) and run.summary["submissions"]["dead_lettered"] == 0
    dv = sc.dataverse
    expected_per_s = dv.execution_limit / dv.window / mean_service_per_registration_s(sc)
    # The backlog lasts until ~75 min; measure over whole windows inside it (after the first one's burst).
    assert created_per_s(run, dv.window, 13 * dv.window) == pytest.approx(expected_per_s, rel=0.05)
    assert expected_per_s > 2 * capacity(sc)["ceiling_created_per_s"]  # batching beat the request ceiling


def test_a_batch_counts_as_one_request_and_holds_at_most_a_thousand_operations() -> None:
    run = run_virtual(scenario(workload={"rate": 30, "duration": "2m"}, dataverse={"batch_size": 1000},
                               api={"processors": 1}))
    summary = run.summary
    created = summary["submissions"]["created"]
    assert conserved(run) and created == summary["submissions"]["offered"]
    # Three calls per registration: a batch holds at most 333 registrations, so at least created / 333 requests.
    assert math.ceil(created / (1000 // 3)) <= summary["dataverse"]["admitted"] < created / 3


# --- pacing ------------------------------------------------------------------------------------------------

@pytest.mark.slow  # a long saturated run
def test_pacing_avoids_throttling_and_creates_at_its_share_of_the_ceiling() -> None:
    sc = email_blast("api.pacing=token-bucket")
    run = run_virtual(sc)
    summary = run.summary
    dv = summary["dataverse"]
    assert dv["throttled"] <= 0.005 * (dv["admitted"] + dv["throttled"])
    expected_per_s = sc.api.pacing_share * capacity(sc)["ceiling_created_per_s"]
    assert summary["throughput"]["mean_created_per_s"] == pytest.approx(expected_per_s, rel=0.03)
    assert conserved(run) and summary["submissions"]["dead_lettered"] == 0


# --- budgets, breakers, concurrency: nothing is dropped ----------------------------------------------------

@pytest.mark.parametrize("overrides", [
    ["retry.budget=token-bucket"],  # the inner loop keeps one; the others are as long (slow)
    pytest.param(["retry.breaker=true"], marks=pytest.mark.slow),
    pytest.param(["retry.budget=ratio", "retry.breaker=true"], marks=pytest.mark.slow),
], ids=["token-bucket", "breaker", "ratio+breaker"])
def test_a_budget_or_breaker_defers_retries_through_an_outage_and_loses_nothing(overrides: list[str]) -> None:
    sc = load_scenario(SCENARIOS / "outage.toml", [*overrides, "workload.duration=20m"])
    run = run_virtual(sc)
    summary = run.summary
    assert summary["retry_deferred"] > 0
    assert conserved(run)
    assert summary["submissions"]["pending"] == 0 and summary["submissions"]["dead_lettered"] == 0


@pytest.mark.slow  # a long saturated run
def test_aimd_adapts_the_working_processors_within_bounds_and_loses_nothing() -> None:
    sc = email_blast("api.concurrency=aimd", "workload.duration=15m")
    run = run_virtual(sc)
    active = run.recorder.levels["active_processors"][:run.recorder.bins_until(run.simulated_s)]
    assert 1 <= min(active[1:]) < sc.api.processors  # halved on 429s …
    assert max(active) == sc.api.processors
    assert conserved(run) and run.summary["submissions"]["pending"] == 0
