"""Dataverse as the event pipeline meets it: web servers × app users, each (user, server) key with its own
service-protection limits, latency per operation kind, and queueing on each web server's worker slots.

``request(user, call)`` is a plain method: it refuses at once (a :class:`Failed` carrying what the caller
needs to retry) or returns the one event that fires when the request is answered, so the processors' hot
loop yields it with no process or generator per request. ``yield from dataverse.call(user, call)`` is the
same as a sub-generator answering ``None`` (done) or the :class:`Failed`.
"""

from __future__ import annotations

import functools
import math
import random
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import simpy

from simulator import latency
from simulator.limits import KeyLimiter, LimitSettings, Throttled
from simulator.plan import Call
from simulator.records import Recorder
from simulator.scenario import Dataverse as DataverseSettings
from simulator.scenario import Fault

__all__ = ["DataverseModel", "Failed", "OUTAGE", "Slots"]

MAX_SERVICE_S = 86400.0  # no call takes longer than a day, whatever the slow faults multiply it by


@dataclass(frozen=True, slots=True)
class Failed:
    """A call that did not go through: a 429 (``throttled`` set) or a 503 during an outage."""

    status: int
    reason: str
    retry_after_s: float | None = None
    throttled: Throttled | None = None


OUTAGE = Failed(503, "503 Service Unavailable (outage)")


def limit_settings(settings: DataverseSettings) -> LimitSettings:
    return LimitSettings(
        requests_limit=settings.requests_limit,
        execution_limit_s=settings.execution_limit,
        window_s=settings.window,
        concurrency_limit=settings.concurrency_limit,
        enforcement=settings.enforcement,
        enforcement_lag_s=settings.enforcement_lag,
        extend_retry_after=settings.extend_retry_after,
        concurrency_retry_after_s=settings.concurrency_retry_after,
    )


class Slots:
    """A web server's worker slots: FIFO, and free of scheduler events when a slot is free (the common case).

    ``acquire()`` returns None when a slot was taken at once, else an event to wait on (in ``waiting``); the
    answer's callback (:func:`_answerer`) gives the slot back, handing it straight to the next waiter.
    """

    __slots__ = ("env", "capacity", "busy", "waiting")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.waiting: deque[simpy.Event] = deque()

    def acquire(self) -> simpy.Event | None:
        if self.busy < self.capacity:
            self.busy += 1
            return None
        event = self.env.event()
        self.waiting.append(event)
        return event


def _answerer(slots: Slots, key: KeyLimiter) -> Callable[[Any], None]:
    """The callback of a request answered on ``slots`` for ``key``: the slot and the concurrency go back (the
    slot's release and ``KeyLimiter.finish`` written inline: one Python call per answer, not three)."""
    waiting = slots.waiting

    def answered(_event: Any) -> None:
        if waiting:
            waiting.popleft().succeed()  # the slot passes straight to the next waiter
        else:
            slots.busy -= 1
        key.in_flight -= 1

    return answered


