"""The seam between the HTTP face and the live model: what routes ask of it, and what it answers.

The routes never see SimPy. They depend on ``LiveModel``; the real implementation drives the simulator's own
pipeline and Dataverse model in wall-clock time (``simulator/engine``) with a durable SQLite journal
(``simulator/server/store.py``); tests use a small in-memory fake.

Registration outcomes::

    RegistrationOutcome = Accepted | Refused
        Accepted(submission_id, redirect_url=None)      durably enqueued → 202 (free) / 200 + redirectUrl (paid)
        Refused(status, code, message, retry_after_s)   → that status, an ErrorBody with type = code,
                                                          Retry-After when retry_after_s is set

Refusal codes used by this package (a model may add its own)::

    400 EventNotLive            the event exists but is not live (a draft: not published, closed to registrations)
    400 InvalidSession          a session that is not one of this event's
    400 PassRequired            an event with a payment gateway and an attendee without passId
    400 InvalidPass             a pass that is not one of this event's (or any pass on a free event)
    400 WaitlistNotAvailable    waitlisted on an event without a waitlist
    400 DuplicateAttendee       the same email twice in one request
    409 EventFull / SessionFull capacity reached and no waitlist
    429 TooManyRequests         a validation read was throttled (reject mode); Retry-After in whole seconds
    503 ServiceUnavailable      the Dataverse model is in an outage
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, runtime_checkable

from simulator.catalog import Event
from simulator.server.contract import RegistrationRequest

__all__ = [
    "Accepted",
    "Refused",
    "RegistrationOutcome",
    "LiveModel",
    "PageReads",
    "SubmissionStatus",
    "STATS_KEYS",
    "SUBMISSION_STATES",
    "CODE_FOR_STATUS",
    "refused_from",
    "entity_refusal",
]


@dataclass(frozen=True, slots=True)
class Accepted:
    """The submission is durably enqueued; ``redirect_url`` is the payment page on paid events (else the server
    builds one from its payment gateway URL)."""

    submission_id: str
    redirect_url: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The submission was not accepted; the caller sees ``status`` and an error body whose type is ``code`` (and
    whose ``field`` names the part of the body at fault, when one is)."""

    status: int
    code: str
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


CODE_FOR_STATUS: dict[int, str] = {
    400: "InvalidRegistration",
    404: "NotFound",
    409: "CapacityReached",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}


def refused_from(status: int, reason: str, retry_after_s: float | None = None, code: str | None = None) -> Refused:
    """A ``Refused`` from the engine's rejection (status, reason, fractional Retry-After)."""
    retry = None if retry_after_s is None else max(1, math.ceil(retry_after_s))
    return Refused(status, code or CODE_FOR_STATUS.get(status, "RegistrationFailed"), reason, retry)


def entity_refusal(event: Event, request: RegistrationRequest) -> Refused | None:
    """The first static reason ``request`` cannot be valid for ``event``, or None.

    Pure: it needs only the catalog (sessions, passes, waitlist); capacity needs live counts and stays with the
    model. A live model runs this after its validation reads, so the reads are paid for as the real API pays
    for them.
    """
    if not event.live:
        return Refused(400, "EventNotLive", f"event {event.readable_id} is not live: it is not published, so it "
                       "takes no registrations")
    session_ids = {s.id for s in event.sessions}
    pass_ids = {p.id for p in event.passes}
    seen: set[str] = set()

    def refused(code: str, field: str, text: str) -> Refused:
        return Refused(400, code, f"{field}: {text}", field=field)

    for i, attendee in enumerate(request.attendees):
        where = f"attendees[{i}]"
        email = attendee.email.strip().lower()
        if email in seen:
            return refused("DuplicateAttendee", f"{where}.email", f"{attendee.email} appears twice in one request")
        seen.add(email)
        if attendee.waitlisted and not event.waitlist:
            return refused("WaitlistNotAvailable", f"{where}.waitlisted", f"event {event.readable_id} has no waitlist")
        if event.paid:
            if not attendee.passId:
                return refused("PassRequired", f"{where}.passId", f"event {event.readable_id} uses a payment "
                               f"gateway; name one of its passes ({', '.join(sorted(pass_ids))})")
            if attendee.passId not in pass_ids:
                return refused("InvalidPass", f"{where}.passId",
                               f"{attendee.passId} is not a pass of event {event.readable_id}")
        elif attendee.passId:
            return refused("InvalidPass", f"{where}.passId", f"event {event.readable_id} is free and has no passes")
        for j, chosen in enumerate(attendee.attendeeSessions):
            if chosen.sessionId not in session_ids:
                return refused("InvalidSession", f"{where}.attendeeSessions[{j}].sessionId",
                               f"{chosen.sessionId} is not a session of event {event.readable_id}")
            if chosen.waitlisted and not event.waitlist:
                return refused("WaitlistNotAvailable", f"{where}.attendeeSessions[{j}].waitlisted",
                               f"event {event.readable_id} has no waitlist")
    return None
