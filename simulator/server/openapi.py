"""The event API's OpenAPI document: FastAPI's generated schema, completed into the published contract.

FastAPI writes the paths, parameters and models from the table of operations (``operations.py``, through
``api.route_options``). This module adds, from the same table, what a contract needs and a framework cannot know:

- **every answer each operation can give** (``Operation.documented_refusals``), each with the ``ErrorBody``
  schema and examples::

      every operation        400 401 403 404 429 503   (no 401 on the check-in, which takes no token)
      + a request body       413 415 422
      + registration         409

  429 and 503 are listed on the catalog reads too: the mock serves those from memory, but a real tenant reads
  Dataverse behind its cache and sits behind a platform rate limit, so a client must be ready for both;
- **the headers** those answers carry: ``Location`` (202 and 200 registration, 302 check-in) and ``Retry-After``
  in whole seconds on every 429, both required;
- **examples**: the documented request bodies and v2.0-shaped answers (``examples.py``);
- **the ids' formats**: organization, session, speaker and sponsorship ids are Dataverse GUIDs;
- **links** for stateful clients: published events → event → its sessions, speakers, passes… → a registration
  (with a session or a pass taken from the previous answer) → its count and its finalization (a paid one's
  purchase → finalize);
- the real host as ``servers`` and the token's ``apiKey`` security scheme.

Published as ``conformance/event-api.openapi.json`` (``python -m conformance.generate``); a test fails when the
app's schema and that file drift apart.
"""

from __future__ import annotations

import copy
from typing import Any

from simulator.server.errors import ErrorType
from simulator.server.examples import ERROR_EXAMPLES, PARAMETER_EXAMPLES, REQUEST_EXAMPLES, RESPONSE_EXAMPLES
from simulator.server.operations import BY_ID, OPERATIONS, STORAGE_REFUSALS, Operation

__all__ = ["complete_schema", "BUSINESS_REFUSALS"]

JSON = "application/json"
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
#: Error ``type`` values a well-formed request can still be refused with (400), by operation: rules about the
#: catalog that a schema cannot express (a session of another event, a pass on a free event…).
BUSINESS_REFUSALS: dict[str, tuple[str, ...]] = {
    operation.operation_id: rules for operation in OPERATIONS
    if (rules := tuple(error.type for error in (*operation.refusals,
                                                *(STORAGE_REFUSALS if operation.body is not None else ()))
                       if error.status == 400))
}

_ANSWERS: dict[int, str] = {
    400: "Bad request: emApplicationtoken missing (ApplicationTokenRequired, as Microsoft documents for a missing "
         "token, rather than 401), or Origin missing when the server requires it (OriginRequired)",
    401: "emApplicationtoken not valid for this organization",
    403: "Origin is not the web application's origin (answered without CORS headers)",
    404: "Unknown organization, or no such resource",
    409: "Event or session full, and no waitlist",
    413: "Body larger than the server's limit (64 KiB by default on the mock)",
    415: "Body is not application/json",
    422: "Body does not have the documented shape; names every bad field",
    429: "Throttled (a platform rate limit, or a Dataverse read behind validation); retry after Retry-After "
         "seconds",
    503: "Unavailable (a Dataverse outage); retry later",
}
_BODY_400 = ("Bad request: {token}the body is not JSON, a text in it cannot be stored as sent (InvalidCharacters: "
             "U+0000 anywhere, a control or zero-width character in an email), or a rule about the catalog refused "
             "a well-formed body "
             "({refusals}): a business refusal is a 400 whose ErrorBody.type names the rule")
_GUID_PARAMETERS = {"organizationId", "sessionId", "speakerId", "sponsorshipId"}
_PARAMETER_DESCRIPTIONS = {
    "organizationId": "The organization (Dataverse environment) id",
    "readableEventId": "The event's readable id (msevtmgt_readableeventid)",
    "sessionId": "The session id (msevtmgt_session)",
    "speakerId": "The speaker id (msevtmgt_speaker)",
    "sponsorshipId": "The sponsorship id (msevtmgt_sponsorship)",
    "businessUnitId": "Only events of this business unit (ignored by the mock: it has one)",
    "webappId": "Only events published to this web application (ignored by the mock: it has one)",
    "redirectUri": "Where to send the browser after the check-in: a path, or a URL on the web application's "
                   "origin",
}
_HEADERS: dict[str, dict[str, Any]] = {
    "Location": {"description": "Where the submission's status can be read (the mock's harness plane)",
                 "required": True, "schema": {"type": "string", "minLength": 1}},
    "Retry-After": {"description": "Whole seconds to wait before trying again", "required": True,
                    "schema": {"type": "integer", "minimum": 1}, "example": 30},
    "RedirectLocation": {"description": "The redirectUri given", "required": True,
                         "schema": {"type": "string", "minLength": 1}},
    "PurchaseLocation": {"description": "Where the purchase's state can be read: held, confirmed, expired or "
                                        "cancelled (the mock's harness plane)",
                         "required": True, "schema": {"type": "string", "minLength": 1}},
}


