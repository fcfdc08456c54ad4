"""The event API's registration pipeline, written once for both clocks.

    offer ─► API instance (round-robin): catalog browsing and validation through the instance's read cache
             (a miss is a Dataverse read on the same budget as the writes); event live, sessions, capacity,
             waitlist ─► Rejected | Accepted: journal (durable), queue
    queue ─► P processors, processor i acting as app user i mod U: the plan's calls in order; a failed call
             (429, 503) is retried by the retry policy, resuming at that call (earlier calls are done);
             at the deadline (6 h after acceptance) or when the policy stops ─► dead-letter with the reason

A processor keeps its work item while it waits to retry, as the Dataverse ServiceClient does when it pauses
for Retry-After; ``retrying`` counts processors in such a wait, ``queue_depth`` the items no processor holds.
Capacity is reserved exactly at acceptance (the real API validates against a cache, so it may over-accept;
this model does not).
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from typing import Any

import simpy

from simulator import plan as plans
from simulator.cache import cache_from_scenario
from simulator.catalog import Catalog
from simulator.engine.caching import CacheFront, needs_front
from simulator.engine.dataverse import DataverseModel, Failed
from simulator.engine.payments import PaymentDesk
from simulator.engine.refusals import RejectionCode
from simulator.engine.strategies import needs_strategies, start_processors
from simulator.engine.work import (
    Accepted,
    ApiInstance,
    Journal,
    Offer,
    Outcome,
    Rejected,
    Submission,
    WorkQueue,
)
from simulator.matching import People
from simulator.records import Recorder
from simulator.retry import RetryPolicy, RetryState, policy_from_scenario
from simulator.scenario import Scenario, format_duration

__all__ = ["Offer", "Accepted", "Rejected", "Outcome", "RejectionCode", "Submission", "Journal", "EventPipeline"]


WITHDRAWN = Rejected(RejectionCode.WITHDRAWN)  # no caller hears it
CLOSED = Rejected(RejectionCode.REGISTRATION_CLOSED)
_SHAPES_CACHED = 4096  # validation key lists kept per (event, sessions named); simulated traffic needs far fewer


class _ValidationFailed(Exception):
    def __init__(self, rejected: Rejected) -> None:
        self.rejected = rejected


class EventPipeline:
    """The event API and its background processors over a Dataverse model, on one SimPy environment."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        catalog: Catalog,
        recorder: Recorder,
        dataverse: DataverseModel,
        rng: random.Random,
        journal: Journal | None = None,
    ) -> None:
        self.env = env
        self.scenario = scenario
        self.catalog = catalog
        self.recorder = recorder
        self.dataverse = dataverse
        self.rng = rng
        self.journal = journal
        api = scenario.api
        users = scenario.dataverse.app_users
        self.instances = [ApiInstance(cache_from_scenario(api), i % users) for i in range(api.instances)]
        self._next_instance = 0
        self.policy: RetryPolicy = policy_from_scenario(scenario.retry)
        self.deadline_s = scenario.retry.deadline
        self.queue = WorkQueue(env)
        self.payments: PaymentDesk | None = None  # paid events: held until paid (set by engine.model)
        self.on_created: Callable[[int, float], None] | None = None  # (number, offered_s): the confirmation stage
        self.closes_s = scenario.window.closes  # the registration period's end: later offers are refused
        self.registered: Counter[str] = Counter()  # event id -> seats taken (accepted, not waitlisted)
        self.session_registered: Counter[str] = Counter()
        self.passes_taken: Counter[str] = Counter()  # pass id -> passes sold or held (offers that name passes)
        self._pass_quantity = {p.id: p.quantity for e in catalog.events for p in e.passes if p.quantity is not None}
        self.in_system = 0  # validating or accepted, not yet created or dead-lettered
        self.retrying = 0
        self.validating = 0
        self.arrivals_done = False
        self.settled = env.event()
        self.call_plan = plans.call_plan(scenario)
        self.people = People(scenario.registration.matching)  # matched or created by offers naming attendees
        self._plan_cache: dict[tuple[int, bool, bool, int], tuple[plans.Call, ...]] = {}
        self._validation_keys: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, str], ...]] = {}
        self._browse_keys = {event.id: plans.browse_keys(event.id) for event in catalog.events}
        self._cache_hits = recorder.counts["cache_hits"]  # the recorder's columns grow in place
        self._cache_misses = recorder.counts["cache_misses"]
        self.active_processors = api.processors  # processors allowed to work (fewer under api.concurrency = aimd)
        # Strategies are chosen here, once: with every one off, offers and processors keep the plain path.
        if needs_front(api):
            front = CacheFront(self)
            self.offer = front.offer  # type: ignore[method-assign]
            self.pages_loaded = front.pages_loaded  # type: ignore[method-assign]
        if needs_strategies(scenario):
            start_processors(self)
        else:
            for index in range(api.processors):
                env.process(self._processor(index % users))

    # --- offering ------------------------------------------------------------------------------------------
    def offer(self, offer: Offer, reply: Callable[[Outcome], None] | None = None) -> None:
        """Validate ``offer`` now; ``reply`` gets the outcome, at once on a warm cache, else after the reads.

        The offer enters the record when it is answered (accepted or rejected), stamped with its arrival
        time, so offered = accepted + rejected holds at any cut; ``validating`` counts those still unanswered.
        """
        now = self.env.now
        self.in_system += 1
        instance = self.instances[self._next_instance]
        self._next_instance = (self._next_instance + 1) % len(self.instances)
        keys = self.keys_for(offer)
        missing = self._lookup(instance, keys, now)
        if missing:
            self.validating += 1
            self.env.process(self._validate(instance, offer, now, missing, reply))
        else:
            self.decide(offer, now, reply)

    def next_instance(self) -> ApiInstance:
        """The API instance the next offer goes to (round-robin), moving on."""
        instance = self.instances[self._next_instance]
        self._next_instance = (self._next_instance + 1) % len(self.instances)
        return instance

    def upcoming_instance(self) -> ApiInstance:
        """The API instance the next offer will go to (visitors' page loads are charged to its cache)."""
        return self.instances[self._next_instance]

    def keys_for(self, offer: Offer) -> tuple[tuple[str, str], ...]:
        """The read-cache keys validating ``offer`` needs (memoised per event and sessions named)."""
        shape = (offer.event.id, offer.session_ids)
        keys = self._validation_keys.get(shape)
        if keys is None:
            keys = plans.validation_keys(offer.event.id, offer.session_ids, offer.event.paid)
            if len(self._validation_keys) < _SHAPES_CACHED:  # bounded: live callers choose the session lists
                self._validation_keys[shape] = keys
        return keys

    def browse(self, event_id: str, pages: int) -> None:
        """A visitor loads ``pages`` catalog pages; misses are Dataverse reads that refill the cache."""
        if not pages:
            return
        choices = self._browse_keys[event_id]
        count = len(choices)
        random = self.rng.random
        self.pages_loaded([choices[int(random() * count)] for _ in range(pages)])

    def pages_loaded(self, keys: list[tuple[str, str]]) -> None:
        """Catalog pages loaded (keys of ``plan.browse_keys``), through the cache of the instance the next offer
        goes to; misses are Dataverse reads that refill it. ``browse`` draws the pages; the live server names
        the pages its visitors actually loaded."""
        instance = self.upcoming_instance()
        for key in self._lookup(instance, keys, self.env.now):
            self.env.process(self._refill(instance, key))

    def _lookup(self, instance: ApiInstance, keys: Any, now: float) -> list[tuple[str, str]]:
        """The keys the instance's cache misses (counting hits and misses)."""
        missing = instance.cache.misses(keys, now)
        index = self.recorder.index(now)
        self._cache_hits[index] += len(keys) - len(missing)
        if missing:
            self._cache_misses[index] += len(missing)
        return missing

    def _refill(self, instance: ApiInstance, key: tuple[str, str]) -> Generator[Any, Any, None]:
        failed = yield from self.dataverse.call(instance.user, plans.VALIDATION_READ)
        if failed is None:
            instance.cache.put(key, True, self.env.now)

    def _validate(
        self, instance: ApiInstance, offer: Offer, offered_s: float, missing: list[tuple[str, str]],
        reply: Callable[[Outcome], None] | None,
    ) -> Generator[Any, Any, None]:
        try:
            yield from self._read_missing(instance, missing)
        except _ValidationFailed as failed:
            self.reject(offer, offered_s, failed.rejected, reply)
        else:
            self.decide(offer, offered_s, reply)
        finally:
            self.validating -= 1

    def _read_missing(self, instance: ApiInstance, missing: list[tuple[str, str]]) -> Generator[Any, Any, None]:
        api = self.scenario.api
        for key in missing:
            for attempt in range(1, api.max_attempts_validation + 1):
                failed: Failed | None = yield from self.dataverse.call(instance.user, plans.VALIDATION_READ)
                if failed is None:
                    instance.cache.put(key, True, self.env.now)
                    break
                if api.on_validation_throttle == "reject" or attempt == api.max_attempts_validation \
                        or failed.status != 429:
                    code = RejectionCode.THROTTLED if failed.status == 429 else RejectionCode.UNAVAILABLE
                    raise _ValidationFailed(Rejected(code, failed.retry_after_s, failed.reason))
                yield self.env.timeout(failed.retry_after_s or 1.0)

    def decide(self, offer: Offer, offered_s: float, reply: Callable[[Outcome], None] | None) -> None:
        if offer.invalid is not None:
            self.reject(offer, offered_s, offer.invalid, reply)
            return
        if offer.withdrawn:  # nobody would hear the answer and nothing would be stored: take no seat
            self.reject(offer, offered_s, WITHDRAWN, reply)
            return
        if self.closes_s is not None and offered_s >= self.closes_s:
            self.reject(offer, offered_s, CLOSED, reply)
            return
        event = offer.event
        waitlisted = offer.waitlisted
        seats = offer.attendees
        if waitlisted and not event.waitlist:
            self.reject(offer, offered_s, Rejected(RejectionCode.WAITLIST_NOT_AVAILABLE), reply)
            return
        if not waitlisted and (event.capacity and self.registered[event.id] + seats > event.capacity
                               or offer.pass_ids and self._passes_short(offer.pass_ids)):
            if not event.waitlist:  # a sold-out pass is a full event to its buyer
                self.reject(offer, offered_s, Rejected(RejectionCode.EVENT_FULL), reply)
                return
            waitlisted = True
        if not waitlisted:
            named = offer.session_ids
            for session_id in named:
                session = self.catalog.sessions_by_id[session_id]
                # the seats this request takes in the session (one per attendee naming it), not just one more
                wanted = named.count(session_id) if len(named) > 1 else 1
                if session.capacity and self.session_registered[session_id] + wanted > session.capacity:
                    self.reject(offer, offered_s, Rejected(RejectionCode.SESSION_FULL), reply)
                    return
            self.reserve(event.id, offer.session_ids, seats, offer.pass_ids)
        number = self.recorder.offered(self._kind(offer), offered_s, offer.submission_id)
        submission = Submission(number, offer, waitlisted, self._calls(offer, waitlisted), self.env.now)
        if event.paid and not waitlisted and self.payments is not None:
            self.recorder.accepted(number, submission.accepted_s)  # the purchase is accepted; queued once paid
            self.payments.hold(submission)
        else:
            self.admit(submission)
        if reply is not None:
            reply(Accepted(number, waitlisted))

    def reserve(self, event_id: str, session_ids: tuple[str, ...], seats: int, pass_ids: tuple[str, ...] = ()
                ) -> None:
        """Take ``seats`` of the event, one seat per named session and one of each pass named (also how a
        restart restores counts)."""
        self.registered[event_id] += seats
        for session_id in session_ids:
            self.session_registered[session_id] += 1
        if pass_ids:  # most offers name none: skip Counter.update's Mapping check (an ABC isinstance)
            self.passes_taken.update(pass_ids)

    def _passes_short(self, pass_ids: tuple[str, ...]) -> bool:
        """True when a pass named has fewer left than the attendees naming it."""
        wanted = Counter(pass_ids)
        return any(pass_id in self._pass_quantity and self.passes_taken[pass_id] + n > self._pass_quantity[pass_id]
                   for pass_id, n in wanted.items())

    def paid(self, submission: Submission) -> None:
        """A held purchase was paid: journal the registration, then queue it (its acceptance is recorded)."""
        if self.journal is not None:
            self.journal.accepted(submission)
        self.queue.put(submission)

    def expire_purchase(self, submission: Submission, reason: str) -> None:
        """A held purchase was never paid: its seats go back and it is dead-lettered with ``reason``."""
        offer = submission.offer
        if not submission.waitlisted:
            self.release(offer.event.id, offer.attendees, offer.session_ids)
            self.passes_taken.subtract(offer.pass_ids)
        self.recorder.dead_lettered(submission.number, self.env.now, 0, reason)
        self._leave()

    def revoke(self, submission: Submission, reason: str) -> None:
        """Undo an acceptance the journal could not store (the live server answered its caller 500): its seats
        go back, it leaves the queue, and a processor already working on it drops it at its next step — nothing
        of it is created. It counts as dead-lettered with ``reason``."""
        if submission.revoked:
            return
        submission.revoked = True
        offer = submission.offer
        if not submission.waitlisted:
            self.release(offer.event.id, offer.attendees, offer.session_ids)
        with contextlib.suppress(ValueError):  # not queued: a processor holds it, or it was never queued
            self.queue.items.remove(submission)
        self.recorder.dead_lettered(submission.number, self.env.now, submission.attempts, reason)
        self._leave()

    def release(self, event_id: str, seats: int, session_ids: Iterable[str] = ()) -> None:
        """Give back seats taken at acceptance that no registration used: the live server's store found the
        attendee already registered (matched by email), so the duplicate holds no seat once created."""
        self.registered[event_id] -= seats
        for session_id in session_ids:
            self.session_registered[session_id] -= 1

    def restore_seats(self, events: dict[str, int], sessions: dict[str, int], passes: dict[str, int] | None = None
                      ) -> None:
        """Seats already taken before this model started (a restarted live server's created records, and the
        passes sold)."""
        self.registered.update(events)
        self.session_registered.update(sessions)
        self.passes_taken.update(passes or {})

    def resume(self, offer: Offer, accepted_s: float, attempts: int, waitlisted: bool = False) -> None:
        """Queue an item accepted before this model started (the live server's pending work after a restart);
        its seats are taken again, its journal entry exists already. ``waitlisted``: the decision made at
        acceptance (the event was full) — kept, not re-decided against the seats left now."""
        waitlisted = waitlisted or offer.waitlisted
        if not waitlisted:
            self.reserve(offer.event.id, offer.session_ids, offer.attendees)
        number = self.recorder.offered(self._kind(offer), accepted_s, offer.submission_id)
        self.in_system += 1
        calls = self._calls(offer, waitlisted)
        self.admit(Submission(number, offer, waitlisted, calls, accepted_s, attempts=max(1, attempts)))

    def hold_again(self, offer: Offer, expires_s: float) -> None:
        """Hold a paid offer held before this model started (a restarted live server's purchase) until
        ``expires_s``; its seats are taken again, its journal entry exists already."""
        self.reserve(offer.event.id, offer.session_ids, offer.attendees, offer.pass_ids)
        number = self.recorder.offered(self._kind(offer), self.env.now, offer.submission_id)
        self.in_system += 1
        submission = Submission(number, offer, False, self._calls(offer, False), self.env.now)
        self.recorder.accepted(number, submission.accepted_s)
        if self.payments is None:
            self.queue.put(submission)
        else:
            self.payments.hold(submission, expires_s)

    def admit(self, submission: Submission) -> None:
        """Accept an already validated item: journal it, then queue it (also how the live server resumes)."""
        if self.journal is not None:
            self.journal.accepted(submission)
        self.recorder.accepted(submission.number, submission.accepted_s)
        self.queue.put(submission)

    def _calls(self, offer: Offer, waitlisted: bool) -> tuple[plans.Call, ...]:
        shape = (len(offer.session_ids), waitlisted, offer.event.paid, offer.attendees)
        calls = self._plan_cache.get(shape)
        if calls is None:
            calls = plans.calls_for(self.call_plan, sessions=shape[0], waitlisted=waitlisted,
                                    paid=offer.event.paid, attendees=offer.attendees)
            self._plan_cache[shape] = calls
        return calls

    @staticmethod
    def _kind(offer: Offer) -> str:
        return "paid" if offer.event.paid else ("waitlist" if offer.waitlisted else offer.kind)

    def reject(self, offer: Offer, offered_s: float, rejected: Rejected,
                reply: Callable[[Outcome], None] | None) -> None:
        number = self.recorder.offered(self._kind(offer), offered_s, offer.submission_id)
        self.recorder.rejected(number, self.env.now, rejected.reason)
        self._leave()
        if reply is not None:
            reply(rejected)

    def _leave(self) -> None:
        self.in_system -= 1
        if self.arrivals_done and self.in_system == 0 and not self.settled.triggered:
            self.settled.succeed(self.env.now)

    def arrivals_over(self) -> None:
        """No more offers will come (the workload ended): settle once nothing is in the system."""
        self.arrivals_done = True
        self.in_system += 1
        self._leave()

    # --- processing ----------------------------------------------------------------------------------------
    def _processor(self, user: int) -> Generator[Any, Any, None]:
        """One processor as app user ``user``: take the next item, make its calls in order, retry as the policy
        says. One generator with the request inlined: the plain path's hot loop (every strategy off), an event
        per call; ``strategies.py`` runs the processors when a strategy is on."""
        env = self.env
        queue = self.queue
        items = queue.items
        request = self.dataverse.request
        deadline_s = self.deadline_s
        while True:
            submission = items.popleft() if items else (yield queue.wait())
            if env.now - submission.accepted_s >= deadline_s:
                self.expire(submission)
                continue
            calls = submission.calls
            while submission.next_call < len(calls) and not submission.revoked:
                answer = request(user, calls[submission.next_call])
                if answer.__class__ is not Failed:
                    yield answer
                    submission.next_call += 1
                    continue
                submission.last_error = answer.reason
                if (yield from self.retry_wait(submission, answer)):
                    break  # dead-lettered
                submission.attempts += 1
            else:
                self.created(submission)

    def created(self, submission: Submission) -> None:
        """All of ``submission``'s calls are done — the one place a registration becomes created: record it,
        start what follows (``on_created``: the confirmation stage), match its people, journal it, let it leave."""
        if submission.revoked:  # it left when it was revoked
            return
        now = self.env.now
        offered_s = self.recorder.created(submission.number, now, submission.attempts)
        if self.on_created is not None:
            self.on_created(submission.number, offered_s)
        for who in submission.offer.people:
            self.people.match(*who)
        if self.journal is not None:
            self.journal.created(submission, now)
        self._leave()

    def deadline_reason(self, submission: Submission, where: str = "") -> str:
        """The dead letter's reason when ``submission``'s deadline passes ``where`` (e.g. "in the queue",
        "waiting for the circuit breaker"; "" while backing off), with its last error if it had one."""
        reason = f"deadline {format_duration(self.deadline_s)} reached"
        if where:
            reason = f"{reason} {where}"
        return f"{reason}; last error: {submission.last_error}" if submission.last_error else reason

    def expire(self, submission: Submission) -> None:
        """A processor took ``submission`` after its deadline: dead-letter it unsent (the 6 h run from acceptance,
        in the queue as in a retry's wait)."""
        self.dead_letter(submission, self.deadline_reason(submission, "in the queue"))

    def retry_wait(self, submission: Submission, failed: Failed) -> Generator[Any, Any, bool]:
        """Wait as the policy says, never past the deadline; True when the item was dead-lettered instead."""
        env = self.env
        state = submission.retry
        if state is None:
            state = submission.retry = RetryState()
        state.attempt = submission.attempts
        state.elapsed_s = env.now - submission.accepted_s
        state.retry_after_s = failed.retry_after_s
        if self.policy.stop(state):
            self.dead_letter(submission, f"{self.policy.stop_reason(state)}; last error: {failed.reason}")
            return True
        if self.journal is not None:
            self.journal.retrying(submission, env.now, failed.reason)
        wait_s = self.policy.wait_s(state, self.rng)
        state.last_wait_s = wait_s
        remaining_s = submission.accepted_s + self.deadline_s - env.now
        self.retrying += 1
        try:
            if wait_s >= remaining_s:
                yield env.timeout(max(remaining_s, 0.0))
                self.dead_letter(submission, self.deadline_reason(submission))
                return True
            yield env.timeout(wait_s)
        finally:
            self.retrying -= 1
        return False

    def dead_letter(self, submission: Submission, reason: str) -> None:
        """Give up on ``submission`` with ``reason``: record it, journal it, let it leave."""
        if submission.revoked:  # it left when it was revoked
            return
        now = self.env.now
        self.recorder.dead_lettered(submission.number, now, submission.attempts, reason)
        if self.journal is not None:
            self.journal.dead_lettered(submission, now, reason)
        self._leave()

    # --- observation ---------------------------------------------------------------------------------------
    def sample_levels(self) -> Generator[Any, Any, None]:
        """A process: record queue depth and retrying at each bin's end."""
        bin_s = self.recorder.bin_s
        # From the bin holding now: a restarted live model's clock resumes at the last stored time, and a
        # sampler starting at bin 0 would ask for a negative delay (and kill the model thread).
        index = int(self.env.now // bin_s)
        while True:
            yield self.env.timeout((index + 1) * bin_s - self.env.now)
            self.recorder.level("queue_depth", index * bin_s, len(self.queue.items))
            self.recorder.level("retrying", index * bin_s, self.retrying)
            self.recorder.level("active_processors", index * bin_s, self.active_processors)
            index += 1
