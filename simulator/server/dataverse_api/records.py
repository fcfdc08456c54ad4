"""The face's rows: reads and writes of the live server's own SQLite file (``--db``), on a connection of its own.

The store's writer is the model thread; the face writes on its own connection, which SQLite serializes with
the writer (``BEGIN IMMEDIATE``, waiting up to ``busy_timeout``). So a contact created through the face is a
contact the next registration matches, and a registration a processor created is a row a client can read.
Catalog events and sessions, and the table metadata, live in an in-memory database attached as ``catalog``,
so one SQL path serves every table. Every method is blocking: the routes call them in a worker thread.

What a write through the face does not do: take a seat in the live model (its seat counts are the processors';
a restart restores them from the store, face rows included), or link a row to a submission (``submission_id``
is empty).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.catalog import Catalog
from simulator.server.dataverse_api.errors import CODES, ODataError
from simulator.server.dataverse_api.odata import GUID, compile_filter
from simulator.server.dataverse_api.tables import Clock, Column, Table

__all__ = ["Records", "Query"]

_NAMESPACE = uuid.UUID("5a0f3c1e-2d4b-4e8a-9c6f-1b7d3e5a9f20")
_NOW_COLUMNS = ("created_s", "updated_s")
_BIND = "@odata.bind"
_CASCADE = {  # what goes with a deleted row (literal statements; the row's id is the parameter)
    "contacts": ("DELETE FROM session_registrations WHERE contact_id = ?",
                 "DELETE FROM waitlist_items WHERE contact_id = ?",
                 "DELETE FROM event_registrations WHERE contact_id = ?"),
    "event_registrations": ("DELETE FROM session_registrations WHERE event_registration_id = ?",),
}


class Query:
    """A collection read: ``$select``, ``$filter``, ``$orderby``, a page (``top`` rows from ``skip``)."""

    def __init__(self, select: list[str] | None = None, filter_text: str | None = None,
                 orderby: list[tuple[str, bool]] | None = None, top: int | None = None, skip: int = 0) -> None:
        self.select, self.filter_text, self.orderby, self.top, self.skip = select, filter_text, orderby or [], top, skip


class Records:
    """The face's connection to ``path`` (the live store's file) and the catalog."""

    def __init__(self, path: str | Path, catalog: Catalog, tables: Mapping[str, Table], clock: Clock) -> None:
        self.tables = dict(tables)
        self.clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("ATTACH DATABASE ':memory:' AS catalog")
        self._depth = 0
        self._load_catalog(catalog)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _load_catalog(self, catalog: Catalog) -> None:
        db = self._db
        db.execute("CREATE TABLE catalog.events (id TEXT PRIMARY KEY, name TEXT, readable_id TEXT, capacity INTEGER, "
                   "start TEXT, end_ TEXT)")
        db.execute("CREATE TABLE catalog.sessions (id TEXT PRIMARY KEY, event_id TEXT, name TEXT, capacity INTEGER, "
                   "start TEXT, end_ TEXT)")
        db.execute("CREATE TABLE catalog.entity_definitions (id TEXT PRIMARY KEY, logical_name TEXT, entity_set TEXT, "
                   "primary_id TEXT, primary_name TEXT)")
        iso = _iso
        db.executemany("INSERT INTO catalog.events VALUES (?, ?, ?, ?, ?, ?)",
                       [(e.id.lower(), e.name, e.readable_id, e.capacity, iso(e.to_utc(e.start)), iso(e.to_utc(e.end)))
                        for e in catalog.events])
        db.executemany("INSERT INTO catalog.sessions VALUES (?, ?, ?, ?, ?, ?)",
                       [(s.id.lower(), s.event_id.lower(), s.name, s.capacity, iso(e.to_utc(s.start)),
                         iso(e.to_utc(s.end))) for e in catalog.events for s in e.sessions])
        db.executemany("INSERT INTO catalog.entity_definitions VALUES (?, ?, ?, ?, ?)",
                       [(str(uuid.uuid5(_NAMESPACE, t.logical)), t.logical, t.entity_set, t.primary.name,
                         t.primary_name) for t in self.tables.values() if t.entity_set != "EntityDefinitions"])

    # --- transactions ------------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a change set, a ``CreateMultiple``, one write (nested: a savepoint)."""
        with self._lock:
            db = self._db
            if self._depth:
                name = f"face_{self._depth}"
                db.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield
                except BaseException:
                    db.execute(f"ROLLBACK TO {name}")
                    db.execute(f"RELEASE {name}")
                    raise
                finally:
                    self._depth -= 1
                db.execute(f"RELEASE {name}")
                return
            db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                db.execute("COMMIT")
            finally:
                self._depth = 0

    # --- reads -------------------------------------------------------------------------------------------------
    def _scope(self, table: Table) -> str:
        return f"({table.where})" if table.where else "1"

    def _columns(self, table: Table, select: list[str] | None) -> list[Column]:
        if select is None:
            return list(table.columns)
        chosen = [table.column(name) for name in select]
        return chosen if table.primary in chosen else [table.primary, *chosen]  # Dataverse always sends the id

    def _row(self, table: Table, columns: list[Column], values: tuple[Any, ...]) -> dict[str, Any]:
        return {c.name: table.json_value(c, v, self.clock, self.tables) for c, v in zip(columns, values, strict=True)}

    def query(self, table: Table, query: Query, *, count: bool = False
              ) -> tuple[list[dict[str, Any]], bool, int | None]:
        """Rows of the page, whether more follow, and (``count``) how many match in all."""
        columns = self._columns(table, query.select)
        where, params = self._scope(table), []  # type: tuple[str, list[Any]]
        if query.filter_text:
            condition, params = compile_filter(query.filter_text, lambda n: table.field(table.column(n), self.clock,
                                                                                       self.tables))
            where = f"{where} AND {condition}"
        order = [f"{table.column(name).sql} {'DESC' if desc else 'ASC'}" for name, desc in query.orderby]
        order.append(f"{table.primary.sql} ASC")  # a stable order, so pages neither repeat nor skip rows
        limit = -1 if query.top is None else query.top + 1
        sql = (f"SELECT {', '.join(c.sql for c in columns)} FROM {table.sql_table} WHERE {where} "
               f"ORDER BY {', '.join(order)} LIMIT ? OFFSET ?")
        with self._lock:
            try:
                rows = self._db.execute(sql, (*params, limit, query.skip)).fetchall()
                total = (self._db.execute(f"SELECT COUNT(*) FROM {table.sql_table} WHERE {where}", params).fetchone()[0]
                         if count else None)
            except sqlite3.OperationalError as exc:  # e.g. a comparison SQLite cannot make of these values
                raise ODataError(400, CODES["syntax"], f"$filter: cannot evaluate it ({exc})") from None
        more = query.top is not None and len(rows) > query.top
        return [self._row(table, columns, row) for row in rows[:query.top]], more, total

    def get(self, table: Table, stored_id: Any, select: list[str] | None = None) -> dict[str, Any] | None:
        columns = self._columns(table, select)
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(c.sql for c in columns)} FROM {table.sql_table} "
                                   f"WHERE {self._scope(table)} AND {table.primary.sql} = ?", (stored_id,)).fetchone()
        return None if row is None else self._row(table, columns, row)

    def find_by_key(self, table: Table, key: Mapping[str, Any]) -> Any | None:
        """The stored id of the row whose alternate key is ``key`` (values by Dataverse column), or None."""
        names = {name.lower() for name in key}
        if not table.alternate_key or names != {name.lower() for name in table.alternate_key}:
            shape = ", ".join(f"{n}='…'" for n in table.alternate_key)
            has = f"the alternate key ({shape})" if shape else "no alternate key"
            raise ODataError(400, CODES["syntax"], f"{table.entity_set} has {has}; got ({', '.join(key)})")
        values = self._values(table, dict(key), creating=True, check_writable=False)
        if table.derive is not None:  # people: the key is the matching rule's person key
            derived = table.derive(values)
            conditions, params = ["person_key = ?"], [derived["person_key"]]
        else:
            conditions = [f"{c} = ?" for c in values]
            params = list(values.values())
        with self._lock:
            row = self._db.execute(f"SELECT {table.primary.sql} FROM {table.sql_table} WHERE {self._scope(table)} AND "
                                   f"{' AND '.join(conditions)} LIMIT 1", params).fetchone()
        return None if row is None else row[0]

    # --- writes ------------------------------------------------------------------------------------------------
    def _values(self, table: Table, body: Mapping[str, Any], *, creating: bool, check_writable: bool = True
                ) -> dict[str, Any]:
        """The SQL column values of a JSON body (lookups bound, types checked)."""
        if not isinstance(body, Mapping):
            raise ODataError(400, CODES["syntax"], "the request body must be a JSON object of column values")
        values: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@"):
                continue  # annotations (@odata.type) carry nothing to store
            if name.lower().endswith(_BIND):
                column = self._bound_column(table, name[: -len(_BIND)])
                values[column.sql] = self._bound_id(column, value)
                continue
            column = table.column(name)
            if column is table.primary:
                continue  # an id in the body: the URL (or the new row) decides
            if check_writable and not column.writable:
                writable = [c.name for c in table.columns if c.writable]
                raise ODataError(400, CODES["read_only"], f"{table.logical}.{column.name} cannot be set here; the "
                                 f"columns a client writes: {', '.join(writable) or 'none'}")
            values[column.sql] = _checked(table, column, value)
        return values

    def _bound_column(self, table: Table, navigation: str) -> Column:
        for column in table.columns:
            if column.bind and column.bind.lower() == navigation.lower():
                return column
        binds = [f"{c.bind}@odata.bind" for c in table.columns if c.bind]
        raise ODataError(400, CODES["attribute"], f"{table.logical} has no lookup {navigation!r}; its lookups: "
                         f"{', '.join(binds) or 'none'}")

    def _bound_id(self, column: Column, reference: Any) -> Any:
        target = self.tables[column.target or ""]
        text = str(reference).strip()
        entity_set, _, rest = text.rpartition("/")[2].partition("(")
        guid = rest.rstrip(")")
        accepted = {name for name, t in self.tables.items() if t.sql_table == target.sql_table and t.tag == target.tag}
        if entity_set not in accepted or not GUID.fullmatch(guid):
            raise ODataError(400, CODES["syntax"], f"{column.bind}@odata.bind = {reference!r}: expected "
                             f"\"/{target.entity_set}(<id>)\"")
        stored = target.stored_id(guid)
        with self._lock:
            found = self._db.execute(f"SELECT 1 FROM {target.sql_table} WHERE {target.primary.sql} = ?",
                                     (stored,)).fetchone()
        if found is None:
            raise target.missing(guid)
        return stored

    def create(self, table: Table, body: Mapping[str, Any], now_s: float) -> Any:
        """Insert a row; its stored id."""
        values = self._values(table, body, creating=True)
        return self._insert(table, values, now_s)

    def create_with_id(self, table: Table, stored_id: Any, body: Mapping[str, Any], now_s: float) -> Any:
        """Insert a row under the id an upsert named."""
        values = self._values(table, body, creating=True)
        values[table.primary.sql] = stored_id
        return self._insert(table, values, now_s)

    def _insert(self, table: Table, values: dict[str, Any], now_s: float) -> Any:
        row = {**dict(table.defaults), **values}
        if table.derive is not None:
            row.setdefault("first_name", "")
            row.setdefault("last_name", "")
            row.setdefault("email", "")
            row.update(table.derive(row))
        for column in table.columns:
            if column.sql in _NOW_COLUMNS:
                row.setdefault(column.sql, now_s)
        names = list(row)
        with self.transaction():
            cursor = self._execute(table, f"INSERT INTO {table.sql_table} ({', '.join(names)}) VALUES "
                                          f"({', '.join('?' for _ in names)})", [row[n] for n in names])
        return cursor.lastrowid

    def update(self, table: Table, stored_id: Any, body: Mapping[str, Any], now_s: float) -> bool:
        """Change a row's columns; False when there is no such row."""
        values = self._values(table, body, creating=False)
        with self.transaction():
            if table.derive is not None:
                current = self._db.execute(f"SELECT email, first_name, last_name FROM {table.sql_table} WHERE "
                                           f"{self._scope(table)} AND id = ?", (stored_id,)).fetchone()
                if current is None:
                    return False
                merged = {**dict(zip(("email", "first_name", "last_name"), current, strict=True)), **values}
                values = {**values, **table.derive(merged)}
            if "updated_s" in {c.sql for c in table.columns}:
                values["updated_s"] = now_s
            if not values:
                return self.get(table, stored_id) is not None
            cursor = self._execute(table, f"UPDATE {table.sql_table} SET {', '.join(f'{n} = ?' for n in values)} "
                                          f"WHERE {self._scope(table)} AND {table.primary.sql} = ?",
                                   [*values.values(), stored_id])
            return cursor.rowcount > 0

    def delete(self, table: Table, stored_id: Any) -> bool:
        """Delete a row, and the rows that belong to it (a contact's registrations, session registrations and
        waitlist items; an event registration's session registrations), as Dataverse's parental relationships
        cascade (an assumption for these tables)."""
        with self.transaction():
            for statement in _CASCADE.get(table.sql_table, ()):
                self._db.execute(statement, (stored_id,))
            cursor = self._execute(table, f"DELETE FROM {table.sql_table} WHERE {self._scope(table)} AND "
                                          f"{table.primary.sql} = ?", [stored_id])
        return cursor.rowcount > 0

    def _execute(self, table: Table, sql: str, params: list[Any]) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            text = str(exc)
            if text.startswith("UNIQUE"):
                raise ODataError(412, CODES["duplicate"], "A record with matching key values already exists. "
                                 f"({table.logical}: {_columns_named(table, text)})") from None
            if text.startswith("NOT NULL"):
                raise ODataError(400, CODES["read_only"], f"{table.logical}: a value is required for "
                                 f"{_columns_named(table, text)}") from None
            raise ODataError(400, CODES["read_only"], f"{table.logical}: {text}") from None


def _columns_named(table: Table, message: str) -> str:
    """The Dataverse columns an SQLite constraint message names (``UNIQUE constraint failed: t.a, t.b``)."""
    names = []
    for part in message.partition(":")[2].split(","):
        sql = part.strip().rpartition(".")[2]
        match = next((c for c in table.columns if c.sql == sql), None)
        names.append(match.name if match else ("the matching rule's key" if sql == "person_key" else sql))
    return ", ".join(names)


def _checked(table: Table, column: Column, value: Any) -> Any:
    kind = column.kind
    ok = (value is None
          or (kind == "text" and isinstance(value, str))
          or (kind == "int" and isinstance(value, int) and not isinstance(value, bool))
          or (kind == "float" and isinstance(value, int | float) and not isinstance(value, bool))
          or (kind == "guid" and isinstance(value, str) and GUID.fullmatch(value) is not None))
    if not ok:
        expected = {"text": "text", "int": "a whole number", "float": "a number", "guid": "a GUID"}.get(kind, kind)
        raise ODataError(400, CODES["syntax"], f"{table.logical}.{column.name} = {value!r}: expected {expected}")
    return value.lower() if kind == "guid" and value is not None else value


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
