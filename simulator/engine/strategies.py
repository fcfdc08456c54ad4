"""Background processors with the client-side strategies: the resilience pipeline (retry budgets, circuit
breakers, adaptive throttling, pacing, adaptive concurrency) and ExecuteMultiple batching.

The pipeline starts these processors instead of its plain ones, at build time, only when a scenario turns one
of them on (``needs_strategies``); with every strategy off the plain, shorter path runs. The strategies are
composed once per app user into a :class:`simulator.resilience.ResiliencePipeline` (pure: acquire → outcome
→ release, or abandon); this module only asks it before each request and waits as it says:

- a permit, maybe with a pacing delay: wait it (the pacer books nothing past the deadline), send, and tell the
  pipeline the outcome;
- ``Wait`` (breaker open, budget spent, no pacing slot before the deadline): wait and ask again — counted as
  ``retry_deferred``, and in ``retrying`` while it waits — but never past the work's deadline: a member whose
  deadline comes first is dead-lettered at it, with the reason ("deadline 6h reached waiting for the circuit
  breaker; last error: …");
- ``PAUSE`` (AIMD): the work goes back to the head of the queue, and the processor waits for its turn;
- ``Shed`` (adaptive throttling): a failure without a call, which the retry policy answers as any other.

Every wait ends by the deadline, so nothing accepted is stranded: it is created or dead-lettered with a reason.
A batch (``dataverse.batch_size`` > 1) is one request to all of them.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any, Protocol

import simpy

from simulator.engine.dataverse import DataverseModel, Failed
from simulator.engine.work import Journal, Submission, WorkQueue
from simulator.plan import Call
from simulator.records import Recorder
from simulator.resilience import (
    LOCALLY_THROTTLED,
    PAUSE,
    Permit,
    Request,
    Shed,
    Wait,
    any_strategy,
    build_pipelines,
)
from simulator.retry import RetryPolicy, RetryState
from simulator.scenario import Scenario

__all__ = ["needs_strategies", "start_processors", "Processing", "MAX_BATCH_OPERATIONS"]

#: "Batch requests can contain up to 1,000 individual requests" (Execute batch operations using the Web API;
#: ExecuteMultiple: "A limit of 1000 requests is typical").
MAX_BATCH_OPERATIONS = 1000
_PAUSED = object()  # _send's answer when AIMD paused the processor: the work went back to the queue
_SHED = Failed(429, LOCALLY_THROTTLED)  # adaptive throttling's local rejection: a failure without a call


def needs_strategies(scenario: Scenario) -> bool:
    """Whether any processor-side strategy is on (the resilience pipeline's, or batching)."""
    return any_strategy(scenario) or scenario.dataverse.batch_size > 1


class Processing(Protocol):
    """What the processors need of the pipeline that starts them (``EventPipeline``)."""

    env: simpy.Environment
    scenario: Scenario
    queue: WorkQueue
    dataverse: DataverseModel
    recorder: Recorder
    journal: Journal | None
    policy: RetryPolicy
    deadline_s: float
    rng: random.Random
    retrying: int
    active_processors: int

    def created(self, submission: Submission) -> None: ...
    def dead_letter(self, submission: Submission, reason: str) -> None: ...
    def deadline_reason(self, submission: Submission, where: str = "") -> str: ...
    def expire(self, submission: Submission) -> None: ...
    def retry_wait(self, submission: Submission, failed: Failed) -> Generator[Any, Any, bool]: ...


def start_processors(host: Processing) -> None:
    """Start ``api.processors`` processors with the scenario's strategies on ``host``."""
    _Processors(host)


class _Processors:
    def __init__(self, host: Processing) -> None:
        self.host = host
        self.env = host.env
        scenario = host.scenario
        api, dv = scenario.api, scenario.dataverse
        users = dv.app_users
        self.batch_size = dv.batch_size
        self.recorder = host.recorder
        self.pipelines = build_pipelines(scenario, host.rng, self._limit_changed)
        self.grown: list[simpy.Event | None] = [None] * users  # fires when the user's AIMD limit grows
        for index in range(api.processors):
            self.env.process(self._processor(index % users, index // users))

    # --- the processor -------------------------------------------------------------------------------------
    def _processor(self, user: int, rank: int) -> Generator[Any, Any, None]:
        host = self.host
        queue = host.queue
        aimd = self.pipelines[user].aimd
        while True:
            if aimd is not None:
                while rank >= aimd.limit:  # above the limit: wait (holding nothing) until it grows
                    yield self._growth(user)
            first = queue.items.popleft() if queue.items else (yield queue.wait())
            if self.env.now - first.accepted_s >= host.deadline_s:
                host.expire(first)
                continue
            if self.batch_size > 1:
                yield from self._execute_batch(self._gather(first), user, rank)
            else:
                yield from self._execute(first, user, rank)

    def _growth(self, user: int) -> simpy.Event:
        grown = self.grown[user]
        if grown is None or grown.triggered:
            grown = self.grown[user] = self.env.event()
        return grown

    def _limit_changed(self, user: int) -> None:
        """An AIMD limit moved: show the processors allowed to work, and wake those waiting for a turn (AIMD is on
        for every app user with processors, and a limit never exceeds its user's processors)."""
        self.host.active_processors = sum(pipeline.aimd.limit for pipeline in self.pipelines
                                          if pipeline.aimd is not None)
        grown = self.grown[user]
        if grown is not None and not grown.triggered:
            grown.succeed()

    # --- one request through the resilience pipeline -------------------------------------------------------
    def _send(self, items: list[Submission], user: int, rank: int, calls: tuple[Call, ...], retry: bool,
              ) -> Generator[Any, Any, Any]:
        """Send one request (one call, or a batch) once the strategies let it go: its failure or None, or
        ``_PAUSED`` (the items went back to the queue). ``items`` loses the members dead-lettered at their
        deadline while waiting; when none is left the answer is None and nothing was sent."""
        env = self.env
        host = self.host
        pipeline = self.pipelines[user]
        request = Request(rank, retry, min(item.accepted_s for item in items) + host.deadline_s)
        while True:
            answer = pipeline.acquire(env.now, request)
            if answer.__class__ is Permit:
                break
            if answer is PAUSE:
                for item in reversed(items):  # to a processor still working: this one waits for a turn
                    host.queue.put_front(item)
                return _PAUSED
            if answer.__class__ is Shed:
                return _SHED
            assert isinstance(answer, Wait)
            self.recorder.count("retry_deferred", env.now)
            # Never a zero wait: time must move for the answer to.
            yield from self._wait_until(items, env.now + max(answer.wait_s, 1e-3),
                                        f"waiting for the {answer.strategy}")
            if not items:
                return None
            request.deadline_s = items[0].accepted_s + host.deadline_s
        if answer.delay_s > 0.0:
            yield env.timeout(answer.delay_s)
        pipeline.sent()
        if len(calls) == 1:
            failed = yield from host.dataverse.call(user, calls[0])
        else:
            failed = yield from host.dataverse.call_batch(user, calls)
        pipeline.release(env.now, request, None if failed is None else failed.status)
        return failed

    def _wait_until(self, items: list[Submission], until_s: float, where: str) -> Generator[Any, Any, None]:
        """Wait until ``until_s`` (counted in ``retrying``); a member of ``items`` (sorted by acceptance) whose
        deadline comes first is dead-lettered at it and removed."""
        env = self.env
        host = self.host
        host.retrying += 1
        try:
            while items and items[0].accepted_s + host.deadline_s <= until_s:
                item = items.pop(0)
                yield env.timeout(max(item.accepted_s + host.deadline_s - env.now, 0.0))
                host.dead_letter(item, host.deadline_reason(item, where))
            if items:
                yield env.timeout(max(until_s - env.now, 0.0))
        finally:
            host.retrying -= 1

    # --- one registration at a time ------------------------------------------------------------------------
    def _execute(self, submission: Submission, user: int, rank: int) -> Generator[Any, Any, None]:
        host = self.host
        calls = submission.calls
        retry = False
        items = [submission]
        while submission.next_call < len(calls) and not submission.revoked:
            failed = yield from self._send(items, user, rank, (calls[submission.next_call],), retry)
            if failed is _PAUSED or not items:
                return
            if failed is None:
                submission.next_call += 1
                retry = False
                continue
            submission.last_error = failed.reason
            if (yield from host.retry_wait(submission, failed)):
                return
            submission.attempts += 1
            retry = True
        host.created(submission)

    # --- batches -------------------------------------------------------------------------------------------
    def _gather(self, first: Submission) -> list[Submission]:
        """``first`` and whatever else is queued now, up to ``batch_size`` registrations and 1,000 operations
        (a processor never waits for a batch to fill: at low load a batch is one registration); a queued
        registration past its deadline is dead-lettered on the way."""
        host = self.host
        items = host.queue.items
        batch = [first]
        operations = len(first.calls) - first.next_call
        now = self.env.now
        while items and len(batch) < self.batch_size:
            if now - items[0].accepted_s >= host.deadline_s:
                host.expire(items.popleft())
                continue
            more = len(items[0].calls) - items[0].next_call
            if operations + more > MAX_BATCH_OPERATIONS:
                break
            batch.append(items.popleft())
            operations += more
        return batch

    def _execute_batch(self, batch: list[Submission], user: int, rank: int) -> Generator[Any, Any, None]:
        """Send the batch's remaining calls as one request until it succeeds; on a failure wait as the retry
        policy says (one state for the batch), dead-lettering the members whose deadline or policy ends
        first. The model has no per-operation failures (limits and outages refuse the whole request)."""
        env = self.env
        host = self.host
        policy = host.policy
        state = RetryState()
        retry = False
        batch.sort(key=lambda item: item.accepted_s)
        while batch:
            batch[:] = [item for item in batch if not item.revoked]  # revoked by the live server: it left
            if not batch:
                return
            calls = tuple(call for item in batch for call in item.calls[item.next_call:])
            failed = yield from self._send(batch, user, rank, calls, retry)
            if failed is _PAUSED or not batch:
                return
            if failed is None:
                for item in batch:
                    item.next_call = len(item.calls)
                    host.created(item)
                return
            now = env.now
            state.attempt += 1
            state.retry_after_s = failed.retry_after_s
            kept = []
            for item in batch:
                item.last_error = failed.reason
                state.elapsed_s = now - item.accepted_s
                if policy.stop(state):
                    host.dead_letter(item, f"{policy.stop_reason(state)}; last error: {failed.reason}")
                else:
                    kept.append(item)
                    if host.journal is not None:
                        host.journal.retrying(item, now, failed.reason)
            batch = kept
            if not batch:
                return
            wait_s = policy.wait_s(state, host.rng)
            state.last_wait_s = wait_s
            yield from self._wait_until(batch, now + wait_s, "")
            for item in batch:
                item.attempts += 1
            retry = True
