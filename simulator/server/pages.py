"""The static catalog as the event API presents it, serialized to bytes once per app.

The catalog does not change while a server runs, so every catalog answer is built from the contract models
once and then served as bytes: FastAPI's per-request ``response_model`` serialization of a 2 KB list measured
about 7× slower than returning pre-serialized bytes. What only a request knows — the host in absolute image
URLs, a session's live ``registrationCount`` — is left as holes filled per request (``livepages.py``). Images are
drawn on first request and kept.

Portal-facing choices, each checked against Microsoft's samples: a speaker's ``imageUrl`` is absolute by default
(``portal.image_urls``: the RTM SDK sample puts it into ``<img src>`` only when it starts with ``https://``), or
relative to the eventmanagement base (the v2.0 Angular sample prefixes its ``apiEndpoint``); ``event.image``
is the URL of the event's image when ``portal.event_images`` (the v2.0 sample's ``event.component.ts`` uses
``event.image`` as the image source); ``registrationForm`` is ``portal.registration_form`` (null: formless
registration); live events belong to web applications (``portal.webapps``), which ``events/published?webappId=``
filters by (the RTM WebApp's ``config.js``: "filter events by web application ID").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from simulator import catalog as cat
from simulator.scenario import Portal
from simulator.server import contract as wire
from simulator.server.images import event_banner, qr_code, speaker_portrait, sponsor_logo
from simulator.server.livepages import HOST, PASSES_LEFT, PASSES_SOLD, Page, compile_page, count_hole, pass_hole
from simulator.server.operations import Operation, cache_key

__all__ = ["Pages", "Images", "render_pages", "ANONYMOUS_USER", "page_table", "webapp_ids", "event_image_path"]

_WEBAPPS = uuid.UUID("5d1c7e3a-9b2f-4c1e-8a7d-3f6b2e9c4a10")  # namespace of the mock's web-application ids


def webapp_ids(org_id: str, count: int) -> tuple[str, ...]:
    """The ids of the organization's ``count`` web applications (stable for an org id; printed at startup)."""
    return tuple(str(uuid.uuid5(_WEBAPPS, f"{org_id}/{index}")) for index in range(count))


def event_image_path(readable_id: str) -> str:
    """Where the event's image is served (outside the API: an asset, like the tenant's image hosting)."""
    return f"/assets/events/{readable_id}.png"

ANONYMOUS_USER = wire.User(id=None, firstName=None, lastName=None, email=None, isAnonymous=True)
_LOCAL = "%Y-%m-%dT%H:%M:%S"
_UTC = "%Y-%m-%dT%H:%M:%SZ"


def _local(moment: datetime | None) -> str | None:
    return moment.strftime(_LOCAL) if moment is not None else None


def _utc(moment: datetime | None) -> str | None:
    return moment.strftime(_UTC) if moment is not None else None


def _building(b: cat.Building | None) -> wire.Building | None:
    if b is None:
        return None
    return wire.Building(
        accessibleToilets=b.accessible_toilets, additionalFacilities=b.additional_facilities,
        addressComposite=b.address_composite, addressLine1=b.address_line1, addressLine2=None, addressLine3=None,
        city=b.city, country=b.country, description=b.description, disabledAccess=b.disabled_access,
        disabledParking=b.disabled_parking, email=b.email, id=b.id, name=b.name, postalCode=b.postal_code,
        publicTelephoneAvailable=b.public_telephone_available, stateProvince=b.state_province,
        telephone1=b.telephone, telephone2=None, telephone3=None, website=b.website, wifiAvailable=b.wifi_available,
        wifiPassword=None, wifiSSID=b.wifi_ssid,
    )


def _room(r: cat.Room | None) -> wire.Room | None:
    if r is None:
        return None
    return wire.Room(description=r.description, disabledAccess=r.disabled_access, id=r.id, name=r.name)


def _speaker(s: cat.Speaker, sessions: list[wire.Session] | None, base_path: str = "",
             image_urls: str = "absolute") -> wire.Speaker:
    """``image_urls``: "absolute" (this server's scheme and host, then ``base_path``) or "relative" (to the
    eventmanagement base, which the v2.0 sample's ``apiEndpoint`` names and prefixes)."""
    prefix = f"{HOST}{base_path}" if image_urls == "absolute" else ""
    return wire.Speaker(
        about=s.about, accomplishments=s.accomplishments, blog=s.blog, email=s.email, id=s.id, image=None,
        imageUrl=f"{prefix}speakers/{s.id}/image", linkedin=s.linkedin, name=s.name,
        publications=s.publications, title=s.title, twitter=s.twitter, website=s.website, sessions=sessions,
    )