def _header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _path(parameter: str, source: str = "path") -> str:
    return f"$request.{source}.{parameter}"


def _links() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(operationId, status) → the links of that answer (OpenAPI 3.1 Link Objects)."""
    org = {"organizationId": _path("organizationId")}

    def to(operation: str, description: str, *, body: Any = None, **parameters: str) -> dict[str, Any]:
        link: dict[str, Any] = {"operationId": operation, "parameters": {**org, **parameters},
                                "description": description}
        if body is not None:
            link["requestBody"] = body
            # The whole body, not merged into a generated one (Schemathesis merges by default): a stateful
            # registration should be a valid one, so the chain reaches 202 and what follows it.
            link["x-schemathesis"] = {"merge_body": False}
        return link

    def of_event(event_id: str) -> dict[str, dict[str, Any]]:
        reads = {
            "GetEventSessions": "publicApiGetEventSessions", "GetEventSpeakers": "publicApiGetEventSpeakers",
            "GetEventPasses": "publicApiGetEventPasses", "GetEventTracks": "publicApiGetEventTracks",
            "GetEventSponsorships": "publicApiGetEventSponsorships",
            "GetCustomRegistrationFields": "publicApiGetCustomRegistrationFields",
            "GetRegistrationsCount": "publicApiGetRegistrationsCount", "GetEventQrCode": "publicApiGetEventQrCode",
            "GetCaptcha": "publicApiGetCaptcha", "Register": "publicApiRegister",
        }
        return {name: to(operation, f"The same event: {operation}", readableEventId=event_id)
                for name, operation in reads.items()}

    attendee = {"firstName": "Sample Contact First Name", "lastName": "Sample Contact Last Name",
                "email": "email@contoso.com"}
    first = "$response.body#/0"
    return {
        ("publicApiGetEvents", "200"): {
            "GetEvent": to("publicApiGetEvent", "The first published event",
                           readableEventId=f"{first}/readableEventId"),
            **{name: {**link, "description": "The first published event"} for name, link in
               of_event(f"{first}/readableEventId").items()},
        },
        ("publicApiGetEvent", "200"): of_event("$response.body#/readableEventId"),
        ("publicApiGetEventSessions", "200"): {
            "GetSessionById": to("publicApiGetSessionById", "The first session", sessionId=f"{first}/id"),
            "GetSessionRegistrationCount": to("publicApiGetSessionRegistrationCount", "The first session's count",
                                              sessionId=f"{first}/id"),
            "RegisterForSession": to("publicApiRegister", "Register an attendee for the first session",
                                     readableEventId=_path("readableEventId"),
                                     body={"attendees": [{**attendee, "attendeeSessions": [
                                         {"sessionId": f"{first}/id"}]}]}),
        },
        ("publicApiGetEventPasses", "200"): {
            "RegisterWithPass": to("publicApiRegister", "Register an attendee with the first pass (paid events)",
                                   readableEventId=_path("readableEventId"),
                                   body={"attendees": [{**attendee, "passId": f"{first}/passId"}]}),
        },
        ("publicApiGetEventSpeakers", "200"): {
            "GetSpeakerImage": to("publicApiGetSpeakerImage", "The first speaker's image", speakerId=f"{first}/id"),
        },
        ("publicApiGetEventSponsorships", "200"): {
            "GetSponsorshipsLogo": to("publicApiGetSponsorshipsLogo", "The first sponsorship's logo",
                                      sponsorshipId=f"{first}/id"),
        },
        ("publicApiGetSessionById", "200"): {
            "GetSessionRegistrationCount": to("publicApiGetSessionRegistrationCount", "The session's count",
                                              sessionId="$response.body#/id"),
        },
        ("publicApiRegister", "200"): {
            "FinalizePurchase": to("publicApiFinalizeRegistration", "Confirm this purchase's payment: the "
                                   "registration is created only then", readableEventId=_path("readableEventId"),
                                   body={"purchaseId": "$response.body#/purchaseId"}),
        },
        ("publicApiRegister", "202"): {
            "GetRegistrationsCount": to("publicApiGetRegistrationsCount", "The event's count (grows once created)",
                                        readableEventId=_path("readableEventId")),
            "FinalizeRegistration": to("publicApiFinalizeRegistration", "A submission names no purchase: 400 "
                                       "PurchaseNotFound (nothing to pay on a free or waitlisted registration)",
                                       readableEventId=_path("readableEventId"),
                                       body={"purchaseId": "$response.body#/submissionId"}),
        },
    }


def _parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        schema = parameter.setdefault("schema", {"type": "string"})
        if parameter["in"] == "path":
            schema["minLength"] = 1
            if name in _GUID_PARAMETERS:
                schema["format"] = "uuid"
            if name in PARAMETER_EXAMPLES:
                parameter["example"] = PARAMETER_EXAMPLES[name]
        if name in _PARAMETER_DESCRIPTIONS:
            parameter["description"] = _PARAMETER_DESCRIPTIONS[name]


def _error_answer(operation: Operation, status: int, errors: list[ErrorType]) -> dict[str, Any]:
    description = _ANSWERS[status]
    if status == 400 and operation.operation_id in BUSINESS_REFUSALS:
        description = _BODY_400.format(refusals=", ".join(BUSINESS_REFUSALS[operation.operation_id]),
                                       token="emApplicationtoken missing (ApplicationTokenRequired), "
                                       if operation.secured else "")
    examples = {error.type: {"$ref": f"#/components/examples/{error.type}"} for error in errors
                if error.type in ERROR_EXAMPLES.get(status, {})}
    answer: dict[str, Any] = {"description": description,
                              "content": {JSON: {"schema": _ERROR_REF, "examples": examples}}}
    if status == 429:
        answer["headers"] = {"Retry-After": _header("Retry-After")}
    return answer


def _responses(operation: Operation, generated: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's success answers completed with their headers and examples, plus every error answer."""
    responses = dict(generated)
    by_status: dict[int, list[ErrorType]] = {}
    for error in dict.fromkeys(operation.documented_refusals()):
        by_status.setdefault(error.status, []).append(error)
    for status, errors in by_status.items():
        responses[str(status)] = _error_answer(operation, status, errors)
    for answer in operation.answers:
        if answer.headers:
            responses[str(answer.status)]["headers"] = {name: _header(ref) for name, ref in answer.headers}
    for code, example in RESPONSE_EXAMPLES.get(operation.operation_id, {}).items():
        responses[code].setdefault("content", {}).setdefault(JSON, {})["example"] = example
    return dict(sorted(responses.items()))


