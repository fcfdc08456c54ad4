"""The 19 operations of the RTM event API, each named once: the one table the HTTP face is derived from.

    OPERATIONS ──► api.py        the FastAPI routes (method, path, models, parameters, security, handlers)
               ──► fastlane.py   the pre-rendered catalog pages by path, and what each one charges to the cache
               ──► openapi.py    the published contract: every answer, refusal, header and parameter
    REFUSALS   ──► the status and error type of each of the engine's ``RejectionCode`` (no string matching)

Paths, methods and operation ids are those of Microsoft's generated SDK (``publicApi…``), under
``/api/v1.0/orgs/{organizationId}/eventmanagement``; field names those of the v2.0 models (``contract.py``).
Every operation under the organization can also be refused by the gate (``gate.py``: token, origin,
organization) and, since a real tenant reads Dataverse behind a cache and a platform rate limit, with 429 and
503; one with a request body also with the body's refusals. Those follow from ``secured`` and ``body``; an
operation lists only the refusals of its own (``refusals``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, Field

from simulator.catalog import Event
from simulator.engine.refusals import RejectionCode
from simulator.server import contract as wire
from simulator.server.errors import ErrorType

__all__ = [
    "EVENT_MANAGEMENT",
    "API_DESCRIPTION",
    "Operation",
    "Answer",
    "OPERATIONS",
    "BY_ID",
    "REFUSALS",
    "GATE_REFUSALS",
    "BODY_REFUSALS",
    "STORAGE_REFUSALS",
    "PLATFORM_REFUSALS",
    "path_parameters",
    "cache_key",
]

EVENT_MANAGEMENT = "/api/v1.0/orgs/{organizationId}/eventmanagement"
#: The API's description in the published contract: the mock's choices where the real API is undocumented.
API_DESCRIPTION = """\
The 19 operations of the RTM event API, under ``/api/v1.0/orgs/{organizationId}/eventmanagement/``.

Paths, methods and operation ids are those of Microsoft's generated SDK (``publicApi…``); field names those of
the v2.0 models (see ``contract.py``). The gate (``gate.py``) has already checked origin, organization and token
when a route runs. Catalog answers are pre-serialized bytes (``pages.py``); the response models below are for
the OpenAPI schema only.

