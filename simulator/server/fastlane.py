"""The fast lane: every operation of the table answered without FastAPI's request machinery.

The catalog is static per scenario, so its pages are made once (``pages.page_table``), found here by their full
path and their holes filled per request (``livepages.render``: this request's host, live session counts); routing
them through FastAPI cost several times the work of sending them (benchmarks/api.py). A page asked for with a
query parameter it ``varies_with`` (``events/published?webappId=``) goes to its operation's handler. Every
other operation of ``operations.OPERATIONS`` is matched by its path template (at most one parameter, which
never contains ``/``) and answered by the same guarded handler its FastAPI route has (``api.handlers``): the
registration POST of a stampede is spared FastAPI's routing and dependency solving. This ASGI middleware sits
inside the gate (token, origin and CORS rules still apply) and in front of FastAPI, which answers what the lane
does not match (an unknown page's 404, a wrong method's 405) and serves the OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from simulator.catalog import Catalog
from simulator.server.api import Handler
from simulator.server.livepages import Page, render, request_host
from simulator.server.operations import OPERATIONS, path_parameters
from simulator.server.pages import Pages, page_table

__all__ = ["FastLane", "static_pages"]

_JSON = b"application/json"
Template = tuple[str, str, str, Handler]  # (prefix, suffix, parameter name or "", handler)


Static = tuple[Page, tuple[str, str] | None, tuple[bytes, ...], Handler | None, dict[str, str]]


def static_pages(base_path: str, pages: Pages, catalog: Catalog,
                 handlers: dict[str, Handler]) -> dict[str, Static]:
    """``{full path: (page, read-cache key or None, query parameters it varies with, its handler, its path
    parameters)}`` of every static page under ``base_path`` (``/api/v1.0/orgs/{org}/eventmanagement``)."""
    table: dict[str, Static] = {}
    for operation in OPERATIONS:
        if operation.page is None:
            continue
        names = path_parameters(operation.path)
        varies = tuple(f"{name}=".encode() for name in operation.varies_with)
        handler = handlers[operation.operation_id] if varies else None
        for key, (page, cache_key) in page_table(operation, pages, catalog).items():
            path = base_path + (operation.path.replace(f"{{{names[0]}}}", key) if names else operation.path)
            table[path] = (page, cache_key, varies, handler, {names[0]: key} if names else {})
    return table


class FastLane:
    """Answer the table's operations under ``base_path``; pass everything else on. ``charge`` takes the read-cache
    key of a static page served (``PageReads.page_loaded``); ``count`` the live number of a page's count hole
    (``api.live_counts``)."""

    def __init__(self, app: ASGIApp, *, base_path: str, pages: Pages, catalog: Catalog,
                 handlers: dict[str, Handler], charge: Callable[[tuple[str, str]], None] | None = None,
                 count: Callable[[str], int | None] | None = None) -> None:
        self.app = app
        self.static = static_pages(base_path, pages, catalog, handlers)
        self.charge = charge
        self.count = count
        self.templates: dict[str, list[Template]] = {}
        for operation in OPERATIONS:
            if operation.page is not None:
                continue
            names = path_parameters(operation.path)
            if len(names) > 1:
                continue  # FastAPI routes it
            prefix, _, suffix = (base_path + operation.path).partition(f"{{{names[0]}}}" if names else "\0")
            self.templates.setdefault(operation.method, []).append(
                (prefix, suffix, names[0] if names else "", handlers[operation.operation_id]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "GET":
            found = self.static.get(path)
            if found is not None:
                page, key, varies, handler, params = found
                if handler is not None and any(name in scope["query_string"] for name in varies):
                    response = await handler(Request({**scope, "path_params": params}, receive))
                    await response(scope, receive, send)
                    return
                if key is not None and self.charge is not None:
                    self.charge(key)
                body = render(page, request_host(scope), self.count)
                await send({"type": "http.response.start", "status": 200, "headers": [
                    (b"content-length", str(len(body)).encode()), (b"content-type", _JSON)]})
                await send({"type": "http.response.body", "body": body})
                return
        for prefix, suffix, name, handler in self.templates.get(method, ()):
            if not name:
                if path != prefix:
                    continue
                params = {}
            else:
                if not (path.startswith(prefix) and path.endswith(suffix)):
                    continue
                value = path[len(prefix):len(path) - len(suffix)]
                if not value or "/" in value:
                    continue
                params = {name: value}
            response = await handler(Request({**scope, "path_params": params}, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
