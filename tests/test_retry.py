"""Retry policies: waits within their bounds, Retry-After honoured, giving up on time, adaptive throttling."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import stats

from simulator import retry
from simulator.retry import (
    AdaptiveThrottle,
    DecorrelatedJitter,
    EqualJitter,
    Exponential,
    Fixed,
    FullJitter,
    NoRetry,
    RetryPolicy,
    RetryState,
    policy_from_scenario,
    throttle_from_scenario,
)
from simulator.scenario import Retry

seconds = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
attempts = st.integers(min_value=1, max_value=10_000)
seeds = st.integers(min_value=0, max_value=2**32)


def state(attempt: int = 1, **fields: Any) -> RetryState:
    """The state after ``attempt`` failures (Tenacity's make_retry_state): built directly, nothing run."""
    return RetryState(attempt=attempt, **fields)


def capped_exponential(base_s: float, cap_s: float, attempt: int) -> float:
    """Brooker's min(cap, base * 2**(attempt-1)), computed the slow, obvious, exact way."""
    return float(min(Fraction(cap_s), Fraction(base_s) * 2 ** (attempt - 1)))


# --- backoffs: bounds ---------------------------------------------------------------------------------------


@given(base_s=seconds, cap_s=seconds, attempt=attempts, seed=seeds)
@example(base_s=2.0, cap_s=600.0, attempt=10_000, seed=0)  # far past the cap: no overflow
@example(base_s=5e-324, cap_s=1e6, attempt=1090, seed=0)  # tiny base: many doublings before the cap
@example(base_s=10.0, cap_s=1.0, attempt=1, seed=0)  # cap below base
def test_exponential_family_stays_within_bounds(base_s, cap_s, attempt, seed):
    rng = random.Random(seed)
    ceiling_s = capped_exponential(base_s, cap_s, attempt)
    s = state(attempt)

    assert retry.exponential(base_s, cap_s).wait_s(s, rng) == ceiling_s
    assert 0.0 <= retry.full_jitter(base_s, cap_s).wait_s(s, rng) <= ceiling_s
    assert ceiling_s / 2 <= retry.equal_jitter(base_s, cap_s).wait_s(s, rng) <= ceiling_s


@given(base_s=seconds, cap_s=seconds, last_wait_s=seconds, attempt=attempts, seed=seeds)
@example(base_s=10.0, cap_s=1.0, last_wait_s=0.0, attempt=1, seed=0)  # cap below base: always cap
@example(base_s=1.0, cap_s=100.0, last_wait_s=0.0, attempt=1, seed=1)  # the first wait: up to 3 x base (Brooker)
def test_decorrelated_jitter_stays_within_base_and_cap(base_s, cap_s, last_wait_s, attempt, seed):
    wait_s = retry.decorrelated_jitter(base_s, cap_s).wait_s(state(attempt, last_wait_s=last_wait_s),
                                                             random.Random(seed))

    assert min(base_s, cap_s) <= wait_s <= cap_s
    previous_s = last_wait_s if last_wait_s > 0 else base_s  # no wait yet: Brooker's sleep starts at base
    assert wait_s <= max(base_s, 3 * previous_s)


@given(base_s=seconds, attempt=attempts, seed=seeds)
def test_fixed_always_waits_base(base_s, attempt, seed):
    assert retry.fixed(base_s).wait_s(state(attempt), random.Random(seed)) == base_s


def test_no_retry_never_waits():
    assert retry.no_retry().wait_s(state(3), random.Random(0)) == 0.0


def test_exponential_doubles_then_caps():
    backoff = retry.exponential(base_s=2, cap_s=600)
    waits = [backoff.wait_s(state(attempt), random.Random(0)) for attempt in range(1, 13)]

    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600]
    assert all(isinstance(w, float) for w in waits)


def test_decorrelated_jitter_first_wait_is_uniform_between_base_and_three_times_base():
    """Brooker: sleep = min(cap, random_between(base, sleep * 3)) with sleep = base at first — clients throttled
    together must not all come back after exactly base."""
    backoff = retry.decorrelated_jitter(base_s=2, cap_s=600)
    rng = random.Random(1)
    first = [backoff.wait_s(state(1, last_wait_s=0.0), rng) for _ in range(4000)]
    assert min(first) >= 2.0 and max(first) <= 6.0
    # KS against uniform(2, 6): for a correct backoff a p-value below 1e-6 comes by chance once in a million
    assert stats.kstest(first, stats.uniform(loc=2.0, scale=4.0).cdf).pvalue > 1e-6


