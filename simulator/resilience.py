"""The client-side strategies a processor asks before each Dataverse request, composed once into one pipeline.

The models are Polly v8's resilience pipeline (strategies added to a builder once, then run in that order
around every execution) and Tenacity's composable strategies (small objects, one concern each). Every strategy
here implements one protocol over one app user's state, with time passed in::

    permit = strategy.acquire(now_s, request)                  a Permit (go, maybe after a delay) or a refusal
    strategy.release(now_s, request, permit, failed_status)    the request was sent: its outcome (None = success)
    strategy.abandon(now_s, request, permit)                   the permit was taken, the request never sent

:class:`ResiliencePipeline` asks its strategies in order. The first refusal ends the round, and every permit
taken before it is given back (``abandon``, newest first): a half-open breaker's trial, a retry budget's token
or deposit, an adaptive throttle's count, a pacer's send slot. So a permit is never lost — the breaker's trial
handed to a request that adaptive throttling then drops locally goes back to the breaker. After the request,
every strategy that gave a permit hears its outcome (``release``, newest first). A refusal is one of:

- :class:`Wait` — not now: ask again after ``wait_s`` (breaker open, budget spent, no pacing slot before the
  deadline). The host bounds every such wait by the work's deadline and dead-letters at it, with the reason.
- :data:`PAUSE` — this processor is above its app user's AIMD limit: hand the work back, wait for a turn.
- :class:`Shed` — rejected locally (adaptive throttling): a failure without a call, which the retry policy
  answers like any other.

The order is fixed, and built once per app user by :func:`build_pipelines` from the strategies the scenario
turns on: AIMD turn → circuit breaker → retry budget → adaptive throttle → pacer. Refusals that cost nothing
come first; the pacer is last, so the send slot it books is always used — once it has said yes, nothing after
it can say no — and it books nothing past the request's deadline.

Errors::

    ValueError    bad parameters, at construction only (from the policies)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from simulator.budgets import HALF_OPEN, CircuitBreaker, RetryBudget, breaker_from_scenario, budget_from_scenario
from simulator.pacing import AimdLimit, Pacer
from simulator.retry import AdaptiveThrottle, throttle_from_scenario

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = [
    "Request", "Permit", "GO", "Wait", "Shed", "PAUSE", "Refusal", "Strategy", "ResiliencePipeline",
    "AimdTurn", "BreakerGate", "BudgetGate", "ThrottleGate", "PaceGate", "build_pipelines", "any_strategy",
    "LOCALLY_THROTTLED",
]

LOCALLY_THROTTLED = "rejected locally by adaptive throttling"


@dataclass(slots=True)
class Request:
    """One request a processor means to send (one call, or a batch of them), as the strategies see it."""

    rank: int  #: the processor's rank among its app user's processors (AIMD lets ranks below its limit work)
    retry: bool  #: a resend after a failure: budgets pay for retries, and count first attempts as deposits
    deadline_s: float  #: the earliest deadline of the work it carries (model seconds): nothing waits past it
    in_flight: int = 0  #: this app user's requests under way when it was asked (set by the pipeline)
    permits: list[tuple[Strategy, Permit]] = field(default_factory=list)  #: taken so far, in order


@dataclass(frozen=True, slots=True)
class Permit:
    """A strategy's yes: the request may go after ``delay_s``; ``token`` is what it needs to take it back."""

    delay_s: float = 0.0
    token: Any = None


GO = Permit()
_TRIAL = Permit(token=HALF_OPEN)


@dataclass(frozen=True, slots=True)
class Wait:
    """Not now: ask again after ``wait_s``; ``strategy`` names who said so (in a dead letter's reason)."""

    wait_s: float
    strategy: str


@dataclass(frozen=True, slots=True)
class Shed:
    """Rejected locally, with ``reason``: a failure that never reached the backend."""

    reason: str


class _Pause:
    def __repr__(self) -> str:
        return "PAUSE"


PAUSE = _Pause()  #: the processor is above its AIMD limit: hand the work back
Refusal = Wait | Shed | _Pause


class Strategy(Protocol):
    """One policy in the pipeline (see the module docstring)."""

    def acquire(self, now_s: float, request: Request) -> Permit | Refusal: ...
    def release(self, now_s: float, request: Request, permit: Permit, failed_status: int | None) -> None: ...
    def abandon(self, now_s: float, request: Request, permit: Permit) -> None: ...


