"""The live server's durable state in SQLite (WAL): accepted submissions and the records they create.

Tables::

    submissions            id, event_id, body (the validated request JSON), state, accepted_s, created_s,
                           dead_lettered_s, attempts, last_error, waitlisted (the model put the whole submission
                           on the waitlist at acceptance: the event was full)
    contacts               one per person the tenant's matching rule tells apart (simulator/matching.py):
                           ``person_key`` is the rule's key (NULL under ``none``: never matched), ``audience``
                           says whether the row stands for a Dataverse contact or a lead (view ``leads``)
    consents               one per (contact point = the normalized email, purpose): the compliance profile's
                           consent records, ``opted_in`` 1 / 0 / NULL (no answer) — simulator/consent.py
    settings               the registration settings the people were matched under (matching, audience)
    event_registrations    one per (contact, event)
    session_registrations  one per (contact, session)
    waitlist_items         one per (contact, event, session) — session '' for the event's own waitlist

A submission goes ``accepted`` → (``retrying``)* → ``created`` | ``dead_lettered``. ``accept`` is written before
the caller gets its 202, with the model's waitlist decision; on restart ``pending()`` gives back everything
not yet settled, oldest first, and a resumed submission keeps that decision (re-deciding against the seats
left after a restart would register people the first run had waitlisted, past capacity).
``mark_created`` writes the contact, registrations and waitlist items of every attendee in one transaction and
is idempotent: marking a created submission again changes nothing, and a second submission for the same person
and event creates no second registration (it is counted as a duplicate) — the same person as the matching rule
says: under ``none`` every registration is a new person, so it is never a duplicate.

Every statement is parameterized. One connection serves the writer (the model's thread) behind a lock; HTTP
handlers read through a ``StoreReader`` on a connection of their own, in a worker thread.
``synchronous=NORMAL`` (default) survives a process crash, which is what restart
tests exercise; ``FULL`` also survives power loss, at the cost of an fsync per commit.

Times are model seconds (the live driver's simulated clock), as everywhere inside.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from simulator import consent
from simulator.matching import RULES
from simulator.server.checkpoint import Checkpointer
from simulator.server.creation import CreatedRecords, Creation, write_created
from simulator.server.dbfile import DatabaseLock
from simulator.server.errors import StoreError, StoreSettingsMismatch, UnknownSubmission

__all__ = ["Store", "StoreReader", "StoredSubmission", "CreatedRecords", "Creation"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('accepted', 'retrying', 'created', 'dead_lettered')),
    accepted_s      REAL NOT NULL,
    created_s       REAL,
    dead_lettered_s REAL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    waitlisted      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS submissions_by_state ON submissions (state, accepted_s);
CREATE TABLE IF NOT EXISTS event_registrations (
    id            INTEGER PRIMARY KEY,
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    event_id      TEXT NOT NULL,
    pass_id       TEXT,
    responses     TEXT NOT NULL,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    created_s     REAL NOT NULL,
    UNIQUE (contact_id, event_id)
);
CREATE INDEX IF NOT EXISTS event_registrations_by_event ON event_registrations (event_id);
CREATE TABLE IF NOT EXISTS session_registrations (
    id                    INTEGER PRIMARY KEY,
    contact_id            INTEGER NOT NULL REFERENCES contacts (id),
    event_id              TEXT NOT NULL,
    session_id            TEXT NOT NULL,
    event_registration_id INTEGER REFERENCES event_registrations (id),
    submission_id         TEXT NOT NULL REFERENCES submissions (id),
    created_s             REAL NOT NULL,
    UNIQUE (contact_id, session_id)
);
CREATE INDEX IF NOT EXISTS session_registrations_by_session ON session_registrations (session_id);
CREATE TABLE IF NOT EXISTS waitlist_items (
    id            INTEGER PRIMARY KEY,
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    event_id      TEXT NOT NULL,
    session_id    TEXT NOT NULL DEFAULT '',
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    created_s     REAL NOT NULL,
    UNIQUE (contact_id, event_id, session_id)
);
"""
_PURCHASES = """
CREATE TABLE IF NOT EXISTS purchases (
    id         TEXT PRIMARY KEY,
    event_id   TEXT NOT NULL,
    body       TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('held', 'confirmed', 'expired')),
    held_s     REAL NOT NULL,
    expires_s  REAL NOT NULL,
    settled_s  REAL,
    expires_at REAL,                        -- the hold's end on the wall clock (Unix time): survives downtime
    cancelled  INTEGER NOT NULL DEFAULT 0   -- expired early: the buyer cancelled at the gateway
);
CREATE INDEX IF NOT EXISTS purchases_by_state ON purchases (state, held_s);
"""
_PEOPLE = """
CREATE TABLE IF NOT EXISTS contacts (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    created_s  REAL NOT NULL,
    updated_s  REAL NOT NULL,
    audience   TEXT NOT NULL DEFAULT 'contact' CHECK (audience IN ('contact', 'lead')),
    person_key TEXT,
    UNIQUE (audience, person_key)
);
DROP INDEX IF EXISTS contacts_by_email;
CREATE VIEW IF NOT EXISTS leads AS SELECT * FROM contacts WHERE audience = 'lead';
CREATE TABLE IF NOT EXISTS consents (
    id            INTEGER PRIMARY KEY,
    contact_point TEXT NOT NULL,
    purpose_id    TEXT NOT NULL,
    opted_in      INTEGER,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    updated_s     REAL NOT NULL,
    UNIQUE (contact_point, purpose_id)
);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# A database written before matching rules existed keyed contacts on a UNIQUE email: rebuilt once, keeping ids
# (registrations point at them), each row's key being its email (the rule it was matched under).
_CONTACTS_V1 = """
BEGIN IMMEDIATE;
CREATE TABLE contacts_v2 (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    created_s  REAL NOT NULL,
    updated_s  REAL NOT NULL,
    audience   TEXT NOT NULL DEFAULT 'contact' CHECK (audience IN ('contact', 'lead')),
    person_key TEXT,
    UNIQUE (audience, person_key)
);
INSERT INTO contacts_v2 (id, email, first_name, last_name, created_s, updated_s, audience, person_key)
    SELECT id, email, first_name, last_name, created_s, updated_s, 'contact', email FROM contacts;
