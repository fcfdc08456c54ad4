"""Retry budgets and the circuit breaker hold their defining properties whatever the traffic (Hypothesis)."""

from __future__ import annotations

import bisect
import copy
import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.budgets import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    RatioBudget,
    TokenBucketBudget,
    breaker_from_scenario,
    budget_from_scenario,
)
from simulator.scenario import Retry

# A client's history: steps of (seconds since the last step, first attempt or retry, the call failed).
steps = st.lists(st.tuples(st.floats(0.0, 3.0), st.booleans(), st.booleans()), min_size=1, max_size=400)


@settings(max_examples=150, deadline=None)
@given(history=steps, ratio=st.floats(0.05, 1.0), min_per_s=st.floats(0.0, 5.0), ttl_s=st.floats(1.0, 20.0))
@example(history=[(0.0, False, False)] * 300, ratio=0.2, min_per_s=10.0, ttl_s=10.0)  # a retry storm at once
@example(history=[(0.0, True, False), (1.0, False, False), (0.0, False, False), (2.0, False, False)], ratio=1.0,
         min_per_s=1.0, ttl_s=1.25)  # two retries funded by a request just before a 2 × ttl window
def test_ratio_budget_retries_at_most_ratio_of_requests_plus_min_per_window(
        history: list[tuple[float, bool, bool]], ratio: float, min_per_s: float, ttl_s: float) -> None:
    budget = RatioBudget(ratio, min_per_s, ttl_s)
    now_s = 0.0
    requests: list[float] = []
    retries: list[float] = []
    for gap_s, first_attempt, _failed in history:
        now_s += gap_s
        if first_attempt:
            budget.requested(now_s)
            requests.append(now_s)
        elif budget.try_retry(now_s, in_flight=0):
            retries.append(now_s)
    # Every window of length t = k × ttl (k = 1, 2, 3) ending at a retry — the windows where the count can
    # peak — holds at most ratio × the requests that can fund it + min_per_s × t retries. For k = 1 that is the
    # budget's own window, exactly; a longer window's first retries may be funded by requests up to one ttl
    # before it starts (a request at 0 pays for retries until ttl), so those requests count too.
    for k in (1, 2, 3):
        t_s = k * ttl_s
        for end_s in retries:
            # the window (start, end]; a hair shorter, since the budget's own expiry test (at + ttl <= now) and
            # end - t round differently by an ulp
            start_s = end_s - t_s + 1e-9 * max(1.0, end_s)
            funded_from_s = start_s if k == 1 else start_s - ttl_s
            in_window = bisect.bisect_right(retries, end_s) - bisect.bisect_right(retries, start_s)
            asked = bisect.bisect_right(requests, end_s) - bisect.bisect_right(requests, funded_from_s)
            assert in_window <= ratio * asked + min_per_s * t_s + 1e-9


@settings(max_examples=100, deadline=None)
@given(history=steps, ratio=st.floats(0.05, 1.0), min_per_s=st.floats(0.1, 5.0))
def test_ratio_budget_wait_is_exactly_until_a_retry_is_allowed(
        history: list[tuple[float, bool, bool]], ratio: float, min_per_s: float) -> None:
    budget = RatioBudget(ratio, min_per_s, 10.0)
    now_s = 0.0
    for gap_s, first_attempt, _failed in history:
        now_s += gap_s
        if first_attempt:
            budget.requested(now_s)
        elif not budget.try_retry(now_s, 0):
            wait_s = budget.wait_s(now_s)
            assert wait_s is not None and 0.0 <= wait_s <= 10.0
            if wait_s > 1e-6:  # (a copy: the budget's clock never goes back)
                assert copy.deepcopy(budget).balance(now_s + wait_s - 1e-6) < 1.0  # not a moment sooner …
            assert budget.balance(now_s + wait_s) >= 1.0  # … but after the wait a retry goes
            break


