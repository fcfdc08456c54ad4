"""``create_app``: the reference mock of the event API as a FastAPI app, over a catalog and a live model.

A factory with no module-level state: everything an app serves (pre-serialized pages, images, counters, the
metrics registry) hangs off the app it builds, so tests and benchmarks can build as many as they like.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from simulator.catalog import Catalog, Event
from simulator.scenario import Payment, Portal
from simulator.server import contract as wire
from simulator.server.api import MAX_BODY_BYTES, api_router, handlers, live_counts
from simulator.server.assets import assets_router
from simulator.server.checkout import Checkout, checkout_router
from simulator.server.dataverse_api.operations import API_PATH as DATAVERSE_PATH
from simulator.server.errors import ApiError, ConfigurationError, error_response, failure_response
from simulator.server.fastlane import FastLane
from simulator.server.gate import Gate
from simulator.server.harness import harness_router
from simulator.server.model import LiveModel, PageReads
from simulator.server.openapi import complete_schema
from simulator.server.operations import API_DESCRIPTION, EVENT_MANAGEMENT
from simulator.server.pages import Images, render_pages, webapp_ids

__all__ = ["create_app", "is_loopback"]

#: Where paid registrations are sent to pay when the model names no page (the shape of Microsoft's sample).
_TITLE = "Customer Insights - Journeys event API (Stampede reference mock)"
_VERSION = "1.0"
_REASONS = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
logger = logging.getLogger(__name__)
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


class EventApi(FastAPI):
    """FastAPI behind ``front``: the gate and the fast lane answer an HTTP request before FastAPI's own stack
    (its error, telemetry and body-limit middlewares, its router) sees it, and hand it on only when no fast-lane
    operation matches. The lane's handlers answer every failure themselves (``api.guarded``), so what the
    framework's error middleware would add there is nothing; requests FastAPI does route keep all of it."""

    front: ASGIApp | None = None
    dataverse: ASGIApp | None = None  # the Dataverse Web API face (dataverse_api/), beside the gate, not behind it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.dataverse is not None and scope["type"] == "http" and scope["path"].startswith(DATAVERSE_PATH):
            await self.dataverse(scope, receive, send)
        elif scope["type"] == "http" and self.front is not None:
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI itself (what the front hands on)."""
        await super().__call__(scope, receive, send)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def _checked_origin(origin: str) -> str:
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
        raise ConfigurationError(f"origin {origin!r} is not a web origin; expected scheme://host[:port], "
                                 "e.g. https://contoso.com or http://localhost:5173")
    return f"{parts.scheme}://{parts.netloc}".lower()


def create_app(
    catalog: Catalog,
    *,
    org_id: str,
    token: str,
    origin: str | Sequence[str],
    model: LiveModel,
    admin_token: str | None = None,
    host: str = "127.0.0.1",
    require_origin: bool = False,
    payment: Payment | None = None,
    event_url: str | None = None,
    lifespan: Lifespan | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    images_need_token: bool = False,
    portal: Portal | None = None,
    dataverse: ASGIApp | None = None,
    dataverse_stats: Callable[[], Mapping[str, Any]] | None = None,
) -> FastAPI:
    """The event API mock for ``catalog``, answering registrations through ``model``.

    ``org_id``, ``token`` and ``origin`` are the organization and the web-application record (its token and
    origin; several origins are each allowed for CORS, the first is the web application's).
    ``host`` is the address the server binds: when it is not loopback the harness plane needs
    ``admin_token`` (one is generated if none is given; read it from ``app.state.admin_token``). An explicit
    ``admin_token`` is required on loopback too. ``require_origin`` answers 400 to API calls without an Origin
    header, as the outbound API documents (off by default: load and conformance tools send none).
    ``event_url`` is a template for each event's public URL (and QR code), e.g.
    ``"{origin}/event.html?readableEventId={readableEventId}"``; by default the catalog's URL.
    ``lifespan`` is passed to FastAPI (start and stop the live model there). Request bodies larger than
    ``max_body_bytes`` (64 KiB by default) are refused with 413 before they are read. The images (speaker
    image, sponsorship logo, event QR code) are served without the token unless ``images_need_token``.
    ``portal`` (a scenario's ``[portal]``): web applications, event images, the registration form embed.
    ``dataverse``: the Dataverse Web API face, served under ``/api/data/v9.2/``; ``dataverse_stats`` its
    counts for ``/_harness/stats`` and ``/metrics``.
    ``payment`` (a scenario's ``[payment]``): where a paid answer sends the buyer and where the payment page
    returns to (``checkout.py``; by default the mock's own payment page).
    """
    if not org_id or "/" in org_id:
        raise ConfigurationError(f"org_id {org_id!r} must be a non-empty id without '/', e.g. a GUID")
    if not token:
        raise ConfigurationError("token must not be empty: it is the web application's emApplicationtoken")
    origins = tuple(dict.fromkeys(_checked_origin(o) for o in ([origin] if isinstance(origin, str) else origin)))
    if not origins:
        raise ConfigurationError("origin: give the web application's origin, e.g. http://localhost:5173")
    web_origin = origins[0]
    if max_body_bytes < 1:
        raise ConfigurationError(f"max_body_bytes must be a positive number of bytes, e.g. 65536; got {max_body_bytes}")
    if event_url is not None:
        try:
            event_url.format(readableEventId="launch-001", origin=web_origin)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigurationError(f"event_url {event_url!r} may use only {{origin}} and {{readableEventId}}, "
                                     'e.g. "{origin}/event.html?readableEventId={readableEventId}"') from exc
    if admin_token is None and not is_loopback(host):
        admin_token = secrets.token_urlsafe(32)

    def public_url(event: Event) -> str | None:
        if event_url is None:
            return event.public_url
        return event_url.format(readableEventId=quote(event.readable_id, safe=""), origin=web_origin)


    status_counts: Counter[int] = Counter()
    app = EventApi(title=_TITLE, version=_VERSION, description=API_DESCRIPTION, lifespan=lifespan, redoc_url=None)
    portal = portal or Portal()
    webapps = webapp_ids(org_id, portal.webapps)
    base_path = EVENT_MANAGEMENT.format(organizationId=org_id)
    pages = render_pages(catalog, public_url, base_path=base_path + "/", portal=portal, webapps=webapps)
    images = Images(catalog, public_url)
    checkout = Checkout(payment or Payment(), web_origin)
    table = handlers(catalog, pages, images, model, origin=web_origin, payment_redirect=checkout.redirect_url,
                     max_body_bytes=max_body_bytes)
    app.include_router(assets_router(images))
    app.include_router(api_router(table, images_need_token))
    app.include_router(harness_router(model, org_id=org_id, events=len(catalog.events),
                                      status_counts=status_counts, max_body_bytes=max_body_bytes,
                                      dataverse_stats=dataverse_stats))
    app.include_router(checkout_router(catalog, model, checkout))
    lane = FastLane(app.framework, base_path=base_path, pages=pages, catalog=catalog, handlers=table,
                    charge=model.page_loaded if isinstance(model, PageReads) else None,
                    count=live_counts(catalog, model))
    app.front = Gate(lane, org_id=org_id, token=token, origin=origins, admin_token=admin_token,  # rules first
                     require_origin=require_origin, status_counts=status_counts,
                     images_need_token=images_need_token)
    app.dataverse = dataverse
    app.state.dataverse_path = DATAVERSE_PATH if dataverse is not None else None
    _install_error_handlers(app)
    _install_openapi(app)
    app.state.catalog = catalog
    app.state.model = model
    app.state.org_id = org_id
    app.state.origin = web_origin
    app.state.origins = origins
    app.state.webapp_ids = webapps
    app.state.admin_token = admin_token
    app.state.base_path = base_path + "/"
    app.state.handlers = table  # operation id -> its guarded handler (the routes' and the fast lane's)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        return failure_response(exc, f"{request.method} {request.url.path}")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(exc.status_code, _REASONS.get(exc.status_code, "HttpError"), str(exc.detail),
                              headers=exc.headers)

    async def request_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = [wire.FieldError(field=".".join(str(p) for p in e.get("loc", ())), message=str(e.get("msg", "")))
                  for e in exc.errors()]
        text = "; ".join(f"{f.field}: {f.message}" for f in fields) or "invalid request"
        return error_response(422, "InvalidRequest", text, field=fields[0].field if fields else None,
                              errors=fields)

    async def unexpected(request: Request, exc: Exception) -> Response:
        return failure_response(exc, f"{request.method} {request.url.path}")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(Exception, unexpected)


def _install_openapi(app: FastAPI) -> None:
    """The generated schema plus the token's security scheme and the request bodies parsed by hand, completed
    into the published contract by ``openapi.complete_schema``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["emApplicationtoken"] = {
            "type": "apiKey", "in": "query", "name": "emApplicationtoken",
            "description": "The web application's Token column (Settings > Event management > Web applications)",
        }
        bodies = (wire.RegistrationRequest, wire.FinalizeRegistrationRequest, wire.CheckInRequest)
        answers = (wire.ErrorBody, wire.Captcha)
        _, defs = models_json_schema([(m, "validation") for m in bodies] + [(m, "serialization") for m in answers],
                                     ref_template="#/components/schemas/{model}")
        schemas = components.setdefault("schemas", {})
        schemas.update(defs.get("$defs", {}))
        for operations in schema.get("paths", {}).values():  # FastAPI's default 422 never happens here
            for operation in operations.values():
                responses = operation.get("responses", {})
                ref = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
                if ref.get("$ref", "").endswith("/HTTPValidationError"):
                    del responses["422"]
                if operation.get("security") == []:  # the check-in: no token, so never a token error
                    responses.pop("401", None)
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = complete_schema(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
