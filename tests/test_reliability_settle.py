"""Every acceptance settles: what cannot be stored faithfully is refused (400 naming the field), what is accepted
is stored exactly as sent, and a write no retry can fix dead-letters its registration at once instead of leaving
it pending for ever (issue 25, item 1).

The live model runs in-process behind httpx's ASGI transport; the SQLite file is read directly, not through the
server's own counters."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_support import TOKEN, live, person, query, registration, table_counts, wait_for

from simulator.catalog import build_catalog
from simulator.matching import normalize_email
from simulator.scenario import parse_scenario
from simulator.server.serve import build_served
from simulator.server.store import Store

pytestmark = pytest.mark.anyio
SCENARIO: dict[str, Any] = {"catalog": {"events": 2, "capacity": 0, "waitlist": False}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def refused_fields(answer: httpx.Response) -> list[str]:
    body = answer.json()
    assert (answer.status_code, body["type"]) == (400, "InvalidCharacters"), answer.text
    assert body["field"] == body["errors"][0]["field"] and body["errorMessage"].startswith(body["field"])
    return [error["field"] for error in body["errors"]]


async def test_an_email_with_nul_sent_to_two_events_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    """The campaign's case: both got 202, the email was cut at the NUL and the second creation failed for ever."""
    async with live(tmp_path, SCENARIO) as mock:
        answers = [await mock.register(event, registration(person("z\u0000@one.example")))
                   for event in ("launch-001", "launch-002")]
        assert [refused_fields(answer) for answer in answers] == [["attendees[0].email"]] * 2
        assert table_counts(mock.db)["submissions"] == 0


@pytest.mark.parametrize("char", ["\u0001", "\t", "\n", "\u001f", "\u007f", "\u200b", "\u200c", "\u200d",
                                  "\u2060", "\ufeff"],
                         ids=lambda c: f"U+{ord(c):04X}")
async def test_an_email_with_a_control_or_zero_width_character_is_refused(tmp_path: Path, char: str) -> None:
    async with live(tmp_path, SCENARIO) as mock:
        answer = await mock.register("launch-001", registration(person(f"a{char}@bad.example")))
        assert refused_fields(answer) == ["attendees[0].email"]
        assert f"U+{ord(char):04X}" in answer.json()["errorMessage"]


async def test_nul_is_refused_in_every_field_and_named(tmp_path: Path) -> None:
    async with live(tmp_path, SCENARIO) as mock:
        session = mock.catalog.by_readable_id["launch-001"].sessions[0].id
        cases = {
            "attendees[0].firstName": person("a@ok.example", firstName="A\u0000B"),
            "attendees[0].lastName": person("a@ok.example", lastName="\u0000"),
            "attendees[0].responses[0].value": person("a@ok.example", responses=[{"id": "jobtitle",
                                                                                   "value": "x\u0000"}]),
            "attendees[0].responses[0].values": person("a@ok.example", responses=[{"id": "jobtitle",
                                                                                    "values": ["ok", "\u0000"]}]),
            "attendees[0].attendeeSessions[0].sessionId": person(
                "a@ok.example", attendeeSessions=[{"sessionId": session + "\u0000"}]),
        }
        for field, attendee in cases.items():
            assert refused_fields(await mock.register("launch-001", registration(attendee))) == [field]
        assert table_counts(mock.db)["submissions"] == 0


async def test_other_control_characters_in_names_are_stored_exactly_as_sent(tmp_path: Path) -> None:
    first, last = "A\u0001B\tC", "D\u007fE\u200bF\nG"
    async with live(tmp_path, SCENARIO) as mock:
        answer = await mock.register("launch-001", registration(person("ctl@ok.example", firstName=first,
                                                                       lastName=last)))
        assert answer.status_code == 202, answer.text
        await mock.settled()
    assert query(mock.db, "SELECT first_name, last_name FROM contacts WHERE email = ?",
                 ("ctl@ok.example",)) == [(first, last)]


# --- a write no retry can fix ------------------------------------------------------------------------------


