"""One Web API request → an ``Operation``: the Dataverse calls it costs and the work it does on the rows.

Parsing is pure and quick (the event loop does it); ``Operation.run`` is blocking SQLite work (a worker thread
runs it, after service protection admitted the calls). ``$batch`` parts become operations the same way
(``batch.py``). The subset, with what answers outside it, is the table in docs/dataverse-client.md.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from simulator.plan import Call
from simulator.server.dataverse_api.errors import CODES, ODataError, not_supported
from simulator.server.dataverse_api.odata import GUID, parse_key, parse_orderby, parse_select, parse_top
from simulator.server.dataverse_api.protection import READ, WRITE
from simulator.server.dataverse_api.records import Query, Records
from simulator.server.dataverse_api.tables import Table, row_guid, row_number

__all__ = ["Answer", "Operation", "Context", "plan", "API_PATH"]

API_PATH = "/api/data/v9.2/"
_SAFE = "$'(),@"  # a nextLink keeps $skiptoken and filter literals readable, as Dataverse's do
MAX_PAGE = 5000  # Dataverse's page size when the client sets none (odata.maxpagesize)
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_$][\w.]*)(?:\((?P<key>.*?)\))?(?:/(?P<rest>.*))?$")
_QUERY_OPTIONS = {"$select", "$filter", "$orderby", "$top", "$skiptoken", "$count"}
_SUPPORTED_OPTIONS = "$select, $filter, $orderby, $top, $count and @odata.nextLink paging"
_ACTIONS = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")
_SUPPORTED_PATHS = ("WhoAmI, $batch, EntityDefinitions, and on each table: GET, POST, GET/PATCH/DELETE by id or "
                    "alternate key, CreateMultiple, UpdateMultiple, UpsertMultiple")


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, content: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
        return cls(status, [("Content-Type", "application/json; odata.metadata=minimal"), *(headers or [])],
                   json.dumps(content, separators=(",", ":")).encode())


@dataclass(frozen=True)
class Context:
    """What every operation needs to know of the server: its tables, its absolute API URL, the caller."""

    tables: Mapping[str, Table]
    api_url: str  # e.g. https://127.0.0.1:8443/api/data/v9.2/
    user: str
    org_id: str
    now_s: Callable[[], float]


@dataclass
class Operation:
    calls: list[Call]
    run: Callable[[Records], Answer]


def _entity_id(context: Context, table: Table, guid: str) -> list[tuple[str, str]]:
    return [("OData-EntityId", f"{context.api_url}{table.entity_set}({guid})")]


def _guid(table: Table, stored: Any) -> str:
    return row_guid(table.tag, int(stored)) if table.tag is not None else str(stored)


def _prefers(headers: Mapping[str, str], what: str) -> bool:
    return what in headers.get("prefer", "").replace(" ", "").lower().split(",")


def _page_size(headers: Mapping[str, str]) -> int:
    for part in headers.get("prefer", "").replace(" ", "").split(","):
        name, _, value = part.partition("=")
        if name.lower() == "odata.maxpagesize" and value.isdigit() and int(value) > 0:
            return min(int(value), MAX_PAGE)
    return MAX_PAGE


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ODataError(400, CODES["syntax"], "the request body is not JSON; send the record's columns as a "
                         "JSON object, e.g. {\"firstname\": \"Ada\"}") from None


def plan(context: Context, method: str, path: str, query_string: str, headers: Mapping[str, str], body: bytes
         ) -> Operation:
    """The operation for ``method`` on ``path`` (below ``API_PATH``); ODataError for anything outside the subset."""
    query = {name: values[-1] for name, values in parse_qs(query_string, keep_blank_values=True).items()}
    if path in ("WhoAmI", "WhoAmI()"):
        if method != "GET":
            raise ODataError(405, CODES["syntax"], "WhoAmI is a function: GET it")
        user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"stampede-app-user:{context.user}"))
        content = {"@odata.context": f"{context.api_url}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                   "BusinessUnitId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"stampede-bu:{context.org_id}")),
                   "UserId": user_id, "OrganizationId": context.org_id}
        return Operation([READ], lambda records: Answer.json(200, content))
    match = _SEGMENT.match(path)
    if match is None or match.group("name") not in context.tables:
        segment = path.split("/")[0].split("(")[0]
        if segment.startswith("$"):
            raise not_supported(f"{segment}", _SUPPORTED_PATHS)
        raise ODataError(404, CODES["syntax"], f"Resource not found for the segment '{segment}'. The face serves "
                         f"{', '.join(sorted(context.tables))}")
    table = context.tables[match.group("name")]
    key, rest = match.group("key"), match.group("rest")
    if table.entity_set == "EntityDefinitions" and key is not None and rest:
        if not rest.startswith("Attributes"):
            raise not_supported(f"EntityDefinitions(…)/{rest}", "EntityDefinitions and its Attributes (empty)")
        return Operation([READ], lambda records: Answer.json(200, {"value": []}))  # no picklists to label
    unknown = sorted(name for name in query if name.startswith("$") and name not in _QUERY_OPTIONS)
    if unknown:
        raise not_supported(f"the query option {unknown[0]}", _SUPPORTED_OPTIONS)
    if rest is not None:
        action = rest.removeprefix("Microsoft.Dynamics.CRM.")
        if key is not None or action not in _ACTIONS:
            raise not_supported(f"{table.entity_set}/{rest}", _SUPPORTED_PATHS)
        if method != "POST":
            raise ODataError(405, CODES["syntax"], f"{action} is an action: POST it")
        return _multiple(context, table, action, _body(body))
    if key is None:
        if method == "GET":
            return _collection(context, table, query, headers)
        if method == "POST":
            return _create(context, table, _body(body), query, headers)
        raise ODataError(405, CODES["syntax"], f"{method} {table.entity_set}: a collection takes GET and POST")
    if method == "GET":
        return _read(context, table, key, query)
    if method == "PATCH":
        return _patch(context, table, key, _body(body), query, headers)
    if method == "DELETE":
        _writable(table)
        return Operation([WRITE], lambda records: _delete(records, table, key))
    raise ODataError(405, CODES["syntax"], f"{method} {table.entity_set}(…): a record takes GET, PATCH and DELETE")


def _writable(table: Table) -> None:
    if table.read_only:
        raise ODataError(405, CODES["read_only"], f"{table.entity_set} is read-only in Stampede's face (the scenario's "
                         "catalog, the payment flow and the metadata own it); the writable tables: contacts, leads, "
                         "msevtmgt_eventregistrations, msevtmgt_sessionregistrations, msevtmgt_waitlistitems, "
                         "msdynmkt_contactpointconsent4s")


def _stored(records: Records, table: Table, key: str) -> Any | None:
    """The stored id the URL's key names (GUID or alternate key), or None when no row has that alternate key."""
    parsed = parse_key(key)
    if isinstance(parsed, str):
        return table.stored_id(parsed)
    if table.entity_set == "EntityDefinitions" and set(parsed) == {"LogicalName"}:
        rows, _, _ = records.query(table, Query(filter_text=f"LogicalName eq '{parsed['LogicalName']}'", top=1))
        return rows[0]["MetadataId"].lower() if rows else None
    return records.find_by_key(table, parsed)