DROP TABLE contacts;
ALTER TABLE contacts_v2 RENAME TO contacts;
COMMIT;
"""
_PENDING = ("accepted", "retrying")
_SYNCHRONOUS = {"NORMAL": "PRAGMA synchronous=NORMAL", "FULL": "PRAGMA synchronous=FULL"}
_TABLE_COUNTS = {  # fixed statements: table names cannot be parameters
    "contacts": "SELECT COUNT(*) FROM contacts WHERE audience = 'contact'",
    "leads": "SELECT COUNT(*) FROM contacts WHERE audience = 'lead'",
    "consents": "SELECT COUNT(*) FROM consents",
    "event_registrations": "SELECT COUNT(*) FROM event_registrations",
    "session_registrations": "SELECT COUNT(*) FROM session_registrations",
    "waitlist_items": "SELECT COUNT(*) FROM waitlist_items",
}


@dataclass(frozen=True, slots=True)
class StoredSubmission:
    """An accepted submission as stored; ``body`` is the validated request JSON."""

    id: str
    event_id: str
    body: str
    state: str
    accepted_s: float
    attempts: int
    last_error: str | None
    waitlisted: bool = False  # the model waitlisted the whole submission at acceptance

    def request(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class Store:
    """The SQLite store; open with ``Store(path)`` (or ``":memory:"``), close with ``close()`` or ``with``.

    ``matching``, ``audience`` and ``consent_purposes`` are the tenant's registration settings (the scenario's
    ``[registration]``); a database keeps the matching rule and audience its people were matched under, and
    refuses to be opened under others (StoreSettingsMismatch)."""

    def __init__(self, path: str | Path, *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
                 matching: str = "email", audience: str = "contact", consent_purposes: int = 0,
                 exclusive: bool = False) -> None:
        """``exclusive``: hold ``dbfile.DatabaseLock`` on the file until ``close()`` (a server's store: a second
        one on the same file is refused, naming the first one's PID)."""
        if synchronous not in _SYNCHRONOUS:
            raise StoreError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        if matching not in RULES:
            raise StoreError(f"matching must be one of {', '.join(RULES)}, not {matching!r}")
        if audience not in ("contact", "lead"):
            raise StoreError(f"audience must be contact or lead, not {audience!r}")
        if consent_purposes < 0:
            raise StoreError(f"consent_purposes must be 0 or more, not {consent_purposes}")
        self.matching = matching
        self.audience = audience
        self.purpose_ids = consent.purpose_ids(consent_purposes)
        self.path = str(path)
        self._file_lock = DatabaseLock(path).acquire() if exclusive and self.path != ":memory:" else None
        try:
            self._open(synchronous)
        except BaseException:
            if getattr(self, "_db", None) is not None:
                self._db.close()
            if self._file_lock is not None:
                self._file_lock.release()
            raise

    def _open(self, synchronous: str) -> None:
        self._lock = threading.RLock()  # re-entrant: a batch's thread reads and writes inside it
        self._batch_depth = 0  # >0: inside batch(); a write is a savepoint of the batch's transaction
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SYNCHRONOUS[synchronous])
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._checkpointer: Checkpointer | None = None
        with self._lock:
            self._db.executescript(_SCHEMA)
            self._db.executescript(_PURCHASES)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(submissions)")}
            if "waitlisted" not in columns:  # a database written before the column existed
                self._db.execute("ALTER TABLE submissions ADD COLUMN waitlisted INTEGER NOT NULL DEFAULT 0")
            purchase_columns = {row[1] for row in self._db.execute("PRAGMA table_info(purchases)")}
            if "expires_at" not in purchase_columns:  # written before the columns existed
                self._db.execute("ALTER TABLE purchases ADD COLUMN expires_at REAL")
            if "cancelled" not in purchase_columns:
                self._db.execute("ALTER TABLE purchases ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0")
            try:
                self._open_people()
            except BaseException:
                self._db.close()  # refused (or failed): no connection is left open behind the error
                raise
        if self.path != ":memory:":  # checkpoints off the writer's thread (simulator/server/checkpoint.py)
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = Checkpointer(self.path)

    def _open_people(self) -> None:
        """The people tables (rebuilt from a database written before matching rules), then the settings check."""
        db = self._db
        contact_columns = {row[1] for row in db.execute("PRAGMA table_info(contacts)")}
        if contact_columns and "person_key" not in contact_columns:
            db.execute("PRAGMA foreign_keys=OFF")  # registrations keep pointing at the same contact ids
            try:
                db.executescript(_CONTACTS_V1)  # one transaction: BEGIN … COMMIT inside
            finally:
                db.execute("PRAGMA foreign_keys=ON")
        db.executescript(_PEOPLE)
        stored = dict(db.execute("SELECT key, value FROM settings").fetchall())
        if not stored:
            # people stored without a settings row were matched under the only rule there was: email, contacts
            has_people = db.execute("SELECT 1 FROM contacts LIMIT 1").fetchone() is not None
            stored = ({"matching": "email", "audience": "contact"} if has_people
                      else {"matching": self.matching, "audience": self.audience})
            db.executemany("INSERT INTO settings (key, value) VALUES (?, ?)", list(stored.items()))
        for key, value in (("matching", self.matching), ("audience", self.audience)):
            if stored.get(key, value) != value:
                raise StoreSettingsMismatch(
                    f"{self.path}: its people were matched under registration.{key} = \"{stored[key]}\", not "
                    f"\"{value}\" — serve this scenario with a new --db, or keep registration.{key} = "
                    f"\"{stored[key]}\""
                )

    # --- lifecycle -------------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._lock:
            self._db.close()
        if self._file_lock is not None:
            self._file_lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, one_statement: bool = False) -> Iterator[sqlite3.Connection]:
        """A write: its own transaction, or inside ``batch()`` a savepoint of the batch's (none for a write of
        ``one_statement``: SQLite makes a single statement all or nothing by itself)."""
        with self._lock:
            if self._batch_depth and one_statement:
                yield self._db
                return
            if self._batch_depth:  # inside batch(): all or nothing for this write, one commit for the batch
                self._db.execute("SAVEPOINT write")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK TO write")
                    self._db.execute("RELEASE write")
                    raise
                self._db.execute("RELEASE write")
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._committed()

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.nudge()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several writes, one commit (group commit): each write inside stays all-or-nothing (a savepoint), and
        a write that fails leaves the others to commit. Nothing is durable until the batch ends."""
        with self._lock:
            if self._batch_depth:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._batch_depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                try:
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                self._committed()
            finally:
                self._batch_depth = 0

    # --- writes ----------------------------------------------------------------------------------------------
    def accept(self, submission_id: str, event_id: str, body: str, accepted_s: float, waitlisted: bool = False
               ) -> bool:
        """Durably record an accepted submission; False when that id was already stored (nothing changes).
        ``waitlisted``: the model put the whole submission on the waitlist (the event was full)."""
        return self.accept_many([(submission_id, event_id, body, accepted_s, waitlisted)]) == 1

    def accept_many(self, items: Iterable[tuple[str, str, str, float] | tuple[str, str, str, float, bool]]) -> int:
        """Record several ``(id, event_id, body, accepted_s[, waitlisted])`` in one commit; how many were new."""
        rows = json.dumps([(*item, False) if len(item) == 4 else item for item in items])
        with self._transaction(one_statement=True) as db:
            before = db.total_changes
            db.execute(  # one statement, one step for the whole set (see creation.py on why steps count)
                "INSERT INTO submissions (id, event_id, body, state, accepted_s, waitlisted) "
                "SELECT value ->> 0, value ->> 1, value ->> 2, 'accepted', value ->> 3, value ->> 4 "
                "FROM json_each(?) WHERE true ORDER BY key ON CONFLICT (id) DO NOTHING",
                (rows,),
            )
            return db.total_changes - before

    def record_attempt(self, submission_id: str, error: str, attempts: int) -> None:
        """A try failed and will be retried: state ``retrying``, the attempt count and the error so far."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE submissions SET state = 'retrying', attempts = ?, last_error = ? "
                "WHERE id = ? AND state IN ('accepted', 'retrying')",
                (attempts, error, submission_id),
            )
            if cursor.rowcount == 0:
                self._require(db, submission_id)

    def mark_created(
        self, submission_id: str, created_s: float, *, attempts: int | None = None, waitlisted: bool | None = None
    ) -> CreatedRecords:
        """Write the submission's records and mark it ``created``; idempotent (see the module docstring).

        ``waitlisted=True`` puts every attendee on the event's waitlist whatever the body says (the model
        decided the event was full); None follows the decision stored at acceptance, else each attendee's
        ``waitlisted``.
        """
        return self._create([Creation(submission_id, created_s, attempts, waitlisted)])[0]

    def create_many(self, creations: Sequence[Creation]) -> list[CreatedRecords]:
        """Mark several submissions created, all or nothing (a savepoint inside a batch): the same rows and
        records as ``mark_created`` one after another, in a few statements (simulator/server/creation.py)."""
        return self._create(creations)

    def _create(self, creations: Sequence[Creation]) -> list[CreatedRecords]:
        with self._transaction() as db:
            return write_created(db, creations, matching=self.matching, audience=self.audience,
                                 purpose_ids=self.purpose_ids)

    def mark_dead_lettered(self, submission_id: str, dead_lettered_s: float, reason: str,
                           *, attempts: int | None = None) -> bool:
        """Give up on a pending submission; False if it had already settled (created or dead-lettered)."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE submissions SET state = 'dead_lettered', dead_lettered_s = ?, last_error = ?, "
                "attempts = COALESCE(?, attempts) WHERE id = ? AND state IN ('accepted', 'retrying')",
                (dead_lettered_s, reason, attempts, submission_id),
            )
            if cursor.rowcount == 0:
                self._require(db, submission_id)
                return False
            return True

    @staticmethod
    def _require(db: sqlite3.Connection, submission_id: str) -> None:
        if db.execute("SELECT 1 FROM submissions WHERE id = ?", (submission_id,)).fetchone() is None:
            raise UnknownSubmission(submission_id)

    # --- reads -----------------------------------------------------------------------------------------------
    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def pending(self) -> list[StoredSubmission]:
        """Submissions accepted but not settled, oldest first: what a restarted server resumes."""
        rows = self._all(
            "SELECT id, event_id, body, state, accepted_s, attempts, last_error, waitlisted FROM submissions "
            "WHERE state IN (?, ?) ORDER BY accepted_s, id",
            _PENDING,
        )
        return [StoredSubmission(id_, event_id, body, state, accepted_s, attempts, last_error, bool(waitlisted))
                for id_, event_id, body, state, accepted_s, attempts, last_error, waitlisted in rows]

    def submission(self, submission_id: str) -> dict[str, Any] | None:
        """The submission's status as ``GET /_harness/submissions/{id}`` shows it, or None."""
        return submission_status(self._one(SUBMISSION_SQL, (submission_id,)))

    def reader(self) -> StoreReader:
        """Reads for other threads on a connection of their own (see :class:`StoreReader`)."""
        return StoreReader(self)

    def latest_s(self) -> float:
        """The latest model time recorded: a restarted model's clock resumes here, so deadlines keep counting."""
        row = self._one(
            "SELECT MAX(COALESCE(MAX(accepted_s), 0), COALESCE(MAX(created_s), 0), "
            "COALESCE(MAX(dead_lettered_s), 0)) FROM submissions"
        )
        return float(row[0] or 0.0)

    def registration_count(self, event_id: str) -> int:
        return int(self._one("SELECT COUNT(*) FROM event_registrations WHERE event_id = ?", (event_id,))[0])

    def session_registration_count(self, session_id: str) -> int:
        return int(self._one("SELECT COUNT(*) FROM session_registrations WHERE session_id = ?", (session_id,))[0])

    def waitlist_count(self, event_id: str, session_id: str = "") -> int:
        return int(self._one("SELECT COUNT(*) FROM waitlist_items WHERE event_id = ? AND session_id = ?",
                             (event_id, session_id))[0])

    def registration_counts(self) -> dict[str, int]:
        """Event registrations per event id (to restore the model's seat counts after a restart)."""
        rows = self._all("SELECT event_id, COUNT(*) FROM event_registrations GROUP BY event_id")
        return {event_id: int(n) for event_id, n in rows}

    def session_registration_counts(self) -> dict[str, int]:
        rows = self._all("SELECT session_id, COUNT(*) FROM session_registrations GROUP BY session_id")
        return {session_id: int(n) for session_id, n in rows}

    def people(self) -> list[tuple[int, str, str, str]]:
        """Every person (contact or lead) stored: (id, email, first name, last name), by id."""
        return [(int(i), e, f, la) for i, e, f, la in
                self._all("SELECT id, email, first_name, last_name FROM contacts ORDER BY id")]

    def counts(self) -> dict[str, Any]:
        """Totals: submissions by state, contacts, leads, consents, registrations, session registrations,
        waitlist items."""
        with self._lock:
            by_state = dict.fromkeys(("accepted", "retrying", "created", "dead_lettered"), 0)
            by_state.update(self._db.execute("SELECT state, COUNT(*) FROM submissions GROUP BY state").fetchall())
            tables = {table: int(self._db.execute(sql).fetchone()[0]) for table, sql in _TABLE_COUNTS.items()}
        return {"submissions": by_state, **tables}

    # --- purchases (paid events: the registration follows the payment) --------------------------------------
    # A paid registration is first a held purchase: its seats are taken, no submission exists yet. Confirming
    # it (finalize) stores the submission as accepted in the same transaction; a hold that times out is expired.
    def hold_purchases(self, items: Iterable[tuple[str, str, str, float, float, float]]) -> int:
        """Record ``(id, event_id, body, held_s, expires_s, expires_at)`` purchases as held, in one commit; how
        many new. ``expires_at`` is the hold's end on the wall clock (Unix time)."""
        with self._transaction() as db:
            before = db.total_changes
            db.executemany("INSERT INTO purchases (id, event_id, body, state, held_s, expires_s, expires_at) "
                           "VALUES (?, ?, ?, 'held', ?, ?, ?) ON CONFLICT (id) DO NOTHING", list(items))
            return db.total_changes - before

    def confirm_purchase(self, purchase_id: str, accepted_s: float) -> int:
        """The payment is confirmed: the purchase becomes an accepted submission (same id), in one commit; 1 when
        that submission is new, 0 when the purchase was confirmed before (or expired)."""
        with self._transaction() as db:
            row = db.execute("SELECT event_id, body FROM purchases WHERE id = ? AND state = 'held'",
                             (purchase_id,)).fetchone()
            if row is None:
                return 0  # confirmed before (idempotent), or expired: the caller asked the model first
            db.execute("UPDATE purchases SET state = 'confirmed', settled_s = ? WHERE id = ?",
                       (accepted_s, purchase_id))
            return db.execute("INSERT INTO submissions (id, event_id, body, state, accepted_s) VALUES (?, ?, ?, "
                              "'accepted', ?) ON CONFLICT (id) DO NOTHING",
                              (purchase_id, row[0], row[1], accepted_s)).rowcount

    def expire_purchase(self, purchase_id: str, now_s: float, cancelled: bool = False) -> None:
        """No confirmation within the payment timeout, or the buyer ``cancelled``: the hold ends (its seats were
        given back)."""
        with self._transaction() as db:
            db.execute("UPDATE purchases SET state = 'expired', settled_s = ?, cancelled = ? "
                       "WHERE id = ? AND state = 'held'", (now_s, int(cancelled), purchase_id))

    def held_purchases(self) -> list[HeldPurchase]:
        """Purchases still held, in the order their holds end (to resume, or release at once after downtime)."""
        rows = self._all("SELECT id, event_id, body, held_s, expires_s, expires_at FROM purchases "
                         "WHERE state = 'held' ORDER BY COALESCE(expires_at, expires_s), held_s, id")
        return [HeldPurchase(str(a), str(b), str(c), float(d), float(e), None if f is None else float(f))
                for a, b, c, d, e, f in rows]

    def purchase(self, purchase_id: str) -> dict[str, Any] | None:
        """``{"id", "event_id", "state", "held_s", "expires_s", "settled_s", "expires_at", "body"}`` of a purchase
        (``state``: held, confirmed, expired or cancelled), or None."""
        row = self._one("SELECT id, event_id, CASE WHEN cancelled THEN 'cancelled' ELSE state END, held_s, "
                        "expires_s, settled_s, expires_at, body FROM purchases WHERE id = ?", (purchase_id,))
        if row is None:
            return None
        return dict(zip(("id", "event_id", "state", "held_s", "expires_s", "settled_s", "expires_at", "body"), row,
                        strict=True))

    def purchase_counts(self) -> dict[str, int]:
        """Purchases by state: ``held``, ``confirmed``, ``expired`` (timed out), ``cancelled`` (by the buyer)."""
        counts = dict.fromkeys(("held", "confirmed", "expired", "cancelled"), 0)
        counts.update({str(k): int(v) for k, v in self._all(
            "SELECT CASE WHEN cancelled THEN 'cancelled' ELSE state END AS s, COUNT(*) FROM purchases GROUP BY s")})
        return counts

    def purchases_by_pass(self) -> dict[tuple[str, str], int]:
        """``(pass id, state)`` → attendees holding (``held``) or having bought (``confirmed``) that pass."""
        rows = self._all("SELECT json_extract(a.value, '$.passId'), p.state, COUNT(*) FROM purchases p, "
                         "json_each(p.body, '$.attendees') a WHERE p.state IN ('held', 'confirmed') "
                         "AND NOT COALESCE(json_extract(a.value, '$.waitlisted'), 0) GROUP BY 1, 2")
        return {(str(pass_id), str(state)): int(n) for pass_id, state, n in rows if pass_id is not None}

