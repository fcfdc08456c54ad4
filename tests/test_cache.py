"""Validation read-cache: a TTL cache never serves an expired entry; no cache always misses."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.cache import MISS, NoCache, RefreshAhead, StaleWhileRevalidate, TtlCache, cache_from_scenario
from simulator.scenario import Api

times = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)
ttls = st.floats(min_value=0.0, max_value=1e5, allow_nan=False, allow_infinity=False)
keys = st.sampled_from(["event:1", "event:2", ("session", 7), 42])


@given(ttl_s=ttls, ops=st.lists(st.tuples(st.booleans(), keys, times), max_size=60))
@example(ttl_s=600.0, ops=[(True, "event:1", 0.0), (False, "event:1", 600.0)])  # exactly at expiry: a miss
@example(ttl_s=0.0, ops=[(True, "event:1", 5.0), (False, "event:1", 5.0)])  # zero TTL never serves
def test_ttl_cache_never_serves_an_expired_entry(ttl_s: float, ops: list[tuple[bool, object, float]]) -> None:
    cache = TtlCache(ttl_s)
    stored: dict[object, tuple[int, float]] = {}  # key -> (value, stored_at)
    now_s = 0.0
    for n, (is_put, key, step_s) in enumerate(ops):
        now_s += step_s % 1000.0  # time only moves forward
        if is_put:
            cache.put(key, n, now_s)
            stored[key] = (n, now_s)
            continue
        value = cache.get(key, now_s)
        if key in stored and now_s < stored[key][1] + ttl_s:
            assert value == stored[key][0]  # fresh: served, the latest put's value
        else:
            assert value is MISS
            stored.pop(key, None)


def test_ttl_cache_serves_a_fresh_entry_then_misses():
    cache = TtlCache(ttl_s=600.0)
    event = {"id": "event:1", "live": True}
    cache.put("event:1", event, now_s=100.0)

    assert cache.get("event:1", now_s=100.0) is event
    assert cache.get("event:1", now_s=699.9) is event
    assert cache.get("event:1", now_s=700.0) is MISS
    assert cache.get("event:2", now_s=100.0) is MISS


def test_a_put_refreshes_the_entry():
    cache = TtlCache(ttl_s=600.0)
    cache.put("event:1", "old", now_s=0.0)
    cache.put("event:1", "new", now_s=500.0)

    assert cache.get("event:1", now_s=1000.0) == "new"
    assert cache.get("event:1", now_s=1100.0) is MISS


def test_none_is_a_value_that_can_be_cached():
    cache = TtlCache(ttl_s=60.0)
    cache.put("pass:9", None, now_s=0.0)

    assert cache.get("pass:9", now_s=1.0) is None


def test_no_cache_always_misses():
    cache = NoCache()
    cache.put("event:1", {"id": "event:1"}, now_s=0.0)

    assert cache.get("event:1", now_s=0.0) is MISS


def test_ttl_cache_refuses_a_negative_ttl():
    with pytest.raises(ValueError, match="ttl_s"):
        TtlCache(ttl_s=-1.0)


def test_miss_is_one_sentinel():
    assert repr(MISS) == "MISS"
    assert pickle.loads(pickle.dumps(MISS)) is MISS


def test_cache_from_scenario_none():
    assert isinstance(cache_from_scenario(Api(cache="none")), NoCache)


def test_cache_from_scenario_ttl_defaults_to_the_real_apis_ten_minutes():
    cache = cache_from_scenario(Api())

    assert isinstance(cache, TtlCache) and cache.ttl_s == 600.0


def test_cache_from_scenario_gives_each_instance_its_own_cache():
    api = Api(cache="ttl", cache_ttl="1m")
    first, second = cache_from_scenario(api), cache_from_scenario(api)
    first.put("event:1", "e", now_s=0.0)

    assert second.get("event:1", now_s=0.0) is MISS
    assert isinstance(first, TtlCache) and first.ttl_s == 60.0


# --- the refreshing strategies -----------------------------------------------------------------------------

def test_stale_while_revalidate_serves_stale_while_one_refresh_is_under_way() -> None:
    cache = StaleWhileRevalidate(ttl_s=10.0, stale_max_s=5.0)
    assert cache.lookup("e", 0.0) == (MISS, False)
    cache.put("e", "v", 0.0)
    assert cache.lookup("e", 9.9) == ("v", False)  # fresh
    assert cache.lookup("e", 10.0) == ("v", True)  # expired: served, refresh asked for once …
    assert cache.lookup("e", 11.0) == ("v", False)  # … and not again while it is under way
    cache.refresh_failed("e", retry_at_s=12.0)
    assert cache.lookup("e", 11.5) == ("v", False)  # the failure's Retry-After holds
    assert cache.lookup("e", 12.0) == ("v", True)
    assert cache.lookup("e", 15.0) == (MISS, False)  # past stale_max: a miss
    cache.put("e", "w", 15.0)
    assert cache.lookup("e", 16.0) == ("w", False)


def test_refresh_ahead_refreshes_hot_keys_before_they_expire_and_never_serves_stale() -> None:
    cache = RefreshAhead(ttl_s=10.0, ahead_s=2.0)
    cache.put("e", "v", 0.0)
    assert cache.lookup("e", 7.9) == ("v", False)
    assert cache.lookup("e", 8.0) == ("v", True)
    assert cache.lookup("e", 9.0) == ("v", False)
    assert cache.lookup("e", 10.0) == (MISS, False)  # expired entries are never served
    assert cache.get("e", 10.0) is MISS


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.floats(0.0, 30.0), st.sampled_from(["get", "put", "fail"])), max_size=60),
       ttl_s=st.floats(0.0, 20.0), stale_max_s=st.floats(0.0, 20.0))
def test_stale_while_revalidate_never_serves_beyond_ttl_plus_stale_max(
        ops: list[tuple[float, str]], ttl_s: float, stale_max_s: float) -> None:
    cache = StaleWhileRevalidate(ttl_s, stale_max_s)
    now_s, stored_s = 0.0, None
    for gap_s, op in ops:
        now_s += gap_s
        if op == "put":
            cache.put("k", now_s, now_s)
            stored_s = now_s
        elif op == "fail":
            cache.refresh_failed("k", now_s)
        else:
            value, _refresh = cache.lookup("k", now_s)
            if value is not MISS:
                assert stored_s is not None and now_s < stored_s + ttl_s + stale_max_s
