"""The open workload's traffic, pure (no Locust, no gevent): who arrives when, and what they send.

The master hands every load-generating process a :class:`Plan` (the resolved scenario as TOML, the time scale,
the token, and the process's share: index ``i`` of ``n``). From it, a :class:`Schedule` replays the very
journeys the simulator offers (``simulator.arrivals.journeys`` on the same catalog and the same seeded arrival
stream), keeps arrival ``k`` when ``k mod n == i``, and maps its simulated time to a wall-clock offset
(÷ time scale). Nothing here depends on how fast the server answers: the workload is open.

What each arrival sends is a pure function of the scenario and the arrival's number ``k``, whichever process
sends it: the attendee (:func:`attendee`: a unique email, or — for ``load.repeat_share`` of arrivals — the
attendee of an earlier arrival), the registration body (:func:`registration_body`) and the pages a visitor
loads (:func:`visit`).
"""

from __future__ import annotations

import json
import math
import random
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, unquote

from simulator import consent
from simulator.arrivals import Journey, arrival_period_s, journeys, load_trace, mean_rate_per_s, peak_rate_per_s
from simulator.catalog import FIELD_BOOLEAN, FIELD_MULTIPLE_CHOICE, FIELD_SINGLE_CHOICE, Catalog, build_catalog
from simulator.scenario import Scenario, Step, parse_scenario

__all__ = [
    "Plan",
    "Schedule",
    "portable",
    "Page",
    "attendee",
    "registration_body",
    "registration_path",
    "visit",
    "classify",
    "submission_id_from",
    "users_per_class",
    "DEFAULT_ORG",
]

DEFAULT_ORG = "00000000-0000-4000-8000-000000000001"  # stampede serve's development organization
_FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis", "Radia",
          "Tim", "Katherine", "John", "Shafi", "Leslie", "Hedy", "Claude", "Mary", "Niklaus", "Sophie", "Yukihiro",
          "Lin", "Amara", "Mateo", "Priya", "Olga", "Kwame", "Ingrid", "Tomás")
_LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Ritchie",
         "Perlman", "Berners-Lee", "Johnson", "Backus", "Goldwasser", "Lamport", "Lamarr", "Shannon", "Jackson",
         "Wirth", "Wilson", "Matsumoto", "Chen", "Okafor", "García", "Raman", "Petrova", "Mensah", "Larsen", "Silva")
_DOMAINS = ("example.com", "example.org", "example.net", "contoso.com", "fabrikam.com")