class ResiliencePipeline:
    """One app user's strategies, in order; counts the user's requests in flight."""

    __slots__ = ("strategies", "aimd", "in_flight")

    def __init__(self, strategies: Sequence[Strategy], aimd: AimdLimit | None = None) -> None:
        self.strategies = tuple(strategies)
        self.aimd = aimd  # the AIMD limit, when one of the strategies is its turn (the host shows it)
        self.in_flight = 0

    def acquire(self, now_s: float, request: Request) -> Permit | Refusal:
        """Every strategy's permit (the longest delay among them), or the first refusal — with every permit
        taken before it given back."""
        permits = request.permits
        permits.clear()
        request.in_flight = self.in_flight
        delay_s = 0.0
        for strategy in self.strategies:
            answer = strategy.acquire(now_s, request)
            if answer.__class__ is not Permit:
                self.abandon(now_s, request)
                return answer
            permits.append((strategy, answer))
            if answer.delay_s > delay_s:
                delay_s = answer.delay_s
        return Permit(delay_s) if delay_s else GO

    def abandon(self, now_s: float, request: Request) -> None:
        """Give back every permit ``request`` holds (newest first): it will not be sent."""
        permits = request.permits
        while permits:
            strategy, permit = permits.pop()
            strategy.abandon(now_s, request, permit)

    def sent(self) -> None:
        """The request the permits were for is on its way."""
        self.in_flight += 1

    def release(self, now_s: float, request: Request, failed_status: int | None) -> None:
        """The request was answered (``failed_status`` None on success, else 429, 503 …): every strategy that
        let it go hears the outcome, newest first."""
        self.in_flight -= 1
        permits = request.permits
        while permits:
            strategy, permit = permits.pop()
            strategy.release(now_s, request, permit, failed_status)


# --- the strategies --------------------------------------------------------------------------------------


class AimdTurn:
    """``api.concurrency = "aimd"``: processors ranked at or above the limit pause; a 429 cuts the limit, a
    window without one grows it (:class:`simulator.pacing.AimdLimit`). ``changed`` is called when it moved."""

    __slots__ = ("limit", "changed")

    def __init__(self, limit: AimdLimit, changed: Callable[[], None]) -> None:
        self.limit = limit
        self.changed = changed

    def acquire(self, now_s: float, request: Request) -> Permit | Refusal:
        return PAUSE if request.rank >= self.limit.limit else GO

    def release(self, now_s: float, request: Request, permit: Permit, failed_status: int | None) -> None:
        limit = self.limit
        if failed_status is None:
            if limit.tick(now_s):
                self.changed()
        elif failed_status == 429:
            before = limit.limit
            limit.throttled(now_s)
            if limit.limit != before:
                self.changed()

    def abandon(self, now_s: float, request: Request, permit: Permit) -> None:
        pass


class BreakerGate:
    """``retry.breaker``: a call goes only while the circuit lets it (:class:`simulator.budgets.CircuitBreaker`);
    a half-open trial not sent is given back."""

    __slots__ = ("breaker",)

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    def acquire(self, now_s: float, request: Request) -> Permit | Refusal:
        breaker = self.breaker
        if not breaker.allow(now_s):
            return Wait(breaker.wait_s(now_s), "circuit breaker")
        return _TRIAL if breaker.state == HALF_OPEN else GO

    def release(self, now_s: float, request: Request, permit: Permit, failed_status: int | None) -> None:
        self.breaker.record(now_s, failed_status is not None, permit is _TRIAL)

    def abandon(self, now_s: float, request: Request, permit: Permit) -> None:
        if permit is _TRIAL:
            self.breaker.abandon(now_s)


class BudgetGate:
    """``retry.budget``: a retry goes only when the budget pays for it; a first attempt is a deposit. An
    empty budget that only successes can refill is asked again after ``idle_s``."""

    __slots__ = ("budget", "idle_s")

    def __init__(self, budget: RetryBudget, idle_s: float) -> None:
        self.budget = budget
        self.idle_s = idle_s

    def acquire(self, now_s: float, request: Request) -> Permit | Refusal:
        budget = self.budget
        if not request.retry:
            budget.requested(now_s)
            return GO
        if budget.try_retry(now_s, request.in_flight):
            return GO
        wait_s = budget.wait_s(now_s)
        return Wait(self.idle_s if wait_s is None else wait_s, "retry budget")

    def release(self, now_s: float, request: Request, permit: Permit, failed_status: int | None) -> None:
        if failed_status is None:
            self.budget.succeeded(now_s)

    def abandon(self, now_s: float, request: Request, permit: Permit) -> None:
        self.budget.returned(now_s, request.retry)


