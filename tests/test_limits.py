"""Dataverse service protection: one (app user, web server) key and its three limits.

Property tests use a small key (5 requests / 10 s, 3 s of execution, 3 concurrent) so that every interesting
situation — a full window, an entry leaving exactly at t + window, a throttled caller that keeps sending —
turns up in a few dozen calls. Execution is accounted in whole microseconds, as the limiter does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.limits import (
    CONCURRENCY,
    EXECUTION,
    REQUESTS,
    KeyLimiter,
    LimitSettings,
    Throttled,
)

SMALL = LimitSettings(requests_limit=5, window_s=10.0, execution_limit_s=3.0, concurrency_limit=3)
N, WINDOW_S, BUDGET_US, CONCURRENT = 5, 10.0, 3_000_000, 3
DEFAULTS = LimitSettings()  # Microsoft's: 6000 requests, 1200 s of execution per 300 s, 52 concurrent


def us(execution_s: float) -> int:
    return round(execution_s * 1_000_000)


# A call: wait dt seconds, maybe let the oldest call in flight finish, then send one costing execution_s.
gaps_s = st.one_of(st.sampled_from([0.0, 0.1, 0.2, 1.0, 2.5, 10.0]), st.floats(0.0, 3.0), st.floats(0.0, 12.0))
costs_s = st.one_of(st.sampled_from([0.0, 0.1, 0.25, 1.0, 3.0]), st.floats(0.0, 0.5), st.floats(0.0, 3.0))
finishes = st.sampled_from([True, True, False])
calls = st.lists(st.tuples(gaps_s, costs_s, finishes), max_size=60)
PROPERTY = settings(max_examples=150, deadline=None)


@dataclass
class Ledger:
    """What the limiter should know, kept the slow, obvious way."""

    logged_s: list[float] = field(default_factory=list)  # every request in the request log
    charged: list[tuple[float, int]] = field(default_factory=list)  # (time, µs) of admitted execution
    admitted: list[tuple[float, int]] = field(default_factory=list)
    in_flight: int = 0

    def requests_at(self, now_s: float) -> int:
        return sum(1 for t in self.logged_s if t + WINDOW_S > now_s)

    def charged_us_at(self, now_s: float) -> int:
        return sum(amount for t, amount in self.charged if t + WINDOW_S > now_s)

    def exact_verdict(self, now_s: float, execution_us: int) -> str | None:
        """The first limit with no room for this call, or None."""
        if self.in_flight >= CONCURRENT:
            return CONCURRENCY
        if self.requests_at(now_s) >= N:
            return REQUESTS
        charged_us = self.charged_us_at(now_s)
        if charged_us and charged_us + execution_us > BUDGET_US:
            return EXECUTION
        return None

    def seconds_until_room(self, limit: str, now_s: float, execution_us: int) -> int:
        """Smallest whole r >= 1 after which, with no other traffic, this call fits `limit` again."""
        for r in range(1, int(WINDOW_S) + 3):
            later_s = now_s + r
            if limit == REQUESTS and self.requests_at(later_s) < N:
                return r
            remaining_us = self.charged_us_at(later_s)
            if limit == EXECUTION and (remaining_us == 0 or remaining_us + execution_us <= BUDGET_US):
                return r
        raise AssertionError("no room within a window")


def play(limiter: KeyLimiter, script: list[tuple[float, float, bool]]) -> Ledger:
    """Run `script` against `limiter`, checking every verdict against the ledger as it goes."""
    ledger = Ledger()
    lagging = limiter.settings.enforcement == "lagging"
    extend = limiter.settings.extend_retry_after
    now_s = 0.0
    for gap_s, execution_s, finish in script:
        now_s += gap_s
        if finish and ledger.in_flight:
            limiter.finish()
            ledger.in_flight -= 1
        expected = ledger.exact_verdict(now_s, us(execution_s))
        verdict = limiter.admit(now_s, execution_s)
        if verdict is None:
            # Exact: admitted only with room. Lagging may let calls through, but never past concurrency.
            assert expected is None or (lagging and expected != CONCURRENCY)
            ledger.logged_s.append(now_s)
            ledger.charged.append((now_s, us(execution_s)))
            ledger.admitted.append((now_s, us(execution_s)))
            ledger.in_flight += 1
        else:
            # Throttled only when that limit really has no room (no under-admission, lagging included).
            assert verdict.limit == expected
            if verdict.limit == REQUESTS and extend:
                ledger.logged_s.append(now_s)
            if verdict.limit != CONCURRENCY:
                assert verdict.retry_after_s == ledger.seconds_until_room(verdict.limit, now_s, us(execution_s))
        assert limiter.in_flight == ledger.in_flight <= CONCURRENT
    return ledger


@pytest.mark.parametrize("extend", [False, True], ids=["plain", "extend-retry-after"])
@PROPERTY
@given(script=calls)
@example(script=[(0.1, 1.0, False), (0.2, 1.0, False)] + [(0.0, 0.5, True)] * 6 + [(9.7, 1.0, False)] * 3)
def test_admitted_calls_never_exceed_any_limit_in_any_window(extend: bool, script):
    ledger = play(KeyLimiter(replace(SMALL, extend_retry_after=extend)), script)

    for start_s, _ in ledger.admitted:
        in_window = [amount for t, amount in ledger.admitted if t >= start_s and start_s + WINDOW_S > t]
        assert len(in_window) <= N
        assert sum(in_window) <= BUDGET_US


@pytest.mark.parametrize(
    "enforcement, extend",
    [("exact", False), ("exact", True), ("lagging", False), ("lagging", True)],
    ids=["exact", "exact-extend", "lagging", "lagging-extend"],
)
@PROPERTY
@given(script=calls)
def test_throttles_only_without_room_and_admits_whenever_there_is(enforcement: str, extend: bool, script):
    limits = replace(SMALL, enforcement=enforcement, enforcement_lag_s=3.0, extend_retry_after=extend)
    play(KeyLimiter(limits), script)  # every verdict and Retry-After is checked inside


# --- Retry-After: exactly the whole seconds until there is room --------------------------------------------


def first_throttle(limiter: KeyLimiter, script) -> tuple[float, float, Throttled] | None:
    now_s = 0.0
    for gap_s, execution_s in script:
        now_s += gap_s
        verdict = limiter.admit(now_s, execution_s)
        if verdict is not None:
            return now_s, execution_s, verdict
    return None


def assert_retry_after_is_exact(limiter: KeyLimiter, script) -> None:
    found = first_throttle(limiter, script)
    if found is None:
        return
    now_s, execution_s, throttled = found
    assert throttled.retry_after_s >= 1
    if throttled.retry_after_s > 1:
        too_early = copy.deepcopy(limiter).admit(now_s + throttled.retry_after_s - 1, execution_s)
        assert too_early is not None and too_early.limit == throttled.limit
    assert copy.deepcopy(limiter).admit(now_s + throttled.retry_after_s, execution_s) is None


@pytest.mark.parametrize("extend", [False, True], ids=["plain", "extend-retry-after"])
@PROPERTY
@given(script=st.lists(st.tuples(gaps_s, st.just(0.0)), max_size=40))
@example(script=[(0.1, 0.0), (0.2, 0.0)] * 3)  # 0.1 + 0.2 + … : an entry leaves at t + 10 in floats
def test_retry_after_for_requests_is_the_wait_until_room(extend: bool, script):
    limits = LimitSettings(requests_limit=5, window_s=10.0, concurrency_limit=1000, extend_retry_after=extend)
    assert_retry_after_is_exact(KeyLimiter(limits), script)


@PROPERTY
@given(script=st.lists(st.tuples(gaps_s, costs_s), max_size=40))
@example(script=[(0.1, 1.0), (0.2, 1.0), (0.0, 1.0), (0.0, 0.5)])
def test_retry_after_for_execution_is_the_wait_until_room(script):
    limits = LimitSettings(requests_limit=1000, window_s=10.0, execution_limit_s=3.0, concurrency_limit=1000)
    assert_retry_after_is_exact(KeyLimiter(limits), script)


def test_an_entry_leaves_the_window_exactly_one_window_later():
    limiter = KeyLimiter(LimitSettings(requests_limit=1, window_s=0.3, concurrency_limit=1000))
    assert limiter.admit(0.1, 0.0) is None
    assert limiter.admit(0.39999, 0.0) is not None
    assert limiter.admit(0.1 + 0.3, 0.0) is None


def test_retry_after_counts_past_the_oldest_entries_when_the_window_is_overfull():
    limiter = KeyLimiter(LimitSettings(requests_limit=3, window_s=10.0))
    for t in (0.0, 1.0, 2.0):
        limiter.admit(t, 0.0)
        limiter.finish()
    limiter.settings = limiter.settings.with_overrides(requests_limit=2)  # 3 logged, room at 2: two must go
    throttled = limiter.admit(5.0, 0.0)
    assert throttled is not None and throttled.retry_after_s == 6  # the entry at 1.0 leaves at 11.0


# --- What a 429 says ---------------------------------------------------------------------------------------


def full_key(limit: str, limits: LimitSettings = DEFAULTS) -> Throttled:
    limiter = KeyLimiter(limits)
    if limit == CONCURRENCY:
        for _ in range(limits.concurrency_limit):
            assert limiter.admit(0.0, 0.0) is None
    elif limit == REQUESTS:
        for _ in range(limits.requests_limit):
            assert limiter.admit(0.0, 0.0) is None
            limiter.finish()
    else:
        assert limiter.admit(0.0, limits.execution_limit_s) is None
        limiter.finish()
    throttled = limiter.admit(1.0, 0.001)
    assert throttled is not None
    return throttled


def test_requests_throttle_says_what_dataverse_says():
    throttled = full_key(REQUESTS)
    assert throttled.limit == REQUESTS
    assert throttled.retry_after_s == 299
    assert throttled.error_body == {
        "error": {
            "code": "0x80072322",
            "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        }
    }


def test_execution_throttle_says_what_dataverse_says():
    throttled = full_key(EXECUTION)
    assert (throttled.limit, throttled.code, throttled.retry_after_s) == (EXECUTION, "0x80072321", 299)
    assert throttled.message == (
        "Combined execution time of incoming requests exceeded limit of 1,200,000  milliseconds over time "
        "window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests "
        "and try again later."
    )


def test_concurrency_throttle_says_what_dataverse_says():
    throttled = full_key(CONCURRENCY)
    assert throttled == Throttled(
        CONCURRENCY, 1, "0x80072326", "Number of concurrent requests exceeded the limit of 52."
    )


def test_messages_carry_the_configured_numbers():
    limits = LimitSettings(requests_limit=4000, execution_limit_s=600.0, concurrency_limit=100, window_s=60)
    assert "limit of 4000 over time window of 60 seconds." in full_key(REQUESTS, limits).message
    assert "limit of 600,000  milliseconds over time window of 60 seconds." in full_key(EXECUTION, limits).message
    assert full_key(CONCURRENCY, limits).message.endswith("the limit of 100.")


@pytest.mark.parametrize("configured_s, retry_after_s", [(1.0, 1), (2.5, 3), (0.0, 1)])
def test_concurrency_retry_after_is_whole_seconds_of_the_assumption(configured_s, retry_after_s):
    limits = LimitSettings(concurrency_limit=1, concurrency_retry_after_s=configured_s)
    assert full_key(CONCURRENCY, limits).retry_after_s == retry_after_s


def test_concurrency_is_freed_as_soon_as_a_call_finishes():
    limiter = KeyLimiter(LimitSettings(concurrency_limit=2))
    assert limiter.admit(0.0, 0.1) is None and limiter.admit(0.0, 0.1) is None
    assert limiter.admit(0.0, 0.1) is not None
    limiter.finish()
    assert limiter.admit(0.0, 0.1) is None
    assert limiter.in_flight == 2


def test_concurrency_is_checked_before_requests():
    limiter = KeyLimiter(LimitSettings(requests_limit=1, concurrency_limit=1))
    assert limiter.admit(0.0, 0.0) is None
    throttled = limiter.admit(1.0, 0.0)
    assert throttled is not None and throttled.limit == CONCURRENCY


def test_finish_without_a_call_in_flight_is_a_bug():
    with pytest.raises(RuntimeError, match="no admitted call"):
        KeyLimiter(LimitSettings()).finish()


# --- Execution time -----------------------------------------------------------------------------------------


def test_execution_is_charged_at_admission_and_leaves_with_the_window():
    limiter = KeyLimiter(LimitSettings(execution_limit_s=3.0, window_s=10.0))
    for t in (0.0, 1.0, 2.0):
        assert limiter.admit(t, 1.0) is None
    assert limiter.execution_in_window_s(2.0) == 3.0
    throttled = limiter.admit(2.0, 1.5)  # 1.5 s needs the calls at 0.0 and 1.0 gone: at 11.0
    assert throttled is not None and (throttled.limit, throttled.retry_after_s) == (EXECUTION, 9)
    assert limiter.admit(10.0, 1.0) is None  # the call at 0.0 left: 1 s fits
    assert limiter.execution_in_window_s(10.0) == 3.0


def test_a_call_bigger_than_the_whole_budget_runs_only_into_an_empty_window():
    limiter = KeyLimiter(LimitSettings(execution_limit_s=3.0, window_s=10.0))
    assert limiter.admit(0.0, 1.0) is None
    throttled = limiter.admit(1.0, 5.0)
    assert throttled is not None and throttled.retry_after_s == 9
    assert limiter.admit(10.0, 5.0) is None
    assert limiter.admit(11.0, 0.001) is not None


# --- Callers that keep sending ------------------------------------------------------------------------------


def first_admitted_s(limiter: KeyLimiter, start_s: float, *, poll_every_s: float | None, until_s=60.0):
    """A caller that polls every `poll_every_s`, or (None) honours Retry-After, until admitted."""
    now_s = start_s
    while now_s <= until_s:
        throttled = limiter.admit(now_s, 0.0)
        if throttled is None:
            return now_s
        now_s += poll_every_s if poll_every_s is not None else throttled.retry_after_s
    return None


def key_full_at_zero(*, extend: bool) -> KeyLimiter:
    limiter = KeyLimiter(LimitSettings(requests_limit=5, window_s=10.0, extend_retry_after=extend))
    for _ in range(5):
        limiter.admit(0.0, 0.0)
        limiter.finish()
    return limiter


def test_with_extension_a_caller_who_keeps_sending_waits_longer_than_one_who_waits():
    assert first_admitted_s(key_full_at_zero(extend=True), 1.0, poll_every_s=None) == 10.0
    assert first_admitted_s(key_full_at_zero(extend=False), 1.0, poll_every_s=1.0) == 10.0
    assert first_admitted_s(key_full_at_zero(extend=True), 1.0, poll_every_s=1.0) is None  # 1/s keeps it full


def test_with_extension_retry_after_moves_later_while_the_caller_keeps_sending():
    limiter = key_full_at_zero(extend=True)
    room_at_s = []
    for now_s in range(1, 10):
        throttled = limiter.admit(float(now_s), 0.0)
        assert throttled is not None
        room_at_s.append(now_s + throttled.retry_after_s)
    # 5 logged at 0 s, then one a second: room needs all but 4 gone, so the 5th newest decides.
    assert room_at_s == [10, 10, 10, 10, 11, 12, 13, 14, 15]
    assert limiter.requests_in_window(9.0) == 14


def test_without_extension_throttled_calls_are_not_counted():
    limiter = key_full_at_zero(extend=False)
    for now_s in (1.0, 5.0, 9.0):
        assert limiter.admit(now_s, 0.0) is not None
    assert limiter.requests_in_window(9.0) == 5


# --- Lagging enforcement ------------------------------------------------------------------------------------


def test_lagging_lets_a_burst_overshoot_within_one_lag_then_bites():
    limits = LimitSettings(requests_limit=5, window_s=300.0, enforcement="lagging", enforcement_lag_s=30.0)
    limiter = KeyLimiter(limits)
    for t in range(20):  # 20 in 20 s against a limit of 5: the view taken at 0 s said "room"
        assert limiter.admit(float(t), 0.0) is None
        limiter.finish()
    throttled = limiter.admit(30.0, 0.0)  # the view taken at 30 s sees 20 in the window
    assert throttled is not None and throttled.limit == REQUESTS
    assert throttled.retry_after_s == 285  # 16 of 20 must leave; the 16th oldest (at 15 s) leaves at 315 s
    assert limiter.admit(314.0, 0.0) is not None
    assert limiter.admit(315.0, 0.0) is None


def test_exact_enforcement_stops_the_same_burst_at_the_limit():
    limiter = KeyLimiter(LimitSettings(requests_limit=5, window_s=300.0))
    admitted = 0
    for t in range(20):
        if limiter.admit(float(t), 0.0) is None:
            admitted += 1
            limiter.finish()
    assert admitted == 5


def test_lagging_takes_a_fresh_view_when_the_limits_change():
    limiter = KeyLimiter(LimitSettings(requests_limit=100, enforcement="lagging", enforcement_lag_s=30.0))
    for t in range(5):
        assert limiter.admit(float(t), 0.0) is None
        limiter.finish()
    limiter.settings = limiter.settings.with_overrides(requests_limit=3)  # a limit fault at 5 s, mid-lag
    throttled = limiter.admit(5.0, 0.0)
    assert throttled is not None and throttled.message.startswith("Number of requests exceeded the limit of 3 ")


def test_lagging_still_refuses_concurrency_at_once():
    limiter = KeyLimiter(LimitSettings(concurrency_limit=2, enforcement="lagging"))
    limiter.admit(0.0, 0.0)
    limiter.admit(0.0, 0.0)
    throttled = limiter.admit(0.0, 0.0)
    assert throttled is not None and throttled.limit == CONCURRENCY


# --- Limit faults and housekeeping --------------------------------------------------------------------------


def test_a_limit_fault_takes_effect_on_the_next_call_and_keeps_the_log():
    limiter = key_full_at_zero(extend=False)
    assert limiter.admit(1.0, 0.0) is not None
    limiter.settings = limiter.settings.with_overrides(requests_limit=10)
    assert limiter.admit(1.0, 0.0) is None
    limiter.finish()
    limiter.settings = limiter.settings.with_overrides(requests_limit=3)
    throttled = limiter.admit(2.0, 0.0)
    assert throttled is not None
    assert throttled.message.startswith("Number of requests exceeded the limit of 3 ")
    assert throttled.retry_after_s == 8  # 6 logged (5 at 0.0, 1 at 1.0): room at 3 once four from 0.0 leave


def test_limit_faults_change_execution_and_concurrency_too():
    limiter = KeyLimiter(LimitSettings(execution_limit_s=10.0, concurrency_limit=5))
    assert limiter.admit(0.0, 2.0) is None and limiter.admit(0.0, 2.0) is None
    limiter.settings = limiter.settings.with_overrides(execution_limit_s=4.5, concurrency_limit=2)
    assert limit_hit(limiter.admit(0.0, 0.1)) == CONCURRENCY
    limiter.finish()
    assert limit_hit(limiter.admit(0.0, 1.0)) == EXECUTION
    assert limit_hit(limiter.admit(0.0, 0.5)) is None


def limit_hit(verdict: Throttled | None) -> str | None:
    return None if verdict is None else verdict.limit


def test_with_overrides_keeps_what_is_not_overridden():
    base = LimitSettings(window_s=60.0, enforcement="lagging")
    assert base.with_overrides() == base
    assert base.with_overrides(concurrency_limit=10) == LimitSettings(
        window_s=60.0, enforcement="lagging", concurrency_limit=10
    )


def test_expired_entries_are_dropped():
    limiter = KeyLimiter(LimitSettings(requests_limit=5, window_s=10.0, execution_limit_s=3.0))
    for i in range(10_000):
        if limiter.admit(i * 0.5, 0.01) is None:
            limiter.finish()
    # Memory is bounded by one window, not by the length of the run.
    assert len(limiter._request_log) <= 5
    assert len(limiter._execution_times) <= 5


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"requests_limit": 0}, "requests_limit = 0"),
        ({"concurrency_limit": 2.5}, "concurrency_limit = 2.5"),
        ({"window_s": 0.0}, "window_s = 0.0"),
        ({"execution_limit_s": float("nan")}, "execution_limit_s = nan"),
        ({"enforcement": "sloppy"}, "expected one of exact, lagging"),
    ],
)
def test_bad_settings_are_refused_loudly(overrides, complaint):
    with pytest.raises(ValueError, match=complaint):
        LimitSettings(**overrides)


@pytest.mark.parametrize("limit_s", [1e308, 1.7976931348623157e308, 1e13])
def test_a_huge_execution_limit_never_binds_and_breaks_nothing(limit_s: float) -> None:
    # The fault fuzz found it: a finite limit whose microseconds overflow to inf made round() raise, and the
    # fault request a 500. Such a limit is simply one no run can reach.
    key = KeyLimiter(LimitSettings(execution_limit_s=limit_s, concurrency_limit=10_000))
    for i in range(1000):
        assert key.admit(float(i), 80_000.0) is None  # 80 ks per call, 1,000 calls: far beyond 20 minutes
