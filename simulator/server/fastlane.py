"""A fast lane for the static catalog: answer ``GET`` of a pre-rendered page straight from a dict.

The catalog is static per scenario, so its pages are bytes made once; routing them through FastAPI's
request handling cost several times the work of sending them (benchmarks/api.py). This ASGI middleware sits
inside the gate (token, origin and CORS rules still apply) and in front of FastAPI, and answers exactly the
paths the FastAPI routes would answer with those same bytes; everything else — and the OpenAPI description of
these operations — stays with FastAPI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from simulator.catalog import Catalog
from simulator.server.api import Registrations
from simulator.server.errors import ApiError, error_response
from simulator.server.livepages import Page, render, request_host
from simulator.server.pages import Pages

logger = logging.getLogger(__name__)

__all__ = ["StaticPages", "static_table", "browsed_pages"]

_JSON = b"application/json"


def static_table(base_path: str, pages: Pages) -> dict[str, Page]:
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
    charged to the model's read cache (``PageReads.page_loaded``), as the routes do. With ``registrations``,
    ``POST {events_prefix}{readableEventId}/registrations`` is answered by that operation directly: the hot
    path of a registration stampede, spared FastAPI's routing and dependency machinery (the route stays, for
    the OpenAPI description and any path spelled differently)."""

    def __init__(self, app: ASGIApp, *, table: dict[str, Page],
                 charge: Callable[[tuple[str, str]], None] | None = None,
                 browsed: dict[str, tuple[str, str]] | None = None,
                 registrations: Registrations | None = None, events_prefix: str = "",
                 count: Callable[[str], int] | None = None) -> None:
        self.app = app
        self.table = table
        self.charge = charge
        self.browsed = browsed or {}
        self.registrations = registrations
        self.events_prefix = events_prefix
        self.count = count  # live session registration counts, for the pages' holes (livepages.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            page = self.table.get(scope["path"])
            if page is not None and b"webappId=" in scope["query_string"]:
                page = None  # a web application's own list: the route filters it
            if page is not None:
                body = render(page, request_host(scope), self.count)
                if self.charge is not None and (key := self.browsed.get(scope["path"])) is not None:
                    self.charge(key)
                await send({"type": "http.response.start", "status": 200, "headers": [
                    (b"content-length", str(len(body)).encode()), (b"content-type", _JSON)]})
                await send({"type": "http.response.body", "body": body})
                return
        elif self.registrations is not None and scope["type"] == "http" and scope["method"] == "POST":
            readable_id = self._registration_event(scope["path"])
            if readable_id is not None:
                await self._register(scope, receive, send, readable_id)
                return
        await self.app(scope, receive, send)

    def _registration_event(self, path: str) -> str | None:
        prefix, suffix = self.events_prefix, "/registrations"
        if path.startswith(prefix) and path.endswith(suffix):
            readable_id = path[len(prefix):-len(suffix)]
            if readable_id and "/" not in readable_id:
                return readable_id
        return None

    async def _register(self, scope: Scope, receive: Receive, send: Send, readable_id: str) -> None:
        assert self.registrations is not None
        try:
            response = await self.registrations.respond(Request(scope, receive), readable_id)
        except ApiError as refusal:
            response = refusal.response()
        except Exception:  # as the app's own handler: logged, never a stack trace to the caller
            logger.exception("unhandled error on POST %s", scope["path"])
            response = error_response(500, "InternalServerError", "the request failed; see the server log")
        await response(scope, receive, send)