def test_decorrelated_jitter_grows_from_the_last_wait():
    backoff = retry.decorrelated_jitter(base_s=2, cap_s=600)
    rng = random.Random(1)
    draws = [backoff.wait_s(state(5, last_wait_s=100.0), rng) for _ in range(2000)]
    assert min(draws) >= 2.0 and max(draws) <= 300.0
    assert max(draws) > 250.0  # it does reach toward 3 × the last wait


def test_full_jitter_mean_is_half_the_exponential_wait():
    backoff = retry.full_jitter(base_s=2, cap_s=600)
    rng = random.Random(7)
    s = state(attempt=6)  # exponential: 64 s
    n = 20_000

    mean_s = sum(backoff.wait_s(s, rng) for _ in range(n)) / n

    assert mean_s == pytest.approx(32.0, rel=0.02)


def test_equal_jitter_mean_is_three_quarters_of_the_exponential_wait():
    backoff = retry.equal_jitter(base_s=2, cap_s=600)
    rng = random.Random(7)
    n = 20_000

    mean_s = sum(backoff.wait_s(state(attempt=6), rng) for _ in range(n)) / n

    assert mean_s == pytest.approx(48.0, rel=0.02)


@pytest.mark.parametrize("make", [retry.exponential, retry.full_jitter, retry.equal_jitter,
                                  retry.decorrelated_jitter], ids=lambda f: f.__name__)
@pytest.mark.parametrize("base_s, cap_s", [(-1.0, 10.0), (1.0, float("nan")), (1.0, float("inf"))],
                         ids=["negative base", "nan cap", "infinite cap"])
def test_backoffs_refuse_impossible_durations(make, base_s, cap_s):
    with pytest.raises(ValueError, match="seconds"):
        make(base_s, cap_s)


# --- determinism --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backoff", [retry.full_jitter(2, 600), retry.equal_jitter(2, 600),
                                     retry.decorrelated_jitter(2, 600)], ids=repr)
def test_same_seed_gives_same_waits(backoff):
    def waits(seed: int) -> list[float]:
        rng, s, result = random.Random(seed), RetryState(), []
        for _ in range(30):
            s.attempt += 1
            s.last_wait_s = backoff.wait_s(s, rng)
            result.append(s.last_wait_s)
        return result

    assert waits(42) == waits(42)
    assert waits(42) != waits(43)


# --- the policy: Retry-After and giving up ------------------------------------------------------------------


@given(retry_after_s=seconds, attempt=attempts, seed=seeds)
def test_retry_after_is_waited_exactly_when_honoured(retry_after_s, attempt, seed):
    policy = RetryPolicy(retry.full_jitter(2, 600), honor_retry_after=True)

    assert policy.wait_s(state(attempt, retry_after_s=retry_after_s), random.Random(seed)) == retry_after_s


def test_without_retry_after_the_backoff_decides():
    policy = RetryPolicy(retry.exponential(2, 600), honor_retry_after=True)

    assert policy.wait_s(state(4, retry_after_s=None), random.Random(0)) == 16.0


def test_retry_after_is_ignored_when_not_honoured():
    policy = RetryPolicy(retry.exponential(2, 600), honor_retry_after=False)

    assert policy.wait_s(state(4, retry_after_s=300.0), random.Random(0)) == 16.0


def test_a_negative_retry_after_never_makes_a_negative_wait():
    policy = RetryPolicy(retry.exponential(2, 600))

    assert policy.wait_s(state(1, retry_after_s=-5.0), random.Random(0)) == 0.0


def test_policy_none_stops_after_the_first_failure():
    policy = policy_from_scenario(Retry(policy="none"))

    assert policy.stop(state(attempt=1, elapsed_s=0.0))
    assert policy.stop_reason(state(attempt=1)) == "retry policy none: gave up after the first attempt"


def test_max_attempts_stops_at_n():
    policy = RetryPolicy(retry.fixed(1), max_attempts=5)

    assert [policy.stop(state(attempt=n, elapsed_s=n)) for n in range(1, 7)] == [
        False, False, False, False, True, True,
    ]
    reason = policy.stop_reason(state(attempt=5, elapsed_s=92.5))
    assert reason == "max_attempts 5 reached"


def test_deadline_stops_once_elapsed_reaches_it():
    policy = RetryPolicy(retry.exponential(2, 600))  # deadline: the default six hours

    assert not policy.stop(state(attempt=36, elapsed_s=21599.9))
    assert policy.stop(state(attempt=37, elapsed_s=21600.0))
    assert policy.stop(state(attempt=37, elapsed_s=30000.0))
    assert policy.stop_reason(state(attempt=37, elapsed_s=21600.0)) == "deadline 6h reached"


