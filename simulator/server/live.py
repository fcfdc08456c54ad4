"""The real ``LiveModel``: the simulator's own model in wall-clock time, journalled in SQLite.

    HTTP handler ─ register() ─► LoopOffers (the loop iteration's offers together) ─► RealtimeDriver.offer_many
                 ─► EventPipeline (validation reads through the instance's cache, capacity) ─► journal.accepted
                 ─► flush: Store.accept_many (durable, one commit per turn) ─► LoopAnswers ─► 202
    model thread: processors ─► Dataverse model (limits, 429, Retry-After, retries, deadline)
                  ─► journal.created ─► flush: Store.create_many (contacts, registrations) | dead_lettered

A request is one submission: its attendees share one work item whose plan repeats per attendee, and it takes
a seat per attendee (waitlisted attendees included — a simplification). A request that the catalog shows to
be invalid (a session of another event, a missing pass) still costs the event's validation read before it is
refused, as the real API reads the event before it can judge the request.

On start, submissions the store holds as pending are re-admitted (from their first call: the store's
uniqueness rules make a repeated write harmless) with the waitlist decision made when they were accepted, and
seat counts are restored from what was created and what is pending; the model's clock resumes at the latest
time stored, so deadlines keep counting.

A journal write that fails (disk full, I/O error) never kills the model thread: an acceptance that cannot be
stored is answered as a failure (no caller is told "accepted" for what is not durable) and revoked in the model
in the same step (its seats go back, it leaves the queue). A later write that fails on a transient error is
written again after a backoff while the server runs (``backlog.py``); one no retry can fix (a constraint
violation, a row that cannot be read back) dead-letters the submission with the reason at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.catalog import Catalog, Event
from simulator.engine.model import Model, new_model
from simulator.engine.payments import CANCELLED
from simulator.engine.pipeline import Accepted as EngineAccepted
from simulator.engine.pipeline import Offer, Rejected, Submission
from simulator.engine.pipeline import Outcome as EngineOutcome
from simulator.engine.realtime import DriverStopped, DriverStuck, RealtimeDriver
from simulator.plan import capacity, registration_summary
from simulator.records import COUNT_COLUMNS, LEVEL_COLUMNS, run_files, summarize
from simulator.scenario import Fault, Scenario, scenario_to_toml
from simulator.server.answers import LoopAnswers, LoopOffers
from simulator.server.backlog import Backlog, is_transient
from simulator.server.contract import RegistrationRequest
from simulator.server.errors import ConfigurationError, JournalRefused
from simulator.server.ids import SubmissionIds
from simulator.server.model import (
    Accepted,
    Refused,
    RegistrationOutcome,
    RejectionCode,
    entity_refusal,
    retry_after_header_s,
)
from simulator.server.store import CreatedRecords, Creation, Store, StoreReader
from simulator.server.tally import StoreTally

__all__ = ["LiveEventModel"]

logger = logging.getLogger(__name__)

_MESSAGES = {  # what the caller reads for the engine's own refusals (event, capacity and reason filled in)
    RejectionCode.EVENT_FULL: "event {event} is full ({capacity} seats) and has no waitlist",
    RejectionCode.SESSION_FULL: "a session named in the request is full (sessions have no waitlist)",
    RejectionCode.WAITLIST_NOT_AVAILABLE: "event {event} has no waitlist",
    RejectionCode.REGISTRATION_CLOSED: "event {event}'s registration period is closed: it takes no more registrations",
}


@dataclass
class _Pending:
    """What the journal needs between the offer and the acceptance (the body is stored at acceptance)."""

    body: str
    refusal: Refused | None


class LiveEventModel:
    """``LiveModel`` over the SimPy model driven in wall-clock time, with the SQLite store as its journal."""

    def __init__(self, scenario: Scenario, store: Store, time_scale: float = 1.0, run_record: bool = True) -> None:
        """``run_record=False``: keep no row per submission in memory (the store has every submission; the rows
        only feed :meth:`run_files`), so a long-running server's memory stays flat."""
        self.scenario = scenario
        self.store = store
        self._pending: dict[str, _Pending] = {}
        self._ids = SubmissionIds()  # drawn on the event loop only
        self.model: Model = new_model(scenario, journal=self, start_s=store.latest_s())
        self.model.recorder.keep_submissions = run_record
        self._record_people = run_record
        if (store.matching, store.audience) != (scenario.registration.matching, scenario.registration.audience):
            raise ConfigurationError(
                f"the store matches {store.audience}s under \"{store.matching}\" but the scenario says "
                f"registration.audience = \"{scenario.registration.audience}\", registration.matching = "
                f"\"{scenario.registration.matching}\": open the store with the scenario's settings"
            )
        self.catalog: Catalog = self.model.catalog
        self._events_by_id = {event.id: event for event in self.catalog.events}
        self._accepted: list[tuple[str, str, str, float, bool]] = []  # accepted this batch, not yet durable
        self._held: list[tuple[str, str, str, float, float, float]] = []  # purchases held this batch, not yet durable
        payments = self.model.pipeline.payments
        assert payments is not None
        payments.buyers = scenario.payment.live_buyers  # by default the callers pay (finalize)
        payments.keep_outcomes = False  # the store keeps every purchase's state: memory stays flat
        self.payments = payments
        self._accepting: list[Submission] = []  # the submissions of _accepted (revoked if the store refuses them)
        self._created: list[tuple[Submission, float]] = []  # created this turn, not yet written
        self._backlog: Backlog[tuple[Submission, float]] = Backlog()  # writes that failed, to try again
        self._unjournalled: set[str] = set()  # purchases held by the model, but the store refused them: callers
        #                                       were told the registration failed, so nothing more is written
        self.driver = RealtimeDriver(self.model, time_scale, flush=self.flush)
        self._pages: deque[tuple[str, str]] = deque()  # catalog pages served, not yet charged to a read cache
        self._pages_injected = False
        self.started_s = self.model.env.now
        self._started_wall = time.perf_counter()
        self.released_at_start = 0  # held purchases whose hold ended on the wall clock while the server was down
        self.resumed = self._resume()
        self._reader: StoreReader | None = None  # opened on first use (on the event loop's side)
        # per event loop: the model thread's answers (one loop wake-up per batch) and the loop's offers (one
        # model-thread wake-up per loop iteration)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[LoopAnswers, LoopOffers]] = \
            weakref.WeakKeyDictionary()

    # --- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._started_wall = time.perf_counter()
        self.driver.start()

    def stop(self) -> None:
        """Stop the model thread. Raises ``DriverStuck`` (logged) if it is still running: the store must then stay
        open, since the thread may still write to it."""
        try:
            self.driver.stop()
        except DriverStuck:
            logger.error("the model thread did not stop; the store is left open under it")
            raise
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _resume(self) -> int:
        """Re-admit what the store holds as pending and restore seat counts (before the driver starts)."""
        pipeline = self.model.pipeline
        registrations, sessions = self.store.registration_counts(), self.store.session_registration_counts()
        sold = {pass_id: n for (pass_id, state), n in self.store.purchases_by_pass().items() if state == "confirmed"}
        pipeline.restore_seats(registrations, sessions, sold)
        resumed = 0
        for stored in self.store.pending():
            event = self._events_by_id.get(stored.event_id)
            if event is None:  # the scenario's catalog changed under the database: say so, keep the row
                self.store.mark_dead_lettered(stored.id, self.model.env.now,
                                              f"event {stored.event_id} is not in this scenario's catalog")
                continue
            try:
                request = RegistrationRequest.model_validate_json(stored.body)
            except ValueError as exc:  # a bad row (an older format, another writer): no restart would fix it
                reason = str(exc).splitlines()[0]
                self.store.mark_dead_lettered(stored.id, self.model.env.now,
                                              f"its stored request cannot be read back: {reason}")
                continue
            offer = self._offer(event, request, stored.id)
            pipeline.resume(offer, stored.accepted_s, stored.attempts, waitlisted=stored.waitlisted)
            resumed += 1
        now, wall_now = self.model.env.now, time.time()
        for held in self.store.held_purchases():  # in the order their holds end
            event = self._events_by_id.get(held.event_id)
            if held.expires_at is not None:  # the hold ends on the wall clock, whatever happened meanwhile
                expires_s = now + (held.expires_at - wall_now) * self.driver.time_scale
            else:  # stored before the wall-clock end was: the hold keeps its end in the model's seconds (a clock
                #    that resumed before the hold began gives it a whole timeout again)
                expires_s = held.expires_s if now >= held.held_s else now + held.expires_s - held.held_s
            if event is None or expires_s <= now:  # released at once, before the server answers anyone
                self.store.expire_purchase(held.id, now)
                self.released_at_start += 1
                continue
            try:
                request = RegistrationRequest.model_validate_json(held.body)
            except ValueError:  # a bad row: the purchase cannot be resumed
                self.store.expire_purchase(held.id, now)
                continue
            offer = self._offer(event, request, held.id)
            pipeline.hold_again(offer, expires_s)
            resumed += 1
        self.tally = StoreTally(self.store.counts()["submissions"], registrations, sessions, sold)
        return resumed

    # --- registration --------------------------------------------------------------------------------------
    def _offer(self, event: Event, request: RegistrationRequest, submission_id: str,
               refusal: Refused | None = None) -> Offer:
        attendees = request.attendees
        sessions = () if refusal else tuple(
            chosen.sessionId for a in attendees for chosen in a.attendeeSessions if not chosen.waitlisted
        )
        waitlisted = all(bool(a.waitlisted) for a in attendees)
        passes = () if refusal else tuple(a.passId for a in attendees if a.passId and not a.waitlisted)
        kind = "waitlist" if waitlisted else ("session" if sessions else "event")
        # The engine records the code, not the message: messages quote the caller's input, and the record
        # counts rejections by reason, so distinct messages would grow it with every bad request.
        invalid = Rejected(refusal.code) if refusal else None
        # the model's own record of people (simulator/matching.py) only when it keeps a run record: the store
        # is the durable one, and a long-running server's memory stays flat
        people = tuple((a.email, a.firstName, a.lastName) for a in attendees) if self._record_people else ()
        return Offer(kind, event, sessions, waitlisted, submission_id, len(attendees), invalid, people,
                     pass_ids=passes)

    async def register(self, event: Event, request: RegistrationRequest) -> RegistrationOutcome:
        submission_id = self._ids.next()
        refusal = entity_refusal(event, request)
        self._pending[submission_id] = _Pending(request.model_dump_json(), refusal)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[EngineOutcome] = loop.create_future()
        side = self._loops.get(loop)
        if side is None:
            side = self._loops[loop] = (LoopAnswers(loop), LoopOffers(loop, self.driver.offer_many))
        answers, offers = side
        offer = self._offer(event, request, submission_id, refusal)
        try:
            offers.put(offer, functools.partial(answers.put, answer))  # with the iteration's other offers
            outcome = await answer
        except asyncio.CancelledError:
            # The caller went away (client timeout, shutdown). Undecided, the model refuses the offer and takes no
            # seat; decided, its acceptance is stored with the batch. Either way the body is dropped on the model
            # thread, after the decision, so an acceptance never finds it missing (which would keep an unstored
            # seat).
            offer.withdrawn = True
            offers.flush()  # an offer still queued goes first: the forget below comes after its decision
            try:
                self.driver.submit(_ignore_model, functools.partial(self._forget, submission_id))
            except DriverStopped:  # no model thread left to decide: drop it here
                self._pending.pop(submission_id, None)
            raise
        finally:
            if not offer.withdrawn:
                self._pending.pop(submission_id, None)
        if isinstance(outcome, EngineAccepted):
            return Accepted(submission_id, waitlisted=outcome.waitlisted)
        if refusal is not None and outcome.code is refusal.code:
            return refusal
        template = _MESSAGES.get(outcome.code)
        message = outcome.reason if template is None else template.format(event=event.readable_id,
                                                                             capacity=event.capacity)
        # Retry-After is in the model's seconds; an HTTP caller waits on the wall clock
        retry_after = None if outcome.retry_after_s is None else retry_after_header_s(
            outcome.retry_after_s / self.driver.time_scale)
        return Refused(outcome.code, message, retry_after)

    def _forget(self, submission_id: str, _: object, error: BaseException | None) -> None:
        self._pending.pop(submission_id, None)

    # --- the journal (called on the model thread) ----------------------------------------------------------
    # Acceptances and creations are written in groups: the driver calls flush() after each turn of its loop
    # (each batch of requests) and only then releases the 202s — one SQLite commit for everything the turn
    # accepted and created (group commit). A creation not yet flushed when the process dies is simply pending
    # in the store and is made again at the next start (mark_created is idempotent). Anything else the journal
    # writes flushes the acceptances first, so a submission is always stored before its outcome.
    def accepted(self, submission: Submission) -> None:
        submission_id = str(submission.offer.submission_id)
        pending = self._pending.get(submission_id)
        if pending is not None:  # a resumed submission is already stored
            self._accepted.append((submission_id, submission.offer.event.id, pending.body, submission.accepted_s,
                                   submission.waitlisted))
            self._accepting.append(submission)
        elif submission.offer.event.paid:  # a held purchase was paid: its stored purchase becomes the submission
            now_s, pass_ids = self.model.env.now, submission.offer.pass_ids
            self._write(submission, lambda sid: self._store_confirmation(sid, pass_ids, now_s))

    def _store_confirmation(self, purchase_id: str, pass_ids: tuple[str, ...], now_s: float) -> None:
        """The purchase becomes an accepted submission in the store; the first time, its passes are sold."""
        new = self.store.confirm_purchase(purchase_id, now_s)
        self.tally.accepted(new)
        if new:
            self.tally.sold(pass_ids)

    def held(self, submission: Submission, expires_s: float) -> None:
        """A paid submission is held as a purchase until its payment is confirmed (engine/payments.py)."""
        submission_id = str(submission.offer.submission_id)
        pending = self._pending.get(submission_id)
        if pending is not None:  # a resumed purchase is already stored
            # its end on the wall clock too, so that time while the server is down counts (a restart releases it)
            expires_at = time.time() + (expires_s - self.model.env.now) / self.driver.time_scale
            self._held.append((submission_id, submission.offer.event.id, pending.body, submission.accepted_s,
                               expires_s, expires_at))

    def abandoned(self, submission: Submission, now_s: float, reason: str) -> None:
        """A held purchase timed out unpaid, or its buyer cancelled: its seats went back; the store says which."""
        self._write(submission, lambda sid: self.store.expire_purchase(sid, now_s, cancelled=reason == CANCELLED))

    def flush(self) -> None:
        """Store this turn's held purchases, acceptances and creations (the driver calls it before releasing the
        answers), and the writes due again (see ``RetryWrites``). If the store refuses the purchases or
        acceptances, they are dropped and the error raised: the driver tells each caller it failed, and each
        refused acceptance is revoked in the model (seats back, off the queue) in this same step. A creation
        that fails on a transient error (disk full) is written again later; one no retry can fix is
        dead-lettered with the reason."""
        self._created.extend(self._backlog.due_creations(time.monotonic()))
        writes = self._backlog.due_writes(time.monotonic())
        held, accepted, created = self._held, self._accepted, self._created
        accepting = self._accepting
        if not held and not accepted and not created and not writes:
            return
        self._held, self._accepted, self._created, self._accepting = [], [], [], []
        for description, write in writes:
            self._try_write(description, write)
        effects: list[Callable[[], None]] = []  # applied once the commit succeeded (tally, seats given back)
        again: list[tuple[Submission, float]] = []  # creations that failed on a transient error
        refused: Exception | None = None  # what the callers of this turn's purchases and acceptances hear
        accepting_refused: Exception | None = None  # why this turn's acceptances were not stored
        holding_refused: Exception | None = None  # why this turn's purchase holds were not stored
        if held:
            try:
                self.store.hold_purchases(held)
            except Exception as exc:  # raised below, once the rest is written
                refused = holding_refused = exc
                self._unjournalled.update(item[0] for item in held)
        try:
            with self.store.batch():
                if accepted:
                    try:
                        new = self.store.accept_many(accepted)
                    except Exception as exc:  # raised below, once the creations are written
                        refused = accepting_refused = exc
                    else:
                        effects.append(functools.partial(self.tally.accepted, new))
                if created:
                    self._store_created(created, effects, again)
        except Exception as exc:  # the commit failed: nothing of this turn is stored
            logger.error("journal flush failed (%s); %d creations will be written again", exc, len(created))
            again = created
            if accepted:
                accepting_refused = refused = refused or exc
        else:
            for effect in effects:
                effect()
        self._backlog.creations_failed(again, time.monotonic())
        self._backlog.flushed()
        if accepting_refused is not None:
            for submission in accepting:  # the callers hear 500: no seat nor work item may outlive that
                self.model.pipeline.revoke(submission, f"the journal refused the acceptance: {accepting_refused}")
        if holding_refused is not None:
            for item in held:  # the buyers hear 500: no seat nor pass may outlive that hold
                self.payments.withdraw(item[0], f"the journal refused the purchase's hold: {holding_refused}")
        if refused is not None and (accepted or held):
            raise JournalRefused(f"the journal could not store the acceptances: {refused}") from refused

    def _write(self, submission: Submission, write: Callable[[str], object]) -> None:
        """A journal write on the model thread, after the batch's acceptances (a submission is always stored
        before its outcome). Failures are not raised (an exception here would end the model thread): one on a
        transient error is tried again later (``RetryWrites``), any other is logged."""
        submission_id = str(submission.offer.submission_id)
        if submission.revoked or submission_id in self._unjournalled:
            return
        try:
            if self._accepted:  # kept on failure: the driver's own flush decides what the callers hear
                self.tally.accepted(self.store.accept_many(self._accepted))
                self._accepted, self._accepting = [], []
            if self._held:
                self.store.hold_purchases(self._held)
                self._held = []
        except Exception:  # the flush that follows answers for them; the write below must wait for them
            logger.warning("journal write for submission %s waits: the acceptances before it failed",
                           submission_id)
            self._backlog.write_failed(submission_id, functools.partial(write, submission_id), time.monotonic())
            return
        self._try_write(submission_id, functools.partial(write, submission_id))

    def _try_write(self, submission_id: str, write: Callable[[], object]) -> None:
        try:
            write()
        except Exception as exc:  # swallowed on purpose (see _write)
            if is_transient(exc):
                logger.warning("journal write for submission %s failed (%s); it will be written again",
                               submission_id, exc)
                self._backlog.write_failed(submission_id, write, time.monotonic())
            else:
                logger.exception("journal write for submission %s failed; it stays as it was in the store",
                                 submission_id)

    def retrying(self, submission: Submission, now_s: float, error: str) -> None:
        self._write(submission, lambda sid: self.store.record_attempt(sid, error, submission.attempts))

    def created(self, submission: Submission, now_s: float) -> None:
        """Written at the next flush (group commit), with the turn's acceptances."""
        if not submission.revoked:
            self._created.append((submission, now_s))

    def _store_created(self, created: list[tuple[Submission, float]], effects: list[Callable[[], None]],
                       again: list[tuple[Submission, float]]) -> None:
        """The turn's creations as one set (a few statements for all); if the set fails, one by one, so that
        only the one that fails is set aside: into ``again`` on a transient error, dead-lettered with the
        reason on any other (a constraint violation, a row that cannot be read: no retry would fix it)."""
        todo = [(s, now_s) for s, now_s in created if not s.revoked]
        creations = [Creation(str(s.offer.submission_id), now_s, s.attempts,
                              True if s.waitlisted and not s.offer.waitlisted else None) for s, now_s in todo]
        try:
            written = self.store.create_many(creations)
        except Exception:
            logger.warning("writing %d creations as a set failed; writing them one by one", len(creations))
        else:
            for (submission, _), records in zip(todo, written, strict=True):
                self._settle(submission, records, effects)
            return
        for (submission, now_s), creation in zip(todo, creations, strict=True):
            try:
                records = self.store.mark_created(creation.submission_id, creation.created_s,
                                                  attempts=creation.attempts, waitlisted=creation.waitlisted)
            except Exception as exc:  # set aside, never raised: the others of the turn are written
                if is_transient(exc):
                    again.append((submission, now_s))
                else:
                    logger.error("the store refused the records of submission %s for good (%s): dead-lettered",
                                 creation.submission_id, exc)
                    self._refused_for_good(submission, now_s, f"the store refused its records: {exc}", effects)
                continue
            self._settle(submission, records, effects)

    def _refused_for_good(self, submission: Submission, now_s: float, reason: str,
                          effects: list[Callable[[], None]]) -> None:
        """Dead-letter a submission whose records cannot be written; its seats go back once that is stored."""
        submission_id = str(submission.offer.submission_id)
        try:
            stored = self.store.mark_dead_lettered(submission_id, now_s, reason, attempts=submission.attempts)
        except Exception as exc:
            if is_transient(exc):
                self._backlog.write_failed(submission_id, functools.partial(
                    self.store.mark_dead_lettered, submission_id, now_s, reason), time.monotonic())
            else:
                logger.exception("dead-lettering submission %s failed", submission_id)
            return
        if not stored:
            return
        offer = submission.offer

        def settle() -> None:
            self.tally.dead_lettered()
            if not submission.waitlisted:
                self.model.pipeline.release(offer.event.id, offer.attendees, offer.session_ids)

        effects.append(settle)

    def _settle(self, submission: Submission, records: CreatedRecords, effects: list[Callable[[], None]]) -> None:
        """Once the commit succeeded: count what was created and give back the seats no registration used."""
        if records.already_created:
            return
        offer = submission.offer

        def settle() -> None:
            self.tally.created(offer.event.id, records.event_registrations, records.session_ids)
            if submission.waitlisted:
                return  # a waitlisted submission took no seats
            # Seats taken at acceptance that no new registration used (a duplicate, or a waitlisted attendee of
            # a mixed request) go back, so the seat count stays the count of registrations (and pending ones).
            unused_sessions = Counter(offer.session_ids)
            unused_sessions.subtract(records.session_ids)
            self.model.pipeline.release(offer.event.id, offer.attendees - records.event_registrations,
                                        unused_sessions.elements())

        effects.append(settle)

    def dead_lettered(self, submission: Submission, now_s: float, reason: str) -> None:
        def write(submission_id: str) -> None:
            if self.store.mark_dead_lettered(submission_id, now_s, reason, attempts=submission.attempts):
                self.tally.dead_lettered()

        self._write(submission, write)

    # --- purchases (event loop → model thread) ---------------------------------------------------------------
    async def finalize(self, event: Event, purchase_id: str) -> str:
        """Confirm the payment of purchase ``purchase_id`` of ``event``: ``"confirmed"`` (the registration is
        accepted now, durably, or was before), ``"expired"`` (the hold timed out: seats released, nothing
        registered) or ``"unknown"``. A submission of a free event counts as confirmed (nothing to pay)."""

        def confirm(model: Model) -> str:  # on the model thread: the store's writer, and no SQLite on the loop
            stored = self.store.purchase(purchase_id)
            if stored is None or stored["event_id"] != event.id:  # a submission is no purchase: nothing to pay
                return "unknown"
            if stored["state"] != "held":
                return str(stored["state"])
            held = self.payments.held.get(purchase_id)
            result = self.payments.confirm(purchase_id)
            if result == "confirmed" and held is not None:
                self.flush()
                # before any processor can create it (the accepted hook stored it already unless that failed)
                self._store_confirmation(purchase_id, held.submission.offer.pass_ids, model.env.now)
            return result

        return await asyncio.wrap_future(self.driver.call(confirm))

    async def cancel(self, event: Event, purchase_id: str) -> str:
        """The buyer cancelled the payment of purchase ``purchase_id``: the hold ends now and its seats go back.
        ``"cancelled"``, or what the purchase already was (``"confirmed"``, ``"expired"``), or ``"unknown"``."""

        def cancel(model: Model) -> str:
            stored = self.store.purchase(purchase_id)
            if stored is None or stored["event_id"] != event.id:
                return "unknown"
            if stored["state"] != "held":
                return str(stored["state"])
            self.flush()  # its hold is stored before it is ended
            return self.payments.cancel(purchase_id)

        return await asyncio.wrap_future(self.driver.call(cancel))

    async def purchase(self, purchase_id: str) -> dict[str, Any] | None:
        """The purchase's state (``held``, ``confirmed``, ``expired``, ``cancelled``), its event, its attendees'
        passes and when its hold ends on the wall clock (``expires_at``, ISO 8601 UTC), or None."""

        def read(model: Model) -> dict[str, Any] | None:
            self.flush()  # a purchase held this turn is stored before it is read
            return self.store.purchase(purchase_id)

        return await asyncio.wrap_future(self.driver.call(read))

    # --- catalog pages (event loop; charged on the model thread, in batches) --------------------------------
    def page_loaded(self, key: tuple[str, str]) -> None:
        """A catalog page was served: its read goes through an API instance's cache as the simulator's browsing
        does (a miss is a Dataverse read on the model's budget). Pages are queued and charged in batches: one
        injection per batch, not one per GET."""
        self._pages.append(key)
        if not self._pages_injected:
            self._pages_injected = True
            with contextlib.suppress(DriverStopped):  # a stopped model charges no more pages
                self.driver.submit(self._charge_pages, _ignore_result)

    def _charge_pages(self, model: Model) -> None:
        self._pages_injected = False  # before draining: a page queued from now on schedules the next batch
        keys = []
        while self._pages:
            keys.append(self._pages.popleft())
        if keys:
            model.pipeline.pages_loaded(keys)

    # --- reads (event loop: the model thread's tally, never SQLite or the store's lock) ------------------------
    def registration_count(self, event_id: str) -> int:
        return self.tally.registration_count(event_id)

    def session_registration_count(self, session_id: str) -> int:
        return self.tally.session_registration_count(session_id)

    def passes(self, pass_id: str) -> tuple[int, int]:
        """``(sold, held)`` of a pass: attendees of confirmed purchases, and of purchases awaiting payment."""
        sold = self.tally.passes_sold_count(pass_id)
        return sold, max(0, self.model.pipeline.passes_taken.get(pass_id, 0) - sold)

    async def submission(self, submission_id: str) -> Mapping[str, Any] | None:
        """The submission's status, read in a worker thread on the reader's own connection."""
        if self._reader is None:
            self._reader = self.store.reader()
        return await asyncio.to_thread(self._reader.submission, submission_id)

    def stats(self) -> Mapping[str, Any]:
        """Counts since this process started (``offered`` … ``dead_lettered``, the cache and Dataverse counts;
        resumed submissions count as offered and accepted again), and the store's all-time ``stored*`` counts
        and ``pending`` (what a restart would resume). So ``created + dead_lettered <= accepted`` holds across
        restarts, and ``stored_created + stored_dead_lettered + pending == stored``. Paid events: a held purchase
        (accepted, awaiting payment, resumed after a restart) is pending and not yet stored as a submission; one
        whose payment timeout ended is dead-lettered (``purchases_*`` count them since start)."""
        journal = self.tally.totals  # one snapshot, read before the recorder: what it settled was accepted first
        recorder = self.model.recorder
        totals = {column: recorder.total(column) for column in _SINCE_START}  # in order: accepted before offered
        return {
            **totals,
            "created": journal.created_here,
            "dead_lettered": journal.dead_lettered_here + self.payments.abandoned,
            "pending": journal.pending + len(self.payments.held),
            "resumed": self.resumed,
            "journal_backlog": len(self._backlog),  # writes that failed on a transient error, to be written again
            "stored": journal.submissions,
            "stored_created": journal.created,
            "stored_dead_lettered": journal.dead_lettered,
            # paid events since start: purchases held (seats taken, awaiting payment) are pending; expired ones
            # (never paid) dead-lettered; the store keeps every purchase's state (purchases table)
            "purchases_held": len(self.payments.held),
            "purchases_confirmed": self.payments.confirmed,
            "purchases_expired": self.payments.abandoned - self.payments.cancelled,
            "purchases_cancelled": self.payments.cancelled,
            "purchases_released_at_start": self.released_at_start,  # their hold ended while the server was down
            # seats held by purchases awaiting payment (not in registrations/count, which counts registrations)
            "seats_held": sum(p.submission.offer.attendees for p in list(self.payments.held.values())),
            **self._confirmation_stats(),
            "sim_now_s": round(self.driver.sim_now_s, 3),
            "time_scale": self.driver.time_scale,
        }

    def _confirmation_stats(self) -> dict[str, int]:
        """The confirmation journey since start: emails sent, triggers dropped, the most waiting at once."""
        stage = self.model.confirmation
        if stage is None:
            return {}
        return {"confirmations_sent": stage.sent, "confirmations_dropped": stage.dropped,
                "confirmations_queued_max": stage.queued_max}

    def timeseries(self) -> list[dict[str, Any]]:
        recorder = self.model.recorder
        bins = min(recorder.bins, int(self.driver.sim_now_s / recorder.bin_s))
        rows = []
        for index in range(bins):
            row: dict[str, Any] = {"t_s": index * recorder.bin_s}
            row.update({c: recorder.counts[c][index] for c in COUNT_COLUMNS})
            row.update({c: recorder.levels[c][index] for c in LEVEL_COLUMNS})
            rows.append(row)
        return rows

    async def inject_fault(self, kind: str, duration_s: float, **values: Any) -> None:
        fault = Fault.model_validate({"at": 0, "duration": duration_s, "kind": kind, **values})

        def start(model: Model) -> None:
            model.dataverse.start_fault(fault)

        await asyncio.wrap_future(self.driver.call(start))

    def registration_summary(self) -> dict[str, Any]:
        """summary.json's ``registration`` block: the settings, and the people the store holds under them."""
        counts = self.store.counts()
        return {**registration_summary(self.scenario), "people": counts["leads" if self.store.audience == "lead"
                                                                       else "contacts"]}

    # --- the live run directory ----------------------------------------------------------------------------
    def run_files(self, name: str | None = None) -> dict[str, str]:
        """The run directory's files for what this server saw (call after :meth:`stop`)."""
        recorder = self.model.recorder
        simulated_s = self.model.env.now
        summary = summarize(
            recorder, name=name or self.scenario.name, mode="live", seed=self.scenario.seed,
            simulated_s=simulated_s, wall_s=time.perf_counter() - self._started_wall,
            capacity=capacity(self.scenario),
            extra={"time_scale": self.driver.time_scale, "resumed": self.resumed,
                   "store": self.store.counts(), "purchases": self.store.purchase_counts(),
                   "started_s": self.started_s,
                   "registration": self.registration_summary()},
            confirmation=self.model.confirmation.summary() if self.model.confirmation is not None else None,
        )
        return run_files(recorder, summary, scenario_to_toml(self.scenario))




# Recorder counts since start, read in this order: a later column only counts more, so accepted <= offered.
_SINCE_START = ("accepted", "rejected", "offered", "cache_hits", "cache_misses", "dv_admitted", "dv_throttled",
                "dv_throttled_requests", "dv_throttled_execution", "dv_throttled_concurrency", "dv_failed")
assert set(_SINCE_START) <= set(COUNT_COLUMNS)


def _ignore_model(_: Model) -> None:
    """Nothing to do on the model thread but to come after what is queued before."""


def _ignore_result(_: object, error: BaseException | None) -> None:
    """Charging pages answers nobody; a model that stopped simply charges no more."""
