"""What the engine's stages hand each other: offers and their answers, accepted work items, the work queue, an
API instance, and the journal the durable side implements. The pipeline (``pipeline.py``), its cache front
(``caching.py``) and its processors (``strategies.py``) all use these types; none of them imports another's.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

import simpy

from simulator import plan as plans
from simulator.cache import ReadCache
from simulator.catalog import Event
from simulator.engine.refusals import RejectionCode
from simulator.retry import RetryState

__all__ = ["Accepted", "Rejected", "Outcome", "Offer", "Submission", "Journal", "WorkQueue", "ApiInstance"]


@dataclass(frozen=True, slots=True)
class Accepted:
    number: int
    waitlisted: bool


@dataclass(frozen=True, slots=True)
class Rejected:
    """Refused at validation: ``code`` says why (the HTTP face maps it to a status and an error type);
    ``detail`` adds what the record keeps beyond the code (the failed read's limit)."""

    code: RejectionCode
    retry_after_s: float | None = None  # model seconds, when a throttled read says how long to wait
    detail: str = ""

    @property
    def reason(self) -> str:
        """What the run record counts this rejection by."""
        return f"{self.code.value}: {self.detail}" if self.detail else self.code.value


Outcome = Accepted | Rejected


@dataclass(slots=True)  # not frozen: one is made per arrival, and frozen dataclasses are slow to build
class Offer:
    """A registration as a caller submits it (one attendee)."""

    kind: str  # event | session | waitlist
    event: Event
    session_ids: tuple[str, ...] = ()  # every session named, across attendees (a seat each)
    waitlisted: bool = False
    submission_id: str | None = None  # the live server's id; simulated runs number their submissions
    attendees: int = 1
    invalid: Rejected | None = None  # found invalid from the catalog: rejected once the validation reads are done
    people: tuple[tuple[str, str, str], ...] = ()  # (email, first, last) per attendee, when the caller named them
    withdrawn: bool = False  # the caller went away before its answer (set from its thread): refused undecided
    arrival: int | None = None  # the workload's number for this arrival (simulated runs): keys its own draws
    pass_ids: tuple[str, ...] = ()  # paid events: the pass each seated attendee buys (a seat of that pass each)


@dataclass(slots=True)
class Submission:
    """An accepted work item."""

    number: int
    offer: Offer
    waitlisted: bool
    calls: tuple[plans.Call, ...]
    accepted_s: float
    next_call: int = 0  # calls before this one are done (a retry resumes here)
    attempts: int = 1
    last_error: str = ""
    retry: RetryState | None = None  # made on the first failure
    revoked: bool = False  # the journal could not store its acceptance (see EventPipeline.revoke)


class Journal(Protocol):
    """The durable side of the pipeline; the live server's SQLite store implements it."""

    def accepted(self, submission: Submission) -> None: ...
    def retrying(self, submission: Submission, now_s: float, error: str) -> None: ...
    def created(self, submission: Submission, now_s: float) -> None: ...
    def dead_lettered(self, submission: Submission, now_s: float, reason: str) -> None: ...


class WorkQueue:
    """FIFO of accepted items; a processor takes one without a scheduler event when any is waiting."""

    __slots__ = ("env", "items", "_takers")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.items: deque[Submission] = deque()
        self._takers: deque[simpy.Event] = deque()

    def put(self, item: Submission) -> None:
        if self._takers:
            self._takers.popleft().succeed(item)
        else:
            self.items.append(item)

    def put_front(self, item: Submission) -> None:
        """Give an item back ahead of the others (a processor paused by adaptive concurrency lets go of it)."""
        if self._takers:
            self._takers.popleft().succeed(item)
        else:
            self.items.appendleft(item)

    def wait(self) -> simpy.Event:
        event = self.env.event()
        self._takers.append(event)
        return event


class ApiInstance:
    """One event API instance: its own read cache, reading Dataverse as one app user."""

    __slots__ = ("cache", "user")

    def __init__(self, cache: ReadCache, user: int) -> None:
        self.cache = cache
        self.user = user
