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

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from simulator.scenario import Catalog

__all__ = ["RejectionCode", "CUT_BY_SETTING", "demand_cut_by"]


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


# The catalog setting behind each refusal that turns demand away (the others are the request's own fault, a
# failed read, or the caller leaving)
CUT_BY_SETTING = {
    RejectionCode.EVENT_FULL: "capacity",
    RejectionCode.SESSION_FULL: "session_capacity",
    RejectionCode.WAITLIST_NOT_AVAILABLE: "waitlist",
}


def demand_cut_by(catalog: Catalog, rejected_by: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """For each reason in ``rejected_by`` that a catalog setting decides: the setting (dotted key), whether its
    value is the default, and both said in words ("catalog.session_capacity = 500, the default") —
    summary.json's ``demand_cut_by``, so no default cuts demand unnamed."""
    cut = {}
    for code, name in CUT_BY_SETTING.items():
        if rejected_by.get(code.value):
            value = getattr(catalog, name)
            default = value == Catalog.model_fields[name].default
            shown = str(value).lower() if isinstance(value, bool) else f"{value:,}"
            # no bare value: a replicated summary would average it with the replications that cut nothing
            cut[code.value] = {"setting": f"catalog.{name}", "default": default,
                               "said": f"catalog.{name} = {shown}, " + ("the default" if default else "as set")}
    return cut
