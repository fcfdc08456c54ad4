"""The enriched catalog: deterministic by seed, ids where the model always had them, realistic and consistent."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

import pytest

from simulator.catalog import TIME_ZONES, Catalog, build_catalog
from simulator.scenario import Catalog as CatalogSettings

SETTINGS = CatalogSettings(events=4, sessions_per_event=10, speakers_per_event=5, sponsors_per_event=3,
                           paid_events=2)


def ids_as_the_model_first_drew_them(settings: CatalogSettings, seed: int) -> list[tuple[str, list[str], list[str]]]:
    """The id draws of the catalog before it was enriched: event, its sessions, then its passes."""
    rng = random.Random(f"catalog-{seed}")

    def guid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    drawn = []
    for index in range(settings.events):
        event_id = guid()
        sessions = [guid() for _ in range(settings.sessions_per_event)]
        paid = index >= settings.events - settings.paid_events
        passes = [guid(), guid()] if paid else []
        drawn.append((event_id, sessions, passes))
    return drawn


@pytest.mark.parametrize("seed", [1, 7, 2027])
def test_enrichment_never_moves_an_id(seed: int) -> None:
    catalog = build_catalog(SETTINGS, seed)
    assert [(e.id, [s.id for s in e.sessions], [p.id for p in e.passes]) for e in catalog.events] == \
        ids_as_the_model_first_drew_them(SETTINGS, seed)


def test_same_seed_same_catalog_other_seed_other_catalog() -> None:
    assert build_catalog(SETTINGS, 7) == build_catalog(SETTINGS, 7)
    assert build_catalog(SETTINGS, 7) != build_catalog(SETTINGS, 8)


def test_model_view_is_unchanged() -> None:
    catalog = build_catalog(SETTINGS, 7)
    assert [e.readable_id for e in catalog.events] == ["launch-001", "launch-002", "launch-003", "launch-004"]
    assert [e.paid for e in catalog.events] == [False, False, True, True]
    assert all(e.capacity == SETTINGS.capacity and e.waitlist is SETTINGS.waitlist for e in catalog.events)
    assert all(s.capacity == SETTINGS.session_capacity for e in catalog.events for s in e.sessions)
    assert catalog.by_readable_id["launch-003"] is catalog.events[2]
    assert set(catalog.sessions_by_id) == {s.id for e in catalog.events for s in e.sessions}
    assert [p.price for p in catalog.events[2].passes] == [99.0, 299.0]


def test_descriptive_data_is_complete_and_consistent() -> None:
    catalog = build_catalog(SETTINGS, 7)
    names = [e.name for e in catalog.events]
    assert len(set(names)) == len(names)
    for event in catalog.events:
        assert event.description and event.building and event.room and event.time_zone in TIME_ZONES
        assert event.public_url == f"https://events.contoso.com/{event.readable_id}"
        assert len(event.speakers) == SETTINGS.speakers_per_event
        assert len(event.sponsorships) == SETTINGS.sponsors_per_event
        assert len({s.sponsor_name for s in event.sponsorships}) == SETTINGS.sponsors_per_event
        assert 1 <= len(event.tracks) <= 3
        speaker_ids = {s.id for s in event.speakers}
        track_ids = {t.id for t in event.tracks}
        assert len({s.name for s in event.sessions}) == len(event.sessions)
        assert event.start is not None and event.end is not None
        for session in event.sessions:
            assert session.event_id == event.id and session.track_id in track_ids
            assert set(session.speaker_ids) <= speaker_ids and session.speaker_ids
            assert session.start is not None and session.end is not None
            assert event.start <= session.start < session.end <= event.end
            assert session.summary and session.description and session.room
        for pass_ in event.passes:
            assert pass_.currency_symbol in {"$", "€", "£"} and pass_.quantity > 0
        for field in event.custom_fields:
            assert field.text and (field.choices or field.type in (100000000, 100000001))
    assert set(catalog.speakers_by_id) == {s.id for e in catalog.events for s in e.speakers}
    assert set(catalog.sponsorships_by_id) == {s.id for e in catalog.events for s in e.sponsorships}


def test_dates_stay_in_standard_time_so_the_fixed_offsets_are_exact() -> None:
    big = CatalogSettings(events=40, sessions_per_event=60, speakers_per_event=2, sponsors_per_event=30)
    catalog = build_catalog(big, 3)
    first_dst_switch = datetime(2027, 3, 14)  # United States; Europe switches later
    for event in catalog.events:
        assert event.start is not None and event.end is not None
        assert event.end - event.start < timedelta(days=3)
        assert event.end < first_dst_switch
        assert event.start.weekday() < 3  # Monday to Wednesday, over by Friday
        assert event.to_utc(event.start) == event.start - timedelta(hours=event.time_zone.utc_offset_h)  # type: ignore[union-attr]
        for session in event.sessions:
            assert session.start is not None and 9 <= session.start.hour <= 15


def test_empty_parts_are_allowed() -> None:
    bare = build_catalog(CatalogSettings(events=1, sessions_per_event=0, speakers_per_event=0,
                                         sponsors_per_event=0), 1)
    event = bare.events[0]
    assert event.sessions == () and event.speakers == () and event.sponsorships == () and event.tracks == ()
    assert isinstance(bare, Catalog)
