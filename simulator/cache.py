"""The event API's validation read-cache: strategies for what an API instance remembers between requests.

Before it accepts a registration, the event API validates it: the event is live, the sessions and passes it
names exist and are valid. Those are Dataverse reads, spent from the same service-protection budget as the
registration writes — which is why caching them matters in a stampede. The real API keeps "a 10-minute cache
for event and entity validation", one per instance, and "the read cache affects validation only, not the
registration records themselves" (RTM event API, "Performance and limits", S1). So the cache holds catalog
entities for validation; it never stands in for a write.

A strategy is a small pure object: ``get(key, now_s)`` returns the value or ``MISS``; on a miss the host reads
Dataverse and ``put``s the answer. Time is passed in, so the same objects serve virtual and wall-clock runs.
Each API instance owns its own cache (``cache_from_scenario`` builds a fresh one per call).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from simulator.scenario import Api

__all__ = ["MISS", "ReadCache", "NoCache", "TtlCache", "cache_from_scenario"]


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

    def put(self, key: Hashable, value: Any, now_s: float) -> None:
        self._entries[key] = (value, now_s + self.ttl_s)

    def __repr__(self) -> str:
        return f"TtlCache(ttl_s={self.ttl_s:g}, entries={len(self._entries)})"


def cache_from_scenario(api: Api) -> ReadCache:
    """A fresh cache for one API instance, as the scenario's ``[api]`` section describes."""
    if api.cache == "none":
        return NoCache()
    if api.cache == "ttl":
        return TtlCache(api.cache_ttl)
    raise ValueError(f'api.cache = {api.cache!r} — expected "none" or "ttl"')