@settings(max_examples=150, deadline=None)
@given(history=steps, refill=st.floats(0.01, 1.0), size=st.floats(1.0, 10.0), in_flight=st.integers(0, 3))
def test_token_bucket_is_never_negative_and_never_above_its_size(
        history: list[tuple[float, bool, bool]], refill: float, size: float, in_flight: int) -> None:
    bucket = TokenBucketBudget(refill, size)
    now_s = 0.0
    retries = successes = 0
    for gap_s, first_attempt, failed in history:
        now_s += gap_s
        allowed = first_attempt or bucket.try_retry(now_s, in_flight)
        retries += allowed and not first_attempt
        if allowed and not failed:
            bucket.succeeded(now_s)
            successes += 1
        assert 0.0 <= bucket.tokens <= size
    # Retries beyond the probes are paid by the initial bucket and the refills.
    assert retries - bucket.probes <= size + refill * successes + 1e-9
    if in_flight > 0:
        assert bucket.probes == 0


def test_token_bucket_stops_retries_once_failures_empty_it_and_successes_refill_it() -> None:
    bucket = TokenBucketBudget(refill=0.1, size=5)
    assert [bucket.try_retry(0.0, in_flight=1) for _ in range(6)] == [True] * 5 + [False]
    for _ in range(9):
        bucket.succeeded(1.0)
    assert not bucket.try_retry(1.0, in_flight=1)  # 0.9 tokens
    bucket.succeeded(1.0)
    assert bucket.try_retry(1.0, in_flight=1)  # the tenth success paid for one retry
    assert bucket.try_retry(2.0, in_flight=0)  # empty, but nothing in flight could refill it: the probe
    assert bucket.probes == 1 and bucket.tokens == pytest.approx(0.0)


@settings(max_examples=150, deadline=None)
@given(history=st.lists(st.tuples(st.floats(0.0, 2.0), st.booleans()), min_size=1, max_size=600),
       failure_ratio=st.floats(0.05, 1.0), min_throughput=st.integers(2, 50), window_s=st.floats(1.0, 30.0),
       break_s=st.floats(0.5, 10.0))
def test_breaker_lets_no_call_through_while_open_and_one_probe_when_half_open(
        history: list[tuple[float, bool]], failure_ratio: float, min_throughput: int, window_s: float,
        break_s: float) -> None:
    breaker = CircuitBreaker(failure_ratio, min_throughput, window_s, break_s)
    now_s = 0.0
    opened_at: list[float] = []
    pending_probe = False
    for gap_s, failed in history:
        now_s += gap_s
        was_open_until = breaker.blocked_until_s if breaker.state == OPEN else -math.inf
        allowed = breaker.allow(now_s)
        if now_s < was_open_until:
            assert not allowed  # no call while open
        if not allowed:
            assert breaker.wait_s(now_s) >= 0.0
            continue
        probe = breaker.state == HALF_OPEN
        if probe:
            assert not pending_probe  # a single probe at a time
            assert not breaker.allow(now_s)  # everyone else waits for it (until a break has passed)
            assert breaker.wait_s(now_s) == pytest.approx(break_s)
            pending_probe = True
        before = breaker.opened
        breaker.record(now_s, failed, probe)
        pending_probe = False
        if breaker.opened > before:
            opened_at.append(now_s)
            assert breaker.state == OPEN and breaker.blocked_until_s == pytest.approx(now_s + break_s)
        if probe:
            assert breaker.state == (OPEN if failed else CLOSED)


def test_breaker_opens_at_polly_defaults_and_a_successful_probe_closes_it() -> None:
    breaker = CircuitBreaker()  # Polly v8: 10 % of at least 100 calls in 30 s, break 5 s
    for i in range(89):
        breaker.record(i * 0.01, failed=False)
    for i in range(10):
        breaker.record(1.0 + i * 0.01, failed=True)
    assert breaker.state == CLOSED  # 99 calls: under the minimum throughput
    breaker.record(1.2, failed=False)
    assert breaker.state == OPEN  # 100 calls, 10 failed
    assert not breaker.allow(6.19) and breaker.wait_s(6.19) == pytest.approx(0.01)
    assert breaker.allow(6.2) and breaker.state == HALF_OPEN
    breaker.record(6.3, failed=False, probe=True)
    assert breaker.state == CLOSED and breaker.allow(6.3)


