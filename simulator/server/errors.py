"""Errors of the HTTP face, every error answer it can give (``ErrorType``), and the one JSON shape they have.

    ServerError                 base of this package
    ├── ConfigurationError      create_app was given settings it cannot serve with (also a ValueError)
    ├── ApiError                an HTTP error answer: an ErrorType (status, type), message, field, extra headers
    └── StoreError              the SQLite store cannot do what was asked
        ├── UnknownSubmission   no submission has that id
        └── StoreSettingsMismatch  the database was written under other registration settings (also a
                                   ConfigurationError)

Error bodies never carry a stack trace: unexpected exceptions are logged and answered with a 500 whose body
says only that the request failed, with a correlation id to find the log line.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from enum import Enum

from pydantic import ValidationError
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from simulator.errors import StampedeError
from simulator.server.contract import UNSTORABLE_TEXT, ErrorBody, FieldError

__all__ = [
    "ErrorType",
    "ServerError",
    "ConfigurationError",
    "ApiError",
    "StoreError",
    "UnknownSubmission",
    "StoreSettingsMismatch",
    "error_bytes",
    "error_response",
    "validation_error",
    "failure_response",
]

logger = logging.getLogger(__name__)


class ErrorType(Enum):
    """Every error answer of the mock: its status and the ``type`` of its ``ErrorBody`` (Microsoft's name where
    Microsoft documents one). Raised as ``ApiError(ErrorType.X, message)``; which operation can give which is in
    ``operations.py``, and the published contract documents exactly those."""

    # the gate (every operation under the organization; see gate.py)
    ORIGIN_REQUIRED = 400, "OriginRequired"
    APPLICATION_TOKEN_REQUIRED = 400, "ApplicationTokenRequired"
    INVALID_APPLICATION_TOKEN = 401, "InvalidApplicationToken"
    ORIGIN_NOT_ALLOWED = 403, "OriginNotAllowed"
    ORGANIZATION_NOT_FOUND = 404, "OrganizationNotFound"
    # the request body
    MALFORMED_JSON = 400, "MalformedJson"
    INVALID_CHARACTERS = 400, "InvalidCharacters"
    PAYLOAD_TOO_LARGE = 413, "PayloadTooLarge"
    UNSUPPORTED_MEDIA_TYPE = 415, "UnsupportedMediaType"
    INVALID_REQUEST_BODY = 422, "InvalidRequestBody"
    # resources named in the path
    EVENT_NOT_FOUND = 404, "EventNotFound"
    SESSION_NOT_FOUND = 404, "SessionNotFound"
    SPEAKER_NOT_FOUND = 404, "SpeakerNotFound"
    SPONSORSHIP_NOT_FOUND = 404, "SponsorshipNotFound"
    QR_CODE_NOT_FOUND = 404, "QrCodeNotFound"
    CAPTCHA_NOT_AVAILABLE = 404, "CaptchaNotAvailable"
    # rules about the catalog a schema cannot express (a well-formed body refused)
    EVENT_NOT_LIVE = 400, "EventNotLive"
    INVALID_SESSION = 400, "InvalidSession"
    PASS_REQUIRED = 400, "PassRequired"
    INVALID_PASS = 400, "InvalidPass"
    WAITLIST_NOT_AVAILABLE = 400, "WaitlistNotAvailable"
    DUPLICATE_ATTENDEE = 400, "DuplicateAttendee"
    PURCHASE_NOT_FOUND = 400, "PurchaseNotFound"
    PURCHASE_EXPIRED = 400, "PurchaseExpired"
    REDIRECT_NOT_ALLOWED = 400, "RedirectNotAllowed"
    REGISTRATION_CLOSED = 400, "RegistrationClosed"  # undocumented: assumed (scenarios/README.md [window])
    # capacity, and the Dataverse behind validation
    EVENT_FULL = 409, "EventFull"
    SESSION_FULL = 409, "SessionFull"
    TOO_MANY_REQUESTS = 429, "TooManyRequests"
    SERVICE_UNAVAILABLE = 503, "ServiceUnavailable"
    # failures: logged, answered without a trace
    REGISTRATION_FAILED = 500, "RegistrationFailed"
    INTERNAL_SERVER_ERROR = 500, "InternalServerError"
    # the HTTP parser, before the app (uvicorn_seams.py): not HTTP/1.1 the server could read
    INVALID_HTTP_REQUEST = 400, "InvalidHttpRequest"
    # the harness plane (outside the contract)
    ADMIN_TOKEN_REQUIRED = 401, "AdminTokenRequired"
    SUBMISSION_NOT_FOUND = 404, "SubmissionNotFound"
    PURCHASE_UNKNOWN = 404, "PurchaseNotFound"
    PAYMENT_ACTION_INVALID = 400, "PaymentActionInvalid"
    FAULT_REJECTED = 400, "FaultRejected"

    def __init__(self, status: int, type_: str) -> None:
        self.status = status
        self.type = type_


class ServerError(StampedeError):
    """Base of every error this package raises."""


class ConfigurationError(ServerError, ValueError):
    """create_app was given settings it cannot serve with; the message says which and what would do."""


class ApiError(ServerError):
    """An error answer, raised from a route and rendered as an ``ErrorBody``."""

    def __init__(
        self,
        error: ErrorType,
        message: str,
        *,
        field: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.status = error.status
        self.type = error.type
        self.message = message
        self.field = field
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return error_response(self.status, self.type, self.message, field=self.field, errors=self.errors,
                              headers=self.headers)


class StoreError(ServerError):
    """The SQLite store cannot do what was asked."""


class JournalRefused(StoreError):
    """The store could not write what the callers were about to be told was accepted (a full disk, an I/O
    error): they hear 500; the journal has logged why, so the 500 is logged in one line, without a trace."""


class StoreSettingsMismatch(StoreError, ConfigurationError):
    """The database holds people matched under another rule or audience; the message names the setting."""


class UnknownSubmission(StoreError, KeyError):
    """No submission has this id."""

    def __init__(self, submission_id: str) -> None:
        super().__init__(submission_id)
        self.submission_id = submission_id

    def __str__(self) -> str:
        return f"no submission with id {self.submission_id!r}"


def error_bytes(
    status: int, type_: str, message: str, *, field: str | None = None, errors: Sequence[FieldError] | None = None
) -> bytes:
    """The JSON of an error answer."""
    body = ErrorBody(
        statusCode=status, type=type_, errorMessage=message, Message=message, field=field,
        errors=list(errors) if errors is not None else None, correlationId=str(uuid.uuid4()),
    )
    return body.model_dump_json().encode()


def error_response(
    status: int,
    type_: str,
    message: str,
    *,
    field: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(error_bytes(status, type_, message, field=field, errors=errors), status_code=status,
                    media_type="application/json", headers=dict(headers) if headers else None)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


def validation_error(exc: ValidationError) -> ApiError:
    """A 422 naming every bad field (``attendees[0].email: …``); a 400 for a body that is not JSON, and a 400
    naming the fields whose text could not be stored as sent (``contract.UNSTORABLE_TEXT``)."""
    errors = exc.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return ApiError(ErrorType.MALFORMED_JSON, "the request body is not valid JSON")
    unstorable = [e for e in errors if e["type"] == UNSTORABLE_TEXT]
    if unstorable:
        fields = [FieldError(field=_field_path(tuple(e["loc"])), message=str(e["msg"])) for e in unstorable]
        text = "; ".join(f"{f.field}: {f.message}" for f in fields)
        return ApiError(ErrorType.INVALID_CHARACTERS, text, field=fields[0].field, errors=fields)
    fields = [FieldError(field=_field_path(tuple(e["loc"])), message=str(e["msg"]).removeprefix("Value error, "))
              for e in errors]
    text = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return ApiError(ErrorType.INVALID_REQUEST_BODY, text, field=fields[0].field, errors=fields)


#: The status under which a request whose client hung up before its body was in is counted (nginx's "client
#: closed request"): nobody hears it, and it is no failure of the server (``client_disconnects`` in the stats).
CLIENT_CLOSED_REQUEST = 499


def failure_response(exc: Exception, where: str, failure: ErrorType = ErrorType.INTERNAL_SERVER_ERROR) -> Response:
    """The answer to any exception a handler raised: an ``ApiError``'s own answer; a client that hung up
    mid-body ``CLIENT_CLOSED_REQUEST``, not logged; anything else is logged (with ``where``, e.g.
    ``"POST /api/…"``) and answered ``failure`` (a 500) with no trace. The one place a failure becomes a 500."""
    if isinstance(exc, ApiError):
        return exc.response()
    if isinstance(exc, ClientDisconnect):
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    if isinstance(exc, JournalRefused):
        logger.error("%s answered %d: %s", where, failure.status, exc)
        return error_response(failure.status, failure.type, "the request failed; see the server log")
    logger.error("unhandled error on %s", where, exc_info=exc)
    return error_response(failure.status, failure.type, "the request failed; see the server log")
