"""The resilience pipeline: strategies composed once, asked in order; a refusal gives back every permit taken
before it, and each strategy hears the outcome of what it let through."""

from __future__ import annotations

import math
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.budgets import CLOSED, HALF_OPEN, CircuitBreaker, RatioBudget, TokenBucketBudget
from simulator.pacing import AimdLimit, Pacer
from simulator.resilience import (
    GO,
    PAUSE,
    AimdTurn,
    BreakerGate,
    BudgetGate,
    PaceGate,
    Permit,
    Request,
    ResiliencePipeline,
    Shed,
    ThrottleGate,
    Wait,
    build_pipelines,
)
from simulator.retry import AdaptiveThrottle
from simulator.scenario import parse_scenario


class Refuses:
    """A last strategy that says no (for a test): every permit before it must come back."""

    def acquire(self, now_s: float, request: Request) -> Any:
        return Wait(1.0, "test")

    def release(self, now_s: float, request: Request, permit: Permit, failed_status: int | None) -> None:
        raise AssertionError("never let anything through")

    def abandon(self, now_s: float, request: Request, permit: Permit) -> None:
        raise AssertionError("never gave a permit")


def open_breaker() -> CircuitBreaker:
    breaker = CircuitBreaker(failure_ratio=0.5, min_throughput=2, window_s=10.0, break_s=5.0)
    breaker.record(0.0, failed=True)
    breaker.record(0.1, failed=True)
    return breaker


def test_the_breakers_trial_dropped_by_adaptive_throttling_goes_back_to_the_breaker() -> None:
    """Issue 20: the half-open trial handed to a request that adaptive throttling then sheds locally was never
    given back, and the breaker let no call through again."""
    breaker = open_breaker()
    throttle = AdaptiveThrottle(k=2.0)
    rng = random.Random(0)
    for t in range(50):  # requests the backend never accepted: the throttle now sheds nearly every one
        throttle.allow(float(t), rng)
    pipeline = ResiliencePipeline([BreakerGate(breaker), ThrottleGate(throttle, random.Random(1))])
    shed = 0
    for _ in range(200):
        answer = pipeline.acquire(60.0, Request(0, retry=True, deadline_s=math.inf))
        if isinstance(answer, Shed):
            shed += 1
            assert breaker.state == HALF_OPEN and breaker.wait_s(60.0) == 0.0  # the next one may try at once
            continue
        assert answer is GO
        pipeline.sent()
        pipeline.release(60.5, Request(0, True, math.inf), None)  # no permits held: nothing to tell
        break
    assert shed > 0


def test_a_refusal_gives_back_every_permit_taken_before_it() -> None:
    breaker, budget, throttle, pacer = open_breaker(), RatioBudget(0.5, 0.0, 10.0), AdaptiveThrottle(), Pacer(1.0)
    for _ in range(4):
        budget.requested(5.0)
    strategies = [BreakerGate(breaker), BudgetGate(budget, idle_s=1.0), ThrottleGate(throttle, random.Random(0)),
                  PaceGate(pacer), Refuses()]
    before = (budget.balance(6.0), throttle.rejection_probability(6.0), pacer.booked)
    pipeline = ResiliencePipeline(strategies)
    request = Request(0, retry=True, deadline_s=math.inf)
    assert pipeline.acquire(6.0, request) == Wait(1.0, "test")
    assert request.permits == []
    assert breaker.state == HALF_OPEN and breaker.wait_s(6.0) == 0.0  # the trial was given back
    assert (budget.balance(6.0), throttle.rejection_probability(6.0), pacer.booked) == before
    assert pacer.next_send_s(6.0) == 6.0


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.floats(0.0, 3.0), st.sampled_from([None, 429, 503]), st.booleans(),
                                st.integers(0, 3)), min_size=1, max_size=200),
       seed=st.integers(0, 100))
def test_permits_are_always_released_or_given_back(steps: list[tuple[float, int | None, bool, int]],
                                                    seed: int) -> None:
    """Any sequence of requests through every strategy: a request refused holds no permit, one sent holds its
    permits until its outcome, and then none; in flight counts exactly the requests sent and not answered."""
    changes: list[int] = []
    aimd = AimdLimit(4, 30.0)
    pipeline = ResiliencePipeline([
        AimdTurn(aimd, lambda: changes.append(aimd.limit)),
        BreakerGate(CircuitBreaker(0.5, 4, 10.0, 2.0)),
        BudgetGate(TokenBucketBudget(0.5, 3.0), idle_s=1.0),
        ThrottleGate(AdaptiveThrottle(2.0, 20.0), random.Random(seed)),
        PaceGate(Pacer(2.0)),
    ], aimd)
    now_s = 0.0
    in_flight: list[tuple[Request, int | None]] = []
    for gap_s, outcome, retry, rank in steps:
        now_s += gap_s
        if in_flight and gap_s > 1.5:  # an answer comes back
            request, status = in_flight.pop(0)
            pipeline.release(now_s, request, status)
            assert request.permits == []
        request = Request(rank, retry, deadline_s=now_s + 60.0)
        answer = pipeline.acquire(now_s, request)
        if isinstance(answer, Permit):
            assert len(request.permits) == 5 and answer.delay_s >= 0.0
            pipeline.sent()
            in_flight.append((request, outcome))
        else:
            assert request.permits == []
            assert answer is PAUSE or isinstance(answer, Shed) or answer.wait_s >= 0.0
        assert pipeline.in_flight == len(in_flight)
        assert 1 <= aimd.limit <= 4
    for request, status in in_flight:
        now_s += 1.0
        pipeline.release(now_s, request, status)
    assert pipeline.in_flight == 0


def test_the_pacer_books_nothing_past_the_deadline() -> None:
    pacer = Pacer(1.0)  # one send a second
    gate = PaceGate(pacer)
    first = gate.acquire(0.0, Request(0, False, deadline_s=10.0))
    assert first == Permit(0.0, 0.0)
    for _ in range(9):
        assert isinstance(gate.acquire(0.0, Request(0, False, deadline_s=10.0)), Permit)
    assert gate.acquire(0.0, Request(0, False, deadline_s=9.5)) == Wait(10.0, "pacer")
    assert pacer.booked == 10


def test_build_composes_only_what_the_scenario_turns_on_in_the_fixed_order() -> None:
    plain = parse_scenario({"name": "x"})
    assert [p.strategies for p in build_pipelines(plain, random.Random(0))] == [()]
    every = parse_scenario({"name": "x", "api": {"pacing": "token-bucket", "concurrency": "aimd", "processors": 4},
                            "retry": {"budget": "ratio", "breaker": True, "adaptive": True},
                            "dataverse": {"app_users": 2}})
    pipelines = build_pipelines(every, random.Random(0))
    assert len(pipelines) == 2
    for pipeline in pipelines:
        assert [type(s) for s in pipeline.strategies] == [AimdTurn, BreakerGate, BudgetGate, ThrottleGate, PaceGate]
        assert pipeline.aimd is not None and pipeline.aimd.maximum == 2
    assert pipelines[0].strategies[1].breaker.state == CLOSED  # type: ignore[attr-defined]
