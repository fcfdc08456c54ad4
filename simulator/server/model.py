"""The seam between the HTTP face and the live model: what routes ask of it, and what it answers.

The routes never see SimPy. They depend on ``LiveModel``; the real implementation drives the simulator's own
pipeline and Dataverse model in wall-clock time (``simulator/engine``) with a durable SQLite journal
(``simulator/server/store.py``); tests use a small in-memory fake.

Registration outcomes::

    RegistrationOutcome = Accepted | Refused
        Accepted(submission_id, redirect_url=None, waitlisted=False)
                                                        durably enqueued → 202 (free, or waitlisted) / 200 +
                                                        redirectUrl (paid, a seat held: go pay)
        Refused(code, message, retry_after_s, field)    → the status and error type of ``code`` (one table:
                                                          ``operations.REFUSALS``), Retry-After when set

The codes are the engine's ``RejectionCode``: the same reasons a simulated run counts its rejections by.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, runtime_checkable

from simulator.catalog import Event
from simulator.engine.refusals import RejectionCode
from simulator.server.contract import RegistrationRequest

__all__ = [
    "Accepted",
    "Refused",
    "RegistrationOutcome",
    "LiveModel",
    "PageReads",
    "Purchases",
    "SubmissionStatus",
    "STATS_KEYS",
    "SUBMISSION_STATES",
    "RejectionCode",
    "retry_after_header_s",
    "entity_refusal",
]


@dataclass(frozen=True, slots=True)
class Accepted:
    """The submission is durably enqueued; ``redirect_url`` is the payment page on paid events (else the server
    builds one from ``[payment]``); ``waitlisted``: the event was full (or the attendees asked for the waitlist),
    so it took no seat and, on a paid event, no purchase: nothing to pay."""

    submission_id: str
    redirect_url: str | None = None
    waitlisted: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    """The submission was not accepted, for the reason ``code``; the caller sees that code's status and error
    type with ``message`` (and ``field`` naming the part of the body at fault, when one is); ``retry_after_s``
    is the whole wall seconds of ``Retry-After``."""

    code: RejectionCode
    message: str
    retry_after_s: int | None = None
    field: str | None = None


RegistrationOutcome = Accepted | Refused

#: Keys of ``LiveModel.stats()``; ``/metrics`` exports each (``pending`` as a gauge, the rest as counters).
STATS_KEYS: tuple[str, ...] = (
    "offered",
    "accepted",
    "rejected",
    "created",
    "dead_lettered",
    "pending",
    "dv_admitted",
    "dv_throttled",
    "dv_throttled_requests",
    "dv_throttled_execution",
    "dv_throttled_concurrency",
    "cache_hits",
    "cache_misses",
)

SUBMISSION_STATES = ("accepted", "retrying", "created", "dead_lettered")


class SubmissionStatus(TypedDict, total=False):
    """What ``GET /_harness/submissions/{id}`` shows (times in model seconds; None until they happen)."""

    id: str
    event_id: str
    state: str  # one of SUBMISSION_STATES
    attempts: int
    accepted_s: float
    created_s: float | None
    dead_lettered_s: float | None
    last_error: str | None


@runtime_checkable
class LiveModel(Protocol):
    """What the HTTP face needs from the model behind it.

    ``register`` is awaited on the server's event loop and may take as long as validation takes (a cold read
    cache means Dataverse-model reads), and so is ``submission``; the other methods are called on the event loop
    too and must be quick and thread-safe against the model's own thread: read counters the model thread keeps
    (never SQLite, never a lock the model thread holds), do not wait on the model.
    """

    async def register(self, event: Event, request: RegistrationRequest) -> RegistrationOutcome:
        """Validate ``request`` for ``event`` (entities, capacity, waitlist) and, if valid, accept it durably."""
        ...

    def registration_count(self, event_id: str) -> int:
        """Event registrations created so far for the event with this GUID (``Event.id``)."""
        ...

    def session_registration_count(self, session_id: str) -> int:
        """Session registrations created so far for this session."""
        ...

    async def submission(self, submission_id: str) -> Mapping[str, Any] | None:
        """The submission's status (see ``SubmissionStatus``), or None when unknown (awaited: it may read the
        store, which must not happen on the event loop)."""
        ...

    def stats(self) -> Mapping[str, Any]:
        """Counters since start, keyed as ``STATS_KEYS`` (numbers)."""
        ...

    def timeseries(self) -> list[dict[str, Any]]:
        """Completed bins so far, one dict per bin with the timeseries.csv columns (``t_s`` first)."""
        ...

    async def inject_fault(self, kind: str, duration_s: float, **values: Any) -> None:
        """Start a fault now: ``outage``, ``slow`` (``factor``) or ``limit`` (``requests_limit``,
        ``execution_limit`` in seconds, ``concurrency_limit``); raise ValueError for values it cannot take."""
        ...


@runtime_checkable
class PageReads(Protocol):
    """Optional for a ``LiveModel``: charge the catalog pages the simulator's visitors browse
    (``plan.browse_keys``: ``("published", "")``, ``("event" | "sessions" | "speakers" | "sponsorships",
    event id)``) to the model's read cache, as the simulated workload does. Called on the event loop; quick."""

    def page_loaded(self, key: tuple[str, str]) -> None: ...


