"""Why a registration is refused: one code per reason, shared by both clocks and every face of the model.

    RejectionCode
    ├── the request cannot be valid for the catalog (judged after the validation reads are paid for)
    │     EVENT_NOT_LIVE  INVALID_SESSION  PASS_REQUIRED  INVALID_PASS  WAITLIST_NOT_AVAILABLE  DUPLICATE_ATTENDEE
    ├── capacity        EVENT_FULL  SESSION_FULL              (no waitlist to turn the registration into)
    ├── REGISTRATION_CLOSED  submitted after the event's registration period ended (``window.closes``)
    ├── a validation read failed
    │                   THROTTLED (Dataverse answered 429)    UNAVAILABLE (Dataverse answered 503)
    └── WITHDRAWN       the caller went away before the decision (no seat taken; no one to answer)

The value of each code is what a run record counts rejections by (``summary.json``'s ``rejected_by``); the
HTTP face maps each code to a status and Microsoft's error type in one table (``server/operations.py``).
Rewording a value changes the record's keys, never what an HTTP caller sees. No SimPy here: the HTTP face
imports this module without the engine's scheduler.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RejectionCode"]


class RejectionCode(StrEnum):
    """A reason the event API refuses a registration."""

    EVENT_NOT_LIVE = "event is not live"
    INVALID_SESSION = "session is not one of the event's"
    PASS_REQUIRED = "pass required"
    INVALID_PASS = "pass is not one of the event's"
    WAITLIST_NOT_AVAILABLE = "event has no waitlist"
    DUPLICATE_ATTENDEE = "attendee twice in one request"
    EVENT_FULL = "event is full"
    SESSION_FULL = "session is full"
    REGISTRATION_CLOSED = "registration period is closed"
    THROTTLED = "validation read throttled"
    UNAVAILABLE = "validation read failed"
    WITHDRAWN = "caller went away"  # the caller stopped waiting before the decision: nobody hears this one
