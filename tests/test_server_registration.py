"""Registration: the documented body, 422s that name the field, 202 + Location, paid → redirectUrl, refusals."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from test_server_fakes import ORIGIN, FakeModel, api, attendee, build, client, make_app

from simulator.scenario import Payment
from simulator.server import Refused, RejectionCode, entity_refusal
from simulator.server.contract import RegistrationRequest

pytestmark = pytest.mark.anyio

CATALOG = build(paid_events=1)
FREE = CATALOG.events[0]
PAID = CATALOG.events[-1]
REGISTER = api(f"events/{FREE.readable_id}/registrations")
REGISTER_PAID = api(f"events/{PAID.readable_id}/registrations")


@pytest.fixture
def served() -> tuple[FastAPI, FakeModel]:
    return make_app(CATALOG)


async def test_free_registration_is_accepted_with_202_and_a_location(served: tuple[FastAPI, FakeModel]) -> None:
    app, model = served
    body = {"attendees": [attendee(attendeeSessions=[{"sessionId": FREE.sessions[0].id}])]}
    async with client(app) as c:
        response = await c.post(REGISTER, json=body)
        assert response.status_code == 202
        assert response.headers["content-type"] == "application/json"
        result = response.json()
        assert result == {"status": "Success", "errorMessage": None, "errorCode": None, "redirectUrl": None,
                          "purchaseId": None, "submissionId": result["submissionId"]}
        location = response.headers["location"]
        assert location == f"/_harness/submissions/{result['submissionId']}"
        status = await c.get(location)
        assert status.status_code == 200 and status.json()["state"] == "accepted"
        model.create(result["submissionId"])
        assert (await c.get(location)).json()["state"] == "created"
    (event, request), = model.requests
    assert event is FREE
    assert request.attendees[0].email == "ada@contoso.com"
    assert request.attendees[0].attendeeSessions[0].sessionId == FREE.sessions[0].id


async def test_documented_bodies_are_accepted(served: tuple[FastAPI, FakeModel]) -> None:
    """The three bodies of the RTM documentation: event, sessions, waitlist (§1.4)."""
    app, _ = served
    responses = [{"id": "jobtitle", "value": "Sample Contact Job Title"},
                 {"id": "customUnmappedField1", "value": "Sample Custom Unmapped Field 1"}]
    bodies = [
        {"attendees": [{"lastName": "Last", "firstName": "First", "email": "email@contoso.com",
                        "responses": responses}]},
        {"attendees": [{"lastName": "Last", "firstName": "First", "email": "email2@contoso.com",
                        "responses": responses[:1],
                        "attendeeSessions": [{"sessionId": s.id} for s in FREE.sessions[:2]]}]},
        {"attendees": [{"lastName": "Last", "firstName": "First", "email": "email3@contoso.com",
                        "responses": responses[:1], "waitlisted": True}]},
    ]
    async with client(app) as c:
        for body in bodies:
            response = await c.post(REGISTER, json=body)
            assert response.status_code == 202, response.text


async def test_unknown_keys_are_ignored_like_a_json_binder_would(served: tuple[FastAPI, FakeModel]) -> None:
    app, model = served
    async with client(app) as c:
        response = await c.post(REGISTER, json={"attendees": [attendee(nickname="Ada")], "extra": 1})
    assert response.status_code == 202


async def test_paid_event_answers_200_with_a_redirect_url(served: tuple[FastAPI, FakeModel]) -> None:
    """As both Microsoft samples read it: the v2.0 portal follows redirectUrl only when status == "Redirect" and
    keeps purchaseId (a GUID) for the finalization; the RTM payment article shows redirectUrl. By default the
    buyer goes to the mock's own payment page on the host the portal called; Location names the purchase."""
    app, _ = served
    body = {"attendees": [attendee(passId=PAID.passes[0].id)]}
    async with client(app) as c:
        response = await c.post(REGISTER_PAID, json=body)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"status", "purchaseId", "redirectUrl"}
    assert answer["status"] == "Redirect"
    assert answer["redirectUrl"] == f"http://testserver/_harness/pay/{answer['purchaseId']}"
    assert response.headers["location"] == f"/_harness/purchases/{answer['purchaseId']}"


