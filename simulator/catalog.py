"""The event catalog a scenario describes: events, sessions, passes — generated, seeded, static per run.

The model needs only what validation and the plan use (ids, capacities, waitlist, payment); the HTTP face
presents the same objects with their descriptive fields: names and descriptions, dates in the event's time
zone, building and room, speakers, session tracks, sponsorships, pass prices, custom registration fields and
the public event URL.

Two random streams keep the model's view stable: ids, capacities and passes come from the ``catalog-{seed}``
stream exactly as they always have, descriptive data from a second ``catalog-details-{seed}`` stream, so
enriching the descriptions never moves an id. The same settings and seed give the same catalog, byte for byte.

Dates: events start on fixed dates in January–February 2027 (a deterministic catalog cannot follow the wall
clock) and last at most three days, so every date falls in standard time and the fixed UTC offsets of
``TIME_ZONES`` are exact. Times are wall-clock times in the event's time zone, as the event API gives them.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from simulator.scenario import Catalog as CatalogSettings

__all__ = [
    "Building",
    "Catalog",
    "CustomField",
    "Event",
    "Pass",
    "Room",
    "Session",
    "Speaker",
    "Sponsorship",
    "TimeZone",
    "Track",
    "TIME_ZONES",
    "FIELD_SIMPLE_TEXT",
    "FIELD_BOOLEAN",
    "FIELD_MULTIPLE_CHOICE",
    "FIELD_SINGLE_CHOICE",
    "build_catalog",
]

# Dataverse option-set values (msevtmgt_event, msevtmgt_session, msevtmgt_customregistrationfield).
EVENT_TYPE_CONFERENCE = 100000002
EVENT_TYPE_TRAINING = 100000004
EVENT_FORMAT_ON_SITE = 100000001
EVENT_FORMAT_HYBRID = 100000003
SESSION_TYPE_BREAKOUT = 100000001
SESSION_TYPE_KEYNOTE = 100000003
SESSION_FORMAT_ON_SITE = 100000001
PERMITTED_YES = 100000001
LANGUAGE_ENGLISH = 1033
FIELD_SIMPLE_TEXT = 100000000
FIELD_BOOLEAN = 100000001
FIELD_MULTIPLE_CHOICE = 100000002
FIELD_SINGLE_CHOICE = 100000003


@dataclass(frozen=True, slots=True)
class TimeZone:
    """A Dynamics 365 time zone: its code (``timeZone``), display name and standard-time UTC offset."""

    code: int
    name: str
    utc_offset_h: float


TIME_ZONES: tuple[TimeZone, ...] = (
    TimeZone(4, "(GMT-08:00) Pacific Time (US & Canada)", -8.0),
    TimeZone(20, "(GMT-06:00) Central Time (US & Canada)", -6.0),
    TimeZone(35, "(GMT-05:00) Eastern Time (US & Canada)", -5.0),
    TimeZone(85, "(GMT+00:00) Dublin, Edinburgh, Lisbon, London", 0.0),
    TimeZone(110, "(GMT+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", 1.0),
    TimeZone(105, "(GMT+01:00) Brussels, Copenhagen, Madrid, Paris", 1.0),
)


@dataclass(frozen=True, slots=True)
class Building:
    """Where an event takes place (msevtmgt_building)."""

    id: str
    name: str
    address_line1: str
    city: str
    state_province: str | None
    postal_code: str
    country: str
    telephone: str
    email: str
    website: str
    description: str
    wifi_ssid: str
    additional_facilities: str | None = None
    accessible_toilets: bool = True
    disabled_access: bool = True
    disabled_parking: bool = True
    public_telephone_available: bool = False
    wifi_available: bool = True

    @property
    def address_composite(self) -> str:
        region = f"{self.state_province} " if self.state_province else ""
        return f"{self.address_line1}\n{self.city}, {region}{self.postal_code}\n{self.country}"


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    name: str
    description: str | None = None
    disabled_access: bool = True


@dataclass(frozen=True, slots=True)
class Speaker:
    id: str
    event_id: str
    name: str
    title: str
    about: str
    email: str | None = None
    linkedin: str | None = None
    twitter: str | None = None
    website: str | None = None
    blog: str | None = None
    accomplishments: str | None = None
    publications: str | None = None


@dataclass(frozen=True, slots=True)
class Track:
    """A session track: a themed line of sessions within one event."""

    id: str
    event_id: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Sponsorship:
    """One sponsor (an account, shared across events) sponsoring one event."""

    id: str
    event_id: str
    sponsor_id: str
    sponsor_name: str
    topic: str
    description: str


@dataclass(frozen=True, slots=True)
class CustomField:
    """A custom registration field the registration form asks for; ``choices`` for the choice types."""

    id: str
    text: str
    type: int  # FIELD_SIMPLE_TEXT | FIELD_BOOLEAN | FIELD_MULTIPLE_CHOICE | FIELD_SINGLE_CHOICE
    required: bool
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    event_id: str
    name: str
    capacity: int  # 0 = unlimited
    track_id: str | None = None
    start: datetime | None = None  # wall-clock time in the event's time zone
    end: datetime | None = None
    summary: str | None = None
    description: str | None = None
    objectives: str | None = None
    prerequisites: str | None = None
    speaker_ids: tuple[str, ...] = ()
    room: Room | None = None
    session_type: int = SESSION_TYPE_BREAKOUT


@dataclass(frozen=True, slots=True)
class Pass:
    id: str
    event_id: str
    name: str
    price: float
    currency_symbol: str = "$"
    quantity: int | None = None  # passes on sale; None = unlimited (an event without a capacity)


@dataclass(frozen=True, slots=True)
class Event:
    id: str  # msevtmgt_eventid (GUID)
    readable_id: str  # msevtmgt_readableeventid: what the event API's URLs carry
    name: str
    capacity: int  # 0 = unlimited
    waitlist: bool
    paid: bool  # uses a payment gateway: needs a pass, answers with redirectUrl
    sessions: tuple[Session, ...] = ()
    passes: tuple[Pass, ...] = ()
    description: str | None = None
    start: datetime | None = None  # wall-clock time in the event's time zone
    end: datetime | None = None
    time_zone: TimeZone | None = None
    building: Building | None = None
    room: Room | None = None
    speakers: tuple[Speaker, ...] = ()
    tracks: tuple[Track, ...] = ()
    sponsorships: tuple[Sponsorship, ...] = ()
    custom_fields: tuple[CustomField, ...] = ()
    public_url: str | None = None
    event_type: int = EVENT_TYPE_CONFERENCE
    event_format: int = EVENT_FORMAT_ON_SITE
    language: int = LANGUAGE_ENGLISH
    live: bool = True  # False: a draft (not published); the event API refuses its registrations

    def to_utc(self, local: datetime | None) -> datetime | None:
        """A wall-clock time of this event in UTC (naive); None stays None."""
        if local is None or self.time_zone is None:
            return None
        return local - timedelta(hours=self.time_zone.utc_offset_h)


@dataclass(frozen=True, slots=True)
class Catalog:
    """``events`` are the live events (published, what traffic is offered to); ``drafts`` exist in Dataverse
    but are not live: a registration naming one is refused (``by_readable_id`` finds both kinds)."""

    events: tuple[Event, ...]
    by_readable_id: dict[str, Event] = field(default_factory=dict)
    sessions_by_id: dict[str, Session] = field(default_factory=dict)
    speakers_by_id: dict[str, Speaker] = field(default_factory=dict)
    sponsorships_by_id: dict[str, Sponsorship] = field(default_factory=dict)
    drafts: tuple[Event, ...] = ()

    @property
    def session_ids(self) -> tuple[str, ...]:
        return tuple(self.sessions_by_id)


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_catalog(settings: CatalogSettings, seed: int) -> Catalog:
    """The catalog for a scenario; the same settings and seed always give the same ids."""
    rng = random.Random(f"catalog-{seed}")
    details = _Details(random.Random(f"catalog-details-{seed}"), settings)
    events = []
    for index in range(settings.events):
        event_id = _guid(rng)
        readable = f"launch-{index + 1:03d}"
        paid = index >= settings.events - settings.paid_events
        session_ids = [_guid(rng) for _ in range(settings.sessions_per_event)]
        passes = (
            tuple(Pass(_guid(rng), event_id, name, price) for name, price in (("Standard", 99.0), ("VIP", 299.0)))
            if paid
            else ()
        )
        events.append(details.event(index, event_id, readable, paid, session_ids, passes))
    drafts = []  # drawn after every live event, so adding drafts moves no live event's ids or details
    for index in range(settings.events, settings.events + settings.draft_events):
        event_id = _guid(rng)
        session_ids = [_guid(rng) for _ in range(settings.sessions_per_event)]
        draft = details.event(index, event_id, f"launch-{index + 1:03d}", False, session_ids, ())
        drafts.append(replace(draft, live=False))
    return Catalog(
        tuple(events),
        {e.readable_id: e for e in (*events, *drafts)},
        {s.id: s for e in events for s in e.sessions},
        {s.id: s for e in events for s in e.speakers},
        {s.id: s for e in events for s in e.sponsorships},
        tuple(drafts),
    )


# --- descriptive data ------------------------------------------------------------------------------------------

_FIRST_EVENT_DAY = datetime(2027, 1, 18)  # a Monday; every event starts within six weeks of it
_DAY_START_H = 9
_SLOTS_PER_DAY = 7  # 09:00 .. 15:00 starts, 45 minutes each
_SESSION_MIN = 45

_EVENT_NAMES = (
    "Contoso Cloud Summit", "Fabrikam Data Days", "Northwind Retail Forum", "Adventure Works Developer Conference",
    "Tailwind Traders Partner Day", "Woodgrove Security Briefing", "Litware AI Expo",
    "Proseware Customer Experience Week", "Relecloud Platform Forum", "Alpine Ski House Leadership Retreat",
)
_EVENT_PITCHES = (
    "Two days of talks, hands-on labs and conversations with the people building what comes next.",
    "Practical sessions from practitioners, a partner expo and plenty of time to meet your peers.",
    "Keynotes, deep dives and customer stories, followed by an evening reception.",
    "Learn from engineers and customers who ship at scale, and bring your hardest questions.",
)
class _Venue(NamedTuple):
    zone: int  # index into TIME_ZONES
    name: str
    street: str
    city: str
    state: str | None
    postal_code: str
    country: str
    phone: str
    rooms: tuple[str, ...]


_VENUES = (
    _Venue(0, "Contoso Conference Center", "400 Pine Street", "Seattle", "WA", "98101", "United States",
     "+1 206 555 0100", ("Rainier Hall", "Puget Room", "Cascade Room", "Olympic Room")),
    _Venue(1, "Fabrikam Convention Hall", "233 South Wacker Drive", "Chicago", "IL", "60606", "United States",
     "+1 312 555 0142", ("Lakeshore Ballroom", "Michigan Room", "Wacker Room", "Loop Studio")),
    _Venue(2, "Northwind Expo Center", "655 West 34th Street", "New York", "NY", "10001", "United States",
     "+1 212 555 0177", ("Hudson Hall", "Chelsea Room", "Midtown Room", "Empire Studio")),
    _Venue(3, "Woodgrove Forum", "1 Canada Square", "London", None, "E14 5AB", "United Kingdom",
     "+44 20 7946 0958", ("Thames Auditorium", "Greenwich Room", "Docklands Room", "Canary Suite")),
    _Venue(4, "Litware Kongresszentrum", "Messedamm 22", "Berlin", None, "14055", "Germany",
     "+49 30 555 0199", ("Spree Saal", "Tiergarten Raum", "Mitte Raum", "Havel Studio")),
    _Venue(5, "Proseware Centre des Congrès", "2 Place de la Porte Maillot", "Paris", None, "75017", "France",
     "+33 1 55 50 01 23", ("Salle Seine", "Salle Montmartre", "Salle Marais", "Studio Étoile")),
)
_TRACKS = (
    ("Cloud & Infrastructure", "Running, scaling and securing the platforms everything else stands on."),
    ("Data & AI", "From pipelines to models: turning data into decisions."),
    ("Security & Compliance", "Protecting identities, data and customers without slowing the business."),
    ("Customer Experience", "Journeys, events and the moments that make customers stay."),
    ("Developer Productivity", "Tools and practices that get good software out the door sooner."),
    ("Business Applications", "Sales, service and marketing apps that fit how teams actually work."),
)
_TOPICS = (
    "Designing for the registration stampede", "Service protection limits in practice",
    "Retry strategies that do not make things worse", "Caching the catalog without serving stale seats",
    "Observability for asynchronous pipelines", "Capacity planning with simulation",
    "Building event portals with the event API", "Data modelling for events and attendees",
    "Secure-by-default web applications", "Scaling background processors",
    "From email blast to confirmed seat", "Testing contracts before production does",
    "Queueing theory for busy engineers", "Real-time journeys end to end",
    "Accessibility in event experiences", "Cost-aware architecture",
)
_OBJECTIVES = (
    "Leave with a checklist you can apply on Monday.",
    "Understand the trade-offs and when each option fits.",
    "See a working demo and the code behind it.",
    "Learn the measurements that tell you it works.",
)
_FIRST_NAMES = (
    "Avery", "Jordan", "Priya", "Mateo", "Sofia", "Kenji", "Amara", "Lukas", "Chloé", "Nikhil", "Ingrid",
    "Diego", "Hannah", "Tomasz", "Aisha", "Oliver", "Mei", "Samuel", "Elena", "Kwame",
)
_LAST_NAMES = (
    "Bennett", "Okafor", "Lindqvist", "Ramírez", "Nakamura", "Schneider", "Dubois", "Patel", "Kowalski",
    "Haddad", "O'Brien", "Fernandes", "Novak", "Chen", "Mensah", "Andersen", "Rossi", "Takahashi",
)
_ROLES = (
    "Principal Engineer", "Chief Technology Officer", "Product Manager", "Solution Architect",
    "Head of Customer Experience", "Data Scientist", "Site Reliability Engineer", "VP of Marketing",
)
_COMPANIES = (
    "Contoso", "Fabrikam", "Northwind Traders", "Adventure Works", "Tailwind Traders", "Woodgrove Bank", "Litware",
    "Proseware", "Wide World Importers", "Alpine Ski House", "Coho Winery", "Fourth Coffee", "Trey Research",
    "Lamna Healthcare", "Relecloud", "VanArsdel", "Wingtip Toys", "Humongous Insurance", "Lucerne Publishing",
    "Blue Yonder Airlines", "City Power & Light", "Consolidated Messenger", "Margie's Travel", "Munson's Pickles",
)
_SPONSOR_LEVELS = ("Platinum sponsor", "Gold sponsor", "Silver sponsor", "Community partner")
_CUSTOM_FIELDS = (  # (text, type, required, choices)
    ("Dietary requirements", FIELD_SINGLE_CHOICE, False, ("None", "Vegetarian", "Vegan", "Gluten-free", "Halal")),
    ("How did you hear about this event?", FIELD_SINGLE_CHOICE, False,
     ("Email", "Colleague", "Social media", "Search", "Other")),
    ("Which topics interest you?", FIELD_MULTIPLE_CHOICE, False,
     ("Cloud", "Data & AI", "Security", "Customer experience", "Developer tools")),
    ("I need accessibility assistance", FIELD_BOOLEAN, False, ()),
    ("Company size", FIELD_SINGLE_CHOICE, True, ("1-49", "50-249", "250-999", "1000+")),
    ("What would you like to learn?", FIELD_SIMPLE_TEXT, False, ()),
)


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


class _Details:
    """Descriptive data for one catalog, drawn from its own random stream (ids stay where they were)."""

    def __init__(self, rng: random.Random, settings: CatalogSettings) -> None:
        self.rng = rng
        self.settings = settings
        self.venues = [(v, _guid(rng), tuple(_guid(rng) for _ in v.rooms)) for v in _VENUES]
        self.sponsor_ids = {name: _guid(rng) for name in _COMPANIES}
        self.fields = tuple(CustomField(_guid(rng), text, kind, required, choices)
                            for text, kind, required, choices in _CUSTOM_FIELDS)
        self.event_names = list(_EVENT_NAMES)
        rng.shuffle(self.event_names)

    def event(
        self, index: int, event_id: str, readable: str, paid: bool, session_ids: list[str], passes: tuple[Pass, ...]
    ) -> Event:
        rng, settings = self.rng, self.settings
        base = self.event_names[index % len(self.event_names)]
        edition = index // len(self.event_names)
        name = f"{base} 2027" + (f" · Edition {edition + 1}" if edition else "")
        venue, building_id, room_ids = self.venues[rng.randrange(len(self.venues))]
        time_zone = TIME_ZONES[venue.zone]
        building = self._building(venue, building_id)
        rooms = tuple(Room(room_id, room_name, f"{room_name}, {venue.name}")
                      for room_id, room_name in zip(room_ids, venue.rooms, strict=True))
        n_sessions = len(session_ids)
        days = min(3, max(1, math.ceil(n_sessions / 8)))
        first_day = _FIRST_EVENT_DAY + timedelta(days=7 * rng.randrange(6) + rng.randrange(3))  # Mon-Wed
        start = first_day.replace(hour=_DAY_START_H)
        end = (first_day + timedelta(days=days - 1)).replace(hour=17)
        speakers = tuple(self._speaker(event_id) for _ in range(settings.speakers_per_event))
        tracks = tuple(Track(_guid(rng), event_id, title, text)
                       for title, text in rng.sample(_TRACKS, min(3, n_sessions, len(_TRACKS))))
        sessions = self._sessions(event_id, session_ids, settings.session_capacity, first_day, days, tracks,
                                  speakers, rooms)
        sponsors = rng.sample(_COMPANIES, min(settings.sponsors_per_event, len(_COMPANIES)))
        sponsorships = tuple(
            Sponsorship(_guid(rng), event_id, self.sponsor_ids[company], company,
                        _SPONSOR_LEVELS[min(i, len(_SPONSOR_LEVELS) - 1)],
                        f"{company} supports {name} and brings its experts to the expo floor.")
            for i, company in enumerate(sponsors)
        )
        custom_fields = tuple(f for f in self.fields if rng.random() < 0.6)
        currency = {"United Kingdom": "£", "Germany": "€", "France": "€"}.get(building.country, "$")
        # the passes share the event's seats: VIP half, Standard the rest (an event of 1 seat: 1 Standard, 0 VIP)
        quantities = ((settings.capacity - settings.capacity // 2, settings.capacity // 2) if settings.capacity
                      else (None, None))
        passes = tuple(Pass(p.id, p.event_id, p.name, p.price, currency, quantity)
                       for p, quantity in zip(passes, quantities[:len(passes)], strict=True))
        description = (f"{name} comes to {building.city}. {rng.choice(_EVENT_PITCHES)} "
                       f"Hosted at {building.name}.")
        return Event(
            event_id, readable, name, settings.capacity, settings.waitlist, paid, sessions, passes,
            description=description, start=start, end=end, time_zone=time_zone, building=building,
            room=rooms[0], speakers=speakers, tracks=tracks, sponsorships=sponsorships,
            custom_fields=custom_fields, public_url=f"https://events.contoso.com/{readable}",
            event_type=EVENT_TYPE_TRAINING if n_sessions == 0 else EVENT_TYPE_CONFERENCE,
            event_format=EVENT_FORMAT_HYBRID if rng.random() < 0.25 else EVENT_FORMAT_ON_SITE,
        )

    @staticmethod
    def _building(venue: _Venue, building_id: str) -> Building:
        domain = _slug(venue.name.split()[0])
        return Building(
            building_id, venue.name, venue.street, venue.city, venue.state, venue.postal_code, venue.country,
            venue.phone, f"events@{domain}.example.com", f"https://www.{domain}.example.com/venue",
            f"{venue.name} in central {venue.city}, close to public transport.",
            f"{domain}-guest", additional_facilities="Cloakroom, prayer room, parent room",
        )

    def _speaker(self, event_id: str) -> Speaker:
        rng = self.rng
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        company = rng.choice(_COMPANIES)
        handle = _slug(first) + _slug(last)
        role = rng.choice(_ROLES)
        return Speaker(
            _guid(rng), event_id, f"{first} {last}", f"{role}, {company}",
            f"{first} leads work on {rng.choice(_TOPICS).lower()} at {company} and speaks regularly about "
            "building systems that stay up when everyone arrives at once.",
            email=f"{handle}@{_slug(company)}.example.com",
            linkedin=f"https://www.linkedin.com/in/{handle}",
            twitter=f"https://twitter.com/{handle}" if rng.random() < 0.5 else None,
            website=f"https://{handle}.example.com" if rng.random() < 0.3 else None,
            accomplishments=f"{rng.randrange(5, 25)} years in the industry" if rng.random() < 0.5 else None,
        )

    def _sessions(
        self, event_id: str, session_ids: list[str], capacity: int, first_day: datetime, days: int,
        tracks: tuple[Track, ...], speakers: tuple[Speaker, ...], rooms: tuple[Room, ...],
    ) -> tuple[Session, ...]:
        rng = self.rng
        n = len(session_ids)
        per_day = math.ceil(n / days) if n else 0
        parallel = max(1, math.ceil(per_day / _SLOTS_PER_DAY))
        topics = rng.sample(_TOPICS, len(_TOPICS))  # distinct titles within an event
        sessions = []
        for k, session_id in enumerate(session_ids):
            day, j = divmod(k, per_day)
            slot, lane = divmod(j, parallel)
            start = (first_day + timedelta(days=day)).replace(hour=_DAY_START_H + slot)
            round_, pick = divmod(k, len(topics))
            topic = topics[pick] + (f" (part {round_ + 1})" if round_ else "")
            keynote = k == 0
            name = f"Keynote: {topic}" if keynote else topic
            n_speakers = min(len(speakers), 1 + (rng.random() < 0.3))
            chosen = tuple(s.id for s in rng.sample(speakers, n_speakers)) if n_speakers else ()
            sessions.append(Session(
                session_id, event_id, name, capacity,
                track_id=tracks[k % len(tracks)].id if tracks else None,
                start=start, end=start + timedelta(minutes=_SESSION_MIN),
                summary=f"{topic}: what we learned, what we would do differently, and what you can reuse.",
                description=(f"A {_SESSION_MIN}-minute session on {topic.lower()}. "
                             "Bring questions; the last ten minutes are for them."),
                objectives=rng.choice(_OBJECTIVES),
                prerequisites=None if keynote or rng.random() < 0.5 else "Familiarity with web APIs.",
                speaker_ids=chosen, room=rooms[lane % len(rooms)],
                session_type=SESSION_TYPE_KEYNOTE if keynote else SESSION_TYPE_BREAKOUT,
            ))
        return tuple(sessions)
