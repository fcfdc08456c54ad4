"""Background processors with the client-side strategies: retry budgets, circuit breakers, pacing, adaptive
concurrency and batching.

The pipeline starts these processors instead of its plain ones, at build time, only when a scenario turns one
of them on (``needs_strategies``); with every strategy off the plain, shorter path runs. Each strategy is a
pure policy object (``simulator.budgets``, ``simulator.pacing``) held per app user in a :class:`UserClient`;
this module only asks them and waits as they say. Nothing accepted is dropped here: a budget or breaker that
says "not now" makes the processor wait (``retry_deferred``, and counted in ``retrying`` while it waits);
pacing and AIMD make it wait too; only the deadline (or the retry policy's own stop) dead-letters.

Before each call a processor asks, in order: its AIMD turn, the circuit breaker, the retry budget (retries
only), then the pacer for a send time. A batch (``dataverse.batch_size`` > 1) is one request to all of them.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from simulator.budgets import HALF_OPEN, CircuitBreaker, RetryBudget, breaker_from_scenario, budget_from_scenario
from simulator.engine.dataverse import Failed
from simulator.pacing import AimdLimit, Pacer
from simulator.plan import Call
from simulator.retry import RetryState
from simulator.scenario import Scenario, format_duration

if TYPE_CHECKING:
    from simulator.engine.pipeline import EventPipeline, Submission

__all__ = ["needs_strategies", "start_processors", "UserClient", "MAX_BATCH_OPERATIONS"]

#: "Batch requests can contain up to 1,000 individual requests" (Execute batch operations using the Web API;
#: ExecuteMultiple: "A limit of 1000 requests is typical").
MAX_BATCH_OPERATIONS = 1000


def needs_strategies(scenario: Scenario) -> bool:
    """Whether any processor-side strategy is on."""
    retry, api = scenario.retry, scenario.api
    return (retry.budget != "none" or retry.breaker or api.pacing != "none" or api.concurrency != "fixed"
            or scenario.dataverse.batch_size > 1)


class UserClient:
    """One app user's strategies and what they need to know: calls in flight, processors waiting for a turn."""

    __slots__ = ("budget", "breaker", "pacer", "aimd", "in_flight", "grown", "processors")

    def __init__(self, budget: RetryBudget | None, breaker: CircuitBreaker | None, pacer: Pacer | None,
                 aimd: AimdLimit | None, processors: int) -> None:
        self.budget = budget
        self.breaker = breaker
        self.pacer = pacer
        self.aimd = aimd
        self.in_flight = 0
        self.grown: simpy.Event | None = None  # fires when the AIMD limit grows
        self.processors = processors


def start_processors(pipeline: EventPipeline) -> None:
    """Start ``api.processors`` processors with the scenario's strategies on ``pipeline``."""
    _Processors(pipeline)


