"""Pacing and adaptive concurrency hold their defining properties whatever the callers do (Hypothesis)."""

from __future__ import annotations

import bisect
import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.pacing import AimdLimit, Pacer


@settings(max_examples=150, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=800), share=st.floats(0.05, 1.0),
       requests_limit=st.integers(1, 400), window_s=st.floats(1.0, 60.0))
@example(gaps=[0.0] * 800, share=0.95, requests_limit=100, window_s=10.0)  # every processor at once
def test_pacer_keeps_every_window_to_its_share_of_the_limit(gaps: list[float], share: float, requests_limit: int,
                                                          window_s: float) -> None:
    pacer = Pacer.for_limit(requests_limit, window_s, share)
    now_s = 0.0
    sends: list[float] = []
    for gap_s in gaps:
        now_s += gap_s
        wait_s = pacer.reserve(now_s)
        assert wait_s >= 0.0
        sends.append(now_s + wait_s)
    sends.sort()
    most = math.ceil(share * requests_limit - 1e-9)
    for end_s in sends:  # windows (end - window, end] ending at a send are where the count peaks
        in_window = bisect.bisect_right(sends, end_s + 1e-9) - bisect.bisect_right(sends, end_s - window_s + 1e-9)
        assert in_window <= most


def test_pacer_serves_callers_in_order_at_its_rate() -> None:
    pacer = Pacer.for_limit(6000, 300.0, 0.95)  # 19 calls/s
    waits = [pacer.reserve(0.0) for _ in range(4)]
    assert waits == pytest.approx([0.0, 1 / 19, 2 / 19, 3 / 19])
    assert pacer.reserve(10.0) == 0.0  # an idle bucket holds one token, not a burst


@settings(max_examples=150, deadline=None)
@given(events=st.lists(st.tuples(st.floats(0.0, 400.0), st.booleans()), min_size=1, max_size=300),
       maximum=st.integers(1, 64), window_s=st.floats(1.0, 300.0))
def test_aimd_stays_within_one_and_the_processors(events: list[tuple[float, bool]], maximum: int,
                                                  window_s: float) -> None:
    limit = AimdLimit(maximum, window_s)
    now_s = 0.0
    for gap_s, throttled in events:
        now_s += gap_s
        before = limit.limit
        if throttled:
            limit.throttled(now_s)
            assert limit.limit in (before, max(1, before // 2))
        else:
            grew = limit.tick(now_s)
            assert limit.limit == before + grew
        assert 1 <= limit.limit <= maximum


def test_aimd_halves_once_per_signal_and_adds_one_per_quiet_window() -> None:
    limit = AimdLimit(16, window_s=300.0)
    limit.throttled(10.0)
    limit.throttled(10.5)  # the same throttled burst: one signal
    assert limit.limit == 8
    assert not limit.tick(309.0) and limit.tick(310.0) and limit.limit == 9
    assert not limit.tick(400.0)  # the next one only a window later
