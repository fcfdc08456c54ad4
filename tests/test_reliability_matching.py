"""Matching: the default matching rule keys contacts on email, so the same attendee twice for one event is one
registration, and the same person for two events is one contact with two registrations — over the real live
model, checked in its SQLite store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from live_support import Live, live, person, query, registration, wait_for

from simulator import consent
from simulator.server.errors import ConfigurationError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def created(live: Live, submission_id: str) -> dict[str, object]:
    return await wait_for(lambda: live.submission(submission_id), lambda s: s["state"] == "created", timeout_s=10,
                          interval_s=0.02)


async def test_the_same_attendee_twice_for_one_event_is_one_registration(tmp_path: Path) -> None:
    async with live(tmp_path, {"catalog": {"events": 2}}) as mock:
        first = await mock.register("launch-001", registration(person("ada@contoso.com")))
        again = await mock.register("launch-001", registration(person("ADA@Contoso.com", firstName="Augusta")))
        assert (first.status_code, again.status_code) == (202, 202)
        for answer in (first, again):
            await created(mock, answer.json()["submissionId"])
        event_id = mock.catalog.by_readable_id["launch-001"].id
        assert query(mock.db, "SELECT email, first_name FROM contacts") == [("ada@contoso.com", "Augusta")]
        assert query(mock.db, "SELECT submission_id FROM event_registrations WHERE event_id = ?",
                     (event_id,)) == [(first.json()["submissionId"],)]
        count = await mock.client.get(mock.api("events/launch-001/registrations/count"))
        assert count.json() == 1


async def test_the_same_attendee_many_times_at_once_is_still_one_registration(tmp_path: Path) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}}) as mock:
        answers = await asyncio.gather(*(mock.register("launch-001", registration(person("grace@contoso.com")))
                                         for _ in range(20)))
        assert {a.status_code for a in answers} == {202}
        await mock.settled()
        assert query(mock.db, "SELECT COUNT(*) FROM contacts") == [(1,)]
        assert query(mock.db, "SELECT COUNT(*) FROM event_registrations") == [(1,)]
        assert query(mock.db, "SELECT COUNT(*) FROM submissions WHERE state = 'created'") == [(20,)]


async def test_the_same_person_for_two_events_is_one_contact_with_two_registrations(tmp_path: Path) -> None:
    async with live(tmp_path, {"catalog": {"events": 2}}) as mock:
        for event in ("launch-001", "launch-002"):
            answer = await mock.register(event, registration(person("alan@contoso.com")))
            assert answer.status_code == 202
            await created(mock, answer.json()["submissionId"])
        assert query(mock.db, "SELECT COUNT(*) FROM contacts") == [(1,)]
        events = {e.id for e in mock.catalog.events}
        assert {row[0] for row in query(mock.db, "SELECT event_id FROM event_registrations")} == events
        for event in ("launch-001", "launch-002"):
            assert (await mock.client.get(mock.api(f"events/{event}/registrations/count"))).json() == 1


async def test_a_duplicate_gives_its_seat_back_once_created(tmp_path: Path) -> None:
    """Capacity 2, no waitlist: Ada twice takes both seats at acceptance; once the second is found to be Ada
    again it holds none, and Grace gets the seat that is really free."""
    async with live(tmp_path, {"catalog": {"events": 1, "capacity": 2, "waitlist": False}}) as mock:
        for _ in range(2):
            answer = await mock.register("launch-001", registration(person("ada@contoso.com")))
            assert answer.status_code == 202
            await created(mock, answer.json()["submissionId"])
        grace = await mock.register("launch-001", registration(person("grace@contoso.com")))
        assert grace.status_code == 202, grace.text
        await created(mock, grace.json()["submissionId"])
        full = await mock.register("launch-001", registration(person("alan@contoso.com")))
        assert full.status_code == 409 and full.json()["type"] == "EventFull"
        assert query(mock.db, "SELECT COUNT(*) FROM event_registrations") == [(2,)]


async def test_the_same_email_twice_in_one_request_is_refused(tmp_path: Path) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}}) as mock:
        answer = await mock.register("launch-001", registration(person("ada@contoso.com"),
                                                                person("Ada@contoso.com", firstName="Augusta")))
        assert answer.status_code == 400 and answer.json()["type"] == "DuplicateAttendee"
        assert query(mock.db, "SELECT COUNT(*) FROM submissions") == [(0,)]


# --- the tenant's [registration] settings ------------------------------------------------------------------------


@pytest.mark.parametrize(("matching", "contacts"), [("email", 1), ("email+name", 1), ("none", 2)])
async def test_two_registrations_of_one_person_make_the_contacts_the_rule_says(tmp_path: Path, matching: str,
                                                                              contacts: int) -> None:
    async with live(tmp_path, {"catalog": {"events": 2}, "registration": {"matching": matching}}) as mock:
        for event, email in (("launch-001", "ada@contoso.com"), ("launch-002", "Ada@Contoso.com")):
            answer = await mock.register(event, registration(person(email)))
            assert answer.status_code == 202, answer.text
            await created(mock, answer.json()["submissionId"])
        assert query(mock.db, "SELECT COUNT(*) FROM contacts") == [(contacts,)]
        assert query(mock.db, "SELECT COUNT(*) FROM event_registrations") == [(2,)]
        summary = json.loads(mock.served.model.run_files()["summary.json"])["registration"]
        assert (summary["matching"], summary["audience"], summary["people"]) == (matching, "contact", contacts)


async def test_under_none_the_same_person_twice_for_one_event_is_two_registrations(tmp_path: Path) -> None:
    """No rule matches anybody: the second registration is a new contact, so it is not a duplicate."""
    async with live(tmp_path, {"catalog": {"events": 1}, "registration": {"matching": "none"}}) as mock:
        for _ in range(2):
            answer = await mock.register("launch-001", registration(person("ada@contoso.com")))
            await created(mock, answer.json()["submissionId"])
        assert query(mock.db, "SELECT COUNT(*) FROM contacts") == [(2,)]
        count = await mock.client.get(mock.api("events/launch-001/registrations/count"))
        assert count.json() == 2


async def test_a_lead_audience_stores_leads_matched_by_its_default_rule(tmp_path: Path) -> None:
    """audience = "lead" without a rule takes RTM's lead default, "Always create a new record"."""
    async with live(tmp_path, {"catalog": {"events": 1}, "registration": {"audience": "lead"}}) as mock:
        for _ in range(2):
            answer = await mock.register("launch-001", registration(person("ada@contoso.com")))
            await created(mock, answer.json()["submissionId"])
        assert query(mock.db, "SELECT COUNT(*) FROM leads") == [(2,)]
        assert query(mock.db, "SELECT COUNT(*) FROM contacts WHERE audience = 'contact'") == [(0,)]
        counts = mock.served.store.counts()
        assert (counts["leads"], counts["contacts"]) == (2, 0)
        assert json.loads(mock.served.model.run_files()["summary.json"])["registration"]["audience"] == "lead"