class _Processors:
    def __init__(self, pipeline: EventPipeline) -> None:
        self.pipeline = pipeline
        self.env = pipeline.env
        scenario = pipeline.scenario
        api, dv = scenario.api, scenario.dataverse
        users = dv.app_users
        self.batch_size = dv.batch_size
        self.recorder = pipeline.recorder
        keys_per_user = dv.web_servers if not dv.affinity else 1
        self.clients = []
        for user in range(users):
            processors = len(range(user, api.processors, users))
            pacer = None
            if api.pacing == "token-bucket":
                # One bucket per app user at its keys' share: without affinity its calls go round-robin over
                # the web servers, so each key gets 1 / keys_per_user of them.
                pacer = Pacer(keys_per_user * api.pacing_share * dv.requests_limit / dv.window)
            aimd = AimdLimit(processors, dv.window) if api.concurrency == "aimd" and processors else None
            self.clients.append(UserClient(budget_from_scenario(scenario.retry),
                                           breaker_from_scenario(scenario.retry), pacer, aimd, processors))
        for index in range(api.processors):
            self.env.process(self._processor(index % users, index // users))

    # --- the processor -------------------------------------------------------------------------------------
    def _processor(self, user: int, rank: int) -> Generator[Any, Any, None]:
        queue = self.pipeline.queue
        client = self.clients[user]
        while True:
            if client.aimd is not None:
                yield from self._turn(client, rank)
            if queue.items:
                first = queue.items.popleft()
            else:
                first = yield queue.wait()
            if self.batch_size > 1:
                yield from self._execute_batch(self._gather(first), user, client, rank)
            else:
                yield from self._execute(first, user, client, rank)

    def _turn(self, client: UserClient, rank: int) -> Generator[Any, Any, None]:
        """Wait while this processor is above its user's AIMD limit."""
        aimd = client.aimd
        assert aimd is not None
        while rank >= aimd.limit:
            if client.grown is None or client.grown.triggered:
                client.grown = self.env.event()
            yield client.grown

    def _set_active(self) -> None:
        self.pipeline.active_processors = sum(
            min(c.aimd.limit, c.processors) if c.aimd is not None else c.processors for c in self.clients)

    # --- one request through the strategies ----------------------------------------------------------------
    def _send(self, user: int, client: UserClient, rank: int, calls: tuple[Call, ...], retry: bool,
              ) -> Generator[Any, Any, Failed | None]:
        """Make one request (one call, or a batch of them) once the strategies let it go."""
        env = self.env
        pipeline = self.pipeline
        while True:
            now = env.now
            breaker = client.breaker
            probe = False
            if breaker is not None:
                if not breaker.allow(now):
                    yield from self._defer(breaker.wait_s(now))
                    continue
                probe = breaker.state == HALF_OPEN
            budget = client.budget
            if retry and budget is not None and not budget.try_retry(now, client.in_flight):
                if probe:
                    breaker.abandon()  # type: ignore[union-attr]
                wait_s = budget.wait_s(now)
                yield from self._defer(wait_s if wait_s is not None else self._refill_wait_s())
                continue
            break
        if client.pacer is not None:
            wait_s = client.pacer.reserve(env.now)
            if wait_s > 0.0:
                yield env.timeout(wait_s)
        throttles = pipeline.throttles
        throttle = throttles[user % len(throttles)] if throttles is not None else None
        now = env.now
        if budget is not None and not retry:
            budget.requested(now)
        if throttle is not None and not throttle.allow(now, pipeline.rng):
            from simulator.engine.pipeline import LOCALLY_THROTTLED

            return LOCALLY_THROTTLED
        client.in_flight += 1
        try:
            if len(calls) == 1:
                failed = yield from pipeline.dataverse.call(user, calls[0])
            else:
                failed = yield from pipeline.dataverse.call_batch(user, calls)
        finally:
            client.in_flight -= 1
        now = env.now
        if throttle is not None:
            throttle.record(now, failed is None)
        if breaker is not None:
            breaker.record(now, failed is not None, probe)
        if failed is None:
            if budget is not None:
                budget.succeeded(now)
            if client.aimd is not None and client.aimd.tick(now):
                self._set_active()
                if client.grown is not None and not client.grown.triggered:
                    client.grown.succeed()
        elif failed.status == 429 and client.aimd is not None:
            client.aimd.throttled(now)
            self._set_active()
        return failed

    def _refill_wait_s(self) -> float:
        """An empty token bucket waits for successes; ask again after the retry base (at least 1 s)."""
        return max(self.pipeline.scenario.retry.base, 1.0)

    def _defer(self, wait_s: float) -> Generator[Any, Any, None]:
        """A budget or breaker said "not now": wait, counted as ``retry_deferred``."""
        pipeline = self.pipeline
        self.recorder.count("retry_deferred", self.env.now)
        pipeline.retrying += 1
        try:
            yield self.env.timeout(max(wait_s, 1e-3))  # never a zero wait: time must move for the answer to
        finally:
            pipeline.retrying -= 1

    # --- one registration at a time ------------------------------------------------------------------------
    def _execute(self, submission: Submission, user: int, client: UserClient, rank: int
                 ) -> Generator[Any, Any, None]:
        pipeline = self.pipeline
        calls = submission.calls
        retry = False
        while submission.next_call < len(calls):
            if client.aimd is not None and rank >= client.aimd.limit:
                # Paused by adaptive concurrency: the item goes back to the head of the queue for a processor
                # still working (held here, it would wait for a limit that only working processors can raise).
                pipeline.queue.put_front(submission)
                return
            failed = yield from self._send(user, client, rank, (calls[submission.next_call],), retry)
            if failed is None:
                submission.next_call += 1
                retry = False
                continue
            submission.last_error = failed.reason
            done = yield from pipeline._wait_to_retry(submission, failed)
            if done:
                return
            submission.attempts += 1
            retry = True
        self.pipeline.created(submission)

    # --- batches -------------------------------------------------------------------------------------------
    def _gather(self, first: Submission) -> list[Submission]:
        """``first`` and whatever else is queued now, up to ``batch_size`` registrations and 1,000 operations
        (a processor never waits for a batch to fill: at low load a batch is one registration)."""
        items = self.pipeline.queue.items
        batch = [first]
        operations = len(first.calls) - first.next_call
        while items and len(batch) < self.batch_size:
            more = len(items[0].calls) - items[0].next_call
            if operations + more > MAX_BATCH_OPERATIONS:
                break
            batch.append(items.popleft())
            operations += more
        return batch

    def _execute_batch(self, batch: list[Submission], user: int, client: UserClient, rank: int
                       ) -> Generator[Any, Any, None]:
        """Send the batch's remaining calls as one request until it succeeds; on a failure wait as the retry
        policy says (one state for the batch), dead-lettering the members whose deadline or policy ends
        first. The model has no per-operation failures (limits and outages refuse the whole request)."""
        env = self.env
        pipeline = self.pipeline
        policy = pipeline.policy
        state = RetryState()
        retry = False
        while batch:
            if client.aimd is not None and rank >= client.aimd.limit:
                for item in reversed(batch):
                    pipeline.queue.put_front(item)
                return
            calls = tuple(call for item in batch for call in item.calls[item.next_call:])
            failed = yield from self._send(user, client, rank, calls, retry)
            if failed is None:
                for item in batch:
                    item.next_call = len(item.calls)
                    pipeline.created(item)
                return
            now = env.now
            state.attempt += 1
            state.retry_after_s = failed.retry_after_s
            kept = []
            for item in batch:
                item.last_error = failed.reason
                state.elapsed_s = now - item.accepted_s
                if policy.stop(state):
                    pipeline._dead_letter(item, f"{policy.stop_reason(state)}; last error: {failed.reason}")
                else:
                    kept.append(item)
                    if pipeline.journal is not None:
                        pipeline.journal.retrying(item, now, failed.reason)
            batch = kept
            if not batch:
                return
            wait_s = policy.wait_s(state, pipeline.rng)
            state.last_wait_s = wait_s
            until_s = now + wait_s
            batch.sort(key=lambda item: item.accepted_s)
            pipeline.retrying += 1
            try:
                while batch and batch[0].accepted_s + pipeline.deadline_s <= until_s:
                    item = batch.pop(0)
                    yield env.timeout(max(item.accepted_s + pipeline.deadline_s - env.now, 0.0))
                    pipeline._dead_letter(item, f"deadline {format_duration(pipeline.deadline_s)} reached; "
                                                f"last error: {failed.reason}")
                if batch:
                    yield env.timeout(max(until_s - env.now, 0.0))
            finally:
                pipeline.retrying -= 1
            for item in batch:
                item.attempts += 1
            retry = True
