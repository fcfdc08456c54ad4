"""Catalog pages with holes: pre-rendered bytes, filled per request with what only the request or the live
model knows.

Two things in a catalog page are not static:

- **absolute URLs** (a speaker's ``imageUrl``, an event's ``image``): portals put them straight into
  ``<img src>`` from another origin, so they must name this server's host — which is the request's ``Host``
  (a server bound to port 0, or reached through a proxy, knows it no sooner);
- **live counts**: ``Session.registrationCount`` is the session's created registrations, which Microsoft's
  sample portal uses to show a full session and to set ``attendeeSessions[].waitlisted``; a pass's
  ``numberOfPassesLeft`` and ``numberOfPassesSold``, which it uses to offer the pass or show "Sold out".

A page is rendered once with markers (``HOST``, ``count_hole(session_id)``) and split into literal parts and
holes; ``render`` joins them with the request's host and the model's counts. A page without markers stays plain
bytes. The marker is a private-use code point that no catalog text contains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Scope

__all__ = ["HOST", "LivePage", "Page", "count_hole", "pass_hole", "compile_page", "render", "request_host",
           "PASSES_LEFT", "PASSES_SOLD"]

_MARK = "\ue000"
_MARK_BYTES = _MARK.encode()
HOST = f"{_MARK}H{_MARK}"  # the request's scheme://host[:port]


def count_hole(session_id: str) -> str:
    """The marker that becomes ``session_id``'s created registrations (a JSON number, the quotes dropped)."""
    return f"{_MARK}C{session_id}{_MARK}"


PASSES_LEFT = "left:"  # count-hole keys of a pass's live numbers (``pass_hole``), beside session ids
PASSES_SOLD = "sold:"


def pass_hole(number: str, pass_id: str) -> str:
    """The marker that becomes a pass's live ``number`` (``PASSES_LEFT`` or ``PASSES_SOLD``): a count hole whose
    key says which."""
    return count_hole(number + pass_id)


@dataclass(frozen=True, slots=True)
class LivePage:
    """Literal ``parts`` with a hole between each two: ``("H", "")`` the host, ``("C", session_id)`` a count."""

    parts: tuple[bytes, ...]
    holes: tuple[tuple[str, str], ...]


Page = bytes | LivePage


def compile_page(content: bytes) -> Page:
    """``content`` split at its markers, or ``content`` itself when it has none."""
    if _MARK_BYTES not in content:
        return content
    pieces = content.split(_MARK_BYTES)
    parts: list[bytes] = [pieces[0]]
    holes: list[tuple[str, str]] = []
    for index in range(1, len(pieces), 2):
        hole, after = pieces[index].decode(), pieces[index + 1]
        kind, key = hole[0], hole[1:]
        if kind == "C":  # a count stands where a string was rendered: drop the quotes around it
            parts[-1] = parts[-1].removesuffix(b'"')
            after = after.removeprefix(b'"')
        holes.append((kind, key))
        parts.append(after)
    return LivePage(tuple(parts), tuple(holes))


def render(page: Page, host: bytes, count: Callable[[str], int | None] | None) -> bytes:
    """The page's bytes for a request to ``host`` (``b"http://127.0.0.1:8000"``), with ``count(key)`` in each
    count hole (a session id, or a pass's ``pass_hole`` key; None renders ``null``)."""
    if isinstance(page, bytes):
        return page
    out = [page.parts[0]]
    for (kind, key), after in zip(page.holes, page.parts[1:], strict=True):
        if kind == "H":
            out.append(host)
        else:
            value = count(key) if count is not None else None
            out.append(b"null" if value is None else str(int(value)).encode())
        out.append(after)
    return b"".join(out)


def request_host(scope: Scope) -> bytes:
    """``scheme://host`` the caller used: the ``Host`` header, else the server's address."""
    scheme = str(scope.get("scheme", "http")).encode()
    for key, value in scope.get("headers", ()):
        if key == b"host":
            return scheme + b"://" + bytes(value)
    server = scope.get("server")
    if server:
        host, port = server
        return scheme + b"://" + f"{host}:{port}".encode()
    return scheme + b"://localhost"
