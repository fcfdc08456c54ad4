"""The event API's read cache when a strategy needs the engine's help: one cache shared by every instance
(with its lookup latency), background refreshes (stale-while-revalidate, refresh-ahead), and single-flight
misses (``api.coalesce_misses``).

The pipeline hands its ``offer`` and ``pages_loaded`` to a :class:`CacheFront` at build time only when one of
these is configured, so the plain ``ttl`` and ``none`` caches keep their own, shorter path. Every miss and
every refresh is a Dataverse read as the instance's app user, on the same budget as the writes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

import simpy

from simulator import plan as plans
from simulator.cache import MISS, TtlCache
from simulator.engine.dataverse import DataverseModel, Failed
from simulator.engine.refusals import RejectionCode
from simulator.engine.work import ApiInstance, Offer, Outcome, Rejected
from simulator.records import Recorder
from simulator.scenario import Scenario

__all__ = ["CacheFront", "needs_front", "Validator"]

_REFRESHING = ("stale-while-revalidate", "refresh-ahead")


def needs_front(api: Any) -> bool:
    """Whether the scenario's ``[api]`` asks for more than a plain per-instance cache."""
    return api.cache == "shared" or api.cache in _REFRESHING or bool(api.coalesce_misses)


class Validator(Protocol):
    """What the cache front needs of the pipeline it fronts (``EventPipeline``)."""

    env: simpy.Environment
    scenario: Scenario
    recorder: Recorder
    dataverse: DataverseModel
    instances: list[ApiInstance]
    in_system: int
    validating: int

    def next_instance(self) -> ApiInstance: ...
    def upcoming_instance(self) -> ApiInstance: ...
    def keys_for(self, offer: Offer) -> tuple[tuple[str, str], ...]: ...
    def decide(self, offer: Offer, offered_s: float, reply: Callable[[Outcome], None] | None) -> None: ...
    def reject(self, offer: Offer, offered_s: float, rejected: Rejected,
               reply: Callable[[Outcome], None] | None) -> None: ...


class CacheFront:
    """Lookups, misses and refreshes for the configured strategy, on behalf of one pipeline."""

    def __init__(self, pipeline: Validator) -> None:
        self.pipeline = pipeline
        self.env: simpy.Environment = pipeline.env
        api = pipeline.scenario.api
        self.lookup_delay_s = 0.0
        if api.cache == "shared":
            shared = TtlCache(api.cache_ttl)  # one cache, as an external one (Redis) serves every instance
            for instance in pipeline.instances:
                instance.cache = shared
            self.lookup_delay_s = api.shared_cache_latency
        self.refreshing = api.cache in _REFRESHING
        self.coalesce = bool(api.coalesce_misses)
        self._flights: dict[tuple[int, Any], simpy.Event] = {}  # (id of the cache, key) -> read under way
        recorder = pipeline.recorder
        self._hits = recorder.counts["cache_hits"]
        self._misses = recorder.counts["cache_misses"]
        self._refreshes = recorder.counts["cache_refreshes"]

    # --- the pipeline's entry points -----------------------------------------------------------------------
    def offer(self, offer: Offer, reply: Callable[[Outcome], None] | None = None) -> None:
        """``EventPipeline.offer`` through this cache (same contract)."""
        pipeline = self.pipeline
        now = self.env.now
        pipeline.in_system += 1
        instance = pipeline.next_instance()
        keys = pipeline.keys_for(offer)
        missing = self.lookup(instance, keys, now)
        if missing or self.lookup_delay_s:
            pipeline.validating += 1
            self.env.process(self._validate(instance, offer, now, len(keys), missing, reply))
        else:
            pipeline.decide(offer, now, reply)

    def pages_loaded(self, keys: list[tuple[str, str]]) -> None:
        """``EventPipeline.pages_loaded`` through this cache: a miss refills it (once per key in flight when
        misses coalesce)."""
        pipeline = self.pipeline
        instance = pipeline.upcoming_instance()
        for key in self.lookup(instance, keys, self.env.now):
            if self.coalesce and (id(instance.cache), key) in self._flights:
                continue
            self.env.process(self._read(instance, key))

    # --- lookups, reads, refreshes -------------------------------------------------------------------------
    def lookup(self, instance: ApiInstance, keys: Any, now: float) -> list[tuple[str, str]]:
        """The keys the cache misses; due refreshes start in the background."""
        cache = instance.cache
        missing = []
        if self.refreshing:
            for key in keys:
                value, refresh = cache.lookup(key, now)  # type: ignore[attr-defined]
                if value is MISS:
                    missing.append(key)
                elif refresh:
                    self._refreshes[self.pipeline.recorder.index(now)] += 1
                    self.env.process(self._refresh(instance, key))
        else:
            missing = cache.misses(keys, now)
        index = self.pipeline.recorder.index(now)
        self._hits[index] += len(keys) - len(missing)
        self._misses[index] += len(missing)
        return missing

    def _refresh(self, instance: ApiInstance, key: Any) -> Generator[Any, Any, None]:
        failed = yield from self.pipeline.dataverse.call(instance.user, plans.VALIDATION_READ)
        if failed is None:
            instance.cache.put(key, True, self.env.now)
        else:
            now = self.env.now
            instance.cache.refresh_failed(key, now + (failed.retry_after_s or 1.0))  # type: ignore[attr-defined]

    def _read(self, instance: ApiInstance, key: Any) -> Generator[Any, Any, Failed | None]:
        """One Dataverse read that fills ``key``; with coalescing, concurrent callers share it."""
        flight_key = (id(instance.cache), key)
        flight = self._flights.get(flight_key) if self.coalesce else None
        if flight is not None:
            result: Failed | None = yield flight
            return result
        if self.coalesce:
            flight = self._flights[flight_key] = self.env.event()
        failed = yield from self.pipeline.dataverse.call(instance.user, plans.VALIDATION_READ)
        if failed is None:
            instance.cache.put(key, True, self.env.now)
        if flight is not None:
            del self._flights[flight_key]
            flight.succeed(failed)
        return failed

    def _validate(
        self, instance: ApiInstance, offer: Offer, offered_s: float, lookups: int, missing: list[tuple[str, str]],
        reply: Callable[[Outcome], None] | None,
    ) -> Generator[Any, Any, None]:
        pipeline = self.pipeline
        api = pipeline.scenario.api
        try:
            if self.lookup_delay_s:
                yield self.env.timeout(lookups * self.lookup_delay_s)
            for key in missing:
                for attempt in range(1, api.max_attempts_validation + 1):
                    failed = yield from self._read(instance, key)
                    if failed is None:
                        break
                    if api.on_validation_throttle == "reject" or attempt == api.max_attempts_validation \
                            or failed.status != 429:
                        code = RejectionCode.THROTTLED if failed.status == 429 else RejectionCode.UNAVAILABLE
                        pipeline.reject(offer, offered_s, Rejected(code, failed.retry_after_s, failed.reason), reply)
                        return
                    yield self.env.timeout(failed.retry_after_s or 1.0)
            pipeline.decide(offer, offered_s, reply)
        finally:
            pipeline.validating -= 1
