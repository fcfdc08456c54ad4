"""Support for the conformance tests: an app without its lifespan, a deliberately broken server, a socket server.

``sabotaged(app)`` breaks a correct mock in four documented ways, each a different check's job:

    GET  …/events/published      maxCapacity "lots" (a string, not an integer)    response_schema_conformance
    GET  …/sessions/{sessionId}  no "name" (a required field missing)            response_schema_conformance
    POST …/registrations         429 without Retry-After                          retry_after_on_429
    POST …/checkins              500 on a body that is not a check-in             not_a_server_error
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NoLifespan", "sabotaged", "SABOTAGE", "serving"]

#: (operation label fragment, check that must catch it)
SABOTAGE: tuple[tuple[str, str], ...] = (
    ("GET …/events/published", "response_schema_conformance"),
    ("GET …/sessions/{sessionId}", "response_schema_conformance"),
    ("POST …/events/{readableEventId}/registrations", "retry_after_on_429"),
    ("POST …/checkins", "not_a_server_error"),
)
_SESSION = re.compile(r"/eventmanagement/sessions/[^/]+$")
_REGISTER = re.compile(r"/eventmanagement/events/[^/]+/registrations$")


class NoLifespan:
    """The app for a client that would start its lifespan itself (Schemathesis does): the test owns it instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    content = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": content})


def sabotaged(app: ASGIApp) -> ASGIApp:
    """``app`` with the four faults above."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and _REGISTER.search(path):
            await _answer(send, 429, {"statusCode": 429, "type": "TooManyRequests", "errorMessage": "slow down",
                                      "Message": "slow down", "field": None, "errors": None, "correlationId": "x"})
            return
        if method == "POST" and path.endswith("/eventmanagement/checkins"):
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
            try:
                registration_id = json.loads(body).get("registrationId")
            except (ValueError, AttributeError):
                registration_id = None
            if not isinstance(registration_id, str):
                await _answer(send, 500, {"error": "Traceback (most recent call last): KeyError 'registrationId'"})
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return {"type": "http.disconnect"}
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await app(scope, replay, send)
            return
        if method == "GET" and (path.endswith("/events/published") or _SESSION.search(path)):
            await _rewrite_json(app, scope, receive, send, published=path.endswith("/events/published"))
            return
        await app(scope, receive, send)

    return broken


async def _rewrite_json(app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, published: bool) -> None:
    start: Message = {}
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    body = b"".join(chunks)
    if start.get("status") == 200:
        document = json.loads(body)
        if published and document:
            document[0]["maxCapacity"] = "lots"
        elif not published:
            document.pop("name", None)
        body = json.dumps(document).encode()
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def serving(app: ASGIApp, timeout_s: float = 10.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yields its base URL; stops on exit."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="conformance-fixture-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the fixture server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
