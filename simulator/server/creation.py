"""Writing created submissions as a set: a handful of statements for a whole batch, not ~8 per person.

``write_created`` is the one implementation behind ``Store.mark_created`` (a set of one) and
``Store.create_many`` (a driver turn's creations, group commit). It gives exactly what writing the creations one
after another would give — same rows, same counts, same ``CreatedRecords`` per creation, in order — but the
decisions are made in Python over what one read per table says exists, and the rows go in with ``executemany``:

1. one ``UPDATE … FROM json_each(?) … RETURNING`` marks every pending submission of the set ``created`` and gives
   back its event, body and stored waitlist decision (a submission already created is not returned: a repeat);
2. one read of the contacts the set's people match (the matching rule's key, simulator/matching.py), and — only
   when some matched an earlier contact — one read each of those contacts' registrations, session registrations
   and waitlist items;
3. the new rows, one ``executemany`` per table. The writer assigns the new rows' ids (one past the largest,
   which is what SQLite would pick: the store has one writer, inside ``BEGIN IMMEDIATE``), so a session
   registration can name its event registration without reading it back.

Every statement is a literal constant; the batch's values travel as parameters (JSON arrays for the sets).
A set is all or nothing: the caller runs it in a savepoint and, if it fails, writes the creations one by one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulator import consent
from simulator.matching import normalize_email, person_key
from simulator.server.errors import UnknownSubmission

__all__ = ["Creation", "CreatedRecords", "write_created"]


@dataclass(frozen=True, slots=True)
class Creation:
    """One submission to mark created. ``waitlisted=True``: every attendee goes on the event's waitlist whatever
    the body says (the model decided the event was full); None follows the decision stored at acceptance, else
    each attendee's ``waitlisted``. ``attempts`` None keeps the stored count."""

    submission_id: str
    created_s: float
    attempts: int | None = None
    waitlisted: bool | None = None


@dataclass(frozen=True, slots=True)
class CreatedRecords:
    """What one creation wrote (all zero when the submission was already created)."""

    already_created: bool = False
    contacts: int = 0  # new contacts or leads (a matched person is updated, not counted)
    event_registrations: int = 0
    session_registrations: int = 0
    waitlist_items: int = 0
    duplicates: int = 0  # registrations or items that already existed for that contact
    session_ids: tuple[str, ...] = ()  # the sessions of the new session registrations, one entry each
    consents: int = 0  # consent records written (one per attendee and purpose: new or updated)


_REPEAT = CreatedRecords(already_created=True)

# Each statement runs in one step, whatever the size of the set: the sqlite3 module lets go of the GIL around
# every step (every row of an ``executemany``, every row fetched), and under load each time the model thread took
# it back it waited for the event loop to let go (up to the switch interval). Sets go in as one JSON array
# (``json_each``); reads come back as one JSON value (``json_group_array``/``json_group_object``).
_SUBMISSIONS = ("SELECT json_group_array(json_array(s.id, s.event_id, json(s.body), s.waitlisted, "
                "s.state = 'created')) FROM json_each(?) AS j CROSS JOIN submissions AS s ON s.id = j.value")
_MARK_CREATED = ("UPDATE submissions SET state = 'created', created_s = j.value ->> 1, "
                 "attempts = COALESCE(j.value ->> 2, submissions.attempts) FROM json_each(?) AS j "
                 "WHERE submissions.id = j.value ->> 0")
_MATCHED = ("SELECT json_group_object(c.person_key, c.id) FROM json_each(?) AS j CROSS JOIN contacts AS c "
            "ON c.audience = ? AND c.person_key = j.value")
_THEIRS = (  # what contacts seen before already hold: registrations, session registrations, waitlist items
    "SELECT (SELECT json_group_array(json_array(r.contact_id, r.event_id, r.id)) FROM json_each(?1) AS j "
    "CROSS JOIN event_registrations AS r ON r.contact_id = j.value), "
    "(SELECT json_group_array(json_array(r.contact_id, r.session_id)) FROM json_each(?1) AS j "
    "CROSS JOIN session_registrations AS r ON r.contact_id = j.value), "
    "(SELECT json_group_array(json_array(w.contact_id, w.event_id, w.session_id)) FROM json_each(?1) AS j "
    "CROSS JOIN waitlist_items AS w ON w.contact_id = j.value)"
)
_LAST_IDS = ("SELECT (SELECT COALESCE(MAX(id), 0) FROM contacts), "
             "(SELECT COALESCE(MAX(id), 0) FROM event_registrations)")
