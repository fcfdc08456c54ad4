"""The event API's validation read-cache: strategies for what an API instance remembers between requests.

Before it accepts a registration, the event API validates it: the event is live, the sessions and passes it
names exist and are valid. Those are Dataverse reads, spent from the same service-protection budget as the
registration writes — which is why caching them matters in a stampede. The real API keeps "a 10-minute cache
for event and entity validation", one per instance, and "the read cache affects validation only, not the
registration records themselves" (RTM event API, "Performance and limits", S1). So the cache holds catalog
entities for validation; it never stands in for a write.

A strategy is a small pure object: ``get(key, now_s)`` returns the value or ``MISS``; on a miss the host reads
Dataverse and ``put``s the answer. Time is passed in, so the same objects serve virtual and wall-clock runs.
Each API instance owns its own cache (``cache_from_scenario`` builds a fresh one per call), except with
``shared``, where the engine hands every instance the same one (an external cache such as Redis).

The refreshing strategies (:class:`StaleWhileRevalidate`, :class:`RefreshAhead`) also answer *whether the host
should refresh the entry in the background*: ``lookup(key, now_s) -> (value or MISS, refresh)``. At most one
refresh per key is asked for until the host reports it done (``put``) or failed (``refresh_failed``).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from simulator.scenario import Api

__all__ = ["MISS", "ReadCache", "NoCache", "TtlCache", "StaleWhileRevalidate", "RefreshAhead", "cache_from_scenario"]


class _Miss:
    """The type of ``MISS``: one instance, identity-compared, survives pickling as itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISS"

    def __reduce__(self) -> str:
        return "MISS"


#: What ``get`` returns when the cache cannot answer (None is a legitimate cached value, so it cannot be).
MISS: Final = _Miss()


class ReadCache(Protocol):
    """A validation read-cache of one API instance."""

    def get(self, key: Hashable, now_s: float) -> Any:
        """The value stored under ``key`` if it may be served at ``now_s``, else ``MISS``."""
        ...

    def misses(self, keys: Iterable[Hashable], now_s: float) -> list[Any]:
        """The ``keys`` (in order) that ``get`` would miss at ``now_s``, looked up as ``get`` does."""
        ...

    def put(self, key: Hashable, value: Any, now_s: float) -> None:
        """Remember ``value`` (just read from Dataverse at ``now_s``) under ``key``."""
        ...


class NoCache:
    """Remember nothing: every validation read goes to Dataverse.

    Choose it to measure the cache's worth — run a scenario with ``api.cache = "none"`` and compare the
    Dataverse reads and throttling against ``"ttl"``.
    """

    __slots__ = ()

    def get(self, key: Hashable, now_s: float) -> Any:
        return MISS

    def misses(self, keys: Iterable[Hashable], now_s: float) -> list[Any]:
        return list(keys)

    def put(self, key: Hashable, value: Any, now_s: float) -> None:
        pass

    def __repr__(self) -> str:
        return "NoCache()"


class TtlCache:
    """Serve an entry while ``now_s < stored_at + ttl_s``, then miss; a ``put`` refreshes the entry.

    This is the real API's behaviour with ``ttl_s = 600`` (10 minutes, per instance). An expired entry is
    dropped when it is next read; keys are catalog entities, so the map stays as small as the catalog.
    ``ttl_s = 0`` never serves anything (every read misses) but still counts as a cache in the model.
    """

    __slots__ = ("ttl_s", "_entries")

    def __init__(self, ttl_s: float) -> None:
        if not ttl_s >= 0.0:  # also rejects NaN
            raise ValueError(f"ttl_s must be >= 0 seconds, got {ttl_s!r}")
        self.ttl_s = float(ttl_s)
        self._entries: dict[Hashable, tuple[Any, float]] = {}  # key -> (value, expires_s)

    def get(self, key: Hashable, now_s: float) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return MISS
        if now_s < entry[1]:
            return entry[0]
        del self._entries[key]
        return MISS

    def misses(self, keys: Iterable[Hashable], now_s: float) -> list[Any]:
        # get's steps in one loop (the hot path: five lookups per arrival, one call)
        entries = self._entries
        missed = []
        for key in keys:
            entry = entries.get(key)
            if entry is None:
                missed.append(key)
            elif now_s >= entry[1]:
                del entries[key]
                missed.append(key)
        return missed

    def put(self, key: Hashable, value: Any, now_s: float) -> None:
        self._entries[key] = (value, now_s + self.ttl_s)

    def __repr__(self) -> str:
        return f"TtlCache(ttl_s={self.ttl_s:g}, entries={len(self._entries)})"


