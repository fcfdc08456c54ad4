"""What the event API's contract promises beyond its schema, as Schemathesis checks.

    retry_after_on_429                every 429 carries Retry-After: a positive whole number of seconds
    refusals_name_a_rule              a well-formed request refused with 400 names one of the operation's documented
                                      catalog rules (InvalidSession, PassRequired…), never a vague "bad request"
    TokenEnforced                     without emApplicationtoken → 400 or 401, with a wrong one → 401, never 2xx
    CorsOnlyForRegisteredOrigin       Access-Control-Allow-Origin only ever echoes the web application's origin:
                                      never ``*``, never a stranger's origin, never unasked
    RegistrationCountsNeverDecrease   a registration count read later is never below one read earlier

``TokenEnforced`` stands in for Schemathesis' built-in ``ignored_auth``, which counts only 401 and 403 as a
refusal: the event API documents **400** for a request without its token (outbound v2.0 rule, carried into
RTM), so the built-in check would fail the documented behaviour. This one probes the same two ways (no token,
a wrong token) and holds the API to the documented answers.

Like Schemathesis' own checks, each returns ``True`` when it does not apply to the response (counted as
skipped), ``None`` when it checked and passed, and raises ``AssertionError`` naming what broke the contract.
The classes keep per-run state (Schemathesis makes one instance per run) and probe each operation once per run:
they repeat the case through ``Case.derive`` + ``Case.call``, which go the same way as the run (in-process
ASGI or HTTP). Importing this module registers the checks.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import schemathesis
from requests.structures import CaseInsensitiveDict
from schemathesis import Case, CheckContext, Response

from simulator.server.openapi import BUSINESS_REFUSALS

__all__ = [
    "TOKEN_PARAMETER",
    "STRANGER_ORIGIN",
    "CUSTOM_CHECKS",
    "retry_after_on_429",
    "refusals_name_a_rule",
    "TokenEnforced",
    "CorsOnlyForRegisteredOrigin",
    "RegistrationCountsNeverDecrease",
]

TOKEN_PARAMETER = "emApplicationtoken"
STRANGER_ORIGIN = "https://stranger.conformance.invalid"
_COUNT_OPERATIONS = frozenset({"publicApiGetRegistrationsCount", "publicApiGetSessionRegistrationCount"})
_WRONG_TOKEN = "not-the-web-application-token"


def _operation_id(case: Case) -> str:
    return str(case.operation.definition.raw.get("operationId", case.operation.label))


def _header(response: Response, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return values[0] if values else None


def _request_header(response: Response, name: str) -> str | None:
    value = response.request.headers.get(name)
    return str(value) if value is not None else None


def _error_type(response: Response) -> str | None:
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) and isinstance(body.get("type"), str) else None


def _with_origin(case: Case, origin: str) -> CaseInsensitiveDict:
    headers = CaseInsensitiveDict(case.headers or {})
    headers["Origin"] = origin
    return headers


def _is_positive(case: Case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


@schemathesis.check
def retry_after_on_429(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 429 tells the caller how long to wait: ``Retry-After`` as a positive whole number of seconds."""
    if response.status_code != 429:
        return True
    value = _header(response, "Retry-After")
    if value is None:
        raise AssertionError("429 without a Retry-After header: a client cannot know when to try again")
    if not value.strip().isdigit() or int(value) < 1:
        raise AssertionError(f"429 with Retry-After {value!r}: expected a positive whole number of seconds, e.g. 30")
    return None


