"""``DataverseFace``: the ASGI app behind ``/api/data/v9.2/`` — auth, service protection, then the operation.

Per request: the bearer token names the app user (401 without one); the ``ARRAffinity`` cookie picks the web
server; the request is parsed into an operation (a bad one still costs one request, as at Dataverse); service
protection admits its calls or answers 429 (``protection.py``); the operation runs on the store in a worker
thread. Every answer carries the rate-limit headers, ``OData-Version: 4.0`` and the affinity cookie. A failure
anywhere answers Dataverse's error shape, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from starlette.types import Message, Receive, Scope, Send

from simulator.server.dataverse_api.batch import plan_batch
from simulator.server.dataverse_api.errors import CODES, ODataError, error_json
from simulator.server.dataverse_api.operations import API_PATH, Answer, Context, Operation, plan
from simulator.server.dataverse_api.protection import READ, Protection, caller_name
from simulator.server.dataverse_api.records import Records
from simulator.server.dataverse_api.tables import Table

__all__ = ["DataverseFace", "MAX_BODY_BYTES"]

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 32 * 1024 * 1024  # a $batch or CreateMultiple of 1,000 records fits many times over


class DataverseFace:
    """The Dataverse Web API subset over the live model's store, protected by the live model's limits."""

    def __init__(self, *, records: Callable[[], Records], protection: Protection, tables: Mapping[str, Table],
                 org_id: str, now_s: Callable[[], float], dop_hint: int) -> None:
        self._records = records
        self._opened: Records | None = None
        self.protection = protection
        self.tables = tables
        self.org_id = org_id
        self.now_s = now_s
        self.dop_hint = dop_hint

    def records(self) -> Records:
        if self._opened is None:
            self._opened = self._records()
        return self._opened

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        server = self.protection.server_for(headers.get("cookie"))
        extra: list[tuple[bytes, bytes]] = [(b"set-cookie", self.protection.cookie(server))]
        try:
            answer = await self._answer(scope, receive, headers, server, extra)
        except ODataError as exc:
            answer = Answer(exc.status, [("Content-Type", "application/json; odata.metadata=minimal")], exc.body())
        except Exception:  # a bug, not the client's fault: Dataverse's shape, no traceback (logged here)
            logger.exception("Dataverse face: %s %s failed", scope["method"], scope["path"])
            answer = Answer(500, [("Content-Type", "application/json")],
                            error_json(CODES["syntax"], "the face failed to answer this request (see the server log)"))
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        raw += [(b"odata-version", b"4.0"), (b"content-length", str(len(answer.body)).encode()), *extra]
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        await send({"type": "http.response.body", "body": answer.body})

    async def _answer(self, scope: Scope, receive: Receive, headers: Mapping[str, str], server: int,
                      extra: list[tuple[bytes, bytes]]) -> Answer:
        user = caller_name(headers.get("authorization"), self.protection.tokens)
        body = await _read_body(receive)
        path = scope["path"].split(API_PATH, 1)[1] if API_PATH in scope["path"] else ""
        query = scope.get("query_string", b"").decode("latin-1")
        scheme = scope.get("scheme", "http")
        host = headers.get("host", "localhost")
        context = Context(self.tables, f"{scheme}://{host}{API_PATH}", user, self.org_id, self.now_s)
        refusal: ODataError | None = None
        try:
            operation = self._plan(context, scope["method"], path, query, headers, body)
        except ODataError as exc:  # still one request to Dataverse, then the error
            refusal, operation = exc, Operation([READ], _never)
        admitted = await self.protection.admit(user, server, operation.calls)
        extra.extend(admitted.headers(self.dop_hint))
        error = admitted.error() or refusal
        if error is not None:
            raise error
        records = self.records()
        return await asyncio.to_thread(operation.run, records)

    def _plan(self, context: Context, method: str, path: str, query: str, headers: Mapping[str, str],
              body: bytes) -> Operation:
        if path == "$batch":
            if method != "POST":
                raise ODataError(405, CODES["syntax"], "$batch takes POST")
            return plan_batch(context, headers.get("content-type", ""), headers, body, plan)
        return plan(context, method, path, query, headers, body)


def _never(_records: Records) -> Answer:
    raise AssertionError("a refused operation never runs")


async def _read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ODataError(400, CODES["syntax"], "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ODataError(413, CODES["syntax"], f"the request body exceeds {MAX_BODY_BYTES:,} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
