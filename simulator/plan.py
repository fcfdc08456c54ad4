"""The Dataverse calls one submission costs: validation reads (served by the read cache when warm) and the
background processor's writes.

How many calls a registration takes is undocumented (reference §4.2); the model's cost derives from the
tenant's ``[registration]`` settings, with the scenario's ``[dataverse.plan]`` table applied on top, per
attendee (:func:`call_plan` resolves the two):

- every attendee: ``contact_match`` reads (the matching rule's query: 1, or 0 under ``matching = "none"``,
  which matches nobody) + ``contact_write`` writes (create or update) — of a contact or a lead, as
  ``registration.audience`` says — + ``consent`` writes (one per purpose of the compliance profile:
  ``registration.consent_purposes``);
- event registration: ``registration`` writes; session registration: also ``per_session`` × sessions named;
- waitlisted (asked for, or the event is full and has a waitlist): ``waitlist_item`` writes instead of the
  registration and its sessions;
- paid event: also ``purchase`` + ``attendee_pass`` writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.consent import CONSENT_TABLE
from simulator.scenario import Plan as PlanSettings
from simulator.scenario import Scenario

__all__ = [
    "Call",
    "CallPlan",
    "KINDS",
    "call_plan",
    "calls_for",
    "validation_keys",
    "browse_keys",
    "mean_calls_per_submission",
    "mean_reads_per_submission",
    "capacity",
    "registration_summary",
    "overridden_counts",
]

KINDS = ("event", "session", "waitlist", "paid")


@dataclass(frozen=True, slots=True)
class Call:
    """One Dataverse request: ``op`` is the table touched, ``write`` tells the latency distribution."""

    op: str
    write: bool


CONTACT_MATCH = Call("contact_match", write=False)
CONTACT_WRITE = Call("contact", write=True)
REGISTRATION = Call("msevtmgt_eventregistration", write=True)
SESSION_REGISTRATION = Call("msevtmgt_sessionregistration", write=True)
WAITLIST_ITEM = Call("msevtmgt_waitlistitem", write=True)
PURCHASE = Call("msevtmgt_eventpurchase", write=True)
ATTENDEE_PASS = Call("msevtmgt_attendeepass", write=True)
VALIDATION_READ = Call("validation_read", write=False)
LEAD_MATCH = Call("lead_match", write=False)
LEAD_WRITE = Call("lead", write=True)
CONSENT = Call(CONSENT_TABLE, write=True)


@dataclass(frozen=True, slots=True)
class CallPlan:
    """The calls per attendee once ``[registration]`` and ``[dataverse.plan]`` are resolved (every count
    known): what the processors execute and the analytic ceiling counts."""

    contact_match: int = 1
    contact_write: int = 1
    consent: int = 0
    registration: int = 1
    per_session: int = 1
    waitlist_item: int = 1
    purchase: int = 1
    attendee_pass: int = 1
    audience: str = "contact"  # contact | lead: which table the match reads and the write go to


def call_plan(scenario: Scenario) -> CallPlan:
    """The scenario's plan: derived from ``[registration]`` (the match read, none under ``matching = "none"``;
    one consent write per purpose), then ``[dataverse.plan]``'s explicit counts on top."""
    settings: PlanSettings = scenario.dataverse.plan
    registration = scenario.registration
    derived_match = 0 if registration.matching == "none" else 1
    return CallPlan(
        contact_match=derived_match if settings.contact_match is None else settings.contact_match,
        contact_write=settings.contact_write,
        consent=registration.consent_purposes if settings.consent is None else settings.consent,
        registration=settings.registration,
        per_session=settings.per_session,
        waitlist_item=settings.waitlist_item,
        purchase=settings.purchase,
        attendee_pass=settings.attendee_pass,
        audience=registration.audience,
    )


def calls_for(plan: CallPlan, *, sessions: int, waitlisted: bool, paid: bool, attendees: int = 1
              ) -> tuple[Call, ...]:
    """The processor's calls for one submission, in the order it makes them: per attendee the contact (or
    lead) match and write and the consent records, then the registration (or waitlist item) and, paid,
    purchase and pass; ``per_session`` for each of the ``sessions`` named across all attendees."""
    match, write = (LEAD_MATCH, LEAD_WRITE) if plan.audience == "lead" else (CONTACT_MATCH, CONTACT_WRITE)
    per_attendee = [match] * plan.contact_match + [write] * plan.contact_write + [CONSENT] * plan.consent
    if waitlisted:
        per_attendee += [WAITLIST_ITEM] * plan.waitlist_item
    else:
        per_attendee += [REGISTRATION] * plan.registration
        if paid:
            per_attendee += [PURCHASE] * plan.purchase + [ATTENDEE_PASS] * plan.attendee_pass
    session_calls = [] if waitlisted else [SESSION_REGISTRATION] * (plan.per_session * sessions)
    return tuple(per_attendee * attendees + session_calls)