@dataclass(frozen=True, slots=True)
class HeldPurchase:
    """A purchase still held: its hold's end in the model's seconds and, when stored, on the wall clock."""

    id: str
    event_id: str
    body: str
    held_s: float
    expires_s: float
    expires_at: float | None  # Unix time; None in a database written before it was stored


SUBMISSION_SQL = ("SELECT id, event_id, state, attempts, accepted_s, created_s, dead_lettered_s, last_error "
                  "FROM submissions WHERE id = ?")
_SUBMISSION_KEYS = ("id", "event_id", "state", "attempts", "accepted_s", "created_s", "dead_lettered_s",
                    "last_error")


def submission_status(row: tuple[Any, ...] | None) -> dict[str, Any] | None:
    return None if row is None else dict(zip(_SUBMISSION_KEYS, row, strict=True))


class StoreReader:
    """Read-only queries on their own connection and lock, for threads other than the writer's: under WAL a
    reader never waits for the writer's commit, nor for the ``Store``'s lock, which the writer holds while it
    commits. (An in-memory store has one connection only: there the reader shares it, lock included.)"""

    def __init__(self, store: Store) -> None:
        self._lock = threading.Lock()
        self._shared = store.path == ":memory:"
        self._store = store
        self._db = None if self._shared else sqlite3.connect(Path(store.path).resolve().as_uri() + "?mode=ro",
                                                             uri=True, check_same_thread=False)

    def submission(self, submission_id: str) -> dict[str, Any] | None:
        if self._db is None:
            return self._store.submission(submission_id)
        with self._lock:
            return submission_status(self._db.execute(SUBMISSION_SQL, (submission_id,)).fetchone())

    def close(self) -> None:
        if self._db is not None:
            with self._lock:
                self._db.close()
