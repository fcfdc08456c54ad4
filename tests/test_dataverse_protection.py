"""Service protection through the Dataverse face, held to an independent ledger: whatever a client sends — which
app users, which ``ARRAffinity`` cookies, how many at once, how fast — no (user, web server) key ever admits more
than its request limit in any window, and every request is routed to the server its cookie names."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_support import live

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
API = "/api/data/v9.2/"
LIMIT, WINDOW_S = 4, 10.0  # model seconds; at time scale 10 the window is one wall second
USERS = ("alpha", "beta", "event-api")  # event-api: the processors' own app user
SCENARIO = {"catalog": {"events": 1}, "dataverse": {
    "web_servers": 2, "requests_limit": LIMIT, "window": f"{WINDOW_S:g}s", "concurrency_limit": 2,
    "latency": {"read": {"median": "500ms", "p99": "2s"}, "write": {"median": "500ms", "p99": "2s"}}}}
_examples = itertools.count()

# a group of requests sent at once: (user, cookie: None = none, 0/1 = that server's, 2 = one the face never set)
request = st.tuples(st.sampled_from(USERS), st.sampled_from([None, 0, 1, 2]), st.booleans())
groups = st.lists(st.tuples(st.lists(request, min_size=1, max_size=4), st.integers(0, 150)), min_size=1, max_size=6)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("extend", [False, True], ids=["plain", "extend_retry_after"])
async def test_no_key_admits_more_than_its_limit_in_any_window(tmp_path: Path, extend: bool) -> None:
    scenario = {**SCENARIO, "dataverse": {**SCENARIO["dataverse"], "extend_retry_after": extend}}
    async with live(tmp_path, scenario, time_scale=10.0) as server:
        protection = server.served.dataverse.protection
        sent: dict[str, int | None] = {}  # the client's own record: request tag -> the server its cookie named

        async def one(tag: str, user: str, cookie: int | None, write: bool) -> None:
            headers = {"Authorization": f"Bearer {user}"}
            if cookie is not None:
                value = protection.cookies[cookie] if cookie < 2 else "f" * 64
                headers["Cookie"] = f"ARRAffinity={value}"
            sent[tag] = cookie if cookie is not None and cookie < 2 else None
            server.client.cookies.clear()  # only the cookie chosen here
            if write:
                await server.client.post(API + "contacts", headers=headers, json={"emailaddress1": f"{tag}@p.example"})
            else:
                await server.client.get(API + f"WhoAmI?tag={tag}", headers=headers)

        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
        @given(groups)
        def run(plan: list[tuple[list[tuple[str, int | None, bool]], int]]) -> None:
            example = next(_examples)
            start = len(protection.ledger.rows())

            async def drive() -> None:
                for g, (group, pause_ms) in enumerate(plan):
                    await asyncio.gather(*(one(f"e{example}g{g}r{r}", f"{user}{'' if user == 'event-api' else example}",
                                                cookie, write) for r, (user, cookie, write) in enumerate(group)))
                    await asyncio.sleep(pause_ms / 1000)

            asyncio.run_coroutine_threadsafe(drive(), loop).result(timeout=60)
            rows = protection.ledger.rows()[start:]
            assert len(rows) == sum(len(group) for group, _ in plan)
            admitted: dict[tuple[str, int], list[float]] = defaultdict(list)
            for row in rows:
                if row["status"] == 200:
                    admitted[(row["user"], row["server"])].append(row["t_s"])
                elif row["status"] == 429:
                    assert row["limit"] in ("requests", "concurrency", "execution") and row["retry_after_s"] >= 1
            for times in admitted.values():
                times.sort()
                for i, t in enumerate(times):  # the window ending at each admission: (t - window, t]
                    inside = sum(1 for u in times[:i + 1] if u > t - WINDOW_S)
                    assert inside <= LIMIT, (times, t)

        loop = asyncio.get_running_loop()
        await asyncio.to_thread(run)
        # routing, by the ledger: the cookie's server, else round robin; the face hands back the server it chose
        for cookie in (1, 0, None):
            user = f"router{cookie}"
            headers = {"Authorization": f"Bearer {user}"}
            if cookie is not None:
                headers["Cookie"] = f"ARRAffinity={protection.cookies[cookie]}"
            answers = []
            for _ in range(3):
                server.client.cookies.clear()  # the client keeps no cookie jar: only the header above
                answers.append(await server.client.get(API + "WhoAmI", headers=headers))
            servers = [row["server"] for row in protection.ledger.rows() if row["user"] == user]
            if cookie is None:
                assert len(set(servers)) == 2  # round robin over both servers
            else:
                assert servers == [cookie] * 3
            assert all(a.cookies["ARRAffinity"] == protection.cookies[s] for a, s in zip(answers, servers, strict=True))
        assert sent