def _session(event: cat.Event, s: cat.Session, speakers: list[wire.Speaker] | None) -> wire.Session:
    """The session, its ``registrationCount`` a hole for the live count (filled per request)."""
    time_zone = event.time_zone
    session = wire.Session(
        alreadyRegistered=False, building=_building(event.building), camerasPermitted=cat.PERMITTED_YES,
        detailedDescription=s.description, endTime=_local(s.end), endTimeUTC=_utc(event.to_utc(s.end)), id=s.id,
        language=event.language, name=s.name, recordingsPermitted=cat.PERMITTED_YES, room=_room(s.room),
        sessionFormat=cat.SESSION_FORMAT_ON_SITE, sessionObjectives=s.objectives,
        sessionPreRequisites=s.prerequisites, sessionSummary=s.summary, sessionType=s.session_type,
        startTime=_local(s.start), startTimeUTC=_utc(event.to_utc(s.start)),
        timeZone=time_zone.code if time_zone else None, userEligibleToRegister=True, speakers=speakers,
        maxCapacity=s.capacity or None, isCapacityRestricted=s.capacity > 0, registrationCount=None,
    )
    return session.model_copy(update={"registrationCount": count_hole(s.id)})


def _event(e: cat.Event, public_url: str | None, portal: Portal | None = None) -> wire.Event:
    portal = portal or Portal()
    return wire.Event(
        allowAnonymousRegistrations=True, allowCustomAgenda=bool(e.sessions) and not e.paid,
        autoregisterWaitlistItems=e.waitlist, building=_building(e.building), description=e.description,
        enableCaptcha=False, endDate=_local(e.end), endDateUTC=_utc(e.to_utc(e.end)), eventFormat=e.event_format,
        eventId=e.id, enableMultiAttendeeRegistration=True, eventLanguage=e.language, eventName=e.name,
        eventType=e.event_type, image=f"{HOST}{event_image_path(e.readable_id)}" if portal.event_images else None,
        maxCapacity=e.capacity or None, isCapacityRestricted=e.capacity > 0,
        publicEventUrl=public_url, readableEventId=e.readable_id, room=_room(e.room),
        showAutomaticRegistrationCheckbox=e.waitlist, showWaitlist=e.waitlist, startDate=_local(e.start),
        startDateUTC=_utc(e.to_utc(e.start)), timeZone=e.time_zone.code if e.time_zone else None,
        timeZoneName=e.time_zone.name if e.time_zone else None, registrationForm=portal.registration_form,
        setRegistrationEndDate=False, stopRegistrationDate=None, websiteMessage=None,
    )


def _pass(p: cat.Pass) -> wire.Pass:
    """The pass, its ``numberOfPassesLeft`` and ``numberOfPassesSold`` holes for the live numbers."""
    listed = wire.Pass(
        passId=p.id, passName=p.name, numberOfPassesLeft=None, numberOfPassesSold=None, price=p.price,
        currencySymbol=p.currency_symbol, sessions=[],
    )
    return listed.model_copy(update={"numberOfPassesLeft": pass_hole(PASSES_LEFT, p.id),
                                     "numberOfPassesSold": pass_hole(PASSES_SOLD, p.id)})


def _field(f: cat.CustomField) -> wire.CustomRegistrationField:
    return wire.CustomRegistrationField(
        customRegistrationFieldId=f.id, text=f.text, type=f.type, isRequired=f.required,
        choices="\n".join(f.choices) if f.choices else None,
    )


@dataclass(frozen=True, slots=True)
class Pages:
    """Pre-serialized JSON: ``published`` and, per readable event id or session id, each page (bytes, or a
    ``LivePage`` with holes for the host and live counts: ``livepages.render``). ``published_for`` is the
    published list of each web application, by its id."""

    published: Page
    event: dict[str, Page] = field(default_factory=dict)
    sessions: dict[str, Page] = field(default_factory=dict)
    tracks: dict[str, Page] = field(default_factory=dict)
    passes: dict[str, Page] = field(default_factory=dict)
    speakers: dict[str, Page] = field(default_factory=dict)
    sponsorships: dict[str, Page] = field(default_factory=dict)
    custom_fields: dict[str, Page] = field(default_factory=dict)
    session: dict[str, Page] = field(default_factory=dict)  # by session id
    anonymous_user: bytes = b""
    published_for: dict[str, Page] = field(default_factory=dict)  # by web application id


def _json(item: BaseModel) -> bytes:
    return item.model_dump_json(warnings=False).encode()  # a count hole is a string where an int belongs


def _dump(items: Sequence[BaseModel]) -> bytes:
    return b"[" + b",".join(_json(item) for item in items) + b"]"


