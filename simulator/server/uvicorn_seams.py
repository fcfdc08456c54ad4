"""What ``stampede serve`` reaches inside uvicorn (tested with uvicorn 0.55.0): a read timeout for a request's
headers and body, which uvicorn does not have.

uvicorn's ``timeout_keep_alive`` covers only the idle time between requests, and any byte received resets it, so
a client that sends its headers or its body a byte at a time holds a connection for ever (2,000 such connections
were held for 75 s). ``http_protocol(read_timeout_s)`` is uvicorn's own HTTP protocol class (httptools where it
is installed, else h11 — uvicorn's "auto" choice) with a deadline: a request's headers and body must all arrive
within ``read_timeout_s`` of the connection opening or of the request's first byte; past it the connection is
closed. A handler that was still reading the body then sees the client gone (``ClientDisconnect``), which the
server counts as a client disconnect, not a failure. The deadline is off while the server answers (the app may
take its time) and between requests (``timeout_keep_alive`` governs that).

A request the HTTP parser refuses before the app sees it (conflicting ``Content-Length`` and
``Transfer-Encoding``, a request line of 100 KB, a bare LF, a header name with a space…) gets uvicorn's 400 with
an ``ErrorBody`` (``InvalidHttpRequest``) instead of its ``text/plain`` "Invalid HTTP request received.", and the
connection is closed, as uvicorn does: every 400 of the server is an ``ErrorBody``.

The seams: ``send_400_response`` (uvicorn's answer to a parser error), httptools' parser callbacks
``on_message_begin``/``on_message_complete``, h11's ``handle_events``
and ``conn.their_state``, and the protocol's ``transport`` and ``loop``. ``tests/test_library_seams.py`` keeps
them here and pyproject bounds uvicorn at the series tested.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # uvicorn[standard] brings httptools

from simulator.server.errors import ErrorType, error_bytes

__all__ = ["http_protocol", "h11_protocol", "http_refusal", "HTTP_REFUSAL"]
_RECEIVED = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.SWITCHED_PROTOCOL)  # h11: the request is all in


#: What a request the HTTP parser refused is told (one line, with what to do).
HTTP_REFUSAL = ("the request is not HTTP/1.1 the server can read (conflicting Content-Length and "
                "Transfer-Encoding, a request line or headers too long, a bare LF, a bad header): send a "
                "well-formed request")


def http_refusal() -> bytes:
    """The whole 400 answer to a request the parser refused: an ``ErrorBody``, and the connection closes."""
    error = ErrorType.INVALID_HTTP_REQUEST
    body = error_bytes(error.status, error.type, HTTP_REFUSAL)
    head = (f"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n")
    return head.encode("ascii") + body


class _Deadline:
    """The read deadline of one connection (``arm`` at most once until ``disarm``)."""

    def __init__(self, protocol: Any, timeout_s: float) -> None:
        self.protocol = protocol
        self.timeout_s = timeout_s
        self.timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        if self.timer is None:
            self.timer = self.protocol.loop.call_later(self.timeout_s, self._expired)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expired(self) -> None:
        self.timer = None
        transport = self.protocol.transport
        if not transport.is_closing():
            transport.close()  # the handler reading the body, if any, hears http.disconnect


class _ReadDeadline:
    """What both protocols add (a mixin before uvicorn's class): the deadline armed as a connection opens, let
    go as it closes, and the parser's 400 as an ``ErrorBody``. ``read_timeout_s`` is set by the factories."""

    read_timeout_s: float
    transport: Any  # uvicorn's: an asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.read_deadline = _Deadline(self, self.read_timeout_s)
        self.read_deadline.arm()  # the first request must come within the timeout too

    def connection_lost(self, exc: Exception | None) -> None:
        self.read_deadline.disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        self.transport.write(http_refusal())
        self.transport.close()


def http_protocol(read_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol closing a connection whose request's headers and body
    take longer than ``read_timeout_s`` to arrive; pass it as ``uvicorn.Config(http=...)``."""
    if read_timeout_s <= 0:
        raise ValueError(f"read_timeout_s must be above 0, not {read_timeout_s}")

    class ReadTimeoutHttpTools(_ReadDeadline, HttpToolsProtocol):
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.read_deadline.arm()

        def on_message_complete(self) -> None:
            self.read_deadline.disarm()
            super().on_message_complete()

    ReadTimeoutHttpTools.read_timeout_s = read_timeout_s
    return ReadTimeoutHttpTools


def h11_protocol(read_timeout_s: float) -> type[asyncio.Protocol]:
    """The same deadline on uvicorn's h11 protocol (``uvicorn.Config(http=...)`` with h11)."""
    if read_timeout_s <= 0:
        raise ValueError(f"read_timeout_s must be above 0, not {read_timeout_s}")

    class ReadTimeoutH11(_ReadDeadline, H11Protocol):
        def data_received(self, data: bytes) -> None:
            if self.conn.their_state not in _RECEIVED:  # a request (or its first bytes) is coming
                self.read_deadline.arm()
            super().data_received(data)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state in _RECEIVED:
                self.read_deadline.disarm()

    ReadTimeoutH11.read_timeout_s = read_timeout_s
    return ReadTimeoutH11
