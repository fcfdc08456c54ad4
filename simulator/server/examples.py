"""Examples for the OpenAPI document: the documented bodies, built through the contract models.

Request examples are Microsoft's, verbatim (RTM event API article: event, session and waitlist registration;
payment-gateway article: a paid attendee with ``passId``). Response examples follow the v2.0 sample portal's
mock answers (``Contoso_Ltd_Conference``) with every field present and blanks as ``null``. Each one is built
through its model, so an example that no longer fits the contract fails when the schema is built, not when a
portal developer pastes it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from simulator.server import contract as wire
from simulator.server.api import MAX_BODY_BYTES

__all__ = ["REQUEST_EXAMPLES", "RESPONSE_EXAMPLES", "ERROR_EXAMPLES", "PARAMETER_EXAMPLES"]

_EVENT_ID = "096d9e67-b156-e711-abaa-00155d701c02"
_READABLE_ID = "Contoso_Ltd_Conference"
_SESSION_ID = "d5f513c6-989f-f011-bbd3-000d3a5b6385"
_SESSION_ID_2 = "f5d4e4b9-989f-f011-bbd3-000d3a5b6385"
_SPEAKER_ID = "4a2d8c6e-1f3b-4e5a-9c7d-2b8e6f0a1c3d"
_SPONSORSHIP_ID = "7c1e5a9b-3d2f-4b6e-8a0c-9f4d2e7b1a5c"
_PASS_ID = "b3f6a1d2-8c4e-4f7a-9b2d-6e1c5a8f3d7b"
_PURCHASE_ID = "a4d9e358-949f-f011-bbd3-6045bd02f64d"
_CORRELATION_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


_BUILDING = wire.Building(
    accessibleToilets=True, additionalFacilities=None, addressComposite="1 Microsoft Way\nRedmond, WA 98052",
    addressLine1="1 Microsoft Way", addressLine2=None, addressLine3=None, city="Redmond", country="USA",
    description=None, disabledAccess=True, disabledParking=True, email=None,
    id="1b9f3d5e-b156-e711-abaa-00155d701c02", name="Contoso Conference Center", postalCode="98052",
    publicTelephoneAvailable=False, stateProvince="WA", telephone1=None, telephone2=None, telephone3=None,
    website=None, wifiAvailable=True, wifiPassword=None, wifiSSID="Contoso-Guest",
)
_ROOM = wire.Room(description=None, disabledAccess=True, id="2c0a4e6f-b156-e711-abaa-00155d701c02", name="Hall A")
_SPEAKER = wire.Speaker(
    about="Works on event platforms at Contoso.", accomplishments=None, blog=None, email=None, id=_SPEAKER_ID,
    image=None, imageUrl=f"speakers/{_SPEAKER_ID}/image", linkedin=None, name="Nancy Anderson",
    publications=None, title="Principal Engineer", twitter=None, website=None, sessions=None,
)
_SESSION = wire.Session(
    alreadyRegistered=False, building=_BUILDING, camerasPermitted=100000001,
    detailedDescription="How Contoso plans for registration stampedes.", endTime="2017-08-10T10:00:00",
    endTimeUTC="2017-08-10T17:00:00Z", id=_SESSION_ID, language=1033, name="Opening keynote",
    recordingsPermitted=100000001, room=_ROOM, sessionFormat=100000001, sessionObjectives=None,
    sessionPreRequisites=None, sessionSummary="Opening keynote", sessionType=100000001,
    startTime="2017-08-10T09:00:00", startTimeUTC="2017-08-10T16:00:00Z", timeZone=4,
    userEligibleToRegister=False, speakers=[_SPEAKER], maxCapacity=500, isCapacityRestricted=True,
    registrationCount=None,
)
_EVENT = wire.Event(
    allowAnonymousRegistrations=True, allowCustomAgenda=True, autoregisterWaitlistItems=True, building=_BUILDING,
    description=None, enableCaptcha=False, endDate="2017-08-11T17:00:00", endDateUTC="2017-08-12T00:00:00Z",
    eventFormat=100000001, eventId=_EVENT_ID, enableMultiAttendeeRegistration=True, eventLanguage=None,
    eventName="Contoso Ltd Conference", eventType=100000002, image=None, maxCapacity=0,
    isCapacityRestricted=False, publicEventUrl=f"https://events.contoso.com/{_READABLE_ID}",
    readableEventId=_READABLE_ID, room=None, showAutomaticRegistrationCheckbox=False, showWaitlist=False,
    startDate="2017-08-10T08:00:00", startDateUTC="2017-08-10T15:00:00Z", timeZone=4,
    timeZoneName="(GMT-08:00) Pacific Time (US & Canada)", registrationForm=None, setRegistrationEndDate=False,
    stopRegistrationDate=None, websiteMessage=None,
)
_TRACK = wire.SessionTrack(description="Sessions for developers", id="5e7a9c1b-b156-e711-abaa-00155d701c02",
                           name="Developer track")
_PASS = wire.Pass(passId=_PASS_ID, passName="Full conference", numberOfPassesLeft=120, numberOfPassesSold=80,
                  price=199.0, currencySymbol="$", sessions=None)
_SPONSORSHIP = wire.Sponsorship(description="Gold sponsor", id=_SPONSORSHIP_ID,
                                sponsorId="8d2f6b0c-b156-e711-abaa-00155d701c02",
                                sponsorName="Contoso Pharmaceuticals", sponsorshipTopic="Gold")
_FIELD = wire.CustomRegistrationField(customRegistrationFieldId="9e3a7c2d-b156-e711-abaa-00155d701c02",
                                      text="Dietary requirements", type=100000003, isRequired=False,
                                      choices="None\nVegetarian\nVegan")
_RESULT = wire.RegistrationResult(status="Success", errorMessage=None, errorCode=None, redirectUrl=None,
                                  purchaseId=None, submissionId="3f2504e0-4f89-41d3-9a0c-0305e82c3301")

#: operationId → status → example body (a single ``example`` on the response's JSON media type).
RESPONSE_EXAMPLES: dict[str, dict[str, Any]] = {
    "publicApiGetEvents": {"200": [_dump(_EVENT)]},
    "publicApiGetEvent": {"200": _dump(_EVENT)},
    "publicApiGetCaptcha": {"200": _dump(wire.Captcha(
        FlowId="f0b4c1d2-3e4f-4a5b-8c6d-7e8f9a0b1c2d", HipUrl="https://client.hip.live.com/GetHIP/GetHIPAMFE/HIPAMFE",
        ObjectName="captcha-container", FunctionName="onCaptchaLoaded"))},
    "publicApiGetCustomRegistrationFields": {"200": [_dump(_FIELD)]},
    "publicApiGetEventSessions": {"200": [_dump(_SESSION)]},
    "publicApiGetEventTracks": {"200": [_dump(_TRACK)]},
    "publicApiGetEventPasses": {"200": [_dump(_PASS)]},
    "publicApiGetEventSpeakers": {"200": [_dump(_SPEAKER.model_copy(update={"sessions": [
        _SESSION.model_copy(update={"speakers": None})]}))]},
    "publicApiGetEventSponsorships": {"200": [_dump(_SPONSORSHIP)]},
    "publicApiGetSessionById": {"200": _dump(_SESSION)},
    "publicApiGetUser": {"200": _dump(wire.User(id=None, firstName=None, lastName=None, email=None,
                                                 isAnonymous=True))},
    "publicApiGetRegistrationsCount": {"200": 42},
    "publicApiGetSessionRegistrationCount": {"200": 17},
    "publicApiRegister": {
        "202": _dump(_RESULT),
        # The payment-gateway article prints the key with a stray trailing space; the mock sends "redirectUrl".
        "200": _dump(wire.PaymentRedirect(
            status="Redirect", purchaseId=_PURCHASE_ID, redirectUrl=f"https://localhost:7202/GatewayRedirect/PayWithStripe?purchaseId={_PURCHASE_ID}"
                        "&returnUrl=https%3A%2F%2Fmicrosoft.com")),
    },
    "publicApiFinalizeRegistration": {"200": _dump(_RESULT.model_copy(update={
        "purchaseId": _PURCHASE_ID, "submissionId": _PURCHASE_ID}))},
    "publicApiCreateCheckInAndRedirect": {"201": _dump(wire.CheckIn(
        checkInId="6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", registrationId="5b9e1d3f-7a2c-4e6b-9d8f-1c3e5a7b9d2f",
        sessionId=_SESSION_ID))},
}

_ATTENDEE = {"lastName": "Sample Contact Last Name", "firstName": "Sample Contact First Name",
             "email": "email@contoso.com"}
_RESPONSES = [{"id": "jobtitle", "value": "Sample Contact Job Title"},
              {"id": "customUnmappedField1", "value": "Sample Custom Unmapped Field 1"},
              {"id": "customUnmappedField2", "value": "Sample Custom Unmapped Field 2"}]

#: operationId → named examples of the request body (``examples`` on the JSON media type).
REQUEST_EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "publicApiRegister": {
        "event": {"summary": "Event registration (RTM article)",
                  "value": {"attendees": [{**_ATTENDEE, "responses": _RESPONSES}]}},
        "sessions": {"summary": "Session registration: sessions per attendee (RTM article)",
                     "value": {"attendees": [{**_ATTENDEE, "responses": _RESPONSES[:1], "attendeeSessions": [
                         {"sessionId": _SESSION_ID}, {"sessionId": _SESSION_ID_2}]}]}},
        "waitlist": {"summary": "Waitlist registration (RTM article)",
                     "value": {"attendees": [{**_ATTENDEE, "waitlisted": True, "responses": _RESPONSES[:1]}]}},
        "paid": {"summary": "Event with a payment gateway: a pass per attendee (payment-gateway article)",
                 "value": {"attendees": [{**_ATTENDEE, "passId": _PASS_ID}]}},
    },
    "publicApiFinalizeRegistration": {
        "purchase": {"summary": "v2.0 FinalizeRegistrationRequest", "value": {"purchaseId": _PURCHASE_ID}},
    },
    "publicApiCreateCheckInAndRedirect": {
        "session": {"summary": "Check in to a session (assumed payload)",
                    "value": {"registrationId": "5b9e1d3f-7a2c-4e6b-9d8f-1c3e5a7b9d2f", "sessionId": _SESSION_ID}},
    },
}
_BODIES: dict[str, type[BaseModel]] = {"publicApiRegister": wire.RegistrationRequest,
                                       "publicApiFinalizeRegistration": wire.FinalizeRegistrationRequest,
                                       "publicApiCreateCheckInAndRedirect": wire.CheckInRequest}
for _operation, _named in REQUEST_EXAMPLES.items():  # each must be a body the server accepts as well formed
    for _example in _named.values():
        _BODIES[_operation].model_validate(_example["value"])

#: Path parameter → example value (the documented ids).
PARAMETER_EXAMPLES: dict[str, str] = {
    "organizationId": "00000000-0000-4000-8000-000000000001",
    "readableEventId": _READABLE_ID,
    "sessionId": _SESSION_ID,
    "speakerId": _SPEAKER_ID,
    "sponsorshipId": _SPONSORSHIP_ID,
}


def _error(status: int, type_: str, message: str, field: str | None = None,
           errors: list[wire.FieldError] | None = None) -> dict[str, Any]:
    return _dump(wire.ErrorBody(statusCode=status, type=type_, errorMessage=message, Message=message, field=field,
                                errors=errors, correlationId=_CORRELATION_ID))


#: status → named error examples; an operation shows those whose name it can give (see ``openapi.py``).
ERROR_EXAMPLES: dict[int, dict[str, dict[str, Any]]] = {
    400: {
        "ApplicationTokenRequired": _error(400, "ApplicationTokenRequired",
                                           "the emApplicationtoken query parameter is required"),
        "MalformedJson": _error(400, "MalformedJson", "the request body is not valid JSON"),
        "InvalidCharacters": _error(400, "InvalidCharacters", "attendees[0].email: holds U+200B, a control or "
                                    "zero-width character, which no email address may hold: send the address "
                                    "without it, like email@contoso.com", field="attendees[0].email",
                                    errors=[wire.FieldError(field="attendees[0].email", message="holds U+200B, a "
                                            "control or zero-width character, which no email address may hold: "
                                            "send the address without it, like email@contoso.com")]),
        "EventNotLive": _error(400, "EventNotLive", f"event {_READABLE_ID} is not live: it is not published, so "
                               "it takes no registrations"),
        "InvalidSession": _error(400, "InvalidSession", f"attendees[0].attendeeSessions[0].sessionId: {_SESSION_ID} "
                                 f"is not a session of event {_READABLE_ID}"),
        "PassRequired": _error(400, "PassRequired", f"attendees[0].passId: event {_READABLE_ID} uses a payment "
                               f"gateway; name one of its passes ({_PASS_ID})"),
        "InvalidPass": _error(400, "InvalidPass", f"attendees[0].passId: {_PASS_ID} is not a pass of event "
                              f"{_READABLE_ID}", field="attendees[0].passId"),
        "WaitlistNotAvailable": _error(400, "WaitlistNotAvailable", f"attendees[0].waitlisted: event {_READABLE_ID} "
                                       "has no waitlist", field="attendees[0].waitlisted"),
        "DuplicateAttendee": _error(400, "DuplicateAttendee", "attendees[1].email: email@contoso.com appears twice "
                                    "in one request", field="attendees[1].email"),
        "PurchaseNotFound": _error(400, "PurchaseNotFound", f"no purchase {_PURCHASE_ID!r} for event {_READABLE_ID}",
                                   field="purchaseId"),
        "PurchaseExpired": _error(400, "PurchaseExpired", f"purchase {_PURCHASE_ID!r} was not paid within the "
                                  "payment timeout: its seats were released and nothing was registered",
                                  field="purchaseId"),
        "RegistrationClosed": _error(400, "RegistrationClosed", f"event {_READABLE_ID}'s registration period is "
                                     "closed: it takes no more registrations"),
        "RedirectNotAllowed": _error(400, "RedirectNotAllowed", "redirectUri must be a path or a URL on the web "
                                     "application's origin https://contoso.com", field="redirectUri"),
    },
    401: {"InvalidApplicationToken": _error(401, "InvalidApplicationToken",
                                            "the emApplicationtoken is not valid for this organization")},
    403: {"OriginNotAllowed": _error(403, "OriginNotAllowed", "this origin is not the web application's origin")},
    404: {
        "EventNotFound": _error(404, "EventNotFound", f"no published event {_READABLE_ID!r}"),
        "SessionNotFound": _error(404, "SessionNotFound", f"no session {_SESSION_ID!r}"),
        "SpeakerNotFound": _error(404, "SpeakerNotFound", f"no speaker {_SPEAKER_ID!r}"),
        "SponsorshipNotFound": _error(404, "SponsorshipNotFound", f"no sponsorship {_SPONSORSHIP_ID!r}"),
        "CaptchaNotAvailable": _error(404, "CaptchaNotAvailable", f"event {_READABLE_ID} has no CAPTCHA: CAPTCHA is "
                                      "an outbound-marketing feature, not provisioned for this organization"),
        "OrganizationNotFound": _error(404, "OrganizationNotFound", "no organization 'contoso' here"),
    },
    409: {"EventFull": _error(409, "EventFull", f"event {_READABLE_ID} is full")},
    413: {"PayloadTooLarge": _error(413, "PayloadTooLarge", f"the body may be at most {MAX_BODY_BYTES} bytes")},
    415: {"UnsupportedMediaType": _error(415, "UnsupportedMediaType",
                                         "send the body as application/json (got text/plain)")},
    422: {"InvalidRequestBody": _error(
        422, "InvalidRequestBody", "attendees[0].email: not an email address, expected something like "
        "email@contoso.com", field="attendees[0].email",
        errors=[wire.FieldError(field="attendees[0].email",
                                message="not an email address, expected something like email@contoso.com")])},
    429: {"TooManyRequests": _error(429, "TooManyRequests", "Number of requests exceeded the limit of 6000 over "
                                    "time window of 300 seconds.")},
    503: {"ServiceUnavailable": _error(503, "ServiceUnavailable", "Dataverse is unavailable; try again later")},
}