def validation_keys(event_id: str, session_ids: tuple[str, ...], paid: bool) -> tuple[tuple[str, str], ...]:
    """Read-cache keys validation needs: the event, each named session, the passes of a paid event."""
    keys = [("event", event_id)]
    keys += [("session", s) for s in session_ids]
    if paid:
        keys.append(("passes", event_id))
    return tuple(keys)


def browse_keys(event_id: str) -> tuple[tuple[str, str], ...]:
    """Catalog pages a visitor loads around a submission (each a cached read)."""
    return (
        ("published", ""),
        ("event", event_id),
        ("sessions", event_id),
        ("speakers", event_id),
        ("sponsorships", event_id),
    )


def mean_calls_per_submission(scenario: Scenario) -> float:
    """Expected processor calls per accepted submission under the scenario's mix (cache reads excluded)."""
    plan = call_plan(scenario)
    mix = scenario.workload.mix
    events = scenario.catalog.events
    paid_share = scenario.catalog.paid_events / events
    sessions = min(scenario.workload.sessions_per_submission, scenario.catalog.sessions_per_event)
    total = 0.0
    for paid, share in ((True, paid_share), (False, 1.0 - paid_share)):
        if share == 0:
            continue
        total += share * (
            mix.event * len(calls_for(plan, sessions=0, waitlisted=False, paid=paid))
            + mix.session * len(calls_for(plan, sessions=sessions, waitlisted=False, paid=paid))
            + mix.waitlist * len(calls_for(plan, sessions=0, waitlisted=True, paid=paid))
        )
    return total


def mean_reads_per_submission(scenario: Scenario) -> float:
    """Expected Dataverse reads per submission when every lookup misses (no cache): browsing + validation."""
    mix = scenario.workload.mix
    sessions = min(scenario.workload.sessions_per_submission, scenario.catalog.sessions_per_event)
    paid_share = scenario.catalog.paid_events / scenario.catalog.events
    validation = 1 + mix.session * sessions + paid_share
    return scenario.workload.browse_per_submission + validation


def capacity(scenario: Scenario) -> dict[str, float]:
    """The analytic ceiling: keys × requests_limit / window ÷ Dataverse calls per registration (cache reads
    counted only when there is no cache: with one, they are rare)."""
    dv = scenario.dataverse
    keys = dv.app_users if dv.affinity else dv.app_users * dv.web_servers
    requests_per_s = keys * dv.requests_limit / dv.window
    calls = mean_calls_per_submission(scenario)
    if scenario.api.cache == "none":
        calls += mean_reads_per_submission(scenario)
    return {
        "keys": keys,
        "requests_per_s_ceiling": round(requests_per_s, 6),
        "calls_per_registration": round(calls, 6),
        "ceiling_created_per_s": round(requests_per_s / calls, 6) if calls else 0.0,
    }


def overridden_counts(scenario: Scenario) -> dict[str, str]:
    """``[dataverse.plan]`` counts set explicitly to a value other than the one ``[registration]`` derives, each
    with the sentence that says so ("contact_match = 1 set explicitly: matching = none does not remove the match
    read") — a setting that did not take effect, named wherever the run's figures are."""
    settings, registration = scenario.dataverse.plan, scenario.registration
    derived_match = 0 if registration.matching == "none" else 1
    found: dict[str, str] = {}
    if settings.contact_match is not None and settings.contact_match != derived_match:
        effect = ("does not remove the match read" if derived_match == 0 else
                  f"would make it {derived_match}")
        found["contact_match"] = (f"contact_match = {settings.contact_match} set explicitly: matching = "
                                  f"{registration.matching} {effect}")
    if settings.consent is not None and settings.consent != registration.consent_purposes:
        found["consent"] = (f"consent = {settings.consent} set explicitly: consent_purposes = "
                            f"{registration.consent_purposes} would make it {registration.consent_purposes}")
    return found


def registration_summary(scenario: Scenario) -> dict[str, object]:
    """The ``registration`` block of summary.json: the settings a run was made under, what each attendee
    costs because of them, and (``overridden``) any explicit ``[dataverse.plan]`` count that overrode them."""
    registration = scenario.registration
    plan = call_plan(scenario)
    summary: dict[str, object] = {
        "audience": registration.audience,
        "matching": registration.matching,
        "consent_purposes": registration.consent_purposes,
        "match_reads_per_attendee": plan.contact_match,
        "consent_writes_per_attendee": plan.consent,
    }
    overridden = overridden_counts(scenario)
    if overridden:
        summary["overridden"] = overridden
    return summary
