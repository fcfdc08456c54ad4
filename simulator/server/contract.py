"""The wire contract of the event API: typed models with the v2.0 field names, for the OpenAPI schema.

The real RTM schemas are not public; Microsoft says the RTM API is "backward compatible contract-wise" with the
outbound v2.0 API, so these models carry every field of the v2.0 sample portal's models (reference §2.3), with
their exact spelling (``startDateUTC``, ``wifiSSID``, ``sessionPreRequisites``). Every field is *required and
nullable*: a blank value is sent as ``null``, never omitted, as the documented API does.

Times are given the way the v2.0 API gave them: ``startDate``/``startTime`` are wall-clock times in the event's
time zone without an offset (``"2027-01-25T09:00:00"``), the ``…UTC`` twins are UTC with a ``Z``.

Request models (``RegistrationRequest`` and friends) validate what callers send; unknown keys are ignored, as an
ASP.NET JSON binder would. Response models describe what the server sends; the server serializes the static
catalog once per app, so these models mostly exist for the schema and for building those bytes.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "LocalTime",
    "UtcTime",
    "Image",
    "Building",
    "Room",
    "Speaker",
    "Session",
    "SessionTrack",
    "Sponsorship",
    "Pass",
    "CustomRegistrationField",
    "Event",
    "User",
    "RegistrationResult",
    "PaymentRedirect",
    "CheckIn",
    "Captcha",
    "FieldError",
    "ErrorBody",
    "HipObject",
    "CustomRegistrationFieldResponse",
    "AttendeeSession",
    "Attendee",
    "RegistrationRequest",
    "FinalizeRegistrationRequest",
    "CheckInRequest",
    "MAX_ATTENDEES",
    "UNSTORABLE_TEXT",
]

LocalTime = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
        description="Wall-clock time in the event's time zone, no offset (as the v2.0 API returns it).",
        examples=["2027-01-25T09:00:00"],
    ),
]
UtcTime = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
        description="The same instant in UTC.",
        examples=["2027-01-25T17:00:00Z"],
    ),
]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- responses ---------------------------------------------------------------------------------------------


class Image(_Wire):
    """An inline image (base64), as the v2.0 API embedded it; this mock serves images by URL instead."""

    image: str | None


class Building(_Wire):
    accessibleToilets: bool | None
    additionalFacilities: str | None
    addressComposite: str | None
    addressLine1: str | None
    addressLine2: str | None
    addressLine3: str | None
    city: str | None
    country: str | None
    description: str | None
    disabledAccess: bool | None
    disabledParking: bool | None
    email: str | None
    id: str
    name: str | None
    postalCode: str | None
    publicTelephoneAvailable: bool | None
    stateProvince: str | None
    telephone1: str | None
    telephone2: str | None
    telephone3: str | None
    website: str | None
    wifiAvailable: bool | None
    wifiPassword: str | None
    wifiSSID: str | None


class Room(_Wire):
    description: str | None
    disabledAccess: bool | None
    id: str
    name: str | None


class Speaker(_Wire):
    about: str | None
    accomplishments: str | None
    blog: str | None
    email: str | None
    id: str
    image: Image | None
    imageUrl: str | None = Field(
        description="Absolute URL of the speaker's image (…/eventmanagement/speakers/{speakerId}/image), for an "
                    "img src: it loads without the token."
    )
    linkedin: str | None
    name: str | None
    publications: str | None
    title: str | None
    twitter: str | None
    website: str | None
    sessions: list[Session] | None = Field(
        description="The speaker's sessions on the speakers list; null where the speaker is nested in a session."
    )


class Session(_Wire):
    alreadyRegistered: bool | None
    building: Building | None
    camerasPermitted: int | None
    detailedDescription: str | None
    endTime: LocalTime | None
    endTimeUTC: UtcTime | None
    id: str
    language: int | None
    name: str | None
    recordingsPermitted: int | None
    room: Room | None
    sessionFormat: int | None
    sessionObjectives: str | None
    sessionPreRequisites: str | None
    sessionSummary: str | None
    sessionType: int | None
    startTime: LocalTime | None
    startTimeUTC: UtcTime | None
    timeZone: int | None
    userEligibleToRegister: bool | None
    speakers: list[Speaker] | None = Field(
        description="The session's speakers; null where the session is nested in a speaker or a pass."
    )
    maxCapacity: int | None
    isCapacityRestricted: bool | None
    registrationCount: int | None = Field(
        description="The session's registrations created so far (as sessions/{sessionId}/registrations/count); "
                    "Microsoft's sample portal uses it to show a full session and to waitlist attendeeSessions."
    )


class SessionTrack(_Wire):
    description: str | None
    id: str
    name: str | None


class Sponsorship(_Wire):
    description: str | None
    id: str
    sponsorId: str | None
    sponsorName: str | None
    sponsorshipTopic: str | None


class Pass(_Wire):
    passId: str
    passName: str | None
    numberOfPassesLeft: int | None
    numberOfPassesSold: int | None
    price: float | None
    currencySymbol: str | None
    sessions: list[Session] | None


class CustomRegistrationField(_Wire):
    customRegistrationFieldId: str
    text: str | None
    type: int = Field(
        description="100000000 SimpleText, 100000001 Boolean, 100000002 MultipleChoice, 100000003 SingleChoice"
    )
    isRequired: bool
    choices: str | None = Field(description="Choices joined by a line feed; null for text and boolean fields.")


class Event(_Wire):
    allowAnonymousRegistrations: bool | None
    allowCustomAgenda: bool | None
    autoregisterWaitlistItems: bool | None
    building: Building | None
    description: str | None
    enableCaptcha: bool | None
    endDate: LocalTime | None
    endDateUTC: UtcTime | None
    eventFormat: int | None
    eventId: str
    enableMultiAttendeeRegistration: bool | None
    eventLanguage: int | None
    eventName: str | None
    eventType: int | None
    image: str | None = Field(description="The URL of the event's image, as Microsoft's sample portal uses it "
                              "(img src); null when the event has none.")
    maxCapacity: int | None
    isCapacityRestricted: bool | None
    publicEventUrl: str | None
    readableEventId: str
    room: Room | None
    showAutomaticRegistrationCheckbox: bool | None
    showWaitlist: bool | None
    startDate: LocalTime | None
    startDateUTC: UtcTime | None
    timeZone: int | None
    timeZoneName: str | None
    registrationForm: str | None
    setRegistrationEndDate: bool | None
    stopRegistrationDate: LocalTime | None
    websiteMessage: str | None


class User(_Wire):
    """The visitor; RTM has no user authentication, so every caller is anonymous."""

    id: str | None
    firstName: str | None
    lastName: str | None
    email: str | None
    isAnonymous: bool


class RegistrationResult(_Wire):
    """Answer to an accepted free registration (v2.0 ``RegistrationResult``, plus the harness's submission id)."""

    status: Literal["Success"]
    errorMessage: str | None
    errorCode: str | None
    redirectUrl: str | None
    purchaseId: str | None
    submissionId: str | None = Field(description="Mock extension: the submission behind the Location header.")


class PaymentRedirect(_Wire):
    """Answer to a registration for an event with a payment gateway: go pay, then finalize.

    ``redirectUrl`` as Microsoft's RTM payment-gateway article shows it; ``status: "Redirect"`` and
    ``purchaseId`` as the v2.0 sample portal reads a ``RegistrationResult`` (it follows ``redirectUrl`` only when
    ``status == "Redirect"`` and keeps ``purchaseId``, a GUID, for the finalization). The seats are held until
    the payment is confirmed with ``POST …/registrations/finalize {"purchaseId"}`` or the payment timeout ends.
    """

    status: Literal["Redirect"]
    purchaseId: str = Field(description="The purchase (msevtmgt_eventpurchase id, a GUID) to finalize once paid.")
    redirectUrl: str


class CheckIn(_Wire):
    checkInId: str
    registrationId: str
    sessionId: str | None


class Captcha(_Wire):
    """The CAPTCHA challenge (v2.0 ``Captcha``; outbound marketing only): the client loads ``HipUrl`` as a script."""

    FlowId: str | None
    HipUrl: str | None
    ObjectName: str | None
    FunctionName: str | None


class FieldError(_Wire):
    field: str = Field(description="Where in the body, e.g. attendees[0].email")
    message: str


class ErrorBody(_Wire):
    """Every error answer. ``type``/``errorMessage``/``statusCode``/``correlationId`` follow the v2.0
    ``ErrorResponse``; ``Message`` repeats the text for clients that read ASP.NET-style ``error.Message``."""

    statusCode: int
    type: str
    errorMessage: str
    Message: str
    field: str | None
    errors: list[FieldError] | None
    correlationId: str


Speaker.model_rebuild()

# --- requests ----------------------------------------------------------------------------------------------

MAX_ATTENDEES = 50  # undocumented upstream; a bound so one request cannot carry an unbounded batch
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
#: The pydantic error type of text that cannot be stored as sent; the server answers it 400 InvalidCharacters.
UNSTORABLE_TEXT = "unstorable_text"
#: Characters no email address may hold: the C0 controls and DEL, and the zero-width characters that make
#: ``a\u200b@x.example`` look like ``a@x.example`` while being another person to every matching rule.
_NOT_IN_EMAILS = re.compile("[\u0000-\u001f\u007f\u180e\u200b-\u200d\u2060\ufeff]")


def _unstorable(char: str, why: str) -> PydanticCustomError:
    return PydanticCustomError(UNSTORABLE_TEXT, "holds U+{code}, {why}", {"code": f"{ord(char):04X}", "why": why})


class _Request(BaseModel):
    # Strict: a field has the type the schema says (no 0 for false, no "1" for a string), as the contract
    # promises and as a .NET JSON binder would insist.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: object) -> object:
        """U+0000 anywhere is refused: SQLite's text functions end a string at it, so what was sent could not be
        stored as sent (a name cut short, two emails made one)."""
        texts = value if isinstance(value, list) else (value,)
        if any(isinstance(text, str) and "\u0000" in text for text in texts):
            raise _unstorable("\u0000", "NUL, which cannot be stored as sent: send the text without it")
        return value


class HipObject(_Request):
    """The captcha answer (outbound marketing only; accepted and ignored here)."""

    Solution: str | None = None
    Token: str | None = None
    Type: str | None = None
    FlowId: str | None = None


class CustomRegistrationFieldResponse(_Request):
    id: str = Field(min_length=1, max_length=200, description="A contact attribute (e.g. jobtitle) or a field id.")
    value: str | None = Field(None, max_length=4000)
    values: list[str] | None = Field(None, max_length=100)


class AttendeeSession(_Request):
    sessionId: str = Field(min_length=1, max_length=100)
    waitlisted: bool | None = None


class Attendee(_Request):
    firstName: str = Field(min_length=1, max_length=100)
    lastName: str = Field(min_length=1, max_length=100)
    email: str = Field(max_length=254, examples=["email@contoso.com"], json_schema_extra={"format": "email"})
    passId: str | None = Field(None, description="Required on events with a payment gateway.")
    waitlisted: bool | None = None
    autoRegister: bool | None = None
    responses: list[CustomRegistrationFieldResponse] = Field(default_factory=list, max_length=100)
    attendeeSessions: list[AttendeeSession] = Field(default_factory=list, max_length=100)

    @field_validator("email")
    @classmethod
    def _email_shaped(cls, value: str) -> str:
        invisible = _NOT_IN_EMAILS.search(value)
        if invisible is not None:
            raise _unstorable(invisible.group(), "a control or zero-width character, which no email address may "
                                                 "hold: send the address without it, like email@contoso.com")
        if not _EMAIL.match(value):
            raise ValueError("not an email address, expected something like email@contoso.com")
        return value


class RegistrationRequest(_Request):
    """``POST …/events/{readableEventId}/registrations`` (RTM documentation, §1.4; v2.0 ``RegistrationData``)."""

    attendees: list[Attendee] = Field(min_length=1, max_length=MAX_ATTENDEES)
    hipObject: HipObject | None = None


class FinalizeRegistrationRequest(_Request):
    purchaseId: str = Field(min_length=1, max_length=100)
    hipObject: HipObject | None = None


class CheckInRequest(_Request):
    """The check-in payload (undocumented upstream; assumed: the event registration and an optional session)."""

    registrationId: str = Field(min_length=1, max_length=100)
    sessionId: str | None = Field(None, max_length=100)