async def test_consent_answers_become_one_record_per_purpose_and_email(tmp_path: Path) -> None:
    purposes = consent.purpose_ids(3)
    async with live(tmp_path, {"catalog": {"events": 2}, "registration": {"consent_purposes": 3}}) as mock:
        first = person("ada@contoso.com", responses=[consent.consent_response(purposes[0], True),
                                                     consent.consent_response(purposes[1], False),
                                                     {"id": "jobtitle", "value": "Engineer"}])
        answer = await mock.register("launch-001", registration(first))
        await created(mock, answer.json()["submissionId"])
        # the same email again, answering only the third purpose: the earlier answers stay
        again = person("ADA@contoso.com", responses=[consent.consent_response(purposes[2], True)])
        answer = await mock.register("launch-002", registration(again))
        await created(mock, answer.json()["submissionId"])
        rows = dict(query(mock.db, "SELECT purpose_id, opted_in FROM consents WHERE contact_point = ?",
                          ("ada@contoso.com",)))
        assert rows == {purposes[0]: 1, purposes[1]: 0, purposes[2]: 1}
        responses = query(mock.db, "SELECT responses FROM event_registrations ORDER BY created_s")
        assert "jobtitle" in responses[0][0]  # the contract's responses are stored as they were


async def test_a_database_refuses_to_serve_under_another_rule(tmp_path: Path) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}}) as mock:
        answer = await mock.register("launch-001", registration(person("ada@contoso.com")))
        await created(mock, answer.json()["submissionId"])
    with pytest.raises(ConfigurationError) as refused:
        async with live(tmp_path, {"catalog": {"events": 1}, "registration": {"matching": "none"}}):
            pass
    message = str(refused.value)
    assert len(message.splitlines()) == 1
    assert 'registration.matching = "email", not "none"' in message
