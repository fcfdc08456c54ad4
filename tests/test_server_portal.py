"""The mock as Microsoft's sample portals read it: images in ``<img src>`` without the token, several dev-server
origins, the banner's host URL for the SDK's ``init(baseUrl, token, orgId)``.

Sources, checked against the code: the v2.0 Angular sample (EventsManagementWebApp v1.46.0) builds a speaker's
image as ``apiEndpoint + speaker.imageUrl`` and a sponsor's logo as ``apiEndpoint + "sponsorships/{id}/logo"``,
neither with the token (``ImageHelper.ts``, ``sponsorships.rest.service.ts``); the RTM SDK
(``PublicApi.bundle.js``) has ``init(baseUrl, token, orgId)`` and prefixes every path with
``/api/v1.0/orgs/{organizationId}/eventmanagement``, so ``baseUrl`` is the host alone.
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from live_support import TOKEN as LIVE_TOKEN
from live_support import ServeProcess
from test_server_fakes import BASE, ORG, ORIGIN, TOKEN, FakeModel, api, attendee, build, client, make_app

from simulator.scenario import Portal
from simulator.server.app import create_app
from simulator.server.images import PNG_SIGNATURE

pytestmark = pytest.mark.anyio
CATALOG = build(paid_events=0)
EVENT = CATALOG.events[0]
IMAGES = {
    "speaker image": f"speakers/{EVENT.speakers[0].id}/image",
    "sponsor logo": f"sponsorships/{EVENT.sponsorships[0].id}/logo",
    "QR code": f"events/{EVENT.readable_id}/qrcode",
}


@pytest.mark.parametrize("path", IMAGES.values(), ids=IMAGES.keys())
async def test_images_load_without_the_token_as_an_img_src_does(path: str) -> None:
    app, _ = make_app(CATALOG)
    async with client(app) as c:
        bare = await c.get(api(path, token=None), headers={"Origin": ORIGIN})
        wrong = await c.get(api(path, token="not-the-token"))
        catalog_page = await c.get(api(f"events/{EVENT.readable_id}", token=None))
    assert bare.status_code == 200 and bare.content.startswith(PNG_SIGNATURE)
    assert bare.headers["access-control-allow-origin"] == ORIGIN
    assert wrong.status_code == 401  # a token that is sent is still checked
    assert catalog_page.status_code == 400 and catalog_page.json()["type"] == "ApplicationTokenRequired"


@pytest.mark.parametrize("path", IMAGES.values(), ids=IMAGES.keys())
async def test_images_need_the_token_when_configured(path: str) -> None:
    app, _ = make_app(CATALOG, images_need_token=True)
    async with client(app) as c:
        bare = await c.get(api(path, token=None))
        with_token = await c.get(api(path))
    assert bare.status_code == 400 and bare.json()["type"] == "ApplicationTokenRequired"
    assert with_token.status_code == 200


def test_the_contract_says_the_images_take_the_token_optionally() -> None:
    token = {"emApplicationtoken": []}
    for images_need_token, expected in ((False, [{}, token]), (True, [token])):
        app, _ = make_app(CATALOG, images_need_token=images_need_token)
        paths = app.openapi()["paths"]
        for suffix in ("/speakers/{speakerId}/image", "/sponsorships/{sponsorshipId}/logo",
                       "/events/{readableEventId}/qrcode"):
            operation = next(ops["get"] for p, ops in paths.items() if p.endswith(suffix))
            assert operation["security"] == expected, (images_need_token, suffix)
        published = next(ops["get"] for p, ops in paths.items() if p.endswith("/events/published"))
        assert published["security"] == [{"emApplicationtoken": []}]


async def test_every_configured_origin_gets_cors_and_no_other() -> None:
    origins = ["http://localhost:3000", "http://localhost:5173"]
    app = create_app(CATALOG, org_id=ORG, token=TOKEN, origin=origins, model=FakeModel(CATALOG))
    async with client(app) as c:
        answers = {o: await c.get(api("events/published"), headers={"Origin": o}) for o in origins}
        preflight = await c.options(api("events/published"), headers={
            "Origin": origins[0], "Access-Control-Request-Method": "GET"})
        stranger = await c.get(api("events/published"), headers={"Origin": "http://localhost:8080"})
    for origin, answer in answers.items():
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == origin
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == origins[0]
    assert stranger.status_code == 403 and "access-control-allow-origin" not in stranger.headers


@pytest.mark.slow
def test_serve_banner_prints_the_host_url_the_sdk_init_takes_and_origins_repeat(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "serve.db", tmp_path / "serve", "--origin", "http://localhost:3000",
                          "--origin", "http://localhost:5173")
    try:
        banner = server.stderr()
        host_line = next(line for line in banner.splitlines() if line.strip().startswith("host URL"))
        base_line = next(line for line in banner.splitlines() if line.strip().startswith("base URL"))
        host_url = host_line.split()[2]
        assert host_url == server.url
        # the SDK joins baseUrl with "/api/v1.0/orgs/{organizationId}/eventmanagement/…": the printed base URL
        assert base_line.split()[2] == f"{host_url}/api/v1.0/orgs/00000000-0000-4000-8000-000000000001/eventmanagement/"
        assert "http://localhost:3000, http://localhost:5173" in banner
        sdk_url = f"{host_url}/api/v1.0/orgs/00000000-0000-4000-8000-000000000001/eventmanagement/events/published"
        for origin in ("http://localhost:3000", "http://localhost:5173"):
            answer = httpx.get(sdk_url, params={"emApplicationtoken": LIVE_TOKEN}, headers={"Origin": origin},
                               timeout=10)
            assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == origin
    finally:
        server.stop()



# --- catalog pages as a portal reads them ------------------------------------------------------------------


def _path_of(url: str) -> str:
    """The path and query of an absolute URL the page gave (the test client's host is http://testserver)."""
    assert url.startswith("http://testserver/"), url
    return url.removeprefix("http://testserver")


async def test_speaker_image_urls_are_absolute_and_load_without_the_token() -> None:
    app, _ = make_app(CATALOG)
    async with client(app) as c:
        speakers = (await c.get(api(f"events/{EVENT.readable_id}/speakers"))).json()
        sessions = (await c.get(api(f"events/{EVENT.readable_id}/sessions"))).json()
        urls = [s["imageUrl"] for s in speakers] + [x["imageUrl"] for s in sessions for x in s["speakers"]]
        assert urls and all(u.startswith(f"http://testserver{BASE}/speakers/") for u in urls)
        images = [await c.get(_path_of(u)) for u in urls]  # as <img src>: no token
    assert all(i.status_code == 200 and i.content.startswith(PNG_SIGNATURE) for i in images)


@pytest.mark.parametrize("image_urls", ["absolute", "relative"])
async def test_each_sample_builds_a_speaker_image_src_that_loads(image_urls: str) -> None:
    """``portal.image_urls``: the RTM SDK sample takes ``imageUrl`` as the src only when it starts with
    ``https://`` (``public/js/event-details.js``, ``renderSpeakers``), so it needs it absolute; the v2.0 sample
    prefixes its ``apiEndpoint`` (the eventmanagement base, with its trailing slash: ``ImageHelper.getImage``),
    so it needs it relative. Each src is built as that sample builds it, then loaded as an <img> (no token)."""
    app, _ = make_app(CATALOG, portal=Portal(image_urls=image_urls))
    api_endpoint = f"http://testserver{BASE}/"  # environment.apiEndpoint of the v2.0 sample
    async with client(app) as c:
        speakers = (await c.get(api(f"events/{EVENT.readable_id}/speakers"))).json()
        sessions = (await c.get(api(f"events/{EVENT.readable_id}/sessions"))).json()
        urls = [s["imageUrl"] for s in speakers] + [x["imageUrl"] for s in sessions for x in s["speakers"]]
        if image_urls == "absolute":
            srcs = urls  # the SDK sample: as is (https when the server is reached over TLS)
        else:
            assert all(not u.startswith(("http", "/")) for u in urls), urls
            srcs = [api_endpoint + u for u in urls]  # the v2.0 sample: `${environment.apiEndpoint}${imageUrl}`
        assert srcs and all(src.startswith(f"http://testserver{BASE}/speakers/") for src in srcs)
        images = [await c.get(_path_of(src)) for src in srcs]
        event = (await c.get(api(f"events/{EVENT.readable_id}"))).json()
    assert all(i.status_code == 200 and i.content.startswith(PNG_SIGNATURE) for i in images)
    assert event["image"].startswith("http://testserver/")  # both samples use event.image as is: always absolute


async def test_session_registration_count_is_the_sessions_created_registrations() -> None:
    """The v2.0 sample's session cart: full when isCapacityRestricted and registrationCount >= maxCapacity, and
    then it sends attendeeSessions[].waitlisted = true."""
    app, model = make_app(CATALOG)
    first, second = EVENT.sessions[0], EVENT.sessions[1]
    async with client(app) as c:
        before = {s["id"]: s["registrationCount"] for s in
                  (await c.get(api(f"events/{EVENT.readable_id}/sessions"))).json()}
        for email in ("a@example.com", "b@example.com"):
            body = {"attendees": [attendee(email=email, attendeeSessions=[{"sessionId": first.id}])]}
            submission = (await c.post(api(f"events/{EVENT.readable_id}/registrations"), json=body)).json()
            model.create(submission["submissionId"])
        listed = {s["id"]: s for s in (await c.get(api(f"events/{EVENT.readable_id}/sessions"))).json()}
        one = (await c.get(api(f"sessions/{first.id}"))).json()
        nested = [x for s in (await c.get(api(f"events/{EVENT.readable_id}/speakers"))).json()
                  for x in s["sessions"] if x["id"] == first.id]
        counted = (await c.get(api(f"sessions/{first.id}/registrations/count"))).json()
    assert set(before.values()) == {0}
    assert listed[first.id]["registrationCount"] == one["registrationCount"] == counted == 2
    assert listed[second.id]["registrationCount"] == 0
    assert all(x["registrationCount"] == 2 for x in nested)
    full = listed[first.id]["isCapacityRestricted"] and listed[first.id]["registrationCount"] >= \
        listed[first.id]["maxCapacity"]
    assert full is False  # 2 of its seats taken: the sample still offers it


async def test_event_image_is_a_url_of_an_image_and_registration_form_is_configurable() -> None:
    app, _ = make_app(CATALOG)
    async with client(app) as c:
        event = (await c.get(api(f"events/{EVENT.readable_id}"))).json()
        listed = (await c.get(api("events/published"))).json()
        image = await c.get(_path_of(event["image"]))
    assert isinstance(event["image"], str) and event["image"] == listed[0]["image"]
    assert image.status_code == 200 and image.content.startswith(PNG_SIGNATURE)
    assert event["registrationForm"] is None  # formless registration through the API, by default
    embed = '<div data-form-id="432e0451-b7fa-4f34-bdbe-bd16d6a34eab"></div>'
    app, _ = make_app(CATALOG, portal=Portal(event_images=False, registration_form=embed))
    async with client(app) as c:
        event = (await c.get(api(f"events/{EVENT.readable_id}"))).json()
    assert event["image"] is None and event["registrationForm"] == embed


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2.x relative luminance of sRGB values in 0..1."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return np.asarray(linear @ np.array([0.2126, 0.7152, 0.0722]))


async def test_white_text_stays_readable_on_every_pixel_of_each_event_banner() -> None:
    """Portals lay the event's name over its image in white: the worst pixel of every banner, decoded by an
    independent PNG reader (matplotlib's), keeps white text at WCAG's AAA contrast (7:1; AA is 4.5:1)."""
    import matplotlib.image as mpimg  # here, not at collection: only this test decodes PNGs

    app, _ = make_app(CATALOG)
    async with client(app) as c:
        events = (await c.get(api("events/published"))).json()
        banners = [await c.get(_path_of(e["image"])) for e in events]
    for banner in banners:
        pixels = mpimg.imread(io.BytesIO(banner.content), format="png")[..., :3].astype(float)
        assert pixels.shape[1] >= 2 * pixels.shape[0]  # a banner, wider than tall
        worst = 1.05 / (float(relative_luminance(pixels).max()) + 0.05)
        assert worst >= 7.0, f"white on the lightest pixel: {worst:.1f}:1"


async def test_events_published_lists_a_web_applications_own_events() -> None:
    app, _ = make_app(CATALOG, portal=Portal(webapps=2))
    first, second = app.state.webapp_ids
    async with client(app) as c:
        every = [e["readableEventId"] for e in (await c.get(api("events/published"))).json()]
        mine = [e["readableEventId"] for e in (await c.get(api("events/published", webappId=first))).json()]
        theirs = [e["readableEventId"] for e in (await c.get(api("events/published", webappId=second))).json()]
        unknown = await c.get(api("events/published", webappId="00000000-0000-0000-0000-000000000000"))
    readable = [e.readable_id for e in CATALOG.events]
    assert every == readable
    assert mine == readable[0::2] and theirs == readable[1::2]
    assert unknown.status_code == 200 and unknown.json() == []