def test_a_half_open_trial_that_never_answers_does_not_hold_the_circuit_past_a_break() -> None:
    """Polly permits a half-open trial once per break: a trial lost on its way (never answered) must not keep
    every caller waiting for ever (issue 20: the breaker never allowed another)."""
    breaker = CircuitBreaker(failure_ratio=0.5, min_throughput=2, window_s=10.0, break_s=5.0)
    breaker.record(0.0, failed=True)
    breaker.record(0.1, failed=True)
    assert breaker.state == OPEN and not breaker.allow(5.0)
    assert breaker.allow(5.1) and breaker.state == HALF_OPEN  # the first trial: it never answers
    assert not breaker.allow(10.0) and breaker.wait_s(10.0) == pytest.approx(0.1)
    assert breaker.allow(10.1) and breaker.state == HALF_OPEN  # a new trial after the break
    breaker.record(10.2, failed=False, probe=True)
    assert breaker.state == CLOSED
    breaker.record(10.3, failed=True, probe=True)  # the first trial answering late decides nothing
    assert breaker.state == CLOSED and breaker.opened == 1


def test_an_abandoned_trial_lets_the_next_caller_try_at_once() -> None:
    breaker = CircuitBreaker(failure_ratio=0.5, min_throughput=2, window_s=10.0, break_s=5.0)
    breaker.record(0.0, failed=True)
    breaker.record(0.1, failed=True)
    assert breaker.allow(5.1) and not breaker.allow(5.1)
    breaker.abandon(5.1)  # the trial was not sent (adaptive throttling dropped it locally)
    assert breaker.allow(5.1) and breaker.state == HALF_OPEN


def test_budgets_take_back_exactly_what_a_request_never_sent_took() -> None:
    ratio = RatioBudget(ratio=0.5, min_per_s=0.0, ttl_s=10.0)
    ratio.requested(0.0)
    ratio.requested(0.0)
    assert ratio.try_retry(1.0, in_flight=0) and ratio.balance(1.0) == 0.0
    ratio.returned(1.0, retry=True)
    assert ratio.balance(1.0) == 1.0
    ratio.returned(1.0, retry=False)  # the last deposit, too
    assert ratio.balance(1.0) == 0.5
    bucket = TokenBucketBudget(refill=0.1, size=2.0)
    assert bucket.try_retry(0.0, in_flight=1) and bucket.tokens == 1.0
    bucket.returned(0.0, retry=True)
    assert bucket.tokens == 2.0
    bucket.tokens = 0.0
    assert bucket.try_retry(0.0, in_flight=0) and bucket.probes == 1  # the probe on an empty bucket
    bucket.returned(0.0, retry=True)
    assert bucket.probes == 0 and bucket.tokens == 0.0


def test_the_scenario_builds_the_budgets_and_breaker_it_names() -> None:
    assert budget_from_scenario(Retry()) is None and breaker_from_scenario(Retry()) is None
    ratio = budget_from_scenario(Retry(budget="ratio"))
    assert isinstance(ratio, RatioBudget) and (ratio.ratio, ratio.min_per_s, ratio.ttl_s) == (0.2, 10.0, 10.0)
    bucket = budget_from_scenario(Retry(budget="token-bucket"))
    assert isinstance(bucket, TokenBucketBudget) and (bucket.refill, bucket.size) == (0.1, 5.0)
    breaker = breaker_from_scenario(Retry(breaker=True))
    assert breaker is not None
    assert (breaker.failure_ratio, breaker.min_throughput, breaker.window_s, breaker.break_s) == (0.1, 100, 30, 5)
