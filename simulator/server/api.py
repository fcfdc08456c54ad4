"""What each of the 19 operations does (``operations.py`` names them), and the FastAPI routes derived from them.

``handlers(...)`` gives one async handler per operation id; ``api_router`` turns the table into FastAPI routes
with those handlers, and the fast lane (``fastlane.py``) calls the very same handlers without FastAPI's request
machinery. Every handler is ``guarded``: an ``ApiError`` becomes its answer and any other exception the
operation's 500 (``errors.failure_response``). Handlers take only ``request`` and read ``path_params``:
parameters declared in the signature cost FastAPI's per-request parameter solving; the schema still lists every
parameter (from the table). Catalog answers are pre-serialized bytes (``pages.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import RedirectResponse, Response

from simulator.catalog import Catalog, Event
from simulator.server import contract as wire
from simulator.server.errors import ApiError, ErrorType, failure_response, validation_error
from simulator.server.livepages import PASSES_LEFT, PASSES_SOLD, Page, render, request_host
from simulator.server.model import Accepted, LiveModel, PageReads, Purchases
from simulator.server.operations import (
    BY_ID,
    EVENT_MANAGEMENT,
    OPERATIONS,
    REFUSALS,
    Operation,
    path_parameters,
)
from simulator.server.pages import Images, Pages, page_table

__all__ = ["api_router", "handlers", "live_counts", "read_body", "route_options", "purchase_location", "Handler",
           "EVENT_MANAGEMENT", "UNLIMITED_PASSES",
           "MAX_BODY_BYTES", "PURCHASES_PATH"]

JSON = "application/json"
PNG = "image/png"
#: The default body limit. A documented registration with a few responses is under 1 KB an attendee, so 50
#: attendees fit; a body past it is refused with 413 before it is read into memory.
MAX_BODY_BYTES = 64 * 1024
_IMAGE_CACHE = {"Cache-Control": "public, max-age=600"}
_MISSING = {  # what a 404 says, by what was not found
    ErrorType.EVENT_NOT_FOUND: "no published event {key!r}",
    ErrorType.SESSION_NOT_FOUND: "no session {key!r}",
    ErrorType.SPEAKER_NOT_FOUND: "no speaker {key!r}",
    ErrorType.SPONSORSHIP_NOT_FOUND: "no sponsorship {key!r}",
}
Handler = Callable[[Request], Awaitable[Response]]


def _missing(error: ErrorType, key: str) -> ApiError:
    return ApiError(error, _MISSING[error].format(key=key))


def _json(content: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content, status_code=status, media_type=JSON, headers=headers)


def _png(image: bytes | None, error: ErrorType, key: str, message: str | None = None) -> Response:
    """The image, or 404 ``error``."""
    if image is None:
        raise ApiError(error, message) if message else _missing(error, key)
    return Response(image, media_type=PNG, headers=_IMAGE_CACHE)


def _location(submission_id: str) -> str:
    return f"/_harness/submissions/{quote(submission_id, safe='')}"


PURCHASES_PATH = "/_harness/purchases/"


def purchase_location(purchase_id: str) -> str:
    """Where a purchase's state is read (a paid answer's ``Location``; ``checkout.py`` answers it)."""
    return f"{PURCHASES_PATH}{quote(purchase_id, safe='')}"


def _content_headers(request: Request) -> tuple[str | None, str]:
    """(Content-Type or None, Content-Length or "") as sent: read from the raw headers, which is cheaper than
    building Starlette's ``Headers`` on the hot path."""
    media_type: str | None = None
    length = ""
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            media_type = value.decode("latin-1")
        elif name == b"content-length":
            length = value.decode("latin-1")
    return media_type, length


async def _parse(request: Request, model: type[BaseModel], max_body_bytes: int) -> Any:
    content_type, declared = _content_headers(request)
    media_type = (JSON if content_type is None else content_type).partition(";")[0].strip().lower()
    if media_type != JSON and not media_type.endswith("+json"):
        raise ApiError(ErrorType.UNSUPPORTED_MEDIA_TYPE, f"send the body as {JSON} (got {media_type or 'none'})")
    try:
        return model.model_validate_json(await read_body(request, max_body_bytes, declared))
    except ValidationError as exc:
        raise validation_error(exc) from None


