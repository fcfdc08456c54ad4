"""The catalog operations of the event API mock: status, content type, v2.0 fields (null, never omitted)."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter
from test_server_fakes import BASE, ORIGIN, api, build, client, make_app

from simulator.server import contract as wire
from simulator.server.images import PNG_SIGNATURE

pytestmark = pytest.mark.anyio

CATALOG = build(paid_events=1, events=3, sessions_per_event=6, speakers_per_event=4, sponsors_per_event=3)
FREE = CATALOG.events[0]
PAID = CATALOG.events[-1]
SESSION = FREE.sessions[0]
SPEAKER = FREE.speakers[0]
SPONSORSHIP = FREE.sponsorships[0]

JSON_OPERATIONS = [  # (path, the v2.0 model, is a list)
    ("events/published", wire.Event, True),
    (f"events/{FREE.readable_id}", wire.Event, False),
    (f"events/{FREE.readable_id}/sessions", wire.Session, True),
    (f"events/{FREE.readable_id}/tracks", wire.SessionTrack, True),
    (f"events/{PAID.readable_id}/passes", wire.Pass, True),
    (f"events/{FREE.readable_id}/speakers", wire.Speaker, True),
    (f"events/{FREE.readable_id}/sponsorships", wire.Sponsorship, True),
    (f"events/{FREE.readable_id}/custom-registration-fields", wire.CustomRegistrationField, True),
    (f"sessions/{SESSION.id}", wire.Session, False),
    ("users/authenticated", wire.User, False),
]


_IMAGE_OPERATIONS = ("publicApiGetEventQrCode", "publicApiGetSponsorshipsLogo", "publicApiGetSpeakerImage")


def _security(op_id: str) -> list[dict[str, list[str]]]:
    """The check-in takes no token; the images take one optionally (an img src sends none); the rest need it."""
    if op_id == "publicApiCreateCheckInAndRedirect":
        return []
    return [{}, {"emApplicationtoken": []}] if op_id in _IMAGE_OPERATIONS else [{"emApplicationtoken": []}]


def assert_every_field_present(item: dict[str, Any], model: type[BaseModel]) -> None:
    """Blank fields are null, not omitted: every field of the model is a key, recursively."""
    assert set(item) == set(model.model_fields), f"{model.__name__}: {set(model.model_fields) ^ set(item)}"
    for name, field in model.model_fields.items():
        value = item[name]
        nested = [a for a in getattr(field.annotation, "__args__", ()) if isinstance(a, type)]
        for candidate in (field.annotation, *nested):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(value, dict):
                assert_every_field_present(value, candidate)


@pytest.fixture
def app() -> FastAPI:
    return make_app(CATALOG)[0]


@pytest.mark.parametrize(("path", "model", "is_list"), JSON_OPERATIONS, ids=[p for p, _, _ in JSON_OPERATIONS])
async def test_catalog_operation_answers_v2_fields_as_json(app: FastAPI, path: str, model: type[BaseModel],
                                                           is_list: bool) -> None:
    async with client(app) as c:
        response = await c.get(api(path))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    items = body if is_list else [body]
    assert items, "the catalog should have something to show here"
    TypeAdapter(list[model]).validate_python(items)  # type: ignore[valid-type]
    for item in items:
        assert_every_field_present(item, model)


async def test_published_events_are_the_catalog(app: FastAPI) -> None:
    async with client(app) as c:
        events = (await c.get(api("events/published"))).json()
    assert [e["readableEventId"] for e in events] == [e.readable_id for e in CATALOG.events]
    assert [e["eventId"] for e in events] == [e.id for e in CATALOG.events]
    first = events[0]
    assert first["eventName"] == FREE.name and first["description"]
    assert first["building"]["city"] and first["room"]["name"]
    assert first["maxCapacity"] == FREE.capacity and first["isCapacityRestricted"] is True
    assert first["showWaitlist"] is FREE.waitlist
    assert first["enableCaptcha"] is False  # CAPTCHA is outbound-only
    assert first["registrationForm"] is None  # formless registration (portal.registration_form)
    assert first["image"] == f"http://testserver/assets/events/{FREE.readable_id}.png"  # portal.event_images
    assert first["publicEventUrl"] == FREE.public_url


async def test_published_ignores_business_unit_and_filters_by_web_app(app: FastAPI) -> None:
    async with client(app) as c:
        plain = await c.get(api("events/published"))
        business_unit = await c.get(api("events/published", businessUnitId="bu-1"))
        own = await c.get(api("events/published", webappId=app.state.webapp_ids[0]))
        unknown = await c.get(api("events/published", businessUnitId="bu-1", webappId="wa-1"))
    assert business_unit.status_code == 200 and business_unit.content == plain.content
    assert own.content == plain.content  # one web application: every live event is published to it
    assert unknown.status_code == 200 and unknown.json() == []  # events belong to a web application


async def test_times_are_local_without_offset_and_utc_with_z(app: FastAPI) -> None:
    async with client(app) as c:
        event = (await c.get(api(f"events/{FREE.readable_id}"))).json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", event["startDate"])
    assert event["startDateUTC"].endswith("Z")
    local = datetime.fromisoformat(event["startDate"])
    utc = datetime.fromisoformat(event["startDateUTC"].removesuffix("Z"))
    assert FREE.time_zone is not None
    assert local - utc == timedelta(hours=FREE.time_zone.utc_offset_h)
    assert event["timeZone"] == FREE.time_zone.code and event["timeZoneName"] == FREE.time_zone.name
    assert event["startDate"] < event["endDate"]


async def test_sessions_nest_speakers_without_recursion(app: FastAPI) -> None:
    async with client(app) as c:
        sessions = (await c.get(api(f"events/{FREE.readable_id}/sessions"))).json()
    assert [s["id"] for s in sessions] == [s.id for s in FREE.sessions]
    for session, source in zip(sessions, FREE.sessions, strict=True):
        assert [sp["id"] for sp in session["speakers"]] == list(source.speaker_ids)
        assert all(sp["sessions"] is None for sp in session["speakers"])
        assert session["registrationCount"] == 0  # the session's created registrations (none yet)
        assert session["maxCapacity"] == source.capacity and session["sessionSummary"]
        assert FREE.start is not None and FREE.end is not None
        assert FREE.start.isoformat() <= session["startTime"] < session["endTime"] <= FREE.end.isoformat()


async def test_speakers_list_their_sessions_and_an_absolute_image_url(app: FastAPI) -> None:
    async with client(app) as c:
        speakers = (await c.get(api(f"events/{FREE.readable_id}/speakers"))).json()
        assert len(speakers) == len(FREE.speakers) == 4
        first = speakers[0]
        assert first["imageUrl"] == f"http://testserver{BASE}/speakers/{SPEAKER.id}/image"
        assert {s["id"] for s in first["sessions"]} == {s.id for s in FREE.sessions if SPEAKER.id in s.speaker_ids}
        image = await c.get(first["imageUrl"].removeprefix("http://testserver"))  # as an img src: no token
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"


async def test_passes_only_on_paid_events_with_price_and_currency(app: FastAPI) -> None:
    async with client(app) as c:
        free = (await c.get(api(f"events/{FREE.readable_id}/passes"))).json()
        paid = (await c.get(api(f"events/{PAID.readable_id}/passes"))).json()
    assert free == []
    assert [p["passId"] for p in paid] == [p.id for p in PAID.passes]
    assert [p["price"] for p in paid] == [99.0, 299.0]
    assert all(p["currencySymbol"] for p in paid)


async def test_custom_fields_join_choices_with_line_feeds(app: FastAPI) -> None:
    async with client(app) as c:
        fields = (await c.get(api(f"events/{FREE.readable_id}/custom-registration-fields"))).json()
    assert [f["customRegistrationFieldId"] for f in fields] == [f.id for f in FREE.custom_fields]
    for field, source in zip(fields, FREE.custom_fields, strict=True):
        assert field["choices"] == ("\n".join(source.choices) if source.choices else None)


async def test_tracks_and_sponsorships(app: FastAPI) -> None:
    async with client(app) as c:
        tracks = (await c.get(api(f"events/{FREE.readable_id}/tracks"))).json()
        sponsors = (await c.get(api(f"events/{FREE.readable_id}/sponsorships"))).json()
    assert [t["name"] for t in tracks] == [t.name for t in FREE.tracks]
    assert [s["sponsorName"] for s in sponsors] == [s.sponsor_name for s in FREE.sponsorships]
    assert len(sponsors) == 3


async def test_users_authenticated_is_always_anonymous(app: FastAPI) -> None:
    async with client(app) as c:
        response = await c.get(api("users/authenticated"), headers={"Authorization": "Bearer some-b2c-token"})
    assert response.json() == {"id": None, "firstName": None, "lastName": None, "email": None,
                               "isAnonymous": True}


async def test_captcha_is_not_available_on_rtm(app: FastAPI) -> None:
    async with client(app) as c:
        response = await c.get(api(f"events/{FREE.readable_id}/captcha"))
        unknown = await c.get(api("events/nope/captcha"))
    assert response.status_code == 404 and response.json()["type"] == "CaptchaNotAvailable"
    assert unknown.status_code == 404 and unknown.json()["type"] == "EventNotFound"


# --- images ------------------------------------------------------------------------------------------------


def decoded(png: bytes) -> Any:
    image_module = pytest.importorskip("PIL.Image")
    image = image_module.open(io.BytesIO(png))
    image.load()
    return image


@pytest.mark.parametrize("path", [
    f"events/{FREE.readable_id}/qrcode", f"speakers/{SPEAKER.id}/image", f"sponsorships/{SPONSORSHIP.id}/logo",
])
async def test_images_are_png(app: FastAPI, path: str) -> None:
    async with client(app) as c:
        response = await c.get(api(path))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG_SIGNATURE)
    image = decoded(response.content)
    assert image.size[0] >= 64 and image.size[1] >= 64


async def test_qr_code_encodes_the_public_event_url(app: FastAPI) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    async with client(app) as c:
        png = (await c.get(api(f"events/{FREE.readable_id}/qrcode"))).content
    assert [r.text for r in zxingcpp.read_barcodes(decoded(png))] == [FREE.public_url]


async def test_qr_code_matches_the_segno_symbol_module_for_module(app: FastAPI) -> None:
    segno = pytest.importorskip("segno")
    async with client(app) as c:
        png = (await c.get(api(f"events/{FREE.readable_id}/qrcode"))).content
    image = decoded(png).convert("L")
    symbol = segno.make(FREE.public_url, error="m", micro=False)
    scale, border = 6, 4
    for y, row in enumerate(symbol.matrix):
        for x, dark in enumerate(row):
            pixel = image.getpixel(((x + border) * scale + scale // 2, (y + border) * scale + scale // 2))
            assert (pixel < 128) == bool(dark), (x, y)


async def test_event_url_template_drives_public_url_and_qr_code() -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    app, _ = make_app(CATALOG, event_url="{origin}/event.html?readableEventId={readableEventId}")
    expected = f"{ORIGIN}/event.html?readableEventId={FREE.readable_id}"
    async with client(app) as c:
        event = (await c.get(api(f"events/{FREE.readable_id}"))).json()
        png = (await c.get(api(f"events/{FREE.readable_id}/qrcode"))).content
    assert event["publicEventUrl"] == expected
    assert [r.text for r in zxingcpp.read_barcodes(decoded(png))] == [expected]


async def test_images_are_the_same_bytes_every_time() -> None:
    first, second = make_app(CATALOG)[0], make_app(CATALOG)[0]
    path = api(f"speakers/{SPEAKER.id}/image")
    async with client(first) as a, client(second) as b:
        assert (await a.get(path)).content == (await b.get(path)).content


# --- unknown ids -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "kind"), [
    ("events/nope", "EventNotFound"),
    ("events/nope/sessions", "EventNotFound"),
    ("events/nope/tracks", "EventNotFound"),
    ("events/nope/passes", "EventNotFound"),
    ("events/nope/speakers", "EventNotFound"),
    ("events/nope/sponsorships", "EventNotFound"),
    ("events/nope/custom-registration-fields", "EventNotFound"),
    ("events/nope/qrcode", "EventNotFound"),
    ("events/nope/registrations/count", "EventNotFound"),
    ("sessions/nope", "SessionNotFound"),
    ("sessions/nope/registrations/count", "SessionNotFound"),
    ("speakers/nope/image", "SpeakerNotFound"),
    ("sponsorships/nope/logo", "SponsorshipNotFound"),
])
async def test_unknown_ids_are_404_with_an_error_body(app: FastAPI, path: str, kind: str) -> None:
    async with client(app) as c:
        response = await c.get(api(path))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["type"] == kind and body["statusCode"] == 404 and body["errorMessage"] == body["Message"]
    assert_every_field_present(body, wire.ErrorBody)


# --- live counts -------------------------------------------------------------------------------------------


async def test_counts_are_bare_numbers_that_follow_created_registrations() -> None:
    app, model = make_app(CATALOG)
    body = {"attendees": [{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@contoso.com",
                           "attendeeSessions": [{"sessionId": SESSION.id}]}]}
    async with client(app) as c:
        before = await c.get(api(f"events/{FREE.readable_id}/registrations/count"))
        assert before.status_code == 200 and before.headers["content-type"] == "application/json"
        assert before.text == "0"
        accepted = await c.post(api(f"events/{FREE.readable_id}/registrations"), json=body)
        assert (await c.get(api(f"events/{FREE.readable_id}/registrations/count"))).json() == 0  # not yet created
        model.create(accepted.json()["submissionId"])
        assert (await c.get(api(f"events/{FREE.readable_id}/registrations/count"))).text == "1"
        assert (await c.get(api(f"sessions/{SESSION.id}/registrations/count"))).text == "1"
        assert (await c.get(api(f"sessions/{FREE.sessions[1].id}/registrations/count"))).text == "0"


# --- the schema --------------------------------------------------------------------------------------------

SDK_OPERATIONS = {
    "publicApiGetEvents", "publicApiGetEvent", "publicApiGetCaptcha", "publicApiGetCustomRegistrationFields",
    "publicApiGetEventQrCode", "publicApiGetEventSessions", "publicApiGetEventTracks", "publicApiGetEventPasses",
    "publicApiRegister", "publicApiGetRegistrationsCount", "publicApiGetEventSpeakers",
    "publicApiGetEventSponsorships", "publicApiGetSponsorshipsLogo", "publicApiFinalizeRegistration",
    "publicApiGetSpeakerImage", "publicApiGetSessionRegistrationCount", "publicApiGetSessionById",
    "publicApiGetUser", "publicApiCreateCheckInAndRedirect",
}


async def test_openapi_has_the_19_sdk_operations_under_the_rtm_base(app: FastAPI) -> None:
    async with client(app) as c:
        schema = (await c.get("/openapi.json")).json()
    operations = {op["operationId"]: (path, method, op) for path, ops in schema["paths"].items()
                  for method, op in ops.items()}
    assert set(operations) == SDK_OPERATIONS
    template = BASE.replace(BASE.split("/")[4], "{organizationId}")
    assert all(path.startswith(template + "/") for path, _, _ in operations.values())
    assert schema["components"]["securitySchemes"]["emApplicationtoken"] == {
        "type": "apiKey", "in": "query", "name": "emApplicationtoken",
        "description": schema["components"]["securitySchemes"]["emApplicationtoken"]["description"],
    }
    for op_id, (_, _, op) in operations.items():
        assert op["security"] == _security(op_id), op_id
        assert "HTTPValidationError" not in str(op["responses"])
    for path, _, op in operations.values():
        declared = [p["name"] for p in op["parameters"] if p["in"] == "path"]
        assert declared == re.findall(r"{(\w+)}", path), path
    query = {op_id: [p["name"] for p in op["parameters"] if p["in"] == "query"]
             for op_id, (_, _, op) in operations.items()}
    assert query["publicApiGetEvents"] == ["businessUnitId", "webappId"]
    assert query["publicApiCreateCheckInAndRedirect"] == ["redirectUri"]
    register = operations["publicApiRegister"][2]
    ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.rsplit("/", 1)[1] in schema["components"]["schemas"]
    attendee = schema["components"]["schemas"]["Attendee"]
    assert {"firstName", "lastName", "email"} <= set(attendee["required"])
    event = schema["components"]["schemas"]["Event"]
    assert set(event["required"]) == set(wire.Event.model_fields)  # null, never omitted
    assert not any(path.startswith("/_harness") or path == "/metrics" for path in schema["paths"])
