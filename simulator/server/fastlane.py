"""A fast lane for the static catalog: answer ``GET`` of a pre-rendered page straight from a dict.

The catalog is static per scenario, so its pages are bytes made once; routing them through FastAPI's
request handling cost several times the work of sending them (benchmarks/api.py). This ASGI middleware sits
inside the gate (token, origin and CORS rules still apply) and in front of FastAPI, and answers exactly the
paths the FastAPI routes would answer with those same bytes; everything else — and the OpenAPI description of
these operations — stays with FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from simulator.catalog import Catalog
from simulator.server.pages import Pages

__all__ = ["StaticPages", "static_table", "browsed_pages"]

_JSON = b"application/json"


def static_table(base_path: str, pages: Pages) -> dict[str, bytes]:
    """``{path: body}`` of every JSON catalog page under ``base_path`` (…/eventmanagement/)."""
    table = {f"{base_path}events/published": pages.published, f"{base_path}users/authenticated":
             pages.anonymous_user}
    per_event = {"": pages.event, "/sessions": pages.sessions, "/tracks": pages.tracks, "/passes": pages.passes,
                 "/speakers": pages.speakers, "/sponsorships": pages.sponsorships,
                 "/custom-registration-fields": pages.custom_fields}
    for suffix, by_event in per_event.items():
        for readable_id, body in by_event.items():
            table[f"{base_path}events/{readable_id}{suffix}"] = body
    for session_id, body in pages.session.items():
        table[f"{base_path}sessions/{session_id}"] = body
    return table


def browsed_pages(base_path: str, catalog: Catalog) -> dict[str, tuple[str, str]]:
    """``{path: read-cache key}`` of the pages the simulator's visitors browse (``plan.browse_keys``)."""
    keys = {f"{base_path}events/published": ("published", "")}
    for event in (*catalog.events, *catalog.drafts):
        for suffix, kind in (("", "event"), ("/sessions", "sessions"), ("/speakers", "speakers"),
                             ("/sponsorships", "sponsorships")):
            keys[f"{base_path}events/{event.readable_id}{suffix}"] = (kind, event.id)
    return keys


class StaticPages:
    """Serve ``table`` for GET; pass everything else on. With ``charge``, a page listed in ``browsed`` is also
    charged to the model's read cache (``PageReads.page_loaded``), as the routes do."""

    def __init__(self, app: ASGIApp, *, table: dict[str, bytes],
                 charge: Callable[[tuple[str, str]], None] | None = None,
                 browsed: dict[str, tuple[str, str]] | None = None) -> None:
        self.app = app
        self.table = table
        self.charge = charge
        self.browsed = browsed or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            body = self.table.get(scope["path"])
            if body is not None:
                if self.charge is not None and (key := self.browsed.get(scope["path"])) is not None:
                    self.charge(key)
                await send({"type": "http.response.start", "status": 200, "headers": [
                    (b"content-length", str(len(body)).encode()), (b"content-type", _JSON)]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
