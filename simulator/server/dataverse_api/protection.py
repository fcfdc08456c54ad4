"""Service protection for the face's callers, exactly as the model enforces it for the event API's processors.

Every request is one request of an **app user** on a **web server** (S8: each web server enforces the limits
independently, per user), admitted or refused by the same ``DataverseModel`` — the same keys, latency stream and
worker slots — the processors use (``engine/dataverse.py``), on the model thread:

- the app user is the bearer token's: a JWT's ``appid`` claim (``azp``, then ``oid`` if it has none), or the
  opaque token itself; one named like the event API's app user (``[dataverse] app_user``) *is* that user, so
  a client and the processors spend one budget. ``--dataverse-token`` restricts who may call (401 otherwise).
- the web server is the one the ``ARRAffinity`` cookie names, the cookie the face sets on every answer, as
  Dataverse's load balancer does; without it (or with one it never set) the next server, round robin.
- admitted, the request takes its service time from the latency model (a read or a write per operation; a
  ``$batch`` or ``CreateMultiple`` the sum of its operations', one request against the request limit — S8:
  "A batch … will avoid the number of requests limit. However, you will need to be prepared for the
  execution time limit"), and is answered when that time has passed on the model's clock (÷ ``--time-scale``
  on the wall clock). Refused, it is a 429 with Microsoft's code and message and ``Retry-After`` in wall
  seconds.

Every answer carries ``x-ms-ratelimit-burst-remaining-xrm-requests`` (requests left in the key's window),
``x-ms-ratelimit-time-remaining-xrm-requests`` (execution left in the window, in the scenario's seconds,
written as Dataverse writes it: ``1,199.95``) and ``x-ms-dop-hint`` (``[dataverse] dop_hint``).

``Ledger`` records every call — the independent record the stats, ``/metrics``, the live run directory's
``dataverse_api.csv`` and the property tests read.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.engine.dataverse import Failed
from simulator.engine.model import Model
from simulator.engine.realtime import DriverStopped, RealtimeDriver
from simulator.limits import CONCURRENCY, EXECUTION, REQUESTS
from simulator.plan import Call
from simulator.scenario import Dataverse as DataverseSettings
from simulator.server.dataverse_api.errors import CODES, ODataError
from simulator.server.model import retry_after_header_s

__all__ = ["Protection", "Admitted", "Ledger", "FaceCall", "caller_name", "READ", "WRITE", "processor_users"]

READ = Call("dataverse_api_read", write=False)
WRITE = Call("dataverse_api_write", write=True)
AFFINITY = "ARRAffinity"
LIMITS = (REQUESTS, EXECUTION, CONCURRENCY)


def processor_users(settings: DataverseSettings) -> list[str]:
    """The names of the event API's app users, by number (``[dataverse] app_user``)."""
    if settings.app_users == 1:
        return [settings.app_user]
    return [f"{settings.app_user}-{i + 1}" for i in range(settings.app_users)]


def caller_name(authorization: str | None, allowed: frozenset[str] | None) -> str:
    """The app user of ``Authorization: Bearer <token>`` (ODataError 401 when there is none, or when ``allowed``
    is given and the token is not one of them)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ODataError(401, CODES["unauthorized"], "send Authorization: Bearer <token> (any token names an app "
                         "user unless the server was started with --dataverse-token)")
    if allowed is not None and token not in allowed:
        raise ODataError(401, CODES["unauthorized"], "this bearer token is not one of the server's --dataverse-token")
    claims = _jwt_claims(token)
    for claim in ("appid", "azp", "oid"):
        value = claims.get(claim)
        if isinstance(value, str) and value:
            return value
    return token


def _jwt_claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (the face names users; it does not authenticate them); {} for other tokens."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}


@dataclass(frozen=True, slots=True)
class FaceCall:
    """One request through the face, as the ledger keeps it (times in model seconds)."""

    t_s: float  # when it was admitted or refused
    user: str
    server: int
    operations: int  # 1, or the operations of a $batch / *Multiple
    status: int  # 200 admitted (whatever the operation then answers), 429 throttled, 503 outage
    limit: str = ""  # throttled: requests | execution | concurrency
    retry_after_s: int | None = None  # throttled: the header, wall seconds
    waited_s: float | None = None  # admitted after 429s: wall seconds since this user's first 429 (the retry
    #                                latency the client saw)


COLUMNS = ("t_s", "user", "server", "operations", "status", "limit", "retry_after_s", "waited_s")


@dataclass
class Ledger:
    """Every call through the face, in order, with counts by user (thread-safe: the loop adds, readers copy)."""

    calls: list[FaceCall] = field(default_factory=list)
    keep_calls: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _by_user: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    _waits_s: list[float] = field(default_factory=list)

    def add(self, call: FaceCall) -> None:
        with self._lock:
            if self.keep_calls:
                self.calls.append(call)
            counts = self._by_user[call.user]
            counts["requests"] += 1
            counts["operations"] += call.operations
            if call.status == 429:
                counts["throttled"] += 1
                counts[f"throttled_{call.limit}"] += 1
            elif call.status == 503:
                counts["failed"] += 1
            else:
                counts["admitted"] += 1
            if call.waited_s is not None:
                self._waits_s.append(call.waited_s)

    def stats(self) -> dict[str, Any]:
        """``/_harness/stats``'s ``dataverse_api`` block: totals, by limit, by app user, retry latency."""
        with self._lock:
            by_user = {user: dict(counts) for user, counts in self._by_user.items()}
            waits = sorted(self._waits_s)
        total: Counter[str] = Counter()
        for counts in by_user.values():
            total.update(counts)
        return {
            "requests": total["requests"], "operations": total["operations"], "admitted": total["admitted"],
            "throttled": total["throttled"], "failed": total["failed"],
            "throttled_by": {limit: total[f"throttled_{limit}"] for limit in LIMITS},
            "by_user": {user: {"requests": c.get("requests", 0), "admitted": c.get("admitted", 0),
                               "throttled": c.get("throttled", 0),
                               "throttled_by": {limit: c.get(f"throttled_{limit}", 0) for limit in LIMITS}}
                        for user, c in sorted(by_user.items())},
            "retry_latency_s": _spread(waits),
        }

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            calls = list(self.calls)
        return [{name: getattr(call, name) for name in COLUMNS} for call in calls]


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    def at(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 3)
    return {"n": len(values), "p50": at(0.5), "p95": at(0.95), "max": round(values[-1], 3)}


