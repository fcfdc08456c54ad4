"""The 19 operations of the RTM event API, under ``/api/v1.0/orgs/{organizationId}/eventmanagement/``.

Paths, methods and operation ids are those of Microsoft's generated SDK (``publicApi…``); field names those of
the v2.0 models (see ``contract.py``). The gate (``gate.py``) has already checked origin, organization and token
when a route runs. Catalog answers are pre-serialized bytes (``pages.py``); the response models below are for
the OpenAPI schema only.

Choices where the real API is undocumented (each also in the operation's description):

- **Free registration** → ``202 Accepted``, ``Location: /_harness/submissions/{id}``, body a v2.0
  ``RegistrationResult`` with ``status: "Success"`` (so the v2.0 sample portal shows its confirmation) and the
  mock's ``submissionId``. RTM says only "an immediate success response"; 202 is what an asynchronous accept is.
- **Paid registration** (payment gateway) → ``200 {"redirectUrl": …}`` as in Microsoft's payment-gateway
  article (without its stray trailing space in the key); ``Location`` as above.
- **Refusals** → the model's status (400/409/429/503) with an ``ErrorBody``; 429 carries ``Retry-After``.
  A body that is not JSON → 400 ``MalformedJson``; not ``application/json`` → 415; over 64 KiB → 413
  ``PayloadTooLarge`` (``create_app(max_body_bytes=…)``, ``stampede serve --max-body-bytes``); the wrong shape →
  422 ``InvalidRequestBody`` naming every bad field (``attendees[0].email: …``); an unknown event → 404 (checked
  before the body is read); an event that is not live → 400 ``EventNotLive``; a model that raises → 500
  ``RegistrationFailed``, logged, no trace sent. Nothing refused is stored. Every case with its exact answer:
  ``docs/bad-input.md``.
- **Names and unknown fields**: names are stored exactly as sent, in any script (Unicode, no normalization), up
  to 100 characters each (longer → 422 naming the field); unknown keys in the body are ignored and not stored,
  as an ASP.NET JSON binder would ignore them (clients of the v2.0 API send ``hipObject``, ``autoRegister``…).
- The ``Location`` of an accepted registration is on the harness plane, so behind the admin token when the
  server binds a non-loopback address.
- **Captcha** → ``404 CaptchaNotAvailable``: CAPTCHA is an outbound-marketing feature that RTM supports only
  when outbound marketing is provisioned; this mock models an RTM-only organization, and every event says
  ``enableCaptcha: false``.
- **users/authenticated** → ``200`` with an anonymous user (``isAnonymous: true``, other fields null): RTM has
  no user authentication, so every caller is anonymous; a bearer token is ignored.
- **registrations/finalize** → ``200 RegistrationResult`` for a purchase (submission) of this event, else
  ``400 PurchaseNotFound`` (the URL exists; it is the body that names no purchase, as an unknown session in a
  registration is a 400); RTM finalizes payments through a Dataverse custom API, so this changes nothing.
- **checkins** (no token) → ``302`` to ``redirectUri`` when given (same origin as the web application, or a
  path), else ``201`` with the check-in; the payload is undocumented (assumed ``registrationId``, ``sessionId``).
- ``events/published`` ignores ``businessUnitId`` and ``webappId``: the mock has one business unit and one web
  application; it lists every live event (a scenario's ``catalog.draft_events`` are not live: not listed, their
  pages answer 404, a registration for one answers 400 ``EventNotLive``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import RedirectResponse, Response

from simulator.catalog import Catalog, Event
from simulator.server import contract as wire
from simulator.server.errors import ApiError, validation_error
from simulator.server.model import Accepted, LiveModel, PageReads
from simulator.server.pages import Images, Pages

__all__ = ["api_router", "read_body", "EVENT_MANAGEMENT", "MAX_BODY_BYTES"]

EVENT_MANAGEMENT = "/api/v1.0/orgs/{organizationId}/eventmanagement"
JSON = "application/json"
PNG = "image/png"
#: The default body limit. A documented registration with a few responses is under 1 KB an attendee, so 50
#: attendees fit; a body past it is refused with 413 before it is read into memory.
MAX_BODY_BYTES = 64 * 1024
_IMAGE_CACHE = {"Cache-Control": "public, max-age=600"}
_PATH_PARAM = re.compile(r"{(\w+)}")
# Error answers reference the ErrorBody schema (added in app._install_openapi) rather than naming the model:
# FastAPI would build a response field per status per route, which made create_app several times slower.
_ERROR: dict[str, Any] = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
_COMMON: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "emApplicationtoken missing (or Origin missing when required)"},
    401: {**_ERROR, "description": "emApplicationtoken not valid for this organization"},
    403: {**_ERROR, "description": "Origin is not the web application's origin"},
    404: {**_ERROR, "description": "Unknown organization or resource"},
}
_PNG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {PNG: {"schema": {"type": "string", "format": "binary"}}}, "description": "PNG image"}
}
logger = logging.getLogger(__name__)


def _doc(
    path: str, *, secured: bool = True, query: tuple[str, ...] = (), body: type[BaseModel] | None = None
) -> dict[str, Any]:
    """The OpenAPI of an operation whose handler reads the request itself.

    Handlers take only ``request`` and read ``path_params``: parameters declared in the signature cost FastAPI's
    per-request parameter solving, about half of a catalog GET's time inside the app. The schema still lists
    every parameter, the token's security requirement and the request body.
    """
    names = _PATH_PARAM.findall(EVENT_MANAGEMENT + path)
    parameters = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]
    parameters += [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in query]
    extra: dict[str, Any] = {"security": [{"emApplicationtoken": []}] if secured else [], "parameters": parameters}
    if body is not None:
        extra["requestBody"] = {"required": True, "content": {
            JSON: {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}}}
    return extra


def _png(image: bytes | None, kind: str, message: str) -> Response:
    """The image, or 404 ``{kind}NotFound`` with ``message``."""
    if image is None:
        raise ApiError(404, f"{kind}NotFound", message)
    return Response(image, media_type=PNG, headers=_IMAGE_CACHE)


def _json(content: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content, status_code=status, media_type=JSON, headers=headers)


def _location(submission_id: str) -> str:
    return f"/_harness/submissions/{quote(submission_id, safe='')}"


async def _parse(request: Request, model: type[wire.RegistrationRequest] | type[wire.FinalizeRegistrationRequest]
                 | type[wire.CheckInRequest], max_body_bytes: int) -> Any:
    media_type = request.headers.get("content-type", JSON).partition(";")[0].strip().lower()
    if media_type != JSON and not media_type.endswith("+json"):
        raise ApiError(415, "UnsupportedMediaType", f"send the body as {JSON} (got {media_type or 'none'})")
    try:
        return model.model_validate_json(await read_body(request, max_body_bytes))
    except ValidationError as exc:
        raise validation_error(exc) from None


async def read_body(request: Request, max_body_bytes: int) -> bytes:
    """The body, refused with 413 past ``max_body_bytes`` (declared or streamed) before it is all in memory."""
    too_large = ApiError(413, "PayloadTooLarge", f"the body may be at most {max_body_bytes} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


class Registrations:
    """``POST …/events/{readableEventId}/registrations``: validate the body, hand it to the model, answer 202
    with Location (200 with redirectUrl on paid events) or the model's refusal. One object serves both the
    FastAPI route and the fast lane (fastlane.py), which calls it without FastAPI's request machinery."""

    def __init__(self, catalog: Catalog, model: LiveModel, payment_redirect: Callable[[Event, str], str],
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.events = catalog.by_readable_id
        self.model = model
        self.payment_redirect = payment_redirect
        self.max_body_bytes = max_body_bytes

    async def respond(self, request: Request, readable_event_id: str) -> Response:
        """The answer; ``ApiError`` for a refusal (the caller turns it into its error body)."""
        event = self.events.get(readable_event_id)  # not-live events too: validation answers EventNotLive
        if event is None:
            raise ApiError(404, "EventNotFound", f"no published event {readable_event_id!r}")
        body: wire.RegistrationRequest = await _parse(request, wire.RegistrationRequest, self.max_body_bytes)
        try:
            outcome = await self.model.register(event, body)
        except Exception:  # the model's failure must not leak a stack trace; it is logged instead
            logger.exception("registration for %s failed in the model", event.readable_id)
            raise ApiError(500, "RegistrationFailed", "the registration could not be processed") from None
        if not isinstance(outcome, Accepted):
            headers = {"Retry-After": str(outcome.retry_after_s)} if outcome.retry_after_s is not None else None
            raise ApiError(outcome.status, outcome.code, outcome.message, field=outcome.field, headers=headers)
        headers = {"Location": _location(outcome.submission_id)}
        if event.paid:
            url = outcome.redirect_url or self.payment_redirect(event, outcome.submission_id)
            return _json(wire.PaymentRedirect(redirectUrl=url).model_dump_json().encode(), 200, headers)
        result = wire.RegistrationResult(status="Success", errorMessage=None, errorCode=None, redirectUrl=None,
                                         purchaseId=None, submissionId=outcome.submission_id)
        return _json(result.model_dump_json().encode(), 202, headers)


def api_router(
    catalog: Catalog,
    pages: Pages,
    images: Images,
    model: LiveModel,
    *,
    origin: str,
    payment_redirect: Callable[[Event, str], str],
    registrations: Registrations,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> APIRouter:
    """The RTM surface over ``catalog`` and ``model``; ``payment_redirect(event, purchase_id)`` builds the
    payment page URL when the model gives none; request bodies past ``max_body_bytes`` get 413."""
    router = APIRouter(prefix=EVENT_MANAGEMENT, responses=_COMMON)
    events = catalog.by_readable_id

    def page(table: dict[str, bytes], key: str, kind: str) -> bytes:
        content = table.get(key)
        if content is None:
            raise ApiError(404, f"{kind}NotFound", f"no {kind.lower()} {key!r}")
        return content

    # The pages the simulator's visitors browse (plan.browse_keys) are charged to the model's read cache when the
    # model takes them (the live model: a miss is a Dataverse read); the others are served without a read.
    charge = model.page_loaded if isinstance(model, PageReads) else None

    def browsed(table: dict[str, bytes], readable_event_id: str, kind: str) -> bytes:
        content = page(table, readable_event_id, "Event")
        if charge is not None:
            charge((kind, events[readable_event_id].id))
        return content

    def event_of(readable_event_id: str, *, drafts: bool = False) -> Event:
        """The event, or 404; an event that is not live is found only where ``drafts`` (registration: the
        caller hears EventNotLive from validation, as the real API "validates that the event is active")."""
        event = events.get(readable_event_id)
        if event is None or not (event.live or drafts):
            raise ApiError(404, "EventNotFound", f"no published event {readable_event_id!r}")
        return event

    def get(path: str, operation_id: str, *, query: tuple[str, ...] = (), **options: Any) -> Callable[[Any], Any]:
        return router.get(path, operation_id=operation_id, openapi_extra=_doc(path, query=query), **options)

    # --- catalog ------------------------------------------------------------------------------------------
    @get("/events/published", "publicApiGetEvents", query=("businessUnitId", "webappId"),
         response_model=list[wire.Event], summary="Live events published to the web application")
    async def get_events(request: Request) -> Response:
        if charge is not None:
            charge(("published", ""))
        return _json(pages.published)

    @get("/events/{readableEventId}", "publicApiGetEvent", response_model=wire.Event)
    async def get_event(request: Request) -> Response:
        return _json(browsed(pages.event, request.path_params["readableEventId"], "event"))

    @get("/events/{readableEventId}/captcha", "publicApiGetCaptcha", response_class=Response,
         responses={200: {"description": "Never: see the 404"}},
         description="CAPTCHA needs outbound marketing; this RTM-only organization answers 404 "
                     "CaptchaNotAvailable (events have enableCaptcha = false).")
    async def get_captcha(request: Request) -> Response:
        event = event_of(request.path_params["readableEventId"])
        raise ApiError(404, "CaptchaNotAvailable", f"event {event.readable_id} has no CAPTCHA: CAPTCHA is an "
                       "outbound-marketing feature, not provisioned for this organization")

    @get("/events/{readableEventId}/custom-registration-fields", "publicApiGetCustomRegistrationFields",
         response_model=list[wire.CustomRegistrationField])
    async def get_custom_fields(request: Request) -> Response:
        return _json(page(pages.custom_fields, request.path_params["readableEventId"], "Event"))

    @get("/events/{readableEventId}/qrcode", "publicApiGetEventQrCode", response_class=Response,
         responses=_PNG_RESPONSE, description="The event url qr code of specified event (PNG of publicEventUrl)")
    async def get_qr_code(request: Request) -> Response:
        event = event_of(request.path_params["readableEventId"])
        return _png(images.qr_code(event.readable_id), "QrCode", f"event {event.readable_id} has no public URL")

    @get("/events/{readableEventId}/sessions", "publicApiGetEventSessions", response_model=list[wire.Session])
    async def get_sessions(request: Request) -> Response:
        return _json(browsed(pages.sessions, request.path_params["readableEventId"], "sessions"))

    @get("/events/{readableEventId}/tracks", "publicApiGetEventTracks", response_model=list[wire.SessionTrack])
    async def get_tracks(request: Request) -> Response:
        return _json(page(pages.tracks, request.path_params["readableEventId"], "Event"))

    @get("/events/{readableEventId}/passes", "publicApiGetEventPasses", response_model=list[wire.Pass])
    async def get_passes(request: Request) -> Response:
        return _json(page(pages.passes, request.path_params["readableEventId"], "Event"))

    @get("/events/{readableEventId}/speakers", "publicApiGetEventSpeakers", response_model=list[wire.Speaker])
    async def get_speakers(request: Request) -> Response:
        return _json(browsed(pages.speakers, request.path_params["readableEventId"], "speakers"))

    @get("/events/{readableEventId}/sponsorships", "publicApiGetEventSponsorships",
         response_model=list[wire.Sponsorship])
    async def get_sponsorships(request: Request) -> Response:
        return _json(browsed(pages.sponsorships, request.path_params["readableEventId"], "sponsorships"))

    @get("/sponsorships/{sponsorshipId}/logo", "publicApiGetSponsorshipsLogo", response_class=Response,
         responses=_PNG_RESPONSE, description="The logo of a specified sponsorship (PNG)")
    async def get_logo(request: Request) -> Response:
        sponsorship_id = request.path_params["sponsorshipId"]
        return _png(images.sponsor_logo(sponsorship_id), "Sponsorship", f"no sponsorship {sponsorship_id!r}")

    @get("/speakers/{speakerId}/image", "publicApiGetSpeakerImage", response_class=Response,
         responses=_PNG_RESPONSE, description="The image of a specified speaker (PNG)")
    async def get_speaker_image(request: Request) -> Response:
        speaker_id = request.path_params["speakerId"]
        return _png(images.speaker(speaker_id), "Speaker", f"no speaker {speaker_id!r}")

    @get("/sessions/{sessionId}", "publicApiGetSessionById", response_model=wire.Session)
    async def get_session(request: Request) -> Response:
        return _json(page(pages.session, request.path_params["sessionId"], "Session"))

    @get("/users/authenticated", "publicApiGetUser", response_model=wire.User,
         description="RTM has no user authentication: always the anonymous user.")
    async def get_user(request: Request) -> Response:
        return _json(pages.anonymous_user)

    # --- live numbers -------------------------------------------------------------------------------------
    @get("/events/{readableEventId}/registrations/count", "publicApiGetRegistrationsCount", response_model=int,
         description="Event registrations created so far.")
    async def get_registration_count(request: Request) -> Response:
        count = model.registration_count(event_of(request.path_params["readableEventId"]).id)
        return _json(str(int(count)).encode())

    @get("/sessions/{sessionId}/registrations/count", "publicApiGetSessionRegistrationCount", response_model=int,
         description="Session registrations created so far.")
    async def get_session_registration_count(request: Request) -> Response:
        session_id = request.path_params["sessionId"]
        if session_id not in catalog.sessions_by_id:
            raise ApiError(404, "SessionNotFound", f"no session {session_id!r}")
        return _json(str(int(model.session_registration_count(session_id))).encode())

    # --- registration -------------------------------------------------------------------------------------
    registrations_path = "/events/{readableEventId}/registrations"

    @router.post(
        registrations_path, operation_id="publicApiRegister", status_code=202, response_model=wire.RegistrationResult,
        responses={
            200: {"model": wire.PaymentRedirect, "description": "Event with a payment gateway: go pay"},
            202: {"description": "Accepted for asynchronous creation; Location points at its status",
                  "headers": {"Location": {"schema": {"type": "string"}}}},
            409: {**_ERROR, "description": "Event or session full, no waitlist"},
            413: {**_ERROR, "description": "Body larger than the server's limit (64 KiB by default)"},
            415: {**_ERROR, "description": "Body is not JSON"},
            422: {**_ERROR, "description": "Body does not have the documented shape; names the field"},
            429: {**_ERROR, "description": "Throttled; retry after Retry-After seconds",
                  "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
            503: {**_ERROR, "description": "Dataverse unavailable"},
        },
        openapi_extra=_doc(registrations_path, body=wire.RegistrationRequest),
    )
    async def register(request: Request) -> Response:
        return await registrations.respond(request, request.path_params["readableEventId"])

    finalize_path = "/events/{readableEventId}/registrations/finalize"

    @router.post(
        finalize_path, operation_id="publicApiFinalizeRegistration", response_model=wire.RegistrationResult,
        responses={415: {**_ERROR, "description": "Body is not JSON"},
                   422: {**_ERROR, "description": "Body does not have the documented shape"}},
        openapi_extra=_doc(finalize_path, body=wire.FinalizeRegistrationRequest),
        description="RTM finalizes payments in Dataverse; here: Success for a known purchase of this event.",
    )
    async def finalize(request: Request) -> Response:
        event = event_of(request.path_params["readableEventId"])
        body: wire.FinalizeRegistrationRequest = await _parse(request, wire.FinalizeRegistrationRequest,
                                                              max_body_bytes)
        status = await model.submission(body.purchaseId)
        if status is None or status.get("event_id", event.id) != event.id:
            raise ApiError(400, "PurchaseNotFound", f"no purchase {body.purchaseId!r} for event {event.readable_id}",
                           field="purchaseId")
        result = wire.RegistrationResult(status="Success", errorMessage=None, errorCode=None, redirectUrl=None,
                                         purchaseId=body.purchaseId, submissionId=body.purchaseId)
        return _json(result.model_dump_json().encode())

    @router.post(
        "/checkins", operation_id="publicApiCreateCheckInAndRedirect", status_code=201, response_model=wire.CheckIn,
        responses={302: {"description": "Checked in; redirected to redirectUri"},
                   415: {**_ERROR, "description": "Body is not JSON"},
                   422: {**_ERROR, "description": "Body does not have the assumed shape"}},
        openapi_extra=_doc("/checkins", secured=False, query=("redirectUri",), body=wire.CheckInRequest),
        description="Creates check-in based on payload and redirects to redirectUri parameter (no token).",
    )
    async def check_in(request: Request) -> Response:
        body: wire.CheckInRequest = await _parse(request, wire.CheckInRequest, max_body_bytes)
        redirect_uri = request.query_params.get("redirectUri")
        if redirect_uri:
            if not _same_origin(redirect_uri, origin):
                raise ApiError(400, "RedirectNotAllowed", "redirectUri must be a path or a URL on the web "
                               f"application's origin {origin}", field="redirectUri")
            return RedirectResponse(redirect_uri, status_code=302)
        check = wire.CheckIn(checkInId=str(uuid.uuid4()), registrationId=body.registrationId,
                             sessionId=body.sessionId)
        return _json(check.model_dump_json().encode(), 201)

    return router


def _same_origin(uri: str, origin: str) -> bool:
    """A path on this site, or an absolute URL on ``origin`` (no open redirect)."""
    if uri.startswith("/") and not uri.startswith("//") and "\\" not in uri:
        return True
    parts = urlsplit(uri)
    return bool(parts.scheme and parts.netloc) and f"{parts.scheme}://{parts.netloc}".lower() == origin.lower()
