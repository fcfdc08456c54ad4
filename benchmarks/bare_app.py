"""The floor for benchmarks/api.py: bare Starlette serving the mock's own bytes on the mock's routes.

GETs return the bytes the mock served (read from files named in the environment); the registration POST
validates the body with the same pydantic model and answers 202 — no model, no SQLite. Run by api.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.server.contract import RegistrationRequest

BASE = os.environ["BARE_BASE"]  # /api/v1.0/orgs/{org}/eventmanagement/
EVENT = os.environ["BARE_EVENT"]
EVENT_PAGE = Path(os.environ["BARE_EVENT_PAGE"]).read_bytes()
SESSIONS = Path(os.environ["BARE_SESSIONS"]).read_bytes()
ACCEPTED = b'{"status":"Success","errorMessage":null,"errorCode":null,"redirectUrl":null,"purchaseId":null,' \
           b'"submissionId":"00000000-0000-4000-8000-000000000000"}'


async def event_page(request: Request) -> Response:
    return Response(EVENT_PAGE, media_type="application/json")


async def sessions(request: Request) -> Response:
    return Response(SESSIONS, media_type="application/json")


async def register(request: Request) -> Response:
    try:
        RegistrationRequest.model_validate_json(await request.body())
    except ValidationError:
        return Response(b'{"type":"InvalidRequestBody"}', status_code=422, media_type="application/json")
    return Response(ACCEPTED, status_code=202, media_type="application/json",
                    headers={"location": "/_harness/submissions/00000000-0000-4000-8000-000000000000"})


app = Starlette(routes=[
    Route(f"{BASE}events/{EVENT}", event_page),
    Route(f"{BASE}events/{EVENT}/sessions", sessions),
    Route(f"{BASE}events/{EVENT}/registrations", register, methods=["POST"]),
])