class DataverseModel:
    """W web servers × U app users. Each web server enforces the limits independently for each user
    (reference §3.1), so a key is (user, server). With affinity each user sticks to one server; without, a
    user's calls go round-robin over the servers, which is how clients spread load by disabling the affinity
    cookie (reference §3.3)."""

    def __init__(
        self, env: simpy.Environment, settings: DataverseSettings, rng: random.Random, recorder: Recorder
    ) -> None:
        self.env = env
        self.settings = settings
        self.rng = rng
        self.recorder = recorder
        self.base_limits = limit_settings(settings)
        self.servers = [Slots(env, settings.worker_slots) for _ in range(settings.web_servers)]
        self.keys = [[KeyLimiter(self.base_limits) for _ in range(settings.web_servers)]
                     for _ in range(settings.app_users)]
        self._next_server = [user % settings.web_servers for user in range(settings.app_users)]
        self._users = settings.app_users
        self._server_count = settings.web_servers
        self._affinity = settings.affinity
        # The one consumer of the latency stream: one draw per call, in call order.
        self._read_s = latency.sampler(settings.latency.read, rng)
        self._write_s = latency.sampler(settings.latency.write, rng)
        self._admitted = recorder.counts["dv_admitted"]
        self._per_bin = 1.0 / recorder.bin_s
        self.outages = 0
        self.slow_factor = 1.0
        self._limit_faults: list[Fault] = []
        self._slow_faults: list[Fault] = []
        # What answering a request on (user, server) gives back, made once: a callback per answer, no closure.
        self._answered = [[_answerer(slots, key) for slots, key in zip(self.servers, row, strict=True)]
                          for row in self.keys]

    # --- the hot path --------------------------------------------------------------------------------------
    def request(self, user: int, call: Call) -> Failed | simpy.Event:
        """Send one request as app user ``user``: a :class:`Failed` at once (a 429, or a 503 in an outage), or
        the event that fires when Dataverse has answered it. A plain method, so a hot loop yields the event
        itself instead of delegating to a generator per call (:meth:`call` is that generator)."""
        now = self.env.now
        if self.outages:
            self.recorder.count("dv_failed", now)
            return OUTAGE
        user %= self._users
        server = self._next_server[user]
        if not self._affinity:
            self._next_server[user] = (server + 1) % self._server_count
        service_s = (self._write_s if call.write else self._read_s)() * self.slow_factor
        if service_s > MAX_SERVICE_S:  # stacked or huge slow faults: very slow, but finite (the limiter needs it)
            service_s = MAX_SERVICE_S
        return self._send(user, server, service_s, now)

    def call(self, user: int, call: Call) -> Generator[Any, Any, Failed | None]:
        """Make one request as app user ``user`` (``failed = yield from dataverse.call(...)``); None when it
        succeeded."""
        answer = self.request(user, call)
        if answer.__class__ is Failed:
            return answer
        yield answer
        return None

    def call_batch(self, user: int, calls: tuple[Call, ...]) -> Generator[Any, Any, Failed | None]:
        """One ExecuteMultiple / ``$batch`` request holding ``calls``, as app user ``user``: **one** request
        against the requests limit and the concurrency limit, whose execution time (and latency: Dataverse
        runs the operations one after another) is the sum of its operations' service times. Throttled, it
        fails as a whole. Off the hot path: only ``dataverse.batch_size > 1`` uses it."""
        now = self.env.now
        if self.outages:
            self.recorder.count("dv_failed", now)
            return OUTAGE
        user %= self._users
        server = self._next_server[user]
        if not self._affinity:
            self._next_server[user] = (server + 1) % self._server_count
        answer = self._send(user, server, self._batch_service_s(calls), now)
        if answer.__class__ is Failed:
            return answer
        yield answer
        return None

    def _batch_service_s(self, calls: Sequence[Call]) -> float:
        """A request holding ``calls``: Dataverse runs them one after another, so their service times add up."""
        service_s = 0.0
        for call in calls:
            service_s += (self._write_s if call.write else self._read_s)()
        return min(service_s * self.slow_factor, MAX_SERVICE_S)

    # --- callers from outside the event API (the Web API face of the live server) -----------------------------
    def add_user(self) -> int:
        """A new app user with a key of its own on every web server (the current limits); its number."""
        settings = self.keys[0][0].settings  # every key holds the limits in force (faults included)
        row = [KeyLimiter(settings) for _ in self.servers]
        self.keys.append(row)
        self._answered.append([_answerer(slots, key) for slots, key in zip(self.servers, row, strict=True)])
        self._next_server.append(len(self._next_server) % self._server_count)
        self._users += 1
        return len(self.keys) - 1

    def request_on(self, user: int, server: int, calls: Sequence[Call]) -> Failed | simpy.Event:
        """One request as app user ``user`` on web server ``server`` — the caller chose the server (a client's
        affinity cookie) — holding ``calls``: one for a plain request, every operation of a ``$batch`` or a
        ``CreateMultiple``. Like :meth:`call_batch`, **one** request against the request and concurrency limits,
        whose execution time is the sum of its operations'. A :class:`Failed` at once, or the event that fires
        when the request is answered."""
        now = self.env.now
        if self.outages:
            self.recorder.count("dv_failed", now)
            return OUTAGE
        return self._send(user, server % self._server_count, self._batch_service_s(calls), now)

    def _send(self, user: int, server: int, service_s: float, now: float) -> Failed | simpy.Event:
        """Admit a request of ``service_s`` on (user, server) or refuse it; admitted, it takes a worker slot
        (or queues for one) and the returned event fires when it is answered, its slot and its place in the
        key's concurrency given back first (the answer's callback runs before the caller resumes)."""
        key = self.keys[user][server]
        throttled = key.admit(now, service_s)
        if throttled is not None:
            self.recorder.throttled(throttled.limit, now)
            return self._failed(throttled)
        admitted = self._admitted
        index = int(now * self._per_bin)  # Recorder.index without the call, while the bin is allocated
        admitted[index if index < len(admitted) else self.recorder.index(now)] += 1
        slots = self.servers[server]
        answered = self._answered[user][server]
        if slots.busy < slots.capacity:  # Slots.acquire's common case, without the call
            slots.busy += 1
            done = self.env.timeout(service_s)
            done.callbacks.append(answered)
            return done
        return self._after_queueing(slots.acquire(), service_s, answered)  # type: ignore[arg-type]

    def _after_queueing(self, granted: simpy.Event, service_s: float, answered: Callable[[Any], None]
                        ) -> simpy.Event:
        """All of the server's slots are busy: serve once one is handed over; the event fires when answered."""
        env = self.env
        done = env.event()

        def serve(_granted: simpy.Event) -> None:
            served = env.timeout(service_s)
            served.callbacks.append(answered)
            served.callbacks.append(done.trigger)  # answered: done fires next, with served's value

        granted.callbacks.append(serve)
        return done

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def _failed(throttled: Throttled) -> Failed:
        """The 429 a throttled call gets (one object per distinct Throttled; they are immutable)."""
        return Failed(429, f"429 {throttled.limit} limit ({throttled.code})", throttled.retry_after_s, throttled)

    # --- faults --------------------------------------------------------------------------------------------
    def start_fault(self, fault: Fault) -> simpy.Process:
        """Apply ``fault`` now; a process reverts it after its duration."""
        self._apply(fault, +1)
        return self.env.process(self._revert_after(fault))

    def _revert_after(self, fault: Fault) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(fault.duration)
        self._apply(fault, -1)

    def _apply(self, fault: Fault, sign: int) -> None:
        if fault.kind == "outage":
            self.outages += sign
        elif fault.kind == "slow":
            if sign > 0:
                self._slow_faults.append(fault)
            else:
                self._slow_faults.remove(fault)
            # Recomputed, not divided back: an overflow to inf while many overlap heals once they end.
            self.slow_factor = math.prod(active.factor for active in self._slow_faults)
        else:
            if sign > 0:
                self._limit_faults.append(fault)
            else:
                self._limit_faults.remove(fault)
            limits = self.base_limits
            for active in self._limit_faults:
                limits = limits.with_overrides(
                    requests_limit=active.requests_limit,
                    execution_limit_s=active.execution_limit,
                    concurrency_limit=active.concurrency_limit,
                )
            for row in self.keys:
                for key in row:
                    key.settings = limits