def _collection(context: Context, table: Table, query: Mapping[str, str], headers: Mapping[str, str]) -> Operation:
    select = parse_select(query.get("$select"))
    orderby = parse_orderby(query.get("$orderby"))
    top = parse_top(query.get("$top"))
    token = query.get("$skiptoken")
    if token is not None and not token.isdigit():
        raise ODataError(400, CODES["syntax"], f"$skiptoken={token!r}: use the @odata.nextLink as the face gave it")
    skip = int(token or 0)
    page = _page_size(headers)
    limit = page if top is None else min(page, max(0, top - skip))
    count = query.get("$count", "false").lower() == "true"
    wanted = Query(select, query.get("$filter"), orderby, limit, skip)

    def run(records: Records) -> Answer:
        rows, more, total = records.query(table, wanted, count=count)
        selection = f"({','.join(select)})" if select else ""
        content: dict[str, Any] = {"@odata.context": f"{context.api_url}$metadata#{table.entity_set}{selection}"}
        if total is not None:
            content["@odata.count"] = total
        content["value"] = rows
        reached_top = top is not None and skip + len(rows) >= top
        if more and not reached_top:
            kept = {name: value for name, value in query.items() if name != "$skiptoken"}
            kept["$skiptoken"] = str(skip + len(rows))
            link = urlencode(kept, safe=_SAFE, quote_via=quote)
            content["@odata.nextLink"] = f"{context.api_url}{table.entity_set}?{link}"
        return Answer.json(200, content)

    return Operation([READ], run)


def _read(context: Context, table: Table, key: str, query: Mapping[str, str]) -> Operation:
    select = parse_select(query.get("$select"))

    def run(records: Records) -> Answer:
        stored = _stored(records, table, key)
        row = None if stored is None else records.get(table, stored, select)
        if row is None:
            raise table.missing(key)
        return Answer.json(200, {"@odata.context": f"{context.api_url}$metadata#{table.entity_set}/$entity", **row})

    return Operation([READ], run)


