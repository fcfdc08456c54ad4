"""The paid flow clicked through in headless Chromium, as a portal developer does it against ``stampede serve``.

A page on the mock's origin plays the portal: it POSTs the registration with ``fetch`` and, as Microsoft's v2.0
sample does on ``status == "Redirect"``, sends the browser to ``redirectUrl`` — the mock's own payment page. The
test clicks **Pay** or **Cancel** there, and the page returns the browser to ``payment.return_url`` (here the
purchase's state on the harness plane). Checked against the store: pay → the registration is created once;
cancel → the seat is free again (the next buyer of that pass is sent to pay); full event → waitlisted, no payment.

Chromium is Debian's ``/usr/bin/chromium``, driven over the DevTools protocol (``websockets``); no browser is
downloaded. Skipped with the reason when it is absent.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from simulator.scenario import parse_scenario
from simulator.server.serve import Served, build_served

pytestmark = pytest.mark.slow  # a browser and a server on sockets

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "browser-token"


def chromium() -> str | None:
    return str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")


def until(condition: Callable[[], Any], timeout_s: float = 20.0, what: str = "condition") -> Any:
    """Poll ``condition()`` until it is truthy (bounded); its value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout_s} s")
        time.sleep(0.05)


class Page:
    """One Chromium tab over the DevTools protocol: navigate, evaluate, read where it is."""

    def __init__(self, websocket: ClientConnection) -> None:
        self._ws = websocket
        self._ids = iter(range(1, 1_000_000))

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:  # events interleave with answers: skip to ours
            message = json.loads(self._ws.recv(timeout=30))
            if message.get("id") == message_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        until(lambda: self.evaluate("document.readyState === 'complete' && location.href") == url,
              what=f"loading {url}")

    def href(self) -> str:
        return str(self.evaluate("location.href"))


@contextlib.contextmanager
def browser(binary: str) -> Iterator[Page]:
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen([binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                    "--disable-background-networking", "--disable-component-update",
                                    "--disable-sync", "--disable-extensions", "--remote-debugging-port=0",
                                    f"--user-data-dir={profile}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            active = Path(profile) / "DevToolsActivePort"
            port = until(lambda: active.exists() and active.read_text().split("\n")[0], what="DevTools port")
            targets = until(lambda: _targets(int(port)), what="a page target")
            with connect(targets[0]["webSocketDebuggerUrl"], max_size=None) as websocket:
                page = Page(websocket)
                page.send("Page.enable")
                yield page
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _targets(port: int) -> list[dict[str, Any]]:
    try:
        listed = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
    except httpx.HTTPError:
        return []
    return [t for t in listed if t.get("type") == "page"]


@contextlib.contextmanager
def serving(tmp: Path) -> Iterator[tuple[Served, str]]:
    """The mock on a socket bound first, so that its own origin is the web application's (the 'portal' page and
    the return URL live there)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    scenario = parse_scenario({
        "name": "portal", "catalog": {"events": 1, "paid_events": 1, "capacity": 2, "waitlist": True},
        "payment": {"timeout": "1h", "return_url": "{origin}/_harness/purchases/{purchaseId}"},
    })
    served = build_served(scenario, db_path=tmp / "portal.db", token=TOKEN, origin=base, freeze_gc=False,
                          switch_interval_s=None)
    server = uvicorn.Server(uvicorn.Config(served.app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        until(lambda: server.started or not thread.is_alive(), what="the server starting")
        assert thread.is_alive(), "the server did not start"
        yield served, base
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


REGISTER = """(async () => {{
  const answer = await fetch("{url}", {{method: "POST", headers: {{"Content-Type": "application/json"}},
                                        body: JSON.stringify({body})}});
  const result = await answer.json();
  if (result.status === "Redirect") {{ window.location.href = result.redirectUrl; }}  // the v2.0 sample
  return {{http: answer.status, status: result.status, redirectUrl: result.redirectUrl || null,
          purchaseId: result.purchaseId || null}};
}})()"""


def register(page: Page, base: str, served: Served, email: str, pass_index: int) -> dict[str, Any]:
    """The portal registers one attendee from a page on its origin, and follows a Redirect as the sample does."""
    page.goto(f"{base}/_harness/health")
    event = served.model.catalog.events[0]
    url = f"{base}{served.app.state.base_path}events/{event.readable_id}/registrations?emApplicationtoken={TOKEN}"
    body = {"attendees": [{"firstName": "Ada", "lastName": "Lovelace", "email": email,
                           "passId": event.passes[pass_index].id}]}
    answer = dict(page.evaluate(REGISTER.format(url=url, body=json.dumps(body))))
    if answer["status"] == "Redirect":
        until(lambda: page.href() == answer["redirectUrl"] and page.evaluate("!!document.getElementById('state')"),
              what="the payment page")
    return answer


def click(page: Page, button: str, expected_url: str) -> None:
    page.evaluate(f"document.getElementById('{button}').click()")
    until(lambda: page.href() == expected_url and page.evaluate("document.readyState === 'complete'"),
          what=f"the return URL after {button}")


def test_a_portal_developer_clicks_through_pay_cancel_and_a_full_event(tmp_path: Path) -> None:
    binary = chromium()
    if binary is None:
        pytest.skip("no Chromium: install Debian's chromium package (/usr/bin/chromium)")
    with serving(tmp_path) as (served, base), browser(binary) as page:
        event = served.model.catalog.events[0]
        # capacity 2: one Standard pass, one VIP pass. Ada buys the Standard one and pays.
        ada = register(page, base, served, "ada@example.com", 0)
        assert ada["http"] == 200 and ada["redirectUrl"] == f"{base}/_harness/pay/{ada['purchaseId']}"
        assert page.evaluate("document.getElementById('amount').textContent").endswith("99.00")
        back = f"{base}/_harness/purchases/{ada['purchaseId']}"
        click(page, "pay", back)
        assert json.loads(page.evaluate("document.body.innerText"))["state"] == "confirmed"
        until(lambda: served.store.registration_count(event.id) == 1, what="Ada's registration created")
        page.goto(ada["redirectUrl"])  # the payment page again: nothing left to pay
        assert page.evaluate("document.getElementById('pay')") is None
        assert page.evaluate("document.getElementById('outcome').textContent") == "This purchase is confirmed."

        # Grace takes the VIP pass (the last seat), then cancels at the payment page: the seat is free again
        grace = register(page, base, served, "grace@example.com", 1)
        assert grace["http"] == 200
        click(page, "cancel", f"{base}/_harness/purchases/{grace['purchaseId']}")
        assert json.loads(page.evaluate("document.body.innerText"))["state"] == "cancelled"
        alan = register(page, base, served, "alan@example.com", 1)
        assert alan["http"] == 200 and alan["status"] == "Redirect"  # the released seat, sent to pay

        # both seats taken (Ada's sold, Alan's held): Joan is waitlisted and sent nowhere to pay
        page.goto(f"{base}/_harness/health")
        joan = register(page, base, served, "joan@example.com", 1)
        assert joan == {"http": 202, "status": "Success", "redirectUrl": None, "purchaseId": None}
        assert page.href() == f"{base}/_harness/health"
        until(lambda: served.store.waitlist_count(event.id) == 1, what="Joan's waitlist item")
        counts = served.store.purchase_counts()
        registered = served.store.registration_count(event.id)
    assert counts == {"held": 1, "confirmed": 1, "expired": 0, "cancelled": 1}
    assert registered == 1  # Ada's, created once