@schemathesis.check
def refusals_name_a_rule(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A schema-valid request may be refused with 400 only for a documented rule about the catalog."""
    if response.status_code != 400 or not _is_positive(case):
        return True
    allowed = BUSINESS_REFUSALS.get(_operation_id(case), ())
    refusal = _error_type(response)
    if refusal not in allowed:
        rules = ", ".join(allowed) or "none: every well-formed request must be accepted or refused otherwise"
        raise AssertionError(f"a schema-valid request was refused with 400 {refusal or '(no error type)'}; "
                             f"the documented 400 refusals of this operation are: {rules}")
    return None


class _OncePerOperation:
    """Probing bookkeeping: each operation is probed once per run."""

    def __init__(self) -> None:
        self._probed: set[str] = set()
        self._lock = threading.Lock()

    def first_time(self, case: Case) -> bool:
        with self._lock:
            if case.operation.label in self._probed:
                return False
            self._probed.add(case.operation.label)
            return True


@schemathesis.check
class TokenEnforced:
    """An operation secured by the token refuses callers without it (400 or 401) or with a wrong one (401); one
    whose token is optional (``security: [{}, …]``) still refuses a wrong one."""

    def __init__(self) -> None:
        self._once = _OncePerOperation()

    def after_response(self, ctx: CheckContext, response: Response, case: Case) -> bool | None:
        secured = case.operation.definition.raw.get("security", [{TOKEN_PARAMETER: []}])
        if not secured or not 200 <= response.status_code < 300 or not self._once.first_time(case):
            return True
        query = {k: v for k, v in (case.query or {}).items() if k != TOKEN_PARAMETER}
        optional = {} in secured  # e.g. the images, which portals load through <img src> without the token
        without = None if optional else case.derive(query=query).call()
        if without is not None and without.status_code not in (400, 401):
            raise AssertionError(f"without {TOKEN_PARAMETER} the API answered {without.status_code}; the contract "
                                 "says 400 ApplicationTokenRequired (or 401)")
        wrong = case.derive(query={**query, TOKEN_PARAMETER: _WRONG_TOKEN}).call()
        if wrong.status_code != 401:
            raise AssertionError(f"with a wrong {TOKEN_PARAMETER} the API answered {wrong.status_code}; the "
                                 "contract says 401 InvalidApplicationToken")
        return None


@schemathesis.check
class CorsOnlyForRegisteredOrigin:
    """CORS answers the web application's origin and no one else.

    Every response: ``Access-Control-Allow-Origin`` appears only when the request sent an ``Origin``, equals that
    origin, is never ``*``, and (when ``origin`` is configured) is that origin. Once per operation, the case is
    repeated with a stranger's ``Origin`` (no CORS headers may come back) and, when ``origin`` is known, with the
    web application's origin (``Access-Control-Allow-Origin`` must echo it).
    """

    def __init__(self, origin: str | None = None) -> None:
        self.origin = origin.rstrip("/").lower() if origin else None
        self._once = _OncePerOperation()

    def _verify(self, response: Response) -> None:
        sent = _request_header(response, "Origin")
        allowed = _header(response, "Access-Control-Allow-Origin")
        if allowed is None:
            return
        if allowed.strip() == "*":
            raise AssertionError("Access-Control-Allow-Origin: * lets every site read the API; the contract allows "
                                 "only the web application's origin")
        if sent is None:
            raise AssertionError(f"Access-Control-Allow-Origin: {allowed} on a request that sent no Origin")
        if allowed.lower() != sent.lower():
            raise AssertionError(f"Access-Control-Allow-Origin: {allowed} does not echo the request's Origin {sent}")
        if self.origin is not None and allowed.lower() != self.origin:
            raise AssertionError(f"Access-Control-Allow-Origin: {allowed} granted to an origin other than the web "
                                 f"application's ({self.origin})")

    def after_response(self, ctx: CheckContext, response: Response, case: Case) -> bool | None:
        self._verify(response)
        if not _is_positive(case) or not self._once.first_time(case):
            return None
        stranger = case.derive(headers=_with_origin(case, STRANGER_ORIGIN), keep_auth=True).call()
        self._verify(stranger)
        if _header(stranger, "Access-Control-Allow-Origin") is not None:
            raise AssertionError(f"a request from the stranger origin {STRANGER_ORIGIN} got CORS headers")
        if self.origin is not None:
            own = case.derive(headers=_with_origin(case, self.origin), keep_auth=True).call()
            self._verify(own)
            if own.status_code < 500 and _header(own, "Access-Control-Allow-Origin") is None:
                raise AssertionError(f"a request from the web application's origin {self.origin} got no "
                                     f"Access-Control-Allow-Origin (status {own.status_code})")
        return None


@schemathesis.check
class RegistrationCountsNeverDecrease:
    """Registrations are created, never removed, by the event API: a count never goes down.

    Remembers the highest count seen per URL; a later answer below it fails. Idempotent under replay (it keeps
    maxima), and meant for runs with one worker, where answers arrive in the order they were read.
    """

    def __init__(self) -> None:
        self._highest: dict[str, int] = {}

    def after_response(self, ctx: CheckContext, response: Response, case: Case) -> bool | None:
        if response.status_code != 200 or _operation_id(case) not in _COUNT_OPERATIONS:
            return True
        try:
            count: Any = json.loads(response.content)
        except ValueError:
            return True  # not a number at all: response_schema_conformance says so
        if not isinstance(count, int) or isinstance(count, bool):
            return True
        url = str(response.request.url).split("?", 1)[0]
        highest = self._highest.get(url)
        if highest is not None and count < highest:
            raise AssertionError(f"the registration count fell from {highest} to {count} at {url}")
        self._highest[url] = max(count, highest if highest is not None else count)
        return None


#: Names of the checks above, as Schemathesis knows them.
CUSTOM_CHECKS: tuple[str, ...] = ("retry_after_on_429", "refusals_name_a_rule", "TokenEnforced",
                                  "CorsOnlyForRegisteredOrigin", "RegistrationCountsNeverDecrease")