def render_pages(catalog: cat.Catalog, public_url: Callable[[cat.Event], str | None], *, base_path: str = "",
                 portal: Portal | None = None, webapps: Sequence[str] = ()) -> Pages:
    """Every catalog page of ``catalog``; ``public_url`` gives each event's public URL, ``base_path`` is the
    eventmanagement path (``/api/v1.0/orgs/{org}/eventmanagement/``) absolute image URLs point under, and
    ``webapps`` the web-application ids live event *i* is published to (*i* mod their number)."""
    events = [_event(e, public_url(e), portal) for e in catalog.events]
    pages = Pages(published=compile_page(_dump(events)), anonymous_user=ANONYMOUS_USER.model_dump_json().encode())
    for index, webapp in enumerate(webapps):
        pages.published_for[webapp] = compile_page(_dump(events[index::len(webapps)]))
    for e, event in zip(catalog.events, events, strict=True):
        key = e.readable_id
        pages.event[key] = compile_page(_json(event))
        speakers_by_id = {s.id: s for s in e.speakers}
        image_urls = (portal or Portal()).image_urls
        nested_speakers = {s.id: _speaker(s, None, base_path, image_urls) for s in e.speakers}
        sessions = [
            _session(e, s, [nested_speakers[i] for i in s.speaker_ids if i in nested_speakers]) for s in e.sessions
        ]
        pages.sessions[key] = compile_page(_dump(sessions))
        for s, session in zip(e.sessions, sessions, strict=True):
            pages.session[s.id] = compile_page(_json(session))
        pages.tracks[key] = _dump([wire.SessionTrack(description=t.description, id=t.id, name=t.name)
                                   for t in e.tracks])
        pages.passes[key] = compile_page(_dump([_pass(p) for p in e.passes]))
        pages.speakers[key] = compile_page(_dump([
            _speaker(speakers_by_id[s.id], [_session(e, x, None) for x in e.sessions if s.id in x.speaker_ids],
                     base_path, image_urls)
            for s in e.speakers
        ]))
        pages.sponsorships[key] = _dump([
            wire.Sponsorship(description=s.description, id=s.id, sponsorId=s.sponsor_id, sponsorName=s.sponsor_name,
                             sponsorshipTopic=s.topic)
            for s in e.sponsorships
        ])
        pages.custom_fields[key] = _dump([_field(f) for f in e.custom_fields])
    return pages


def page_table(operation: Operation, pages: Pages,
               catalog: cat.Catalog) -> dict[str, tuple[Page, tuple[str, str] | None]]:
    """``{path parameter: (page, read-cache key or None)}`` of a static ``operation`` (``operation.page`` names
    its table in ``pages``; ``""`` is the key of a page without a parameter). The cache key is the one a load of
    that page is charged to (``operations.cache_key``)."""
    assert operation.page is not None, f"{operation.operation_id} is not a static page"
    table = getattr(pages, operation.page)
    if not isinstance(table, dict):
        return {"": (table, cache_key(operation, None))}
    events = catalog.by_readable_id
    return {key: (body, cache_key(operation, events.get(key))) for key, body in table.items()}


class Images:
    """PNG bytes per event QR code, speaker and sponsorship, drawn on first request and kept for the app."""

    def __init__(self, catalog: cat.Catalog, public_url: Callable[[cat.Event], str | None]) -> None:
        self._catalog = catalog
        self._public_url = public_url
        self._qr: dict[str, bytes] = {}
        self._speakers: dict[str, bytes] = {}
        self._logos: dict[str, bytes] = {}
        self._events: dict[str, bytes] = {}

    def qr_code(self, readable_id: str) -> bytes | None:
        image = self._qr.get(readable_id)
        if image is None:
            event = self._catalog.by_readable_id.get(readable_id)
            url = self._public_url(event) if event is not None else None
            if url is None:
                return None
            image = self._qr[readable_id] = qr_code(url)
        return image

    def speaker(self, speaker_id: str) -> bytes | None:
        image = self._speakers.get(speaker_id)
        if image is None:
            if speaker_id not in self._catalog.speakers_by_id:
                return None
            image = self._speakers[speaker_id] = speaker_portrait(speaker_id)
        return image

    def event_image(self, readable_id: str) -> bytes | None:
        """The event's image (a dark banner from its id: white text on it stays readable), or None for no such
        live event."""
        image = self._events.get(readable_id)
        if image is None:
            event = self._catalog.by_readable_id.get(readable_id)
            if event is None or not event.live:
                return None
            image = self._events[readable_id] = event_banner(event.id)
        return image

    def sponsor_logo(self, sponsorship_id: str) -> bytes | None:
        image = self._logos.get(sponsorship_id)
        if image is None:
            sponsorship = self._catalog.sponsorships_by_id.get(sponsorship_id)
            if sponsorship is None:
                return None
            image = self._logos[sponsorship_id] = sponsor_logo(sponsorship.sponsor_id)
        return image
