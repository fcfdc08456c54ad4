"""The confirmation journey: a created registration triggers the confirmation email through a trigger-based
journey (shared/reference §7.4; ``[confirmation]`` in scenarios/README.md).

Microsoft: "Up to 2,500 triggers/min" for the org, and "P90 < 3 minutes, P95 < 5 minutes with up to 2,500
triggers activated per minute. Additional triggers … are subject to slower processing and potential failures
(dropped events)". The model:

- a trigger **starts** first come, first served, and never more than ``triggers_per_min`` start in any 60 s
  (a sliding minute: a trigger starts no earlier than 60 s after the one ``triggers_per_min`` before it);
  the rest wait — the "slower processing";
- once started, the email goes out after a latency drawn from a log-normal through the documented P90 and
  P95 (the latency "while under the limit"), cut at ``latency.max`` (nothing is documented beyond P95, and the
  log-normal through those two points lets a few in 100,000 take hours);
- ``drop_after`` (off by default; the documentation does not say when events are dropped): a trigger that
  would wait longer than this to start is dropped, and its registration is never confirmed.

When each trigger starts is known the moment it is made (the queue is FIFO), so a trigger costs one scheduled
event: its email.
"""

from __future__ import annotations

import math
import random
from collections import deque
from statistics import NormalDist
from typing import Any

import simpy

from simulator.records import Recorder
from simulator.scenario import Confirmation

__all__ = ["ConfirmationStage", "latency_lognormal"]

MINUTE_S = 60.0


def latency_lognormal(p90_s: float, p95_s: float) -> tuple[float, float]:
    """(mu, sigma) of the log-normal whose 90th and 95th percentiles are ``p90_s`` and ``p95_s``."""
    z90, z95 = NormalDist().inv_cdf(0.90), NormalDist().inv_cdf(0.95)
    sigma = math.log(p95_s / p90_s) / (z95 - z90)
    return math.log(p90_s) - z90 * sigma, sigma


class ConfirmationStage:
    """The org's trigger-based confirmation journey, on the model's environment. :meth:`trigger` is called when a
    registration is created; :attr:`idle` fires whenever no confirmation is waiting or on its way."""

    def __init__(self, env: simpy.Environment, settings: Confirmation, recorder: Recorder,
                 rng: random.Random, started: list[float] | None = None) -> None:
        """``started``: a list to append every trigger's start time to (the cap's evidence, for tests)."""
        self.env = env
        self.recorder = recorder
        self.rng = rng
        self.per_min = settings.triggers_per_min
        self.drop_after_s = settings.drop_after
        self.mu, self.sigma = latency_lognormal(settings.latency.p90, settings.latency.p95)
        self.max_latency_s = settings.latency.max
        self._recent_starts: deque[float] = deque(maxlen=self.per_min)  # the last per_min start times
        self._waiting: deque[float] = deque()  # start times still ahead (ascending)
        self.started = started
        self.sent = 0
        self.dropped = 0
        self.queued_max = 0
        self.in_flight = 0  # triggered, neither sent nor dropped
        self.idle = env.event()
        self.idle.succeed()

    def trigger(self, number: int, offered_s: float) -> None:
        """Registration ``number`` (submitted at ``offered_s``) was created now: start its confirmation."""
        now = self.env.now
        recent = self._recent_starts
        start_s = max(now, recent[-1]) if recent else now
        if len(recent) == self.per_min:
            start_s = max(start_s, recent[0] + MINUTE_S)
        if self.drop_after_s is not None and start_s - now > self.drop_after_s:
            self.dropped += 1
            self.recorder.count("confirmation_dropped", now)
            return
        recent.append(start_s)
        if self.started is not None:
            self.started.append(start_s)
        waiting = self._waiting
        while waiting and waiting[0] <= now:
            waiting.popleft()
        if start_s > now:
            waiting.append(start_s)
            self.queued_max = max(self.queued_max, len(waiting))
        if self.in_flight == 0:
            self.idle = self.env.event()
        self.in_flight += 1
        sent_s = start_s + min(self.rng.lognormvariate(self.mu, self.sigma), self.max_latency_s)
        self.env.timeout(sent_s - now, (number, offered_s)).callbacks.append(self._sent)

    def _sent(self, email: Any) -> None:
        """The email went out: ``email``'s value is (number, offered_s) of its registration."""
        number, offered_s = email.value
        self.sent += 1
        self.recorder.confirmed(number, self.env.now, offered_s)
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle.succeed()

    def summary(self) -> dict[str, int]:
        return {"sent": self.sent, "queued_max": self.queued_max, "dropped": self.dropped}