def _represent(context: Context, records: Records, table: Table, stored: Any, status: int,
               query: Mapping[str, str], headers: Mapping[str, str]) -> Answer:
    guid = _guid(table, stored)
    if not _prefers(headers, "return=representation"):
        return Answer(204, _entity_id(context, table, guid))
    row = records.get(table, stored, parse_select(query.get("$select"))) or {}
    return Answer.json(status, {"@odata.context": f"{context.api_url}$metadata#{table.entity_set}/$entity", **row},
                       _entity_id(context, table, guid))


def _create(context: Context, table: Table, body: Any, query: Mapping[str, str], headers: Mapping[str, str]
            ) -> Operation:
    _writable(table)

    def run(records: Records) -> Answer:
        stored = records.create(table, body, context.now_s())
        return _represent(context, records, table, stored, 201, query, headers)

    return Operation([WRITE], run)


def _upsert(context: Context, records: Records, table: Table, key: str, body: Any, headers: Mapping[str, str]
            ) -> tuple[Any, bool]:
    """PATCH semantics: update the row the key names, or create it (``If-Match: *``: update only;
    ``If-None-Match: *``: create only). (stored id, created?)"""
    parsed = parse_key(key)
    stored = _stored(records, table, key)
    exists = stored is not None and records.get(table, stored) is not None
    if exists and headers.get("if-none-match") == "*":
        raise ODataError(412, CODES["duplicate"], "A record with matching key values already exists.")
    if exists:
        records.update(table, stored, body, context.now_s())
        return stored, False
    if headers.get("if-match") == "*":
        raise table.missing(key)
    if isinstance(parsed, dict):  # upsert by alternate key: the key's values are the new row's
        return records.create(table, {**body, **parsed}, context.now_s()), True
    if table.tag is not None:
        try:
            row_number(table.tag, parsed)
        except ValueError:
            raise ODataError(400, CODES["syntax"], f"{table.entity_set}({parsed}): the face numbers this table's "
                             "rows itself; create with POST, or upsert by the alternate key") from None
    return records.create_with_id(table, stored, body, context.now_s()), True


def _patch(context: Context, table: Table, key: str, body: Any, query: Mapping[str, str],
           headers: Mapping[str, str]) -> Operation:
    _writable(table)

    def run(records: Records) -> Answer:
        with records.transaction():
            stored, created = _upsert(context, records, table, key, body, headers)
            return _represent(context, records, table, stored, 201 if created else 200, query, headers)

    return Operation([WRITE], run)


def _delete(records: Records, table: Table, key: str) -> Answer:
    stored = _stored(records, table, key)
    if stored is None or not records.delete(table, stored):
        raise table.missing(key)
    return Answer(204)


def _multiple(context: Context, table: Table, action: str, body: Any) -> Operation:
    _writable(table)
    targets = body.get("Targets") if isinstance(body, dict) else None
    if not isinstance(targets, list) or not targets or not all(isinstance(t, dict) for t in targets):
        raise ODataError(400, CODES["syntax"], f"{action} takes {{\"Targets\": [{{…}}, …]}}: one object per record")
    if len(targets) > 1000:
        raise ODataError(400, CODES["syntax"], f"{action} takes at most 1,000 Targets; got {len(targets):,}")
    primary = table.primary.name

    def key_of(target: dict[str, Any]) -> str:
        if isinstance(target.get(primary), str) and GUID.fullmatch(target[primary]):
            return str(target[primary])
        reference = target.get("@odata.id")
        if isinstance(reference, str) and "(" in reference and reference.endswith(")"):
            return reference[reference.index("(") + 1:-1]
        raise ODataError(400, CODES["syntax"], f"{action}: each target needs {primary} (or, to upsert by the "
                         f"alternate key, \"@odata.id\": \"{table.entity_set}(<key>)\")")

    def run(records: Records) -> Answer:
        now_s = context.now_s()
        with records.transaction():  # all or nothing, as Dataverse's bulk messages are
            if action == "CreateMultiple":
                ids = [_guid(table, records.create(table, target, now_s)) for target in targets]
                return Answer.json(200, {"@odata.context": f"{context.api_url}$metadata#Microsoft.Dynamics.CRM."
                                         "CreateMultipleResponse", "Ids": ids})
            if action == "UpdateMultiple":
                for target in targets:
                    key = key_of(target)
                    if not records.update(table, table.stored_id(key), target, now_s):
                        raise table.missing(key)
                return Answer(204)
            ids = [_guid(table, _upsert(context, records, table, key_of(t), t, {})[0]) for t in targets]
            return Answer.json(200, {"@odata.context": f"{context.api_url}$metadata#Microsoft.Dynamics.CRM."
                                     "UpsertMultipleResponse", "Ids": ids})

    return Operation([WRITE] * len(targets), run)