def test_zero_max_attempts_means_only_the_deadline():
    policy = RetryPolicy(retry.fixed(1), max_attempts=0, deadline_s=60.0)

    assert not policy.stop(state(attempt=1_000_000, elapsed_s=59.0))
    assert policy.stop(state(attempt=1_000_001, elapsed_s=60.0))


def test_no_stop_reason_while_retrying():
    assert RetryPolicy(retry.fixed(1)).stop_reason(state(attempt=3, elapsed_s=10.0)) == ""


# --- from the scenario --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, backoff",
    [
        ("none", NoRetry()),
        ("fixed", Fixed(3.0)),
        ("exponential", Exponential(3.0, 120.0)),
        ("full-jitter", FullJitter(3.0, 120.0)),
        ("equal-jitter", EqualJitter(3.0, 120.0)),
        ("decorrelated-jitter", DecorrelatedJitter(3.0, 120.0)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_policy_from_scenario_picks_the_named_backoff(name, backoff):
    policy = policy_from_scenario(Retry(policy=name, base="3s", cap="2m"))

    assert type(policy.backoff) is type(backoff)
    assert policy.backoff == backoff
    assert policy.retries is (name != "none")


def test_policy_from_scenario_carries_the_rules():
    policy = policy_from_scenario(
        Retry(policy="full-jitter", deadline="1h", honor_retry_after=False, max_attempts=9)
    )

    assert policy == RetryPolicy(retry.full_jitter(2, 600), honor_retry_after=False, max_attempts=9,
                                 deadline_s=3600.0, retries=True)


def test_scenario_defaults_give_the_event_apis_six_hour_horizon():
    assert policy_from_scenario(Retry()).deadline_s == 21600.0


def test_throttle_from_scenario_only_when_adaptive():
    assert throttle_from_scenario(Retry()) is None
    throttle = throttle_from_scenario(Retry(adaptive=True, adaptive_k=1.5))
    assert isinstance(throttle, AdaptiveThrottle) and throttle.k == 1.5


# --- adaptive throttling ------------------------------------------------------------------------------------


def test_throttle_never_rejects_while_everything_is_accepted():
    throttle, rng = AdaptiveThrottle(), random.Random(0)

    for i in range(10_000):
        now_s = i * 0.05
        assert throttle.allow(now_s, rng)
        throttle.record(now_s, accepted=True)


def test_throttle_probability_follows_the_sre_formula():
    throttle, rng = AdaptiveThrottle(k=2.0), random.Random(0)
    for _ in range(10):  # 10 requests, all accepted
        throttle.allow(0.0, rng)
        throttle.record(0.0, accepted=True)
    for _ in range(50):  # then 50 refused by the backend
        throttle.allow(1.0, rng)
        throttle.record(1.0, accepted=False)

    assert throttle.rejection_probability(1.0) == pytest.approx((60 - 2 * 10) / (60 + 1))


def test_throttle_rejects_about_as_often_as_the_formula_says_when_the_backend_refuses_everything():
    throttle, rng = AdaptiveThrottle(), random.Random(3)
    for _ in range(1000):  # all refused: r = 1000, a = 0
        if throttle.allow(0.0, rng):
            throttle.record(0.0, accepted=False)
    expected = 1000 / 1001
    assert throttle.rejection_probability(0.0) == pytest.approx(expected)

    n = 20_000
    rejected = sum(not throttle.allow(0.0, rng) for _ in range(n))  # each one raises r a little more

    assert rejected / n == pytest.approx(1.0, abs=0.01)
    assert rejected < n  # never certain: (r - K·a) / (r + 1) < 1


def test_throttle_forgets_what_left_the_window():
    throttle, rng = AdaptiveThrottle(window_s=120.0), random.Random(0)
    for _ in range(100):
        throttle.allow(0.0, rng)
        throttle.record(0.0, accepted=False)
    assert throttle.rejection_probability(119.9) > 0.9

    assert throttle.rejection_probability(120.0) == 0.0  # all 100 are exactly one window old
    assert throttle.allow(120.0, rng)


def test_throttle_is_deterministic_by_seed():
    def decisions(seed: int) -> list[bool]:
        throttle, rng = AdaptiveThrottle(), random.Random(seed)
        result = []
        for i in range(500):
            allowed = throttle.allow(i * 0.1, rng)
            result.append(allowed)
            if allowed:
                throttle.record(i * 0.1, accepted=i % 4 == 0)
        return result

    assert decisions(5) == decisions(5)


@pytest.mark.parametrize("k, window_s", [(0.0, 120.0), (2.0, 0.0), (2.0, float("inf"))])
def test_throttle_refuses_a_meaningless_configuration(k, window_s):
    with pytest.raises(ValueError):
        AdaptiveThrottle(k=k, window_s=window_s)
