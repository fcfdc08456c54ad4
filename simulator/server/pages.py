"""The static catalog as the event API presents it, serialized to bytes once per app.

The catalog does not change while a server runs, so every catalog answer is built from the contract models
once and then served as bytes: FastAPI's per-request ``response_model`` serialization of a 2 KB list measured
about 7× slower than returning pre-serialized bytes. Live numbers (registration counts) are not in these pages;
they come from the count operations. Images are drawn on first request and kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from simulator import catalog as cat
from simulator.server import contract as wire
from simulator.server.images import qr_code, speaker_portrait, sponsor_logo
from simulator.server.operations import Operation, cache_key

__all__ = ["Pages", "Images", "render_pages", "page_table", "ANONYMOUS_USER"]

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


def _speaker(s: cat.Speaker, sessions: list[wire.Session] | None) -> wire.Speaker:
    return wire.Speaker(
        about=s.about, accomplishments=s.accomplishments, blog=s.blog, email=s.email, id=s.id, image=None,
        imageUrl=f"speakers/{s.id}/image", linkedin=s.linkedin, name=s.name, publications=s.publications,
        title=s.title, twitter=s.twitter, website=s.website, sessions=sessions,
    )


def _session(event: cat.Event, s: cat.Session, speakers: list[wire.Speaker] | None) -> wire.Session:
    time_zone = event.time_zone
    return wire.Session(
        alreadyRegistered=False, building=_building(event.building), camerasPermitted=cat.PERMITTED_YES,
        detailedDescription=s.description, endTime=_local(s.end), endTimeUTC=_utc(event.to_utc(s.end)), id=s.id,
        language=event.language, name=s.name, recordingsPermitted=cat.PERMITTED_YES, room=_room(s.room),
        sessionFormat=cat.SESSION_FORMAT_ON_SITE, sessionObjectives=s.objectives,
        sessionPreRequisites=s.prerequisites, sessionSummary=s.summary, sessionType=s.session_type,
        startTime=_local(s.start), startTimeUTC=_utc(event.to_utc(s.start)),
        timeZone=time_zone.code if time_zone else None, userEligibleToRegister=True, speakers=speakers,
        maxCapacity=s.capacity or None, isCapacityRestricted=s.capacity > 0, registrationCount=None,
    )


def _event(e: cat.Event, public_url: str | None) -> wire.Event:
    return wire.Event(
        allowAnonymousRegistrations=True, allowCustomAgenda=bool(e.sessions) and not e.paid,
        autoregisterWaitlistItems=e.waitlist, building=_building(e.building), description=e.description,
        enableCaptcha=False, endDate=_local(e.end), endDateUTC=_utc(e.to_utc(e.end)), eventFormat=e.event_format,
        eventId=e.id, enableMultiAttendeeRegistration=True, eventLanguage=e.language, eventName=e.name,
        eventType=e.event_type, image=None, maxCapacity=e.capacity or None, isCapacityRestricted=e.capacity > 0,
        publicEventUrl=public_url, readableEventId=e.readable_id, room=_room(e.room),
        showAutomaticRegistrationCheckbox=e.waitlist, showWaitlist=e.waitlist, startDate=_local(e.start),
        startDateUTC=_utc(e.to_utc(e.start)), timeZone=e.time_zone.code if e.time_zone else None,
        timeZoneName=e.time_zone.name if e.time_zone else None, registrationForm=None,
        setRegistrationEndDate=False, stopRegistrationDate=None, websiteMessage=None,
    )


def _pass(p: cat.Pass) -> wire.Pass:
    return wire.Pass(
        passId=p.id, passName=p.name, numberOfPassesLeft=p.quantity or None, numberOfPassesSold=0, price=p.price,
        currencySymbol=p.currency_symbol, sessions=[],
    )


def _field(f: cat.CustomField) -> wire.CustomRegistrationField:
    return wire.CustomRegistrationField(
        customRegistrationFieldId=f.id, text=f.text, type=f.type, isRequired=f.required,
        choices="\n".join(f.choices) if f.choices else None,
    )


@dataclass(frozen=True, slots=True)
class Pages:
    """Pre-serialized JSON: ``published`` and, per readable event id or session id, each page's bytes."""

    published: bytes
    event: dict[str, bytes] = field(default_factory=dict)
    sessions: dict[str, bytes] = field(default_factory=dict)
    tracks: dict[str, bytes] = field(default_factory=dict)
    passes: dict[str, bytes] = field(default_factory=dict)
    speakers: dict[str, bytes] = field(default_factory=dict)
    sponsorships: dict[str, bytes] = field(default_factory=dict)
    custom_fields: dict[str, bytes] = field(default_factory=dict)
    session: dict[str, bytes] = field(default_factory=dict)  # by session id
    anonymous_user: bytes = b""


def _dump(items: Sequence[BaseModel]) -> bytes:
    return b"[" + b",".join(item.model_dump_json().encode() for item in items) + b"]"


def render_pages(catalog: cat.Catalog, public_url: Callable[[cat.Event], str | None]) -> Pages:
    """Every catalog page of ``catalog`` as bytes; ``public_url`` gives each event's public URL."""
    events = [_event(e, public_url(e)) for e in catalog.events]
    pages = Pages(published=_dump(events), anonymous_user=ANONYMOUS_USER.model_dump_json().encode())
    for e, event in zip(catalog.events, events, strict=True):
        key = e.readable_id
        pages.event[key] = event.model_dump_json().encode()
        speakers_by_id = {s.id: s for s in e.speakers}
        nested_speakers = {s.id: _speaker(s, None) for s in e.speakers}
        sessions = [
            _session(e, s, [nested_speakers[i] for i in s.speaker_ids if i in nested_speakers]) for s in e.sessions
        ]
        pages.sessions[key] = _dump(sessions)
        for s, session in zip(e.sessions, sessions, strict=True):
            pages.session[s.id] = session.model_dump_json().encode()
        pages.tracks[key] = _dump([wire.SessionTrack(description=t.description, id=t.id, name=t.name)
                                   for t in e.tracks])
        pages.passes[key] = _dump([_pass(p) for p in e.passes])
        pages.speakers[key] = _dump([
            _speaker(speakers_by_id[s.id], [_session(e, x, None) for x in e.sessions if s.id in x.speaker_ids])
            for s in e.speakers
        ])
        pages.sponsorships[key] = _dump([
            wire.Sponsorship(description=s.description, id=s.id, sponsorId=s.sponsor_id, sponsorName=s.sponsor_name,
                             sponsorshipTopic=s.topic)
            for s in e.sponsorships
        ])
        pages.custom_fields[key] = _dump([_field(f) for f in e.custom_fields])
    return pages


def page_table(operation: Operation, pages: Pages,
               catalog: cat.Catalog) -> dict[str, tuple[bytes, tuple[str, str] | None]]:
    """``{path parameter: (bytes, read-cache key or None)}`` of a static ``operation`` (``operation.page`` names
    its table in ``pages``; ``""`` is the key of a page without a parameter). The cache key is the one a load of
    that page is charged to (``operations.cache_key``)."""
    assert operation.page is not None, f"{operation.operation_id} is not a static page"
    table = getattr(pages, operation.page)
    if isinstance(table, bytes):
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

    def sponsor_logo(self, sponsorship_id: str) -> bytes | None:
        image = self._logos.get(sponsorship_id)
        if image is None:
            sponsorship = self._catalog.sponsorships_by_id.get(sponsorship_id)
            if sponsorship is None:
                return None
            image = self._logos[sponsorship_id] = sponsor_logo(sponsorship.sponsor_id)
        return image
