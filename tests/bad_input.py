"""Every bad input the registration endpoint refuses, and the inputs it accepts on purpose, sent to the real live
model; ``render`` writes what came back as ``docs/bad-input.md``.

    .venv/bin/python tests/bad_input.py        regenerate docs/bad-input.md
    tests/test_reliability_bad_input.py         checks every answer, that nothing is stored, and that the
                                                document says exactly what the server answers

Test support, not a test module.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from live_support import ORG, TOKEN, Live, live, wait_for

from simulator.server.api import MAX_BODY_BYTES
from simulator.server.contract import MAX_ATTENDEES
from simulator.server.uvicorn_seams import http_refusal

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"
#: launch-001 free, no waitlist · launch-002 with a payment gateway · launch-003 a draft (not live)
SCENARIO: dict[str, Any] = {"catalog": {"events": 2, "paid_events": 1, "draft_events": 1, "waitlist": False}}
FREE, PAID, DRAFT = "launch-001", "launch-002", "launch-003"
#: The same catalog whose registration period ended one model second into the run: every submission is too late.
CLOSED_SCENARIO: dict[str, Any] = {**SCENARIO, "window": {"closes": "1s"}}
JSON = "application/json"
CORRELATION = "00000000-0000-0000-0000-000000000000"  # shown in place of each answer's own correlationId


def attendee(**fields: Any) -> dict[str, Any]:
    body = {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@contoso.com"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def body(*attendees: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"attendees": list(attendees), **extra}, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Case:
    """One request and what the server must answer (``type`` None: 202 accepted)."""

    title: str
    status: int
    type: str | None
    content: bytes = b""
    event: str = FREE
    content_type: str | None = JSON
    token: str | None = TOKEN
    org: str = ORG
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    shown: str | None = None  # how the body is shown in the document when it is too long to show
    closed: bool = False  # sent to CLOSED_SCENARIO's server, after its registration period

    def url(self) -> str:
        query = "" if self.token is None else f"?emApplicationtoken={self.token}"
        return f"/api/v1.0/orgs/{self.org}/eventmanagement/events/{self.event}/registrations{query}"


#: Requests the HTTP parser refuses before the app sees them (sent over a socket by
#: tests/test_serve_disconnects.py); PATH_OF_PARSER_CASES stands for a real request path.
PARSER_CASES: dict[str, bytes] = {
    "conflicting Content-Length and Transfer-Encoding":
        b"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two different Content-Length": b"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    b"Content-Length: 6\r\n\r\nhello",
    "a request line of 100 KB": b"GET {path}&x=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "a bare LF as the line end": b"GET {path} HTTP/1.1\nHost: x\n\n",
    "a header name with a space": b"GET {path} HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    "not HTTP at all": b"HELLO\r\n\r\n",
}


def cases(live: Live) -> tuple[list[Case], list[Case]]:
    """(refused, accepted on purpose); session and pass ids come from the seeded catalog."""
    catalog = live.catalog
    free, paid = catalog.by_readable_id[FREE], catalog.by_readable_id[PAID]
    ada = attendee()
    too_big = body(ada, padding="x" * MAX_BODY_BYTES)
    exact = body(ada, note="a body of exactly the limit")
    exact += b" " * (MAX_BODY_BYTES - len(exact))
    many = [attendee(email=f"guest{i}@contoso.com") for i in range(MAX_ATTENDEES + 1)]
    long_name = "Ω" * 101
    refused = [
        Case("Malformed JSON", 400, "MalformedJson", b'{"attendees": [', shown='{"attendees": ['),
        Case("Not UTF-8", 400, "MalformedJson", b'{"attendees": [{"firstName": "\xff"}]}',
             shown='{"attendees": [{"firstName": "<byte 0xFF>"}]}'),
        Case("Empty body", 400, "MalformedJson", b""),
        Case("JSON that is not an object", 422, "InvalidRequestBody", b"[]"),
        Case("Wrong content type (text/plain)", 415, "UnsupportedMediaType", body(ada), content_type="text/plain"),
        Case("Wrong content type (a form post)", 415, "UnsupportedMediaType", b"firstName=Ada&email=ada%40contoso.com",
             content_type="application/x-www-form-urlencoded"),
        Case("Empty attendees", 422, "InvalidRequestBody", body()),
        Case("No attendees key", 422, "InvalidRequestBody", b"{}"),
        Case("attendees is not a list", 422, "InvalidRequestBody", b'{"attendees": {}}'),
        Case(f"More attendees than the maximum ({MAX_ATTENDEES})", 422, "InvalidRequestBody", body(*many),
             shown=f'{{"attendees": [ …{MAX_ATTENDEES + 1} attendees… ]}}'),
        Case(f"Body over {MAX_BODY_BYTES // 1024} KiB (Content-Length declared)", 413, "PayloadTooLarge", too_big,
             shown=f'{{"attendees": [ … ], "padding": "xxx…"}} ({len(too_big)} bytes)'),
        Case(f"Body over {MAX_BODY_BYTES // 1024} KiB (chunked, no Content-Length)", 413, "PayloadTooLarge",
             too_big, chunked=True, shown=f"the same {len(too_big)} bytes, sent in 4 KiB chunks"),
        Case("Email missing", 422, "InvalidRequestBody", body(attendee(email=None))),
        Case("Email not an address", 422, "InvalidRequestBody", body(attendee(email="ada.contoso.com"))),
        Case("Email with a space", 422, "InvalidRequestBody", body(attendee(email="ada lovelace@contoso.com"))),
        Case("Email not a string", 422, "InvalidRequestBody", body(attendee(email=42))),
        Case("Email with U+0000 (NUL)", 400, "InvalidCharacters", body(attendee(email="z\u0000@contoso.com"))),
        Case("Email with a control character (U+0001)", 400, "InvalidCharacters",
             body(attendee(email="ada\u0001@contoso.com"))),
        Case("Email with a zero-width space (U+200B)", 400, "InvalidCharacters",
             body(attendee(email="ada\u200b@contoso.com")),
             shown='{"attendees": [{"firstName": "Ada", "lastName": "Lovelace", "email": "ada\\u200b@contoso.com"}]}'),
        Case("U+0000 in a name and in an answer", 400, "InvalidCharacters",
             body(attendee(firstName="A\u0000B", responses=[{"id": "jobtitle", "value": "\u0000"}]))),
        Case("First name missing", 422, "InvalidRequestBody", body(attendee(firstName=None))),
        Case("First name empty", 422, "InvalidRequestBody", body(attendee(firstName=""))),
        Case("First name of 101 characters", 422, "InvalidRequestBody", body(attendee(firstName=long_name)),
             shown=f'{{"attendees": [{{"firstName": "{"Ω" * 3}… (101 × Ω)", …}}]}}'),
        Case("A response without an id", 422, "InvalidRequestBody",
             body(attendee(responses=[{"value": "Engineer"}]))),
        Case("Unknown event", 404, "EventNotFound", body(ada), event="no-such-event"),
        Case("Event that is not live (a draft)", 400, "EventNotLive", body(ada), event=DRAFT),
        Case("Unknown session", 400, "InvalidSession",
             body(attendee(attendeeSessions=[{"sessionId": "00000000-0000-4000-8000-00000000abcd"}]))),
        Case("Session of another event", 400, "InvalidSession",
             body(attendee(attendeeSessions=[{"sessionId": paid.sessions[0].id}]))),
        Case("waitlisted where the event has no waitlist", 400, "WaitlistNotAvailable",
             body(attendee(waitlisted=True))),
        Case("A session waitlisted where the event has no waitlist", 400, "WaitlistNotAvailable",
             body(attendee(attendeeSessions=[{"sessionId": free.sessions[0].id, "waitlisted": True}]))),
        Case("Paid event without passId", 400, "PassRequired", body(ada), event=PAID),
        Case("Paid event with a pass that is not its own", 400, "InvalidPass",
             body(attendee(passId="00000000-0000-4000-8000-00000000beef")), event=PAID),
        Case("passId on a free event", 400, "InvalidPass", body(attendee(passId=paid.passes[0].id))),
        Case("The same email twice in one request", 400, "DuplicateAttendee",
             body(ada, attendee(firstName="Augusta", email="ADA@contoso.com"))),
        Case("After the registration period closed", 400, "RegistrationClosed", body(ada), closed=True),
        Case("No emApplicationtoken", 400, "ApplicationTokenRequired", body(ada), token=None),
        Case("Wrong emApplicationtoken", 401, "InvalidApplicationToken", body(ada), token="not-the-token"),
        Case("Origin of another site", 403, "OriginNotAllowed", body(ada),
             headers={"Origin": "https://evil.example"}),
        Case("Unknown organization", 404, "OrganizationNotFound", body(ada),
             org="11111111-1111-4111-8111-111111111111"),
        Case("GET on the registrations path", 405, "MethodNotAllowed", method="GET", content_type=None),
    ]
    accepted = [
        Case("Non-Latin names, stored exactly as sent", 202, None, body(
            attendee(firstName="李", lastName="小龍", email="li@contoso.com"),
            attendee(firstName="Ελένη", lastName="Παπαδοπούλου", email="eleni@contoso.com"),
            attendee(firstName="محمد", lastName="الخوارزمي", email="mohammed@contoso.com"),
            attendee(firstName="Zoë 👩🏽‍💻", lastName="O'Brien-Nuñez; DROP TABLE contacts;--",
                     email="zoe@contoso.com"))),
        Case("Names of exactly 100 characters", 202, None,
             body(attendee(firstName="あ" * 100, lastName="Ω" * 100, email="long@contoso.com")),
             shown='{"attendees": [{"firstName": "あああ… (100 × あ)", "lastName": "ΩΩΩ… (100 × Ω)", …}]}'),
        Case("Control and zero-width characters in names, stored exactly as sent", 202, None,
             body(attendee(firstName="Ada\tMary", lastName="Love\u0001lace\u200b", email="ctl@contoso.com")),
             shown='{"attendees": [{"firstName": "Ada\\tMary", "lastName": "Love\\u0001lace\\u200b", '
                   '"email": "ctl@contoso.com"}]}'),
        Case("Unknown extra fields (ignored, not stored)", 202, None,
             body(attendee(email="extra@contoso.com", nickname="Countess", shoeSize=38), utm_source="newsletter")),
        Case(f"A body of exactly {MAX_BODY_BYTES} bytes", 202, None, exact,
             shown=f'{{"attendees": [ … ]}} followed by spaces up to {MAX_BODY_BYTES} bytes'),
    ]
    return refused, accepted


@dataclass(frozen=True)
class Outcome:
    case: Case
    status: int
    body: dict[str, Any]
    counts_before: dict[str, Any]
    counts_after: dict[str, Any]


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), 4096):
        yield content[start:start + 4096]


async def send(live: Live, case: Case) -> httpx.Response:
    headers = dict(case.headers)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    content: bytes | AsyncIterator[bytes] | None = case.content if case.method == "POST" else None
    if case.chunked:
        content = _chunks(case.content)
    return await live.client.request(case.method, case.url(), content=content, headers=headers)


async def run(tmp_path: Path) -> tuple[list[Outcome], list[Outcome], Live]:
    """Send every case to a fresh live server; refused ones first, each with the store's counts around it.
    The accepted ones are then created before this returns (the caller inspects the store)."""
    (tmp_path / "closed").mkdir(exist_ok=True)
    async with live(tmp_path, SCENARIO) as mock, live(tmp_path / "closed", CLOSED_SCENARIO) as closed:
        refused, accepted = cases(mock)
        await wait_for(closed.stats, lambda stats: stats["sim_now_s"] > 1, timeout_s=10, interval_s=0.01)
        outcomes: tuple[list[Outcome], list[Outcome]] = ([], [])
        for group, sent in zip(outcomes, (refused, accepted), strict=True):
            for case in sent:
                server = closed if case.closed else mock
                before = server.served.store.counts()
                answer = await send(server, case)
                group.append(Outcome(case, answer.status_code, answer.json(), before, server.served.store.counts()))
        await mock.settled(timeout_s=10)
        return outcomes[0], outcomes[1], mock


def _shown(case: Case) -> str:
    if case.shown is not None:
        return case.shown
    return case.content.decode() if case.content else "(none)"


def _answer(outcome: Outcome) -> str:
    answer = dict(outcome.body)
    if "correlationId" in answer:
        answer["correlationId"] = CORRELATION
    if "submissionId" in answer:
        answer["submissionId"] = CORRELATION
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":"))


def render(refused: list[Outcome], accepted: list[Outcome]) -> str:
    lines = [
        "# Bad input: what the event API mock refuses, and how",
        "",
        "Generated by `tests/bad_input.py` from the real live model (`.venv/bin/python tests/bad_input.py`);",
        "`tests/test_reliability_bad_input.py` fails when the server answers anything else. Each request is",
        f"`POST /api/v1.0/orgs/{ORG}/eventmanagement/events/{{event}}/registrations?emApplicationtoken=…`",
        "with `Content-Type: application/json` unless the case says otherwise. The catalog: `launch-001` a",
        "free event without a waitlist, `launch-002` an event with a payment gateway, `launch-003` a draft",
        "(`catalog.draft_events = 1`: exists, not live). Every answer below is the exact body except",
        f"`correlationId` (a fresh UUID per answer, shown as `{CORRELATION}`).",
        "",
        "**Nothing refused is stored**: the store's row counts (submissions, contacts, registrations, session",
        "registrations, waitlist items) are the same before and after every refused request.",
        "",
        "Order of the checks: origin (403), organization (404), token (400/401), method (405), event (404), then",
        f"content type (415), size (413, {MAX_BODY_BYTES} bytes by default: `stampede serve --max-body-bytes`),",
        "JSON (400), text that cannot be stored as sent (400 `InvalidCharacters`, naming every such field:",
        "U+0000 anywhere — SQLite's text functions end a string at it —, and in an email a control character",
        "U+0000–U+001F or U+007F or a zero-width character U+200B–U+200D, U+2060, U+FEFF, U+180E, which would make",
        "another person of the same-looking address), shape (422, naming every bad field), then the rules about",
        "the catalog (400, after the event's validation read, as the real API reads the event before it can",
        "judge the request), and last the registration period (400 `RegistrationClosed`, sent to a second server",
        "with the same catalog and `window.closes` passed).",
        "",
        "## Refused",
        "",
    ]
    for number, outcome in enumerate(refused, 1):
        case = outcome.case
        where = [f"event `{case.event}`"]
        if case.method != "POST":
            where.append(f"method `{case.method}`")
        if case.content_type != JSON:
            where.append(f"Content-Type `{case.content_type}`" if case.content_type else "no body")
        if case.token != TOKEN:
            where.append("no token" if case.token is None else f"token `{case.token}`")
        if case.org != ORG:
            where.append(f"organization `{case.org}`")
        if case.closed:
            closes = CLOSED_SCENARIO["window"]["closes"]
            where.append(f'the registration period closed (`window.closes = "{closes}"`)')
        where += [f"`{k}: {v}`" for k, v in case.headers.items()]
        lines += [f"### {number}. {case.title}", "", "Sent: " + ", ".join(where) + ".", ""]
        if case.method == "POST":
            lines += ["```json", _shown(case), "```", ""]
        lines += [f"Answer: **{outcome.status}**", "", "```json", _answer(outcome), "```", ""]
    refusal = json.loads(http_refusal().partition(b"\r\n\r\n")[2])
    refusal["correlationId"] = CORRELATION
    lines += [
        "## Refused by the HTTP parser, before the app",
        "",
        "uvicorn's HTTP parser refuses a request that is not HTTP/1.1 it can read before the app sees it; the",
        "server answers it (`simulator/server/uvicorn_seams.py`) with an `ErrorBody` rather than uvicorn's",
        "`text/plain` \"Invalid HTTP request received.\", and closes the connection. No gate rule applies (no",
        "CORS headers), and `/metrics` does not count it. `tests/test_serve_disconnects.py` sends each over a",
        "socket to `stampede serve`:",
        "",
        *(f"- {title}" for title in PARSER_CASES),
        "",
        "Answer: **400**, `Content-Type: application/json`, `Connection: close`",
        "",
        "```json",
        json.dumps(refusal, separators=(",", ":"), ensure_ascii=False),
        "```",
        "",
        "A client that does not send a request's headers and body within `stampede serve --read-timeout` (30 s",
        "by default) gets no answer: the connection is closed. A client that hangs up mid-body gets none either;",
        "it is counted as `client_disconnects` (`/_harness/stats`, `stampede_client_disconnects_total` in",
        "`/metrics`), never as a 500, and is not logged.",
        "",
        "## Accepted on purpose",
        "",
        "Names are stored exactly as sent — any script, emoji, apostrophes, control and zero-width characters",
        "other than U+0000, SQL-looking text (every statement is parameterized) — up to 100 characters each",
        "(Unicode code points; longer is refused above); `tests/test_reliability_settle.py` holds any Unicode to",
        "it (a property test: every 202 ends created, with the text sent). Unknown query parameters are",
        "ignored on every operation, as an ASP.NET action binds only those it declares (the contract says so).",
        "Unknown keys",
        "are ignored and not stored, as an ASP.NET JSON binder ignores them (v2.0 clients send `hipObject`,",
        "`autoRegister`…). `tests/test_reliability_bad_input.py` reads the stored rows back.",
        "",
    ]
    for number, outcome in enumerate(accepted, 1):
        lines += [f"### {number}. {outcome.case.title}", "", "```json", _shown(outcome.case), "```", "",
                  f"Answer: **{outcome.status}**", "", "```json", _answer(outcome), "```", ""]
    return "\n".join(lines)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        refused, accepted, _ = asyncio.run(run(Path(tmp)))
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(refused, accepted), encoding="utf-8")
    print(f"wrote {DOC} ({len(refused)} refused, {len(accepted)} accepted)", file=sys.stderr)


if __name__ == "__main__":
    main()