async def test_paid_event_redirects_to_the_scenarios_payment_page() -> None:
    """``payment.redirect_url`` and ``return_url`` as the article's completion service takes them:
    ``…/GatewayRedirect/PayWithStripe?purchaseId=…&returnUrl=…`` (returnUrl URL-encoded)."""
    payment = Payment(redirect_url="https://localhost:7202/GatewayRedirect/PayWithStripe?purchaseId={purchaseId}"
                                   "&event={eventId}&returnUrl={returnUrl}",
                      return_url="{origin}/event/confirmation?id={eventId}")
    app, _ = make_app(CATALOG, payment=payment)
    async with client(app) as c:
        response = await c.post(REGISTER_PAID, json={"attendees": [attendee(passId=PAID.passes[0].id)]})
    url = urlsplit(response.json()["redirectUrl"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://localhost:7202/GatewayRedirect/PayWithStripe"
    query = parse_qs(url.query)
    assert query["purchaseId"] == [response.json()["purchaseId"]] and query["event"] == [PAID.readable_id]
    assert query["returnUrl"] == [f"{ORIGIN}/event/confirmation?id={PAID.readable_id}"]


async def test_paid_event_uses_the_models_redirect_when_it_gives_one(served: tuple[FastAPI, FakeModel]) -> None:
    app, model = served
    model.redirect_url = "https://pay.example.com/checkout/123"
    async with client(app) as c:
        response = await c.post(REGISTER_PAID, json={"attendees": [attendee(passId=PAID.passes[1].id)]})
    assert response.status_code == 200
    assert response.json()["redirectUrl"] == "https://pay.example.com/checkout/123"
    assert response.json()["status"] == "Redirect"


async def test_paid_event_without_a_pass_is_refused(served: tuple[FastAPI, FakeModel]) -> None:
    app, _ = served
    async with client(app) as c:
        response = await c.post(REGISTER_PAID, json={"attendees": [attendee()]})
    assert response.status_code == 400
    assert response.json()["type"] == "PassRequired"
    assert "attendees[0].passId" in response.json()["errorMessage"]


@pytest.mark.parametrize(("attendee_fields", "code"), [
    ({"attendeeSessions": [{"sessionId": "not-a-session"}]}, "InvalidSession"),
    ({"passId": "some-pass"}, "InvalidPass"),
])
async def test_entities_that_are_not_this_events_are_400(served: tuple[FastAPI, FakeModel],
                                                         attendee_fields: dict[str, Any], code: str) -> None:
    app, _ = served
    async with client(app) as c:
        response = await c.post(REGISTER, json={"attendees": [attendee(**attendee_fields)]})
    assert response.status_code == 400 and response.json()["type"] == code


async def test_session_of_another_event_is_400(served: tuple[FastAPI, FakeModel]) -> None:
    app, _ = served
    other = CATALOG.events[1].sessions[0].id
    async with client(app) as c:
        response = await c.post(REGISTER, json={"attendees": [attendee(attendeeSessions=[{"sessionId": other}])]})
    assert response.status_code == 400 and response.json()["type"] == "InvalidSession"


# --- the body's shape ---------------------------------------------------------------------------------------

VALID = attendee()
BAD_BODIES = [
    ({}, "attendees"),
    ({"attendees": []}, "attendees"),
    ({"attendees": "ada"}, "attendees"),
    ({"attendees": [{k: v for k, v in VALID.items() if k != "firstName"}]}, "attendees[0].firstName"),
    ({"attendees": [{k: v for k, v in VALID.items() if k != "lastName"}]}, "attendees[0].lastName"),
    ({"attendees": [{k: v for k, v in VALID.items() if k != "email"}]}, "attendees[0].email"),
    ({"attendees": [attendee(email="not-an-email")]}, "attendees[0].email"),
    ({"attendees": [attendee(firstName="")]}, "attendees[0].firstName"),
    ({"attendees": [attendee(waitlisted="maybe")]}, "attendees[0].waitlisted"),
    ({"attendees": [attendee(passId=42)]}, "attendees[0].passId"),
    ({"attendees": [attendee(responses=[{"value": "x"}])]}, "attendees[0].responses[0].id"),
    ({"attendees": [attendee(responses="jobtitle")]}, "attendees[0].responses"),
    ({"attendees": [attendee(attendeeSessions=[{}])]}, "attendees[0].attendeeSessions[0].sessionId"),
    ({"attendees": [VALID, attendee(attendeeSessions=[{"sessionId": 7}])]},
     "attendees[1].attendeeSessions[0].sessionId"),
    ({"attendees": [VALID] * 51}, "attendees"),
    ([VALID], "(body)"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[f for _, f in BAD_BODIES])
async def test_bad_bodies_are_422_naming_the_field(served: tuple[FastAPI, FakeModel], body: Any, field: str) -> None:
    app, model = served
    async with client(app) as c:
        response = await c.post(REGISTER, json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["type"] == "InvalidRequestBody"
    assert error["field"] == field
    assert error["errorMessage"].startswith(f"{field}: ")
    assert error["errors"][0]["field"] == field
    assert model.requests == []  # the model never sees an invalid body


async def test_malformed_json_is_400(served: tuple[FastAPI, FakeModel]) -> None:
    app, _ = served
    async with client(app) as c:
        response = await c.post(REGISTER, content=b'{"attendees": [', headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["type"] == "MalformedJson"


async def test_a_body_that_is_not_json_is_415(served: tuple[FastAPI, FakeModel]) -> None:
    app, _ = served
    async with client(app) as c:
        response = await c.post(REGISTER, content=b"firstName=Ada", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and response.json()["type"] == "UnsupportedMediaType"


async def test_unknown_event_is_404_before_the_body_is_read(served: tuple[FastAPI, FakeModel]) -> None:
    app, _ = served
    async with client(app) as c:
        response = await c.post(api("events/nope/registrations"), json={"attendees": []})
    assert response.status_code == 404 and response.json()["type"] == "EventNotFound"


# --- refusals -----------------------------------------------------------------------------------------------


async def test_throttled_validation_is_429_with_retry_after(served: tuple[FastAPI, FakeModel]) -> None:
    app, model = served
    model.refuse_next = Refused(RejectionCode.THROTTLED, "validation read throttled", retry_after_s=17)
    async with client(app) as c:
        response = await c.post(REGISTER, json={"attendees": [attendee()]}, headers={"Origin": "http://localhost:5173"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert "Retry-After" in response.headers["access-control-expose-headers"]
    assert response.json()["type"] == "TooManyRequests"


async def test_full_event_without_waitlist_is_409() -> None:
    catalog = build(paid_events=0, capacity=1, waitlist=False)
    app, _ = make_app(catalog)
    url = api(f"events/{catalog.events[0].readable_id}/registrations")
    async with client(app) as c:
        first = await c.post(url, json={"attendees": [attendee()]})
        second = await c.post(url, json={"attendees": [attendee(email="grace@contoso.com")]})
    assert first.status_code == 202
    assert second.status_code == 409 and second.json()["type"] == "EventFull"
    assert "retry-after" not in second.headers


async def test_a_failing_model_is_a_500_without_a_stack_trace(served: tuple[FastAPI, FakeModel]) -> None:
    app, model = served
    model.fail_next = True
    async with client(app) as c:
        response = await c.post(REGISTER, json={"attendees": [attendee()]})
    assert response.status_code == 500
    assert response.json()["type"] == "RegistrationFailed"
    assert "Traceback" not in response.text and "on purpose" not in response.text


# --- finalize -----------------------------------------------------------------------------------------------


async def test_finalize_names_no_purchase_through_a_model_that_holds_none(served: tuple[FastAPI, FakeModel]) -> None:
    """A model without purchases (this fake) accepts paid registrations but holds nothing to pay for: every
    finalize is PurchaseNotFound, never Success (the live model's purchases: test_server_payments.py)."""
    app, _ = served
    finalize = api(f"events/{PAID.readable_id}/registrations/finalize")
    async with client(app) as c:
        paid = await c.post(REGISTER_PAID, json={"attendees": [attendee(passId=PAID.passes[0].id)]})
        submission = await c.post(finalize, json={"purchaseId": paid.json()["purchaseId"]})
        unknown = await c.post(finalize, json={"purchaseId": "nope"})
        bad = await c.post(finalize, json={"hipObject": None})
    assert submission.status_code == 400 and submission.json()["type"] == "PurchaseNotFound"
    assert unknown.status_code == 400 and unknown.json()["type"] == "PurchaseNotFound"
    assert bad.status_code == 422 and bad.json()["field"] == "purchaseId"


# --- the pure entity check the live model reuses --------------------------------------------------------------


def test_entity_refusal_accepts_a_valid_request() -> None:
    request = RegistrationRequest.model_validate({"attendees": [attendee(
        attendeeSessions=[{"sessionId": s.id} for s in FREE.sessions[:2]])]})
    assert entity_refusal(FREE, request) is None


@pytest.mark.parametrize(("event_index", "attendees", "code"), [
    (0, [attendee(), attendee(email="ADA@contoso.com")], RejectionCode.DUPLICATE_ATTENDEE),
    (-1, [attendee(passId="nope")], RejectionCode.INVALID_PASS),
    (-1, [attendee()], RejectionCode.PASS_REQUIRED),
    (0, [attendee(attendeeSessions=[{"sessionId": "x"}])], RejectionCode.INVALID_SESSION),
])
def test_entity_refusal_codes(event_index: int, attendees: list[dict[str, Any]], code: RejectionCode) -> None:
    request = RegistrationRequest.model_validate({"attendees": attendees})
    refusal = entity_refusal(CATALOG.events[event_index], request)
    assert refusal is not None and refusal.code is code


def test_waitlist_refused_where_the_event_has_none() -> None:
    event = build(paid_events=0, waitlist=False).events[0]
    request = RegistrationRequest.model_validate({"attendees": [attendee(waitlisted=True)]})
    refusal = entity_refusal(event, request)
    assert refusal is not None and refusal.code is RejectionCode.WAITLIST_NOT_AVAILABLE


async def test_a_body_over_a_mebibyte_is_413(served: tuple[FastAPI, FakeModel]) -> None:
    app, model = served
    huge = b'{"attendees": [' + b" " * (1 << 20) + b"]}"
    async with client(app) as c:
        response = await c.post(REGISTER, content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["type"] == "PayloadTooLarge"
    assert model.requests == []