class ThrottleGate:
    """``retry.adaptive``: Google SRE's client-side throttling sheds a share of the requests locally while the
    backend refuses them (:class:`simulator.retry.AdaptiveThrottle`)."""

    __slots__ = ("throttle", "rng", "_shed")

    def __init__(self, throttle: AdaptiveThrottle, rng: random.Random) -> None:
        self.throttle = throttle
        self.rng = rng
        self._shed = Shed(LOCALLY_THROTTLED)

    def acquire(self, now_s: float, request: Request) -> Permit | Refusal:
        return GO if self.throttle.allow(now_s, self.rng) else self._shed

    def release(self, now_s: float, request: Request, permit: Permit, failed_status: int | None) -> None:
        self.throttle.record(now_s, failed_status is None)

    def abandon(self, now_s: float, request: Request, permit: Permit) -> None:
        self.throttle.forget()


class PaceGate:
    """``api.pacing``: each request books the pacer's next send time (:class:`simulator.pacing.Pacer`), unless
    that is past the request's deadline: then nothing is booked and the request waits (to its deadline)."""

    __slots__ = ("pacer",)

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    def acquire(self, now_s: float, request: Request) -> Permit | Refusal:
        pacer = self.pacer
        send_s = pacer.next_send_s(now_s)
        if send_s > request.deadline_s:
            return Wait(send_s - now_s, "pacer")
        return Permit(pacer.reserve(now_s), send_s)

    def release(self, now_s: float, request: Request, permit: Permit, failed_status: int | None) -> None:
        pass

    def abandon(self, now_s: float, request: Request, permit: Permit) -> None:
        self.pacer.unreserve(permit.token)


# --- composition -----------------------------------------------------------------------------------------


def any_strategy(scenario: Scenario) -> bool:
    """Whether the scenario turns on any strategy of the pipeline."""
    retry, api = scenario.retry, scenario.api
    return (retry.budget != "none" or retry.breaker or retry.adaptive or api.pacing != "none"
            or api.concurrency != "fixed")


def build_pipelines(scenario: Scenario, rng: random.Random,
                    limit_changed: Callable[[int], None] = lambda user: None) -> list[ResiliencePipeline]:
    """One pipeline per app user, composed once from the strategies ``scenario`` turns on, in the fixed order.

    ``rng`` draws adaptive throttling's local rejections; ``limit_changed(user)`` hears that an AIMD limit
    moved. Pacing: one bucket per app user at its keys' share of the request limit — without affinity its calls
    go round-robin over the web servers, so each key gets 1 / web_servers of them.
    """
    api, dv, retry = scenario.api, scenario.dataverse, scenario.retry
    users = dv.app_users
    keys_per_user = dv.web_servers if not dv.affinity else 1
    pipelines = []
    for user in range(users):
        processors = len(range(user, api.processors, users))
        strategies: list[Strategy] = []
        aimd = None
        if api.concurrency == "aimd" and processors:
            aimd = AimdLimit(processors, dv.window)
            strategies.append(AimdTurn(aimd, lambda user=user: limit_changed(user)))  # type: ignore[misc]
        breaker = breaker_from_scenario(retry)
        if breaker is not None:
            strategies.append(BreakerGate(breaker))
        budget = budget_from_scenario(retry)
        if budget is not None:
            # An empty bucket waits for successes: ask again after the retry base (at least 1 s).
            strategies.append(BudgetGate(budget, idle_s=max(retry.base, 1.0)))
        throttle = throttle_from_scenario(retry)
        if throttle is not None:
            strategies.append(ThrottleGate(throttle, rng))
        if api.pacing == "token-bucket":
            strategies.append(PaceGate(Pacer(keys_per_user * api.pacing_share * dv.requests_limit / dv.window)))
        pipelines.append(ResiliencePipeline(strategies, aimd))
    return pipelines