@dataclass(frozen=True)
class Plan:
    """What the master tells one load-generating process (a msgpack-safe dict on the wire)."""

    scenario_toml: str
    time_scale: float
    token: str
    org: str = DEFAULT_ORG
    index: int = 0
    count: int = 1
    late_after_s: float = 0.1  # wall seconds after its intended time at which a send counts as late
    drop_after_s: float = 5.0  # wall seconds after which an arrival is not sent at all (counted dropped)
    drain_s: float = 15.0  # wall seconds to wait, after the last arrival, for answers before reporting done

    def to_message(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Plan:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def scenario(self) -> Scenario:
        return parse_scenario(tomllib.loads(self.scenario_toml), "the master's scenario")


def portable(scenario: Scenario) -> Scenario:
    """The scenario with a trace's CSV folded in as steps — the same rate function, so the same arrivals — so
    that workers on other machines need no file beside the package."""
    workload = scenario.workload
    if workload.shape != "trace":
        return scenario
    steps = [Step(at=t_s, rate=rate) for t_s, rate in load_trace(workload.trace)]
    folded = workload.model_copy(update={"shape": "steps", "steps": steps, "trace": ""})
    return scenario.model_copy(update={"workload": folded})


class Schedule:
    """One process's share of the arrivals, as (number, wall offset in seconds, journey)."""

    def __init__(self, scenario: Scenario, time_scale: float, index: int = 0, count: int = 1) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, e.g. 30; got {time_scale!r}")
        if not 0 <= index < count:
            raise ValueError(f"process index {index} is not in 0..{count - 1}")
        self.scenario = scenario
        self.time_scale = time_scale
        self.index = index
        self.count = count
        self.catalog: Catalog = build_catalog(scenario.catalog, scenario.seed)

    def __iter__(self) -> Iterator[tuple[int, float, Journey]]:
        # The same stream and order as simulator.engine.model.build_model's arrival_rng, so the live traffic is
        # the simulated traffic.
        rng = random.Random(f"{self.scenario.seed}-arrivals")
        for k, journey in enumerate(journeys(self.scenario, self.catalog, rng)):
            if k % self.count == self.index:
                yield k, journey.t_s / self.time_scale, journey

    @property
    def window_s(self) -> float:
        """Wall seconds over which arrivals come."""
        return arrival_period_s(self.scenario) / self.time_scale

    @property
    def peak_rate_per_s(self) -> float:
        """This process's peak arrivals per wall second."""
        return peak_rate_per_s(self.scenario) * self.time_scale / self.count

    @property
    def mean_rate_per_s(self) -> float:
        """The shape's expected arrivals per wall second, over all processes."""
        return mean_rate_per_s(self.scenario) * self.time_scale


def users_per_class(peak_rate_per_s: float, busy_s: float = 0.5, minimum: int = 8) -> int:
    """Users of each class one process needs so that arrivals rarely wait for a free one: a user can take
    1/busy_s arrivals a second (each answer within ``busy_s``), with at least ``minimum``."""
    return max(minimum, math.ceil(peak_rate_per_s * busy_s))


# --- what an arrival sends --------------------------------------------------------------------------------------


def _base_attendee(seed: int, k: int) -> tuple[str, str, str]:
    rng = random.Random(f"{seed}-attendee-{k}")
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    return first, last, f"{local}.{k}@{rng.choice(_DOMAINS)}"


def attendee(seed: int, k: int, repeat_share: float) -> tuple[str, str, str]:
    """(first name, last name, email) of arrival ``k``: unique to it, or — with probability ``repeat_share`` —
    the attendee of an earlier arrival (the same person registering again, for contact matching)."""
    rng = random.Random(f"{seed}-repeat-{k}")
    if k > 0 and rng.random() < repeat_share:
        return _base_attendee(seed, rng.randrange(k))
    return _base_attendee(seed, k)


def _response_value(field_type: int, choices: tuple[str, ...], rng: random.Random) -> str:
    if field_type == FIELD_BOOLEAN:
        return rng.choice(("true", "false"))
    if field_type == FIELD_SINGLE_CHOICE and choices:
        return rng.choice(choices)
    if field_type == FIELD_MULTIPLE_CHOICE and choices:
        return ",".join(rng.sample(choices, rng.randint(1, len(choices))))
    return rng.choice(("Looking forward to it", "First time attending", "Via the newsletter", "n/a"))


def registration_body(journey: Journey, k: int, seed: int, repeat_share: float, consent_purposes: int = 0
                      ) -> dict[str, Any]:
    """The ``POST …/registrations`` body of arrival ``k``: one attendee, answers to the event's custom fields
    (every required one, some optional ones), the journey's sessions, waitlisted for a waitlist request, a
    pass on a paid event, and — under a compliance profile with ``consent_purposes`` — an opt-in or opt-out
    for each purpose, as the consent responses the mock reads (simulator/consent.py)."""
    rng = random.Random(f"{seed}-body-{k}")
    first, last, email = attendee(seed, k, repeat_share)
    event = journey.event
    responses = [
        {"id": f.id, "value": _response_value(f.type, f.choices, rng)}
        for f in event.custom_fields if f.required or rng.random() < 0.5
    ]
    person: dict[str, Any] = {
        "firstName": first,
        "lastName": last,
        "email": email,
        "responses": responses,
        "attendeeSessions": [{"sessionId": s} for s in journey.session_ids],
        "waitlisted": journey.kind == "waitlist",
    }
    if event.paid and event.passes:
        person["passId"] = rng.choice(event.passes).id
    for purpose_id in consent.purpose_ids(consent_purposes):  # drawn last: the other answers stay as they were
        responses.append(consent.consent_response(purpose_id, rng.random() < 0.5))
    return {"attendees": [person]}


def encode(body: dict[str, Any]) -> str:
    """The JSON text of a body (sent as UTF-8)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def base_path(org: str) -> str:
    return f"/api/v1.0/orgs/{quote(org, safe='')}/eventmanagement"


def registration_path(org: str, readable_event_id: str, token: str) -> str:
    return f"{base_path(org)}/events/{quote(readable_event_id, safe='')}/registrations?emApplicationtoken=" \
           f"{quote(token, safe='')}"


def registration_kind(journey: Journey) -> str:
    """The kind the model records: paid for any registration on a paid event, else the journey's kind."""
    return "paid" if journey.event.paid else journey.kind


@dataclass(frozen=True)
class Page:
    """One GET of a visit: the path with its query, and the name Locust groups it under."""

    path: str
    name: str


def visit(journey: Journey, k: int, seed: int, org: str, token: str) -> list[Page]:
    """The pages arrival ``k`` loads before registering: ``journey.pages`` pages of the simulator's browsing set
    (``plan.browse_keys``) in a portal's order — the published events, the event, then its sessions, speakers or
    sponsorships at random — with what a browser fetches alongside, which the model does not charge as reads: a
    speaker's image after the speakers, a logo after the sponsorships, the passes of a paid event and, now and
    then, the live registration count after the event page and the tracks after the sessions."""
    if journey.pages <= 0:
        return []
    rng = random.Random(f"{seed}-visit-{k}")
    event = journey.event
    base = base_path(org)
    query = f"?emApplicationtoken={quote(token, safe='')}"
    event_path = f"{base}/events/{quote(event.readable_id, safe='')}"
    kinds = ["published", "event"][:journey.pages]
    kinds += [rng.choice(("sessions", "speakers", "sponsorships")) for _ in range(journey.pages - len(kinds))]
    pages: list[Page] = []
    for kind in kinds:
        if kind == "published":
            pages.append(Page(f"{base}/events/published{query}", "GET /events/published"))
            continue
        if kind == "event":
            pages.append(Page(f"{event_path}{query}", "GET /events/{id}"))
            if event.paid:
                pages.append(Page(f"{event_path}/passes{query}", "GET /events/{id}/passes"))
            if rng.random() < 0.3:
                pages.append(Page(f"{event_path}/registrations/count{query}", "GET /events/{id}/registrations/count"))
            continue
        pages.append(Page(f"{event_path}/{kind}{query}", f"GET /events/{{id}}/{kind}"))
        if kind == "sessions" and rng.random() < 0.5:
            pages.append(Page(f"{event_path}/tracks{query}", "GET /events/{id}/tracks"))
        elif kind == "speakers" and event.speakers:
            speaker = quote(rng.choice(event.speakers).id, safe="")
            pages.append(Page(f"{base}/speakers/{speaker}/image{query}", "GET /speakers/{id}/image"))
        elif kind == "sponsorships" and event.sponsorships:
            sponsorship = quote(rng.choice(event.sponsorships).id, safe="")
            pages.append(Page(f"{base}/sponsorships/{sponsorship}/logo{query}", "GET /sponsorships/{id}/logo"))
    return pages


def classify(status: int) -> str:
    """A registration answer's outcome (see ``tally.REGISTRATION_OUTCOMES``): 429 from the designed limiter is
    throttled, not failed; 409 (full) and 400 (no waitlist) are the model refusing; 503 is an outage."""
    if status in (200, 202):
        return "accepted"
    if status == 429:
        return "throttled"
    if status in (400, 409):
        return "refused"
    if status == 503:
        return "unavailable"
    return "failed"


def submission_id_from(location: str | None) -> str | None:
    """The submission id at the end of ``Location: /_harness/submissions/{id}``."""
    if not location:
        return None
    return unquote(location.rstrip("/").rsplit("/", 1)[-1]) or None