@dataclass(frozen=True, slots=True)
class Admitted:
    """What the model answered a request: ``failed`` None when it was served; the key's room after it."""

    failed: Failed | None
    requests_left: int
    execution_left_s: float
    retry_after_s: int | None = None  # wall seconds (throttled)

    def headers(self, dop_hint: int) -> list[tuple[bytes, bytes]]:
        headers = [(b"x-ms-ratelimit-burst-remaining-xrm-requests", str(max(0, self.requests_left)).encode()),
                   (b"x-ms-ratelimit-time-remaining-xrm-requests", f"{max(0.0, self.execution_left_s):,.2f}".encode()),
                   (b"x-ms-dop-hint", str(dop_hint).encode())]
        if self.retry_after_s is not None:
            headers.append((b"retry-after", str(self.retry_after_s).encode()))
        return headers

    def error(self) -> ODataError | None:
        failed = self.failed
        if failed is None:
            return None
        if failed.throttled is not None:
            return ODataError(429, failed.throttled.code, failed.throttled.message)
        return ODataError(503, CODES["unavailable"], "Dataverse is unavailable (an outage fault); try again later")


class Protection:
    """The face's side of service protection: names, servers, and the handoff to the model thread."""

    def __init__(self, driver: RealtimeDriver, settings: DataverseSettings, tokens: frozenset[str] | None,
                 ledger: Ledger) -> None:
        self.driver = driver
        self.settings = settings
        self.tokens = tokens
        self.ledger = ledger
        self.users: dict[str, int] = {name: i for i, name in enumerate(processor_users(settings))}  # model thread
        salt = secrets.token_hex(8)
        self.cookies = [hashlib.sha256(f"{salt}:{server}".encode()).hexdigest()
                        for server in range(settings.web_servers)]
        self._servers = {cookie: server for server, cookie in enumerate(self.cookies)}
        self._next = 0
        self._throttled_since: dict[str, float] = {}  # user -> wall time of their first 429 since an admission

    def server_for(self, cookie_header: str | None) -> int:
        """The server the ``ARRAffinity`` cookie names, else the next one round robin."""
        for part in (cookie_header or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == AFFINITY and value in self._servers:
                return self._servers[value]
        server = self._next
        self._next = (server + 1) % len(self.cookies)
        return server

    def cookie(self, server: int) -> bytes:
        return f"{AFFINITY}={self.cookies[server]}; Path=/; HttpOnly".encode()

    async def admit(self, user: str, server: int, calls: Sequence[Call]) -> Admitted:
        """Ask the model to serve a request of ``calls`` as ``user`` on ``server``; returns once it is answered
        (after its service time) or refused."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[Admitted, float]] = loop.create_future()
        time_scale = self.driver.time_scale

        def settle(result: Any, error: BaseException | None) -> None:
            if not answer.done():
                if error is not None:
                    answer.set_exception(error)
                else:
                    answer.set_result(result)

        def on_model(model: Model) -> Any:
            dataverse = model.dataverse
            number = self.users.get(user)
            if number is None:
                number = self.users[user] = dataverse.add_user()
            outcome = dataverse.request_on(number, server, calls)
            now = model.env.now
            key = dataverse.keys[number][server % len(dataverse.servers)]
            limits = key.settings
            requests_left = limits.requests_limit - key.requests_in_window(now)
            execution_left_s = limits.execution_limit_s - key.execution_in_window_s(now)
            if isinstance(outcome, Failed):
                wall_s = None if outcome.retry_after_s is None else retry_after_header_s(outcome.retry_after_s /
                                                                                          time_scale)
                return Admitted(outcome, requests_left, execution_left_s, wall_s), now
            admitted = Admitted(None, requests_left, execution_left_s)
            def served(_event: Any) -> None:
                loop.call_soon_threadsafe(settle, (admitted, now), None)

            outcome.callbacks.append(served)
            return None  # answered when the request has been served

        def done(result: Any, error: BaseException | None) -> None:
            if error is not None or result is not None:
                loop.call_soon_threadsafe(settle, result, error)

        try:
            self.driver.submit(on_model, done)
        except DriverStopped:
            raise ODataError(503, CODES["unavailable"], "the server is stopping") from None
        try:
            admitted, t_s = await answer
        except DriverStopped:
            raise ODataError(503, CODES["unavailable"], "the server is stopping") from None
        self._record(user, server, len(calls), admitted, t_s)
        return admitted

    def _record(self, user: str, server: int, operations: int, admitted: Admitted, t_s: float) -> None:
        failed, waited_s = admitted.failed, None
        wall = time.monotonic()
        if failed is None:
            since = self._throttled_since.pop(user, None)
            waited_s = None if since is None else round(wall - since, 3)
            call = FaceCall(t_s, user, server, operations, 200, waited_s=waited_s)
        elif failed.throttled is not None:
            self._throttled_since.setdefault(user, wall)
            call = FaceCall(t_s, user, server, operations, 429, failed.throttled.limit, admitted.retry_after_s)
        else:
            call = FaceCall(t_s, user, server, operations, 503)
        self.ledger.add(call)
