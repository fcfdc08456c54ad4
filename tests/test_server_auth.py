"""Token, organization, origin and CORS: what the gate lets through, what it refuses, and how."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from test_server_fakes import ORG, ORIGIN, TOKEN, FakeModel, api, build, client, make_app

from simulator.server import ConfigurationError, create_app, is_loopback

pytestmark = pytest.mark.anyio

CATALOG = build()
EVENT = CATALOG.events[0]
EVENT_PAGE = f"events/{EVENT.readable_id}"


@pytest.fixture
def app() -> FastAPI:
    return make_app(CATALOG)[0]


def create(**overrides: str) -> FastAPI:
    settings = {"org_id": ORG, "token": TOKEN, "origin": ORIGIN, **overrides}
    return create_app(CATALOG, model=FakeModel(CATALOG), **settings)


@pytest.mark.parametrize(("token", "status", "kind"), [
    (None, 400, "ApplicationTokenRequired"),
    ("", 400, "ApplicationTokenRequired"),
    ("not-the-token", 401, "InvalidApplicationToken"),
    (TOKEN[:-1], 401, "InvalidApplicationToken"),
    (TOKEN, 200, None),
], ids=["missing", "empty", "wrong", "prefix", "right"])
async def test_application_token(app: FastAPI, token: str | None, status: int, kind: str | None) -> None:
    async with client(app) as c:
        response = await c.get(api(EVENT_PAGE, token=token))
    assert response.status_code == status
    if kind:
        assert response.json()["type"] == kind
        assert "Traceback" not in response.text


async def test_every_secured_operation_checks_the_token(app: FastAPI) -> None:
    """Without the token 400, with a wrong one 401 — except the images, whose token is optional (an img src
    sends none): without one they answer (tests/test_server_portal.py), a wrong one is still 401."""
    paths = [p for p, ops in app.openapi()["paths"].items() for op in ops.values()
             if op["security"] and {} not in op["security"]]
    concrete = [p.replace("{organizationId}", ORG).split("/eventmanagement/")[1]
                .replace("{readableEventId}", EVENT.readable_id).replace("{sessionId}", "s")
                .replace("{speakerId}", "s").replace("{sponsorshipId}", "s") for p in paths]
    async with client(app) as c:
        for path in concrete:
            method = "POST" if path.endswith(("registrations", "finalize")) else "GET"
            missing = await c.request(method, api(path, token=None), json={})
            wrong = await c.request(method, api(path, token="wrong"), json={})
            assert (missing.status_code, wrong.status_code) == (400, 401), path
    assert len(concrete) == 15  # 19 operations: the check-in takes no token, 3 images take it optionally


async def test_token_may_be_percent_encoded() -> None:
    app, _ = make_app(CATALOG)
    async with client(app) as c:
        encoded = "".join(f"%{b:02X}" for b in TOKEN.encode())
        response = await c.get(f"/api/v1.0/orgs/{ORG}/eventmanagement/{EVENT_PAGE}?emApplicationtoken={encoded}")
    assert response.status_code == 200


async def test_unknown_organization_is_404_even_with_the_right_token(app: FastAPI) -> None:
    async with client(app) as c:
        response = await c.get(f"/api/v1.0/orgs/another-org/eventmanagement/{EVENT_PAGE}?emApplicationtoken={TOKEN}")
        same_org_other_case = await c.get(api(EVENT_PAGE).replace(ORG, ORG.upper()))
    assert response.status_code == 404 and response.json()["type"] == "OrganizationNotFound"
    assert same_org_other_case.status_code == 200  # organization ids are GUIDs: case does not matter


async def test_unknown_path_is_a_json_404(app: FastAPI) -> None:
    async with client(app) as c:
        response = await c.get(api("no/such/operation"))
        wrong_method = await c.delete(api(EVENT_PAGE))
    assert response.status_code == 404 and response.json()["type"] == "NotFound"
    assert wrong_method.status_code == 405 and wrong_method.json()["type"] == "MethodNotAllowed"


# --- check-in: no token --------------------------------------------------------------------------------------


async def test_check_in_needs_no_token(app: FastAPI) -> None:
    async with client(app) as c:
        response = await c.post(api("checkins", token=None), json={"registrationId": "reg-1"})
    assert response.status_code == 201
    body = response.json()
    assert body["registrationId"] == "reg-1" and body["sessionId"] is None and body["checkInId"]


async def test_check_in_redirects_to_redirect_uri_on_the_web_app_origin(app: FastAPI) -> None:
    async with client(app) as c:
        absolute = await c.post(api("checkins", token=None, redirectUri=f"{ORIGIN}/thanks"),
                                json={"registrationId": "reg-1", "sessionId": "s-1"})
        relative = await c.post(api("checkins", token=None, redirectUri="/thanks"), json={"registrationId": "r"})
        foreign = await c.post(api("checkins", token=None, redirectUri="https://evil.example.com/"),
                               json={"registrationId": "r"})
        protocol_relative = await c.post(api("checkins", token=None, redirectUri="//evil.example.com/"),
                                         json={"registrationId": "r"})
    assert absolute.status_code == 302 and absolute.headers["location"] == f"{ORIGIN}/thanks"
    assert relative.status_code == 302 and relative.headers["location"] == "/thanks"
    assert foreign.status_code == 400 and foreign.json()["field"] == "redirectUri"
    assert protocol_relative.status_code == 400


async def test_check_in_body_is_validated(app: FastAPI) -> None:
    async with client(app) as c:
        response = await c.post(api("checkins", token=None), json={"sessionId": "s"})
    assert response.status_code == 422 and response.json()["field"] == "registrationId"


async def test_check_in_still_needs_the_organization(app: FastAPI) -> None:
    async with client(app) as c:
        response = await c.post("/api/v1.0/orgs/other/eventmanagement/checkins", json={"registrationId": "r"})
    assert response.status_code == 404


# --- origin and CORS -----------------------------------------------------------------------------------------


async def test_allowed_origin_gets_cors_headers(app: FastAPI) -> None:
    async with client(app) as c:
        response = await c.get(api(EVENT_PAGE), headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "Origin" in response.headers["vary"]
    assert {h.strip() for h in response.headers["access-control-expose-headers"].split(",")} == {
        "Location", "Retry-After"}


async def test_errors_to_the_allowed_origin_are_readable_by_the_browser(app: FastAPI) -> None:
    async with client(app) as c:
        wrong_token = await c.get(api(EVENT_PAGE, token="wrong"), headers={"Origin": ORIGIN})
        not_found = await c.get(api("events/nope"), headers={"Origin": ORIGIN})
    assert wrong_token.status_code == 401 and wrong_token.headers["access-control-allow-origin"] == ORIGIN
    assert not_found.status_code == 404 and not_found.headers["access-control-allow-origin"] == ORIGIN


async def test_preflight_from_the_allowed_origin(app: FastAPI) -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}
    async with client(app) as c:
        response = await c.options(api(f"{EVENT_PAGE}/registrations", token=None), headers=headers)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type"
    assert int(response.headers["access-control-max-age"]) > 0


@pytest.mark.parametrize("origin", ["https://evil.example.com", "http://localhost:5174", "null",
                                    f"{ORIGIN}.evil.example.com"])
async def test_other_origins_get_403_and_no_cors_headers(app: FastAPI, origin: str) -> None:
    async with client(app) as c:
        simple = await c.get(api(EVENT_PAGE), headers={"Origin": origin})
        preflight = await c.options(api(EVENT_PAGE), headers={"Origin": origin,
                                                              "Access-Control-Request-Method": "GET"})
    for response in (simple, preflight):
        assert response.status_code == 403
        assert response.json()["type"] == "OriginNotAllowed"
        assert not any(h.startswith("access-control-") for h in response.headers)


async def test_origin_comparison_ignores_case_and_a_configured_trailing_slash() -> None:
    app = create(origin=ORIGIN.upper() + "/")
    async with client(app) as c:
        response = await c.get(api(EVENT_PAGE), headers={"Origin": ORIGIN})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == ORIGIN


async def test_no_origin_is_allowed_unless_required() -> None:
    relaxed, _ = make_app(CATALOG)
    strict, _ = make_app(CATALOG, require_origin=True)
    async with client(relaxed) as a, client(strict) as b:
        assert (await a.get(api(EVENT_PAGE))).status_code == 200
        missing = await b.get(api(EVENT_PAGE))
        present = await b.get(api(EVENT_PAGE), headers={"Origin": ORIGIN})
    assert missing.status_code == 400 and missing.json()["type"] == "OriginRequired"
    assert present.status_code == 200


# --- configuration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["contoso.com", "ftp://contoso.com", "https://contoso.com/portal", ""])
def test_a_bad_origin_is_a_configuration_error(origin: str) -> None:
    with pytest.raises(ConfigurationError, match="origin"):
        create(origin=origin)


@pytest.mark.parametrize(("field", "value"), [("token", ""), ("org_id", ""), ("org_id", "a/b")])
def test_empty_token_or_org_is_a_configuration_error(field: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        create(**{field: value})


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("template", ["{origin}/e/{eventId}", "{0}/e", "{origin/e"])
def test_a_bad_event_url_template_is_a_configuration_error(template: str) -> None:
    with pytest.raises(ConfigurationError, match="event_url"):
        create(event_url=template)
