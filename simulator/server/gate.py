"""The gate every request passes before a route: origin and CORS, organization, token, admin token.

Rules, in order (each answer is an ``ErrorBody``):

1. ``Origin`` present and not the web application's origin → **403**, no CORS headers (a browser then sees a
   CORS failure, as with the real API when the web-application record has another origin). ``Origin`` absent
   is allowed (servers, Locust, Schemathesis send none) unless ``require_origin`` — then **400** on the API, as
   the outbound API documents for a missing Origin.
2. A CORS preflight (``OPTIONS`` with ``Access-Control-Request-Method``) from the web application's origin →
   **204** with the allow headers; it needs no token, as browsers send none.
3. On ``/api/v1.0/orgs/{organizationId}/…``: an organization other than the configured one → **404**; then the
   ``emApplicationtoken`` query parameter: missing or empty → **400**, wrong → **401** (compared in constant
   time). ``…/eventmanagement/checkins`` needs no token (as in Microsoft's generated SDK; methods other than
   ``POST`` get 405 from the router). The images — a speaker's image, a sponsorship's logo, an event's QR
   code — are served without a token unless ``images_need_token``: portals put their URLs in ``<img src>``,
   which sends no token (Microsoft's v2.0 sample builds ``apiEndpoint + imageUrl`` and ``…/sponsorships/{id}/logo``
   without one), although the generated RTM SDK marks them token-secured. A token that is sent is still checked.
4. On the harness plane (``/_harness/…``, ``/metrics``), when an admin token is configured:
   ``Authorization: Bearer <admin token>`` or **401** — except the payment page ``/_harness/pay/{purchaseId}``,
   where a browser is sent to pay (its random purchase id is the capability, as a gateway's payment link is).

A web application has one origin, but a developer may run the portal on several (``stampede serve --origin``
repeated: Vite's 5173 and another dev server's 3000); each is allowed alike.

Answers to the web application's origin carry ``Access-Control-Allow-Origin`` with that origin (never ``*``),
``Vary: Origin`` and ``Access-Control-Expose-Headers: Location, Retry-After`` so a portal can follow a
submission and honour a throttle. The real API's exact CORS headers are undocumented; these are the usual ones.
"""

from __future__ import annotations

import hmac
import re
from collections import Counter
from collections.abc import Sequence
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.server.errors import ErrorType, error_bytes
from simulator.server.operations import OPERATIONS

__all__ = ["Gate", "API_PREFIX", "HARNESS_PREFIX", "METRICS_PATH", "TOKEN_PARAM"]

API_PREFIX = "/api/v1.0/orgs/"
HARNESS_PREFIX = "/_harness"
PAY_PREFIX = "/_harness/pay/"  # the buyer's payment page: a browser sent there carries no admin token (checkout.py)
METRICS_PATH = "/metrics"
TOKEN_PARAM = b"emApplicationtoken"
_CHECKINS = "eventmanagement/checkins"
#: The image operations of the table, after the organization id (``stampede serve --images-need-token`` secures
#: them).
_IMAGE_PATHS = (re.sub(r"\{\w+\}", "[^/]+", op.path) for op in OPERATIONS if op.image)  # paths: [a-z/-] only
IMAGES = re.compile(f"eventmanagement(?:{'|'.join(_IMAGE_PATHS)})/?")
_ALLOW_METHODS = b"GET, POST, OPTIONS"
_EXPOSE = b"Location, Retry-After"
_PREFLIGHT_MAX_AGE = b"600"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _query_param(query: bytes, name: bytes) -> bytes | None:
    """The first value of ``name`` in a query string (percent- and plus-decoded), or None."""
    if name not in query:  # fast path: most requests carry exactly one parameter, the token
        return None
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        if unquote_to_bytes(key.replace(b"+", b" ")) == name:
            return unquote_to_bytes(value.replace(b"+", b" "))
    return None