@runtime_checkable
class Purchases(Protocol):
    """Optional for a ``LiveModel``: paid registrations held as purchases until paid (engine/payments.py).
    ``finalize`` confirms one for ``event``: ``"confirmed"`` (now or before; the registration is accepted),
    ``"expired"`` (its hold timed out), ``"cancelled"`` or ``"unknown"`` (no purchase: a submission of a free
    event, or a waitlisted one, names none); ``cancel`` ends a hold now (the gateway's Cancelled), answering
    ``"cancelled"`` or what the purchase already was; ``purchase`` reads its state (the store's row) or None;
    ``passes`` is a pass's ``(sold, held)`` attendees (quick: called on the event loop)."""

    async def finalize(self, event: Event, purchase_id: str) -> str: ...
    async def cancel(self, event: Event, purchase_id: str) -> str: ...
    async def purchase(self, purchase_id: str) -> Mapping[str, Any] | None: ...
    def passes(self, pass_id: str) -> tuple[int, int]: ...


def retry_after_header_s(wait_s: float) -> int:
    """``Retry-After`` in whole seconds for a wait of ``wait_s`` wall seconds: rounded up, at least 1."""
    return max(1, math.ceil(wait_s))


def entity_refusal(event: Event, request: RegistrationRequest) -> Refused | None:
    """The first static reason ``request`` cannot be valid for ``event``, or None.

    Pure: it needs only the catalog (sessions, passes, waitlist); capacity needs live counts and stays with the
    model. A live model runs this after its validation reads, so the reads are paid for as the real API pays
    for them.
    """
    code = RejectionCode
    if not event.live:
        return Refused(code.EVENT_NOT_LIVE, f"event {event.readable_id} is not live: it is not published, so it "
                       "takes no registrations")
    session_ids = {s.id for s in event.sessions}
    pass_ids = {p.id for p in event.passes}
    seen: set[str] = set()

    def refused(reason: RejectionCode, field: str, text: str) -> Refused:
        return Refused(reason, f"{field}: {text}", field=field)

    for i, attendee in enumerate(request.attendees):
        where = f"attendees[{i}]"
        email = attendee.email.strip().lower()
        if email in seen:
            return refused(code.DUPLICATE_ATTENDEE, f"{where}.email", f"{attendee.email} appears twice in one request")
        seen.add(email)
        if attendee.waitlisted and not event.waitlist:
            return refused(code.WAITLIST_NOT_AVAILABLE, f"{where}.waitlisted",
                           f"event {event.readable_id} has no waitlist")
        if event.paid and not attendee.waitlisted:  # a waitlisted attendee buys nothing (the v2.0 sample sends none)
            if not attendee.passId:
                return refused(code.PASS_REQUIRED, f"{where}.passId", f"event {event.readable_id} uses a payment "
                               f"gateway; name one of its passes ({', '.join(sorted(pass_ids))})")
            if attendee.passId not in pass_ids:
                return refused(code.INVALID_PASS, f"{where}.passId",
                               f"{attendee.passId} is not a pass of event {event.readable_id}")
        elif attendee.passId and not event.paid:
            return refused(code.INVALID_PASS, f"{where}.passId", f"event {event.readable_id} is free and has no passes")
        for j, chosen in enumerate(attendee.attendeeSessions):
            if chosen.sessionId not in session_ids:
                return refused(code.INVALID_SESSION, f"{where}.attendeeSessions[{j}].sessionId",
                               f"{chosen.sessionId} is not a session of event {event.readable_id}")
            if chosen.waitlisted and not event.waitlist:
                return refused(code.WAITLIST_NOT_AVAILABLE, f"{where}.attendeeSessions[{j}].waitlisted",
                               f"event {event.readable_id} has no waitlist")
    return None