Choices where the real API is undocumented (each also in the operation's description):

- **Free registration** → ``202 Accepted``, ``Location: /_harness/submissions/{id}``, body a v2.0
  ``RegistrationResult`` with ``status: "Success"`` (so the v2.0 sample portal shows its confirmation) and the
  mock's ``submissionId``. RTM says only "an immediate success response"; 202 is what an asynchronous accept is.
- **Paid registration** (payment gateway) → ``200 {"status": "Redirect", "purchaseId": …, "redirectUrl": …}``:
  ``redirectUrl`` as in Microsoft's payment-gateway article (without its stray trailing space in the key),
  ``status``/``purchaseId`` as the v2.0 sample portal reads them; ``Location: /_harness/purchases/{id}`` (the
  purchase's state). The registration follows the payment: the purchase holds the seats, the registration is
  created only once the payment is confirmed (``registrations/finalize``, or Pay on the mock's payment page),
  and the seats go back after the payment timeout (``payment.timeout``, the payment provider's "Payment timeout
  (minutes)"). ``redirectUrl`` is ``payment.redirect_url`` filled in, by default the mock's own payment page.
- **Paid and full**: an attendee who gets no seat (the event is full and has a waitlist, or the attendee asked
  for the waitlist, then without a pass) is answered as on a free event — ``202`` ``Success``, no
  ``redirectUrl``, no ``purchaseId``: a waitlist item, nothing to pay. Microsoft documents no answer for this
  case: the payment-gateway article shows only a seat bought (``{"redirectUrl": …}``); the generated RTM SDK
  (``PublicApi.bundle.js``) carries paths, no answer models; the v2.0 sample offers the waitlist on a paid event
  once every pass is sold out (``eventregistration.component.ts`` line 321), gives a waitlisted attendee no pass
  to choose (``attendee.component.html`` line 91), and shows its confirmation on ``status == "Success"`` (line
  646) — so a waitlisted buyer answered ``Success`` is told the truth, and one answered ``Redirect`` is sent to
  pay for a seat it does not have.
- **Refusals** → the model's status (400/409/429/503) with an ``ErrorBody``; 429 carries ``Retry-After``.
  A body that is not JSON → 400 ``MalformedJson``; not ``application/json`` → 415; over 64 KiB → 413
  ``PayloadTooLarge`` (``create_app(max_body_bytes=…)``, ``stampede serve --max-body-bytes``); the wrong shape →
  422 ``InvalidRequestBody`` naming every bad field (``attendees[0].email: …``); text that could not be stored as
  sent → 400 ``InvalidCharacters`` naming every such field (U+0000 in any string, which SQLite's text functions
  end a string at; a control or zero-width character in an email, which would make another person of a
  same-looking address; a rule the schema does not express, as the catalog's rules); an unknown event → 404 (checked
  before the body is read); an event that is not live → 400 ``EventNotLive``; a model that raises → 500
  ``RegistrationFailed``, logged, no trace sent. Nothing refused is stored. Every case with its exact answer:
  ``docs/bad-input.md``.
- **Names and unknown fields**: names are stored exactly as sent, in any script (Unicode, no normalization;
  control and zero-width characters too, all but U+0000), up to 100 characters each (longer → 422 naming the
  field); unknown keys in the body are ignored and not stored, as an ASP.NET JSON binder would ignore them
  (clients of the v2.0 API send ``hipObject``, ``autoRegister``…).
- **Unknown query parameters** are ignored, not refused, on every operation: an ASP.NET Core action binds only
  the parameters it declares, Microsoft's generated SDK passes extra query keys through (its ``$query_`` prefix
  and ``allowExtra``), and portals add cache-busters (jQuery's ``_=…``). Contract tests should not send them as
  invalid data (the shipped ``schemathesis.toml``: ``allow-extra-parameters = false`` in its coverage phase).
- The ``Location`` of an accepted registration (or of a held purchase) is on the harness plane, so behind the
  admin token when the server binds a non-loopback address.
- **Captcha** → ``404 CaptchaNotAvailable``: CAPTCHA is an outbound-marketing feature that RTM supports only
  when outbound marketing is provisioned; this mock models an RTM-only organization, and every event says
  ``enableCaptcha: false``.
- **users/authenticated** → ``200`` with an anonymous user (``isAnonymous: true``, other fields null): RTM has
  no user authentication, so every caller is anonymous; a bearer token is ignored.
- **registrations/finalize** → confirms the purchase's payment (RTM does so through the Dataverse custom API
  ``msevtmgt_finalizeregistrationpayment``; the mock takes the v2.0 sample's finalize call as that
  confirmation): ``200 RegistrationResult`` for a held or confirmed purchase of this event, else ``400
  PurchaseNotFound`` (the URL exists; it is the body that names no purchase — a free or waitlisted submission
  names none —, as an unknown session in a registration is a 400), or ``400 PurchaseExpired`` when the hold timed
  out or the buyer cancelled it.
- **Images** (speaker image, sponsorship logo, QR code) need no token by default: portals load them in
  ``<img src>``, which sends none (``stampede serve --images-need-token`` requires it, as the SDK declares).
- **registrationForm** → ``portal.registration_form`` (null by default: formless registration through this API).
  Microsoft's RTM sample WebApp registers only through an embedded real-time marketing form, which the mock does
  not serve.
- **checkins** (no token) → ``302`` to ``redirectUri`` when given (same origin as the web application, or a
  path), else ``201`` with the check-in; the payload is undocumented (assumed ``registrationId``, ``sessionId``).
- ``events/published`` ignores ``businessUnitId`` (one business unit); with ``webappId`` it lists the events
  published to that web application (``portal.webapps``; an unknown id lists none), without it every live event
  (a scenario's ``catalog.draft_events`` are not live: not listed, their
  pages answer 404, a registration for one answers 400 ``EventNotLive``).
"""
_PARAMETER = re.compile(r"{(\w+)}")

#: The engine's reasons for refusing a registration, as the caller sees them: the one place a code becomes a
#: status and an error type (every code but WITHDRAWN, which no caller is left to hear).
REFUSALS: dict[RejectionCode, ErrorType] = {
    RejectionCode.EVENT_NOT_LIVE: ErrorType.EVENT_NOT_LIVE,
    RejectionCode.INVALID_SESSION: ErrorType.INVALID_SESSION,
    RejectionCode.PASS_REQUIRED: ErrorType.PASS_REQUIRED,
    RejectionCode.INVALID_PASS: ErrorType.INVALID_PASS,
    RejectionCode.WAITLIST_NOT_AVAILABLE: ErrorType.WAITLIST_NOT_AVAILABLE,
    RejectionCode.DUPLICATE_ATTENDEE: ErrorType.DUPLICATE_ATTENDEE,
    RejectionCode.EVENT_FULL: ErrorType.EVENT_FULL,
    RejectionCode.SESSION_FULL: ErrorType.SESSION_FULL,
    RejectionCode.REGISTRATION_CLOSED: ErrorType.REGISTRATION_CLOSED,
    RejectionCode.THROTTLED: ErrorType.TOO_MANY_REQUESTS,
    RejectionCode.UNAVAILABLE: ErrorType.SERVICE_UNAVAILABLE,
}
#: What the gate may answer an operation that takes no token, and one that takes it.
UNSECURED_GATE_REFUSALS = (ErrorType.ORIGIN_REQUIRED, ErrorType.ORIGIN_NOT_ALLOWED, ErrorType.ORGANIZATION_NOT_FOUND)
GATE_REFUSALS = (ErrorType.APPLICATION_TOKEN_REQUIRED, ErrorType.INVALID_APPLICATION_TOKEN, *UNSECURED_GATE_REFUSALS)
#: What a body the schema allows may still be refused with: text the store could not keep as sent (U+0000; a
#: control or zero-width character in an email) — documented as a rule, like the catalog's, not as a pattern.
STORAGE_REFUSALS = (ErrorType.INVALID_CHARACTERS,)
#: What an operation with a request body may answer about the body.
BODY_REFUSALS = (ErrorType.MALFORMED_JSON, *STORAGE_REFUSALS, ErrorType.PAYLOAD_TOO_LARGE,
                 ErrorType.UNSUPPORTED_MEDIA_TYPE, ErrorType.INVALID_REQUEST_BODY)
#: What every operation may answer because a real tenant sits behind a rate limit and reads Dataverse.
PLATFORM_REFUSALS = (ErrorType.TOO_MANY_REQUESTS, ErrorType.SERVICE_UNAVAILABLE)


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer: its status, what it means, its model (None: no JSON body) and its headers."""

    status: int
    description: str
    model: Any = None
    headers: tuple[tuple[str, str], ...] = ()  # (header, its description in components/headers)
    media_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the event API.

    ``page`` names the ``pages.Pages`` table of pre-rendered pages it answers from, keyed by its one path
    parameter (a static catalog page: the fast lane serves it, its holes filled per request); ``charges`` the
    read-cache kind a page load is charged to (the kinds of ``plan.browse_keys``: the simulated visitors browse
    the same pages); ``varies_with`` the query parameters that make it not that page; ``image`` that portals
    load it in ``<img src>`` (no token unless the server is told to require one).
    """

    operation_id: str
    method: str
    path: str  # under EVENT_MANAGEMENT
    summary: str
    answers: tuple[Answer, ...]
    description: str | None = None
    query: tuple[str, ...] = ()
    secured: bool = True  # takes emApplicationtoken
    body: type[BaseModel] | None = None
    refusals: tuple[ErrorType, ...] = ()  # its own; the gate's, the body's and the platform's follow
    failure: ErrorType = ErrorType.INTERNAL_SERVER_ERROR  # the 500 when its handler fails
    page: str | None = None
    charges: str | None = None
    varies_with: tuple[str, ...] = ()  # query parameters that change the page (then its handler answers)
    image: bool = False  # loaded by <img src>, which sends no token: the gate lets it through without one
    full_path: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "full_path", EVENT_MANAGEMENT + self.path)

    @property
    def success(self) -> Answer:
        """The answer a client gets when nothing goes wrong (the first listed)."""
        return self.answers[0]

    def documented_refusals(self) -> tuple[ErrorType, ...]:
        """Every error answer this operation can give, in the order the contract lists their examples."""
        gate = GATE_REFUSALS if self.secured else UNSECURED_GATE_REFUSALS
        return (*gate, *(BODY_REFUSALS if self.body is not None else ()), *self.refusals, *PLATFORM_REFUSALS)


def path_parameters(path: str) -> list[str]:
    """The ``{names}`` in ``path``, in order."""
    return _PARAMETER.findall(path)


def cache_key(operation: Operation, event: Event | None) -> tuple[str, str] | None:
    """The read-cache key a load of ``operation``'s page for ``event`` is charged to (``plan.browse_keys``),
    or None when the page charges nothing."""
    if operation.charges is None:
        return None
    return operation.charges, event.id if event is not None else ""


def _json(description: str, model: Any) -> tuple[Answer, ...]:
    return (Answer(200, description, model),)


def _png(description: str) -> tuple[Answer, ...]:
    return (Answer(200, description, media_type="image/png"),)


_EVENT = "/events/{readableEventId}"
_COUNT = Annotated[int, Field(ge=0)]  # a count of created registrations (never decreases)
_NOT_FOUND = (ErrorType.EVENT_NOT_FOUND,)
_LOCATION = ("Location", "Location")

OPERATIONS: tuple[Operation, ...] = (
    # --- catalog ----------------------------------------------------------------------------------------------
    Operation("publicApiGetEvents", "GET", "/events/published", "Live events published to the web application",
              _json("Live events published to the web application", list[wire.Event]),
              query=("businessUnitId", "webappId"), page="published", charges="published", varies_with=("webappId",)),
    Operation("publicApiGetEvent", "GET", _EVENT, "Get Event",
              _json("The event (registrationForm carries the form embed when the event uses one)", wire.Event),
              refusals=_NOT_FOUND, page="event", charges="event"),
    Operation("publicApiGetCaptcha", "GET", f"{_EVENT}/captcha", "Get Captcha",
              _json("The CAPTCHA challenge (outbound marketing only; an RTM-only organization answers 404 "
                    "CaptchaNotAvailable)", wire.Captcha),
              description="CAPTCHA needs outbound marketing; this RTM-only organization answers 404 "
                          "CaptchaNotAvailable (events have enableCaptcha = false).",
              refusals=(ErrorType.EVENT_NOT_FOUND, ErrorType.CAPTCHA_NOT_AVAILABLE)),
    Operation("publicApiGetCustomRegistrationFields", "GET", f"{_EVENT}/custom-registration-fields",
              "Get Custom Fields",
              _json("The event's custom registration fields", list[wire.CustomRegistrationField]),
              refusals=_NOT_FOUND, page="custom_fields"),
    Operation("publicApiGetEventQrCode", "GET", f"{_EVENT}/qrcode", "Get Qr Code", _png("PNG image"),
              description="The event url qr code of specified event (PNG of publicEventUrl)",
              refusals=(ErrorType.EVENT_NOT_FOUND, ErrorType.QR_CODE_NOT_FOUND), image=True),
    Operation("publicApiGetEventSessions", "GET", f"{_EVENT}/sessions", "Get Sessions",
              _json("The event's sessions", list[wire.Session]), refusals=_NOT_FOUND, page="sessions",
              charges="sessions"),
    Operation("publicApiGetEventTracks", "GET", f"{_EVENT}/tracks", "Get Tracks",
              _json("The event's session tracks", list[wire.SessionTrack]), refusals=_NOT_FOUND, page="tracks"),
    Operation("publicApiGetEventPasses", "GET", f"{_EVENT}/passes", "Get Passes",
              _json("The event's passes (present on events with a payment gateway)", list[wire.Pass]),
              refusals=_NOT_FOUND, page="passes"),
    Operation("publicApiGetEventSpeakers", "GET", f"{_EVENT}/speakers", "Get Speakers",
              _json("The event's speakers, each with their sessions", list[wire.Speaker]), refusals=_NOT_FOUND,
              page="speakers", charges="speakers"),
    Operation("publicApiGetEventSponsorships", "GET", f"{_EVENT}/sponsorships", "Get Sponsorships",
              _json("The event's sponsorships", list[wire.Sponsorship]), refusals=_NOT_FOUND,
              page="sponsorships", charges="sponsorships"),
    Operation("publicApiGetSponsorshipsLogo", "GET", "/sponsorships/{sponsorshipId}/logo", "Get Logo",
              _png("PNG image"), description="The logo of a specified sponsorship (PNG)",
              refusals=(ErrorType.SPONSORSHIP_NOT_FOUND,), image=True),
    Operation("publicApiGetSpeakerImage", "GET", "/speakers/{speakerId}/image", "Get Speaker Image",
              _png("PNG image"), description="The image of a specified speaker (PNG)",
              refusals=(ErrorType.SPEAKER_NOT_FOUND,), image=True),
    Operation("publicApiGetSessionById", "GET", "/sessions/{sessionId}", "Get Session",
              _json("The session", wire.Session), refusals=(ErrorType.SESSION_NOT_FOUND,), page="session"),
    Operation("publicApiGetUser", "GET", "/users/authenticated", "Get User",
              _json("The visitor: always anonymous (RTM has no user authentication)", wire.User),
              description="RTM has no user authentication: always the anonymous user.", page="anonymous_user"),
    # --- live numbers -----------------------------------------------------------------------------------------
    Operation("publicApiGetRegistrationsCount", "GET", f"{_EVENT}/registrations/count", "Get Registration Count",
              _json("Event registrations created so far (never decreases)", _COUNT),
              description="Event registrations created so far.", refusals=_NOT_FOUND),
    Operation("publicApiGetSessionRegistrationCount", "GET", "/sessions/{sessionId}/registrations/count",
              "Get Session Registration Count",
              _json("Session registrations created so far (never decreases)", _COUNT),
              description="Session registrations created so far.", refusals=(ErrorType.SESSION_NOT_FOUND,)),
    # --- registration -----------------------------------------------------------------------------------------
    Operation("publicApiRegister", "POST", f"{_EVENT}/registrations", "Register",
              (Answer(202, "Accepted for asynchronous creation; Location points at its status",
                      wire.RegistrationResult, (_LOCATION,)),
               Answer(200, "Event with a payment gateway, a seat held: go pay", wire.PaymentRedirect,
                      (("Location", "PurchaseLocation"),))),
              body=wire.RegistrationRequest,
              refusals=(ErrorType.EVENT_NOT_FOUND, *REFUSALS.values()),
              failure=ErrorType.REGISTRATION_FAILED),
    Operation("publicApiFinalizeRegistration", "POST", f"{_EVENT}/registrations/finalize", "Finalize",
              _json("The purchase is known for this event", wire.RegistrationResult),
              description="RTM finalizes payments in Dataverse; here: Success for a held or confirmed purchase of "
                          "this event.",
              body=wire.FinalizeRegistrationRequest,
              refusals=(ErrorType.EVENT_NOT_FOUND, ErrorType.PURCHASE_NOT_FOUND, ErrorType.PURCHASE_EXPIRED)),
    Operation("publicApiCreateCheckInAndRedirect", "POST", "/checkins", "Check In",
              (Answer(201, "Checked in (no redirectUri given)", wire.CheckIn),
               Answer(302, "Checked in; redirected to redirectUri", headers=(("Location", "RedirectLocation"),),
                      media_type="")),
              description="Creates check-in based on payload and redirects to redirectUri parameter (no token).",
              query=("redirectUri",), secured=False, body=wire.CheckInRequest,
              refusals=(ErrorType.REDIRECT_NOT_ALLOWED,)),
)

BY_ID: dict[str, Operation] = {operation.operation_id: operation for operation in OPERATIONS}