_INSERT_CONTACTS = ("INSERT INTO contacts (id, email, first_name, last_name, created_s, updated_s, audience, "
                    "person_key) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, "
                    "value ->> 6, value ->> 7 FROM json_each(?)")
_UPDATE_CONTACTS = ("UPDATE contacts SET first_name = j.value ->> 0, last_name = j.value ->> 1, "
                    "updated_s = j.value ->> 2 FROM json_each(?) AS j WHERE contacts.id = j.value ->> 3")
_UPSERT_CONSENTS = (  # in the set's order: a later answer for the same contact point and purpose wins
    "INSERT INTO consents (contact_point, purpose_id, opted_in, submission_id, updated_s) "
    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?) WHERE true "
    "ORDER BY key ON CONFLICT (contact_point, purpose_id) DO UPDATE SET "
    "opted_in = COALESCE(excluded.opted_in, opted_in), submission_id = excluded.submission_id, "
    "updated_s = excluded.updated_s"
)
_INSERT_REGISTRATIONS = ("INSERT INTO event_registrations (id, contact_id, event_id, pass_id, responses, "
                         "submission_id, created_s) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, "
                         "value ->> 4, value ->> 5, value ->> 6 FROM json_each(?)")
_INSERT_SESSIONS = ("INSERT INTO session_registrations (contact_id, event_id, session_id, event_registration_id, "
                    "submission_id, created_s) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, "
                    "value ->> 4, value ->> 5 FROM json_each(?) ORDER BY key")
_INSERT_WAITLIST = ("INSERT INTO waitlist_items (contact_id, event_id, session_id, submission_id, created_s) "
                    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?) "
                    "ORDER BY key")


def _one(db: sqlite3.Connection, sql: str, *params: Any) -> Any:
    """The single value of a one-row, one-column read, JSON-decoded."""
    return json.loads(db.execute(sql, params).fetchone()[0])


@dataclass(slots=True)
class _Person:
    email: str
    first: str
    last: str
    key: str | None
    attendee: dict[str, Any]


class _Counts:
    __slots__ = ("contacts", "event_registrations", "session_registrations", "waitlist_items", "duplicates",
                 "consents", "sessions")

    def __init__(self) -> None:
        self.contacts = self.event_registrations = self.session_registrations = 0
        self.waitlist_items = self.duplicates = self.consents = 0
        self.sessions: list[str] = []

    def records(self) -> CreatedRecords:
        return CreatedRecords(False, self.contacts, self.event_registrations, self.session_registrations,
                              self.waitlist_items, self.duplicates, tuple(self.sessions), self.consents)


