"""The tables the face serves: each Dataverse entity set over the store's SQLite table the event API writes.

One definition per table names its columns once — the Dataverse column, the SQL column or expression behind it,
its kind — and everything else (``$select``, ``$filter``, ``$orderby``, writes, ``EntityDefinitions``) is derived
from it. Columns are the ones the event API writes (``store.py``), under Dataverse's logical names where the
reference gives them (reference §4.1); a lookup reads as ``_<name>_value`` and is written with
``<Name>@odata.bind: "/<entity set>(<id>)"``.

Ids. The store numbers its rows; Dataverse ids are GUIDs. Row *n* of a table is the GUID
``<tag:08x>-0000-4000-8000-<n:012x>`` (a tag per table), so an id is stable, reversible and never reused across
tables. Catalog events and sessions, and purchases, already have GUIDs.

Events, sessions, purchases, attendee passes and ``EntityDefinitions`` are read-only: the catalog and the payment
flow own them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator.consent import CONSENT_TABLE
from simulator.matching import normalize_email, person_key
from simulator.server.dataverse_api.errors import CODES, ODataError
from simulator.server.dataverse_api.odata import GUID, Field

__all__ = ["Column", "Table", "TABLES", "tables_for", "row_guid", "row_number", "Clock"]

_ROW_GUID = re.compile(r"([0-9a-f]{8})-0000-4000-8000-([0-9a-f]{12})")


def row_guid(tag: int, number: int) -> str:
    return f"{tag:08x}-0000-4000-8000-{number:012x}"


def row_number(tag: int, guid: str) -> int:
    """The row number of ``guid`` in the table tagged ``tag``; ValueError when it is not one of its ids."""
    match = _ROW_GUID.fullmatch(guid.strip().lower())
    if match is None or int(match.group(1), 16) != tag:
        raise ValueError("not an id of this table")
    return int(match.group(2), 16)


@dataclass(frozen=True)
class Clock:
    """Model seconds ↔ Dataverse date-times: model second ``s`` is ``epoch + (s - epoch_s) / time_scale`` on the
    wall clock (a record created now reads as created now)."""

    epoch: datetime
    epoch_s: float
    time_scale: float

    def text(self, seconds: float | None) -> str | None:
        if seconds is None:
            return None
        wall = self.epoch.timestamp() + (seconds - self.epoch_s) / self.time_scale
        return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def seconds(self, text: str) -> float:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return self.epoch_s + (moment.timestamp() - self.epoch.timestamp()) * self.time_scale


@dataclass(frozen=True)
class Column:
    """One column: ``name`` as Dataverse spells it, ``sql`` what holds it, ``kind`` one of id (the row's GUID),
    guid (a GUID kept as text), lookup (a row of ``target``), text, int, float, datetime (model seconds).
    ``writable``: a client may set it; ``bind``: a lookup's navigation property for ``@odata.bind``."""

    name: str
    sql: str
    kind: str = "text"
    writable: bool = False
    target: str | None = None
    bind: str | None = None


@dataclass(frozen=True)
class Table:
    entity_set: str
    logical: str
    sql_table: str
    columns: tuple[Column, ...]
    tag: int | None = None  # rows numbered by the store: GUIDs made from the number (see the module docstring)
    where: str = ""  # which rows of sql_table are this table's (contacts and leads share one)
    read_only: bool = False
    defaults: tuple[tuple[str, Any], ...] = ()  # SQL column values every new row gets
    alternate_key: tuple[str, ...] = ()  # Dataverse columns of the alternate key (upsert, (key='…') ids)
    derive: Callable[[dict[str, Any]], dict[str, Any]] | None = field(default=None, compare=False)
    primary_name: str = ""

    @property
    def primary(self) -> Column:
        return self.columns[0]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name.lower() or column.name == name:
                return column
        raise ODataError(400, CODES["attribute"], f"'{self.logical}' entity doesn't contain attribute with "
                         f"Name = '{name}'; its columns: {', '.join(c.name for c in self.columns)}")

    # --- values between JSON and SQL ---------------------------------------------------------------------------
    def stored_id(self, guid: str) -> Any:
        """The SQL primary-key value of ``guid`` (ODataError 404 for an id that cannot be this table's)."""
        if self.tag is None:
            if not GUID.fullmatch(guid):
                raise self.missing(guid)
            return guid.lower()
        try:
            return row_number(self.tag, guid)
        except ValueError:
            raise self.missing(guid) from None

    def missing(self, guid: str) -> ODataError:
        return ODataError(404, CODES["not_found"], f"{self.logical} With Id = {guid} Does Not Exist")

    def field(self, column: Column, clock: Clock, tables: dict[str, Table]) -> Field:
        """How ``$filter`` sees ``column``."""
        if column.kind == "id":
            return Field(column.sql, store=lambda v: self.stored_id(str(v)))
        if column.kind == "lookup":
            target = tables[column.target or ""]
            return Field(column.sql, store=lambda v: target.stored_id(str(v)))
        if column.kind == "datetime":
            return Field(column.sql, store=lambda v: clock.seconds(str(v)))
        if column.kind in ("int", "float"):
            return Field(column.sql, store=_number)
        if column.kind == "guid":
            return Field(column.sql, text=True, store=lambda v: str(v).lower())
        return Field(column.sql, text=True, store=str)

    def json_value(self, column: Column, value: Any, clock: Clock, tables: dict[str, Table]) -> Any:
        if value is None:
            return None
        if column.kind == "id" and self.tag is not None:
            return row_guid(self.tag, int(value))
        if column.kind == "lookup":
            target = tables[column.target or ""]
            return row_guid(target.tag, int(value)) if target.tag is not None else str(value)
        if column.kind == "datetime":
            return clock.text(float(value))
        return value


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    return value


def _created(prefix: str = "created_s") -> tuple[Column, ...]:
    return (Column("createdon", prefix, "datetime"),)


def _people(matching: str, audience: str, entity_set: str, logical: str) -> Table:
    def derive(values: dict[str, Any]) -> dict[str, Any]:
        email = values.get("email") or ""
        return {"person_key": person_key(matching, email, values.get("first_name") or "",
                                         values.get("last_name") or ""), "email": normalize_email(email)}

    key = {"email": ("emailaddress1",), "email+name": ("emailaddress1", "firstname", "lastname")}.get(matching, ())
    return Table(
        entity_set, logical, "contacts",
        (Column(f"{logical}id", "id", "id"),
         Column("emailaddress1", "email", writable=True),
         Column("firstname", "first_name", writable=True),
         Column("lastname", "last_name", writable=True),
         Column("fullname", "trim(first_name || ' ' || last_name)"),
         Column("createdon", "created_s", "datetime"),
         Column("modifiedon", "updated_s", "datetime")),
        tag=1, where=f"audience = '{audience}'", defaults=(("audience", audience),), alternate_key=key,
        derive=derive, primary_name="fullname",
    )


def _registration_lookups() -> tuple[Column, ...]:
    return (Column("_msevtmgt_contactid_value", "contact_id", "lookup", True, "contacts", "msevtmgt_ContactId"),
            Column("_msevtmgt_eventid_value", "event_id", "lookup", True, "msevtmgt_events", "msevtmgt_EventId"))


def tables_for(matching: str) -> dict[str, Table]:
    """Every table the face serves, by entity set, for a store whose people are matched under ``matching``."""
    tables = [
        _people(matching, "contact", "contacts", "contact"),
        _people(matching, "lead", "leads", "lead"),
        Table("msevtmgt_eventregistrations", "msevtmgt_eventregistration", "event_registrations",
              (Column("msevtmgt_eventregistrationid", "id", "id"), *_registration_lookups(),
               Column("_msevtmgt_passid_value", "pass_id", "guid"),
               Column("msevtmgt_responses", "responses", writable=True), *_created()),
              tag=2, defaults=(("responses", "[]"), ("submission_id", "")),
              primary_name="msevtmgt_eventregistrationid"),
        Table("msevtmgt_sessionregistrations", "msevtmgt_sessionregistration", "session_registrations",
              (Column("msevtmgt_sessionregistrationid", "id", "id"), *_registration_lookups(),
               Column("_msevtmgt_sessionid_value", "session_id", "lookup", True, "msevtmgt_sessions",
                      "msevtmgt_SessionId"),
               Column("_msevtmgt_registrationid_value", "event_registration_id", "lookup", True,
                      "msevtmgt_eventregistrations", "msevtmgt_RegistrationId"), *_created()),
              tag=3, defaults=(("submission_id", ""),), primary_name="msevtmgt_sessionregistrationid"),
        Table("msevtmgt_waitlistitems", "msevtmgt_waitlistitem", "waitlist_items",
              (Column("msevtmgt_waitlistitemid", "id", "id"), *_registration_lookups(),
               Column("msevtmgt_sessionid", "session_id", "guid", writable=True), *_created()),
              tag=4, defaults=(("submission_id", ""), ("session_id", "")), primary_name="msevtmgt_waitlistitemid"),
        Table(f"{CONSENT_TABLE}s", CONSENT_TABLE, "consents",
              (Column(f"{CONSENT_TABLE}id", "id", "id"),
               Column("msdynmkt_contactpointvalue", "contact_point", writable=True),
               Column("msdynmkt_purposeid", "purpose_id", "guid", writable=True),
               Column("msdynmkt_value", "opted_in", "int", writable=True),
               Column("modifiedon", "updated_s", "datetime")),
              tag=5, defaults=(("submission_id", ""),),
              alternate_key=("msdynmkt_contactpointvalue", "msdynmkt_purposeid"),
              primary_name="msdynmkt_contactpointvalue"),
        Table("msevtmgt_eventpurchases", "msevtmgt_eventpurchase", "purchases",
              (Column("msevtmgt_eventpurchaseid", "id", "id"),
               Column("_msevtmgt_event_value", "event_id", "lookup", target="msevtmgt_events"),
               Column("msevtmgt_state", "state"),
               Column("createdon", "held_s", "datetime"),
               Column("msevtmgt_expireson", "expires_s", "datetime"),
               Column("modifiedon", "settled_s", "datetime")),
              read_only=True, primary_name="msevtmgt_eventpurchaseid"),
        Table("msevtmgt_attendeepasses", "msevtmgt_attendeepass", "event_registrations",
              (Column("msevtmgt_attendeepassid", "id", "id"),
               Column("_msevtmgt_passid_value", "pass_id", "guid"),
               Column("_msevtmgt_eventregistrationid_value", "id", "lookup", target="msevtmgt_eventregistrations"),
               Column("_msevtmgt_contactid_value", "contact_id", "lookup", target="contacts"),
               Column("_msevtmgt_eventid_value", "event_id", "lookup", target="msevtmgt_events"), *_created()),
              tag=6, where="pass_id IS NOT NULL", read_only=True, primary_name="msevtmgt_attendeepassid"),
        Table("msevtmgt_events", "msevtmgt_event", "catalog.events",
              (Column("msevtmgt_eventid", "id", "id"), Column("msevtmgt_name", "name"),
               Column("msevtmgt_readableeventid", "readable_id"),
               Column("msevtmgt_maximumeventcapacity", "capacity", "int"),
               Column("msevtmgt_eventstartdate", "start"), Column("msevtmgt_eventenddate", "end_")),
              read_only=True, primary_name="msevtmgt_name"),
        Table("msevtmgt_sessions", "msevtmgt_session", "catalog.sessions",
              (Column("msevtmgt_sessionid", "id", "id"), Column("msevtmgt_name", "name"),
               Column("_msevtmgt_event_value", "event_id", "lookup", target="msevtmgt_events"),
               Column("msevtmgt_maxcapacity", "capacity", "int"),
               Column("msevtmgt_starttime", "start"), Column("msevtmgt_endtime", "end_")),
              read_only=True, primary_name="msevtmgt_name"),
    ]
    by_set = {table.entity_set: table for table in tables}
    by_set["EntityDefinitions"] = Table(
        "EntityDefinitions", "EntityMetadata", "catalog.entity_definitions",
        (Column("MetadataId", "id", "id"), Column("LogicalName", "logical_name"),
         Column("EntitySetName", "entity_set"), Column("SchemaName", "logical_name"),
         Column("PrimaryIdAttribute", "primary_id"), Column("PrimaryNameAttribute", "primary_name")),
        read_only=True, primary_name="LogicalName")
    return by_set


#: The tables a face serves under the default matching rule (for the docs and the checks).
TABLES = tables_for("email")
