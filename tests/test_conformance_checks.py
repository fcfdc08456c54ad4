"""The custom checks on hand-made answers: what passes, what fails, and what the failure says."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import requests
from schemathesis import Response

from conformance.checks import (
    STRANGER_ORIGIN,
    CorsOnlyForRegisteredOrigin,
    RegistrationCountsNeverDecrease,
    retry_after_on_429,
)

ORIGIN = "http://localhost:5173"
COUNT_URL = "http://mock/api/v1.0/orgs/o/eventmanagement/events/launch-001/registrations/count"


def answer(status: int, headers: dict[str, str] | None = None, *, body: bytes = b"{}", url: str = "http://mock/x",
           origin: str | None = None) -> Response:
    request = requests.Request("GET", url, headers={"Origin": origin} if origin else {}).prepare()
    return Response(status_code=status, headers={k.lower(): [v] for k, v in (headers or {}).items()}, content=body,
                    request=request, elapsed=0.01, verify=True)


def count_case() -> Any:
    return SimpleNamespace(operation=SimpleNamespace(label="GET count", definition=SimpleNamespace(
        raw={"operationId": "publicApiGetRegistrationsCount"})), meta=None)


@pytest.mark.parametrize("value", ["1", "30", "3600"])
def test_a_429_with_whole_seconds_passes(value: str) -> None:
    assert retry_after_on_429(None, answer(429, {"Retry-After": value}), None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("headers", "says"), [
    ({}, "429 without a Retry-After header"),
    ({"Retry-After": "0"}, "positive whole number"),
    ({"Retry-After": "1.5"}, "positive whole number"),
    ({"Retry-After": "-3"}, "positive whole number"),
    ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, "positive whole number"),
])
def test_a_429_without_usable_retry_after_fails(headers: dict[str, str], says: str) -> None:
    with pytest.raises(AssertionError, match=says):
        retry_after_on_429(None, answer(429, headers), None)  # type: ignore[arg-type]


def test_other_answers_are_not_retry_after_business() -> None:
    assert retry_after_on_429(None, answer(200), None) is True  # type: ignore[arg-type]


@pytest.mark.parametrize(("sent", "allowed", "says"), [
    (None, ORIGIN, "on a request that sent no Origin"),
    (ORIGIN, "*", "lets every site read the API"),
    (STRANGER_ORIGIN, STRANGER_ORIGIN, "granted to an origin other than the web application's"),
    (ORIGIN, "https://elsewhere.example", "does not echo the request's Origin"),
])
def test_cors_headers_for_anyone_but_the_web_application_fail(sent: str | None, allowed: str, says: str) -> None:
    check = CorsOnlyForRegisteredOrigin(origin=ORIGIN)
    with pytest.raises(AssertionError, match=says):
        check._verify(answer(200, {"Access-Control-Allow-Origin": allowed}, origin=sent))


def test_cors_headers_echoing_the_web_application_origin_pass() -> None:
    check = CorsOnlyForRegisteredOrigin(origin=ORIGIN + "/")
    check._verify(answer(200, {"Access-Control-Allow-Origin": ORIGIN}, origin=ORIGIN))
    check._verify(answer(403, origin=STRANGER_ORIGIN))
    check._verify(answer(200))


def test_a_registration_count_that_falls_fails_and_one_that_holds_or_grows_passes() -> None:
    check = RegistrationCountsNeverDecrease()
    case = count_case()
    for count in (0, 3, 3, 7):
        assert check.after_response(None, answer(200, body=str(count).encode(), url=COUNT_URL), case) is None  # type: ignore[arg-type]
    other_event = COUNT_URL.replace("launch-001", "launch-002")
    assert check.after_response(None, answer(200, body=b"1", url=other_event), case) is None  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="fell from 7 to 6"):
        check.after_response(None, answer(200, body=b"6", url=COUNT_URL + "?emApplicationtoken=t"), case)  # type: ignore[arg-type]