def write_created(db: sqlite3.Connection, creations: Sequence[Creation], *, matching: str, audience: str,
                  purpose_ids: Sequence[str]) -> list[CreatedRecords]:
    """Mark ``creations`` created and write their people's records, on ``db`` inside the caller's transaction;
    one ``CreatedRecords`` per creation, in order. Raises ``UnknownSubmission`` (nothing written is kept: the
    caller rolls back) if one was never accepted."""
    first_of: dict[str, int] = {}
    for index, creation in enumerate(creations):
        first_of.setdefault(creation.submission_id, index)
    stored = {row[0]: row for row in _one(db, _SUBMISSIONS, json.dumps(list(first_of)))}
    for submission_id in first_of:
        if submission_id not in stored:
            raise UnknownSubmission(submission_id)
    todo: list[tuple[int, Creation, str, bool | None, list[_Person]]] = []
    for index, creation in enumerate(creations):
        _, event_id, body, stored_waitlisted, already_created = stored[creation.submission_id]
        if already_created or first_of[creation.submission_id] != index:
            continue  # a repeat: created before, or earlier in this set
        waitlisted = creation.waitlisted if creation.waitlisted is not None else (True if stored_waitlisted else None)
        people = []
        for attendee in body.get("attendees", []):
            email = normalize_email(str(attendee["email"]))
            first, last = str(attendee["firstName"]), str(attendee["lastName"])
            people.append(_Person(email, first, last, person_key(matching, email, first, last), attendee))
        todo.append((index, creation, event_id, waitlisted, people))
    results = [_REPEAT] * len(creations)
    if not todo:
        return results
    db.execute(_MARK_CREATED, (json.dumps([[c.submission_id, c.created_s, c.attempts] for _, c, *_ in todo]),))

    keys = sorted({p.key for *_, people in todo for p in people if p.key is not None})
    by_key: dict[str, int] = _one(db, _MATCHED, json.dumps(keys), audience) if keys else {}
    registrations: dict[tuple[int, str], int] = {}
    sessions: set[tuple[int, str]] = set()
    waitlist: set[tuple[int, str, str]] = set()
    if by_key:  # people seen before: what they already hold decides duplicates
        held = db.execute(_THEIRS, (json.dumps(sorted(set(by_key.values()))),)).fetchone()
        registrations = {(c, e): r for c, e, r in json.loads(held[0])}
        sessions = {(c, s) for c, s in json.loads(held[1])}
        waitlist = {(c, e, s) for c, e, s in json.loads(held[2])}
    earlier_ids = set(by_key.values())
    last_contact, last_registration = db.execute(_LAST_IDS).fetchone()
    next_contact, next_registration = int(last_contact) + 1, int(last_registration) + 1

    new_contacts: dict[int, list[Any]] = {}
    updated: dict[int, tuple[str, str, float, int]] = {}
    consent_rows: list[tuple[Any, ...]] = []
    registration_rows: list[tuple[Any, ...]] = []
    session_rows: list[tuple[Any, ...]] = []
    waitlist_rows: list[tuple[Any, ...]] = []
    for index, creation, event_id, waitlisted, people in todo:
        counts = _Counts()
        now_s, submission_id = creation.created_s, creation.submission_id
        for person in people:
            attendee = person.attendee
            contact_id = by_key.get(person.key) if person.key is not None else None
            if contact_id is None:
                contact_id, next_contact = next_contact, next_contact + 1
                new_contacts[contact_id] = [contact_id, person.email, person.first, person.last, now_s, now_s,
                                            audience, person.key]
                if person.key is not None:
                    by_key[person.key] = contact_id
                counts.contacts += 1
            elif contact_id in earlier_ids:
                updated[contact_id] = (person.first, person.last, now_s, contact_id)
            else:  # matched a contact this set creates: its row takes the later names, as an update would
                new_contacts[contact_id][2:4] = person.first, person.last
                new_contacts[contact_id][5] = now_s
            answers = consent.consent_answers(attendee.get("responses") or [], purpose_ids)
            for purpose_id, opted_in in answers.items():  # one record per purpose; no answer keeps an earlier one
                consent_rows.append((person.email, purpose_id, None if opted_in is None else int(opted_in),
                                     submission_id, now_s))
                counts.consents += 1
            if waitlisted if waitlisted is not None else bool(attendee.get("waitlisted")):
                _wait(waitlist, waitlist_rows, counts, (contact_id, event_id, ""), submission_id, now_s)
                continue
            registration_id = registrations.get((contact_id, event_id))
            if registration_id is None:
                registration_id, next_registration = next_registration, next_registration + 1
                registrations[(contact_id, event_id)] = registration_id
                registration_rows.append((registration_id, contact_id, event_id, attendee.get("passId"),
                                          attendee.get("responses") or [], submission_id, now_s))
                counts.event_registrations += 1
            else:
                counts.duplicates += 1
            for chosen in attendee.get("attendeeSessions") or []:
                session_id = str(chosen["sessionId"])
                if chosen.get("waitlisted"):
                    _wait(waitlist, waitlist_rows, counts, (contact_id, event_id, session_id), submission_id, now_s)
                    continue
                if (contact_id, session_id) in sessions:
                    counts.duplicates += 1
                    continue
                sessions.add((contact_id, session_id))
                session_rows.append((contact_id, event_id, session_id, registration_id, submission_id, now_s))
                counts.session_registrations += 1
                counts.sessions.append(session_id)
        results[index] = counts.records()

    if new_contacts:  # parents first: the registrations' foreign keys are checked as they go in
        db.execute(_INSERT_CONTACTS, (json.dumps(list(new_contacts.values())),))
    if updated:
        db.execute(_UPDATE_CONTACTS, (json.dumps(list(updated.values())),))
    if consent_rows:
        db.execute(_UPSERT_CONSENTS, (json.dumps(consent_rows),))
    if registration_rows:
        db.execute(_INSERT_REGISTRATIONS, (json.dumps(registration_rows),))
    if session_rows:
        db.execute(_INSERT_SESSIONS, (json.dumps(session_rows),))
    if waitlist_rows:
        db.execute(_INSERT_WAITLIST, (json.dumps(waitlist_rows),))
    return results


def _wait(waitlist: set[tuple[int, str, str]], rows: list[tuple[Any, ...]], counts: _Counts,
          item: tuple[int, str, str], submission_id: str, now_s: float) -> None:
    """A waitlist item for (contact, event, session), or a duplicate if that contact already has it."""
    if item in waitlist:
        counts.duplicates += 1
        return
    waitlist.add(item)
    rows.append((*item, submission_id, now_s))
    counts.waitlist_items += 1