async def read_body(request: Request, max_body_bytes: int, declared: str | None = None) -> bytes:
    """The body, refused with 413 past ``max_body_bytes`` (declared or streamed) before it is all in memory;
    ``declared`` is the Content-Length when the caller has read it already."""
    if declared is None:
        declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise _too_large(max_body_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body_bytes:
            raise _too_large(max_body_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_body_bytes: int) -> ApiError:
    return ApiError(ErrorType.PAYLOAD_TOO_LARGE, f"the body may be at most {max_body_bytes} bytes")


def guarded(operation: Operation, handler: Handler) -> Handler:
    """``handler`` answering every failure itself (``errors.failure_response``, the operation's 500)."""
    where = f"{operation.method} {operation.full_path}"
    failure = operation.failure

    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:  # answered, never raised: the fast lane and FastAPI get the same response
            return failure_response(exc, where, failure)

    answer.__name__ = operation.operation_id
    return answer


class Registrations:
    """``POST …/events/{readableEventId}/registrations``: validate the body, hand it to the model, answer 202
    with Location (200 with redirectUrl on paid events) or the model's refusal (its code's status and type)."""

    def __init__(self, catalog: Catalog, model: LiveModel, payment_redirect: Callable[[Event, str, str], str],
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.events = catalog.by_readable_id
        self.model = model
        self.payment_redirect = payment_redirect
        self.max_body_bytes = max_body_bytes

    async def __call__(self, request: Request) -> Response:
        readable_event_id = request.path_params["readableEventId"]
        event = self.events.get(readable_event_id)  # not-live events too: validation answers EventNotLive
        if event is None:
            raise _missing(ErrorType.EVENT_NOT_FOUND, readable_event_id)
        body: wire.RegistrationRequest = await _parse(request, wire.RegistrationRequest, self.max_body_bytes)
        outcome = await self.model.register(event, body)
        if not isinstance(outcome, Accepted):
            headers = {"Retry-After": str(outcome.retry_after_s)} if outcome.retry_after_s is not None else None
            raise ApiError(REFUSALS[outcome.code], outcome.message, field=outcome.field, headers=headers)
        if event.paid and not outcome.waitlisted:  # a seat is held: go pay (waitlisted: nothing to pay)
            url = outcome.redirect_url or self.payment_redirect(event, outcome.submission_id,
                                                                request_host(request.scope).decode())
            answer = wire.PaymentRedirect(status="Redirect", purchaseId=outcome.submission_id, redirectUrl=url)
            return _json(answer.model_dump_json().encode(), 200, {"Location": purchase_location(outcome.submission_id)})
        headers = {"Location": _location(outcome.submission_id)}
        result = wire.RegistrationResult(status="Success", errorMessage=None, errorCode=None, redirectUrl=None,
                                         purchaseId=None, submissionId=outcome.submission_id)
        return _json(result.model_dump_json().encode(), 202, headers)


def handlers(
    catalog: Catalog,
    pages: Pages,
    images: Images,
    model: LiveModel,
    *,
    origin: str,
    payment_redirect: Callable[[Event, str, str], str],
    max_body_bytes: int = MAX_BODY_BYTES,
) -> dict[str, Handler]:
    """One guarded handler per operation id of ``OPERATIONS`` (a static page's: from its page table, its holes
    filled with the request's host and the model's live session counts)."""
    events = catalog.by_readable_id
    charge = model.page_loaded if isinstance(model, PageReads) else None
    count = live_counts(catalog, model)

    def live(content: Page, request: Request) -> Response:
        return _json(render(content, request_host(request.scope), count))

    def event_of(request: Request) -> Event:
        """The live event named in the path, or 404."""
        readable_event_id = request.path_params["readableEventId"]
        event = events.get(readable_event_id)
        if event is None or not event.live:
            raise _missing(ErrorType.EVENT_NOT_FOUND, readable_event_id)
        return event

    def static_page(operation: Operation) -> Handler:
        table = page_table(operation, pages, catalog)
        not_found = operation.refusals[0] if operation.refusals else ErrorType.EVENT_NOT_FOUND
        names = path_parameters(operation.path)

        async def page(request: Request) -> Response:
            key = request.path_params[names[0]] if names else ""
            found = table.get(key)
            if found is None:
                raise _missing(not_found, key)
            content, cache_key = found
            if charge is not None and cache_key is not None:
                charge(cache_key)
            return live(content, request)

        return page

    published = static_page(BY_ID["publicApiGetEvents"])

    async def get_events(request: Request) -> Response:
        webapp = request.query_params.get("webappId")
        if not webapp:
            return await published(request)
        if charge is not None:
            charge(("published", ""))
        return live(pages.published_for.get(webapp, b"[]"), request)  # an unknown web application lists none

    async def get_captcha(request: Request) -> Response:
        event = event_of(request)
        raise ApiError(ErrorType.CAPTCHA_NOT_AVAILABLE, f"event {event.readable_id} has no CAPTCHA: CAPTCHA is an "
                       "outbound-marketing feature, not provisioned for this organization")

    async def get_qr_code(request: Request) -> Response:
        event = event_of(request)
        return _png(images.qr_code(event.readable_id), ErrorType.QR_CODE_NOT_FOUND, event.readable_id,
                    f"event {event.readable_id} has no public URL")

    async def get_logo(request: Request) -> Response:
        sponsorship_id = request.path_params["sponsorshipId"]
        return _png(images.sponsor_logo(sponsorship_id), ErrorType.SPONSORSHIP_NOT_FOUND, sponsorship_id)

    async def get_speaker_image(request: Request) -> Response:
        speaker_id = request.path_params["speakerId"]
        return _png(images.speaker(speaker_id), ErrorType.SPEAKER_NOT_FOUND, speaker_id)

    async def get_registration_count(request: Request) -> Response:
        return _json(str(int(model.registration_count(event_of(request).id))).encode())

    async def get_session_registration_count(request: Request) -> Response:
        session_id = request.path_params["sessionId"]
        if session_id not in catalog.sessions_by_id:
            raise _missing(ErrorType.SESSION_NOT_FOUND, session_id)
        return _json(str(int(model.session_registration_count(session_id))).encode())

    async def finalize(request: Request) -> Response:
        event = event_of(request)
        body: wire.FinalizeRegistrationRequest = await _parse(request, wire.FinalizeRegistrationRequest,
                                                              max_body_bytes)
        known = await finalized(model, event, body.purchaseId)
        if known == "expired":
            raise ApiError(ErrorType.PURCHASE_EXPIRED, f"purchase {body.purchaseId!r} was not paid within the "
                           "payment timeout: its seats were released and nothing was registered", field="purchaseId")
        if known == "cancelled":  # Dataverse's paymentstatus Cancelled: the transaction was cancelled, as on timeout
            raise ApiError(ErrorType.PURCHASE_EXPIRED, f"purchase {body.purchaseId!r} was cancelled at the payment "
                           "page: its seats were released and nothing was registered", field="purchaseId")
        if known != "confirmed":
            raise ApiError(ErrorType.PURCHASE_NOT_FOUND, f"no purchase {body.purchaseId!r} for event "
                           f"{event.readable_id}", field="purchaseId")
        result = wire.RegistrationResult(status="Success", errorMessage=None, errorCode=None, redirectUrl=None,
                                         purchaseId=body.purchaseId, submissionId=body.purchaseId)
        return _json(result.model_dump_json().encode())

    async def check_in(request: Request) -> Response:
        body: wire.CheckInRequest = await _parse(request, wire.CheckInRequest, max_body_bytes)
        redirect_uri = request.query_params.get("redirectUri")
        if redirect_uri:
            if not _same_origin(redirect_uri, origin):
                raise ApiError(ErrorType.REDIRECT_NOT_ALLOWED, "redirectUri must be a path or a URL on the web "
                               f"application's origin {origin}", field="redirectUri")
            return RedirectResponse(redirect_uri, status_code=302)
        check = wire.CheckIn(checkInId=str(uuid.uuid4()), registrationId=body.registrationId,
                             sessionId=body.sessionId)
        return _json(check.model_dump_json().encode(), 201)

    behaviour: dict[str, Handler] = {
        "publicApiGetEvents": get_events,
        "publicApiGetCaptcha": get_captcha,
        "publicApiGetEventQrCode": get_qr_code,
        "publicApiGetSponsorshipsLogo": get_logo,
        "publicApiGetSpeakerImage": get_speaker_image,
        "publicApiGetRegistrationsCount": get_registration_count,
        "publicApiGetSessionRegistrationCount": get_session_registration_count,
        "publicApiRegister": Registrations(catalog, model, payment_redirect, max_body_bytes),
        "publicApiFinalizeRegistration": finalize,
        "publicApiCreateCheckInAndRedirect": check_in,
    }
    table: dict[str, Handler] = {}
    for operation in OPERATIONS:
        handler = behaviour.pop(operation.operation_id, None) or static_page(operation)
        table[operation.operation_id] = guarded(operation, handler)
    assert not behaviour, f"handlers for operations not in the table: {sorted(behaviour)}"
    return table


def route_options(operation: Operation, images_need_token: bool = False) -> dict[str, Any]:
    """The FastAPI route options of ``operation``: what FastAPI writes into the schema (models, statuses,
    parameters, security, request body); ``openapi.complete_schema`` adds the rest from the same table. An
    image needs no token unless ``images_need_token`` (OpenAPI ``{}``: no credentials; a token sent is checked)."""
    success, *others = operation.answers
    options: dict[str, Any] = {"operation_id": operation.operation_id, "summary": operation.summary,
                               "description": operation.description, "status_code": success.status,
                               "response_description": success.description}
    responses: dict[int | str, dict[str, Any]] = {}
    if success.media_type == JSON:
        options["response_model"] = success.model
    else:
        options["response_class"] = Response
        responses[success.status] = {"content": {success.media_type: {"schema": {"type": "string",
                                                                                 "format": "binary"}}},
                                     "description": success.description}
    for answer in others:
        responses[answer.status] = {"description": answer.description}
        if answer.model is not None:
            responses[answer.status]["model"] = answer.model
    options["responses"] = responses
    names = path_parameters(EVENT_MANAGEMENT + operation.path)
    parameters = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]
    parameters += [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                   for n in operation.query]
    security: list[dict[str, list[str]]] = [{"emApplicationtoken": []}] if operation.secured else []
    if operation.image and not images_need_token:
        security = [{}, {"emApplicationtoken": []}]
    extra: dict[str, Any] = {"security": security, "parameters": parameters}
    if operation.body is not None:
        extra["requestBody"] = {"required": True, "content": {
            JSON: {"schema": {"$ref": f"#/components/schemas/{operation.body.__name__}"}}}}
    options["openapi_extra"] = extra
    return options


def api_router(table: dict[str, Handler], images_need_token: bool = False) -> APIRouter:
    """The operations as FastAPI routes, each answered by its handler in ``table`` (from :func:`handlers`)."""
    router = APIRouter(prefix=EVENT_MANAGEMENT)
    for operation in OPERATIONS:
        router.add_api_route(operation.path, table[operation.operation_id], methods=[operation.method],
                             **route_options(operation, images_need_token))
    return router


#: ``numberOfPassesLeft`` of a pass on an event without a capacity: "unlimited" as a number, since the v2.0 sample
#: reads a null as sold out (``pass.numberOfPassesLeft > pass.passesUsed``) — Int32.MaxValue, as .NET would say it.
UNLIMITED_PASSES = 2_147_483_647


def live_counts(catalog: Catalog, model: LiveModel) -> Callable[[str], int | None]:
    """The live number behind each count hole of a catalog page (``livepages``): a session's created
    registrations, or a pass's numbers — ``numberOfPassesSold`` the attendees of its confirmed purchases,
    ``numberOfPassesLeft`` its quantity less those sold and those held by purchases awaiting payment
    (``UNLIMITED_PASSES`` on an event without a capacity). An event's passes share its seats (``catalog.py``),
    and the model sells no more of a pass than its quantity, so the passes left add up to the event's free seats."""
    passes = {p.id: p for e in catalog.events for p in e.passes}
    counts = model.passes if isinstance(model, Purchases) else None

    def count(key: str) -> int | None:
        if key.startswith((PASSES_LEFT, PASSES_SOLD)):
            listed = passes[key[len(PASSES_LEFT):]]
            sold, held = counts(listed.id) if counts is not None else (0, 0)
            if key.startswith(PASSES_SOLD):
                return sold
            if listed.quantity is None:
                return UNLIMITED_PASSES
            return max(0, listed.quantity - sold - held)
        return model.session_registration_count(key)

    return count


async def finalized(model: LiveModel, event: Event, purchase_id: str) -> str:
    """Confirm ``purchase_id``'s payment through a model that holds purchases (``Purchases``); another model
    holds none, so every purchase id is ``"unknown"``."""
    if isinstance(model, Purchases):
        return await model.finalize(event, purchase_id)
    return "unknown"


def _same_origin(uri: str, origin: str) -> bool:
    """A path on this site, or an absolute URL on ``origin`` (no open redirect)."""
    if uri.startswith("/") and not uri.startswith("//") and "\\" not in uri:
        return True
    parts = urlsplit(uri)
    return bool(parts.scheme and parts.netloc) and f"{parts.scheme}://{parts.netloc}".lower() == origin.lower()