class Gate:
    """ASGI middleware applying the rules above; also counts answers by status code for ``/metrics``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        org_id: str,
        token: str,
        origin: str | Sequence[str],
        admin_token: str | None = None,
        require_origin: bool = False,
        status_counts: Counter[int] | None = None,
        images_need_token: bool = False,
    ) -> None:
        self.app = app
        self.org_id = org_id.lower()
        self.token = token.encode()
        origins = [origin] if isinstance(origin, str) else list(origin)
        self.origins = frozenset(o.encode().lower() for o in origins)
        self.origin = origins[0].encode().lower()  # the first: the web application's own
        self.admin = b"Bearer " + admin_token.encode() if admin_token else None
        self.require_origin = require_origin
        self.images_need_token = images_need_token
        self.status_counts = status_counts if status_counts is not None else Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        cors = origin is not None and origin.lower() in self.origins
        if origin is not None and not cors:
            await self._answer(send, ErrorType.ORIGIN_NOT_ALLOWED, "this origin is not the web application's origin",
                               cors=None)
            return
        if cors and scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await self._preflight(scope, send, origin.lower())  # type: ignore[union-attr]
            return
        refusal = self._refusal(scope, origin)
        if refusal is not None:
            error, message = refusal
            await self._answer(send, error, message, cors=origin.lower() if cors else None)  # type: ignore[union-attr]
            return
        counts = self.status_counts
        allowed = origin.lower() if origin is not None else self.origin

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts[message["status"]] += 1
                headers = list(message.get("headers", ()))
                headers.append((b"vary", b"Origin"))
                if cors:
                    headers.append((b"access-control-allow-origin", allowed))
                    headers.append((b"access-control-expose-headers", _EXPOSE))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, origin: bytes | None) -> tuple[ErrorType, str] | None:
        path: str = scope["path"]
        if path.startswith(API_PREFIX):
            if origin is None and self.require_origin:
                return ErrorType.ORIGIN_REQUIRED, "the Origin header is required"
            org, _, rest = path[len(API_PREFIX):].partition("/")
            if org.lower() != self.org_id:
                return ErrorType.ORGANIZATION_NOT_FOUND, f"no organization {org!r} here"
            if rest.rstrip("/") == _CHECKINS:  # any method: the router, not the token, refuses all but POST (405)
                return None
            token = _query_param(scope["query_string"], TOKEN_PARAM)
            if not token and not self.images_need_token and IMAGES.fullmatch(rest):
                return None  # an <img src> sends no token
            if not token:
                return ErrorType.APPLICATION_TOKEN_REQUIRED, "the emApplicationtoken query parameter is required"
            if not hmac.compare_digest(token, self.token):
                return ErrorType.INVALID_APPLICATION_TOKEN, "the emApplicationtoken is not valid for this organization"
            return None
        if self.admin is not None and (path.startswith(HARNESS_PREFIX) and not path.startswith(PAY_PREFIX)
                                       or path == METRICS_PATH):
            supplied = _header(scope, b"authorization") or b""
            if not hmac.compare_digest(supplied, self.admin):
                return ErrorType.ADMIN_TOKEN_REQUIRED, "the harness plane needs Authorization: Bearer <admin token>"
        return None

    async def _answer(self, send: Send, error: ErrorType, message: str, *, cors: bytes | None) -> None:
        """An error answer; ``cors`` is the allowed origin to echo, or None."""
        status = error.status
        self.status_counts[status] += 1
        body = error_bytes(status, error.type, message)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"vary", b"Origin")]
        if cors is not None:
            headers += [(b"access-control-allow-origin", cors), (b"access-control-expose-headers", _EXPOSE)]
        if error is ErrorType.ADMIN_TOKEN_REQUIRED:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _preflight(self, scope: Scope, send: Send, origin: bytes) -> None:
        self.status_counts[204] += 1
        requested = _header(scope, b"access-control-request-headers")
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", _ALLOW_METHODS),
            (b"access-control-allow-headers", requested or b"Content-Type"),
            (b"access-control-max-age", _PREFLIGHT_MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