def complete_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Complete FastAPI's generated ``schema`` (in place) into the published contract; returns it."""
    links = _links()
    schema["servers"] = [{
        "url": "https://public-{geo}.mkt.dynamics.com",
        "description": "A Customer Insights - Journeys tenant (the mock: http://127.0.0.1:PORT)",
        "variables": {"geo": {"default": "eur", "description": "The organization's geography, e.g. eur, usa, uae"}},
    }]
    schema["externalDocs"] = {
        "description": "Microsoft: Use the event API (real-time journeys)",
        "url": "https://learn.microsoft.com/dynamics365/customer-insights/journeys/developer/using-rtm-event-api",
    }
    components = schema.setdefault("components", {})
    components["headers"] = copy.deepcopy(_HEADERS)
    components["examples"] = {name: {"summary": f"{status} {name}", "value": copy.deepcopy(value)}
                              for status, named in ERROR_EXAMPLES.items() for name, value in named.items()}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation_id = operation["operationId"]
            _parameters(operation)
            operation["responses"] = _responses(BY_ID[operation_id], operation.get("responses", {}))
            for (source, status), answer_links in links.items():
                if source == operation_id:
                    operation["responses"][status]["links"] = copy.deepcopy(answer_links)
            if operation_id in REQUEST_EXAMPLES:
                operation["requestBody"]["content"][JSON]["examples"] = copy.deepcopy(REQUEST_EXAMPLES[operation_id])
    error_body = components.get("schemas", {}).get("ErrorBody")
    if error_body is not None:
        error_body["properties"]["type"]["description"] = (
            "What went wrong, e.g. ApplicationTokenRequired, InvalidApplicationToken, OriginNotAllowed, "
            "EventNotFound, InvalidRequestBody, EventFull, TooManyRequests, ServiceUnavailable")
    return schema