async def test_a_creation_the_store_refuses_for_good_is_dead_lettered_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A constraint violation is not a transient failure: the registration is dead-lettered with the reason, the
    others of its batch are created, and nothing is left pending."""
    async with live(tmp_path, SCENARIO) as mock:
        store = mock.served.store
        accept_many, create_many, mark_created = store.accept_many, store.create_many, store.mark_created
        poisoned: set[str] = set()

        def accept_many_noting(items: Any) -> Any:
            items = list(items)
            poisoned.update(item[0] for item in items if "poison@" in item[2])
            return accept_many(items)

        def refuse(submission_id: str) -> None:
            if submission_id in poisoned:
                raise sqlite3.IntegrityError("UNIQUE constraint failed: contacts.audience, contacts.person_key")

        def create_many_refusing(creations: Any) -> Any:
            for creation in creations:
                refuse(creation.submission_id)
            return create_many(creations)

        def mark_created_refusing(submission_id: str, *args: Any, **kwargs: Any) -> Any:
            refuse(submission_id)
            return mark_created(submission_id, *args, **kwargs)

        monkeypatch.setattr(store, "accept_many", accept_many_noting)
        monkeypatch.setattr(store, "create_many", create_many_refusing)
        monkeypatch.setattr(store, "mark_created", mark_created_refusing)
        bad = await mock.register("launch-001", registration(person("poison@one.example")))
        good = [await mock.register("launch-001", registration(person(f"ok{i}@one.example"))) for i in range(5)]
        assert all(answer.status_code == 202 for answer in [bad, *good])
        stats = await mock.settled()
        assert (stats["stored_created"], stats["stored_dead_lettered"], stats["pending"]) == (5, 1, 0)
    [(state, error)] = query(mock.db, "SELECT state, last_error FROM submissions WHERE id = ?",
                             (bad.json()["submissionId"],))
    assert state == "dead_lettered" and "UNIQUE constraint failed" in error


def test_a_stored_row_that_cannot_be_read_back_is_dead_lettered_at_start(tmp_path: Path) -> None:
    """A pending row whose body no longer parses (a foreign writer, an older format) is dead-lettered with the
    reason when the server starts, not raised (which kept every later start from serving)."""
    db = tmp_path / "live.db"
    scenario = parse_scenario({"name": "settle", **SCENARIO})
    event_id = build_catalog(scenario.catalog, scenario.seed).events[0].id
    with Store(db) as store:
        store.accept("broken-1", event_id, "{not json", 0.0)
    served = build_served(scenario, db_path=db, token=TOKEN)
    try:
        [(state, error)] = query(db, "SELECT state, last_error FROM submissions WHERE id = 'broken-1'")
        assert state == "dead_lettered" and "cannot be read back" in error
        assert served.model.resumed == 0
    finally:
        served.store.close()


# --- any Unicode, end to end ----------------------------------------------------------------------------------

_numbers = itertools.count()
# Lone surrogates (category Cs) are left out: they are not Unicode text, no client can send them as UTF-8, and a
# JSON body escaping one ("\\ud800") is refused whole as MalformedJson (no field to name) before any field is read.
_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)
_part = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="@"), min_size=1, max_size=12)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """One live model for every example (a model per example would cost a second each)."""
    tmp_path = tmp_path_factory.mktemp("settle-any-unicode")
    db = tmp_path / "live.db"
    served = build_served(parse_scenario({"name": "settle", **SCENARIO}), db_path=db, time_scale=600.0,
                          token=TOKEN)
    served.model.start()
    try:
        yield served, db
    finally:
        served.model.stop()
        served.store.close()


async def _post(served: Any, attendee: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=served.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        url = f"{served.app.state.base_path}events/launch-001/registrations?emApplicationtoken={TOKEN}"
        return await client.post(url, content=json.dumps(registration(attendee)),
                                 headers={"Content-Type": "application/json"})


async def _settled(served: Any, submission_id: str) -> str:
    async def state() -> str:
        return str((served.store.submission(submission_id) or {}).get("state"))

    return await wait_for(state, lambda s: s in ("created", "dead_lettered"), timeout_s=20)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=_text, last=_text, local=_part, domain=_part, value=st.none() | _text)
def test_any_unicode_in_any_attendee_field_settles_and_is_stored_as_sent(
        shared: tuple[Any, Path], first: str, last: str, local: str, domain: str, value: str | None) -> None:
    """Every 202 ends created or dead-lettered; every refusal is a 4xx ErrorBody that stores nothing; what is
    created is the text that was sent, character for character."""
    served, db = shared
    email = f"p{next(_numbers)}{local}@{domain}.example"
    attendee = person(email, firstName=first, lastName=last, responses=[{"id": "jobtitle", "value": value}])
    before = table_counts(db)["submissions"]
    answer = asyncio.run(_post(served, attendee))
    if answer.status_code != 202:
        assert answer.status_code in (400, 422) and answer.json()["field"].startswith("attendees"), answer.text
        assert table_counts(db)["submissions"] == before
        return
    submission_id = answer.json()["submissionId"]
    state = asyncio.run(_settled(served, submission_id))
    assert state == "created", (state, served.store.submission(submission_id))
    assert query(db, "SELECT first_name, last_name FROM contacts WHERE email = ?",
                 (normalize_email(email),)) == [(first, last)]
    [(responses,)] = query(db, "SELECT responses FROM event_registrations WHERE submission_id = ?",
                           (submission_id,))
    assert json.loads(responses) == [{"id": "jobtitle", "value": value, "values": None}]
