"""Validation read-cache: a TTL cache never serves an expired entry; no cache always misses."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from simulator.cache import MISS, NoCache, TtlCache, cache_from_scenario
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
