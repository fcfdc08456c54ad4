"""Errors of the HTTP face, and the one JSON shape every error answer has.

    ServerError                 base of this package
    ├── ConfigurationError      create_app was given settings it cannot serve with (also a ValueError)
    ├── ApiError                an HTTP error answer: status, type, message, field, extra headers
    └── StoreError              the SQLite store cannot do what was asked
        ├── UnknownSubmission   no submission has that id
        └── StoreSettingsMismatch  the database was written under other registration settings (also a
                                   ConfigurationError)

Error bodies never carry a stack trace: unexpected exceptions are logged and answered with a 500 whose body
says only that the request failed, with a correlation id to find the log line.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from pydantic import ValidationError
from starlette.responses import Response

from simulator.server.contract import ErrorBody, FieldError

__all__ = [
    "ServerError",
    "ConfigurationError",
    "ApiError",
    "StoreError",
    "UnknownSubmission",
    "StoreSettingsMismatch",
    "error_bytes",
    "error_response",
    "validation_error",
]


class ServerError(Exception):
    """Base of every error this package raises."""


class ConfigurationError(ServerError, ValueError):
    """create_app was given settings it cannot serve with; the message says which and what would do."""


class ApiError(ServerError):
    """An error answer, raised from a route and rendered as an ``ErrorBody``."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        field: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.field = field
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return error_response(self.status, self.type, self.message, field=self.field, errors=self.errors,
                              headers=self.headers)


class StoreError(ServerError):
    """The SQLite store cannot do what was asked."""


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
    """A 422 naming every bad field (``attendees[0].email: …``), or a 400 for a body that is not JSON."""
    errors = exc.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return ApiError(400, "MalformedJson", "the request body is not valid JSON")
    fields = [FieldError(field=_field_path(tuple(e["loc"])), message=str(e["msg"]).removeprefix("Value error, "))
              for e in errors]
    text = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return ApiError(422, "InvalidRequestBody", text, field=fields[0].field, errors=fields)