class _Refreshing:
    """Entries ``(value, stored_s)`` plus the keys whose background refresh is under way."""

    __slots__ = ("ttl_s", "_entries", "_refreshing")

    def __init__(self, ttl_s: float) -> None:
        if not ttl_s >= 0.0:  # also rejects NaN
            raise ValueError(f"ttl_s must be >= 0 seconds, got {ttl_s!r}")
        self.ttl_s = float(ttl_s)
        self._entries: dict[Hashable, tuple[Any, float]] = {}  # key -> (value, expires_s)
        self._refreshing: dict[Hashable, float] = {}  # key -> no new refresh before (inf: one under way)

    def get(self, key: Hashable, now_s: float) -> Any:
        return self.lookup(key, now_s)[0]

    def misses(self, keys: Iterable[Hashable], now_s: float) -> list[Any]:
        return [key for key in keys if self.lookup(key, now_s)[0] is MISS]

    def lookup(self, key: Hashable, now_s: float) -> tuple[Any, bool]:  # pragma: no cover - overridden
        raise NotImplementedError

    def put(self, key: Hashable, value: Any, now_s: float) -> None:
        self._entries[key] = (value, now_s + self.ttl_s)
        self._refreshing.pop(key, None)

    def refresh_failed(self, key: Hashable, retry_at_s: float) -> None:
        """The background read for ``key`` failed: a lookup from ``retry_at_s`` on (the failure's
        Retry-After) may ask for another, so a throttled key is not asked once per lookup."""
        self._refreshing[key] = retry_at_s

    def _ask(self, key: Hashable, now_s: float) -> bool:
        if self._refreshing.get(key, -math.inf) > now_s:
            return False
        self._refreshing[key] = math.inf
        return True


class StaleWhileRevalidate(_Refreshing):
    """Serve a fresh entry; serve an expired one (up to ``stale_max_s`` past its expiry) once more per lookup
    while one background read refreshes it; past that bound, miss.

    After a key's first read, callers never wait on Dataverse for it as long as some refresh succeeds within
    ``stale_max_s`` of the expiry (a refresh that fails is asked for again on the next lookup). The price is
    staleness: an entry may be served up to ``ttl_s + stale_max_s`` after it was read (HTTP's
    ``stale-while-revalidate``, RFC 5861).

    Choose it when validation reads meet a throttled key (an email blast): callers are never turned away for
    a read the cache could have answered, and a refresh is one read per key per ttl, whoever asks.
    """

    __slots__ = ("stale_max_s",)

    def __init__(self, ttl_s: float, stale_max_s: float) -> None:
        super().__init__(ttl_s)
        if not stale_max_s >= 0.0:
            raise ValueError(f"stale_max_s must be >= 0 seconds, got {stale_max_s!r}")
        self.stale_max_s = float(stale_max_s)

    def lookup(self, key: Hashable, now_s: float) -> tuple[Any, bool]:
        entry = self._entries.get(key)
        if entry is None:
            return MISS, False
        if now_s < entry[1]:
            return entry[0], False
        if now_s < entry[1] + self.stale_max_s:
            return entry[0], self._ask(key, now_s)
        del self._entries[key]
        return MISS, False

    def __repr__(self) -> str:
        return f"StaleWhileRevalidate(ttl_s={self.ttl_s:g}, stale_max_s={self.stale_max_s:g})"


class RefreshAhead(_Refreshing):
    """A TTL cache that refreshes an entry in the background when it is read within ``ahead_s`` of expiry.

    Entries still expire at ``ttl_s`` (never served stale); a key read often enough is refreshed before it
    expires and never misses, a key read rarely expires as under ``ttl``.

    Choose it when staleness is not acceptable but hot keys should not miss: catalog pages and validation of
    a live launch are read every second, so their refresh is due long before anyone would miss.
    """

    __slots__ = ("ahead_s",)

    def __init__(self, ttl_s: float, ahead_s: float) -> None:
        super().__init__(ttl_s)
        if not ahead_s >= 0.0:
            raise ValueError(f"ahead_s must be >= 0 seconds, got {ahead_s!r}")
        self.ahead_s = float(ahead_s)

    def lookup(self, key: Hashable, now_s: float) -> tuple[Any, bool]:
        entry = self._entries.get(key)
        if entry is None:
            return MISS, False
        if now_s < entry[1]:
            return entry[0], now_s >= entry[1] - self.ahead_s and self._ask(key, now_s)
        del self._entries[key]
        return MISS, False

    def __repr__(self) -> str:
        return f"RefreshAhead(ttl_s={self.ttl_s:g}, ahead_s={self.ahead_s:g})"


def cache_from_scenario(api: Api) -> ReadCache:
    """A fresh cache for one API instance, as the scenario's ``[api]`` section describes (``shared`` is a
    TTL cache that the engine gives every instance)."""
    if api.cache == "none":
        return NoCache()
    if api.cache in ("ttl", "shared"):
        return TtlCache(api.cache_ttl)
    if api.cache == "stale-while-revalidate":
        return StaleWhileRevalidate(api.cache_ttl, api.cache_ttl if api.stale_max is None else api.stale_max)
    if api.cache == "refresh-ahead":
        return RefreshAhead(api.cache_ttl, api.refresh_ahead)
    raise ValueError(f'api.cache = {api.cache!r} — expected none, ttl, shared, stale-while-revalidate or '
                     'refresh-ahead')
