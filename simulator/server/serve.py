"""Assemble a servable mock from a scenario: store, live model, app, lifespan (``stampede serve`` runs it)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from simulator.scenario import Scenario
from simulator.server.api import MAX_BODY_BYTES
from simulator.server.app import create_app
from simulator.server.live import LiveEventModel
from simulator.server.store import Store

__all__ = ["Served", "build_served", "DEV_ORG", "DEV_ORIGIN"]

DEV_ORG = "00000000-0000-4000-8000-000000000001"
DEV_ORIGIN = "http://localhost:5173"  # the usual address of a local portal dev server (Vite)


@dataclass
class Served:
    app: FastAPI
    model: LiveEventModel
    store: Store
    org_id: str
    token: str
    origin: str


def build_served(
    scenario: Scenario,
    *,
    db_path: str | Path,
    time_scale: float = 1.0,
    host: str = "127.0.0.1",
    org_id: str | None = None,
    token: str | None = None,
    origin: str | None = None,
    admin_token: str | None = None,
    on_stop: Callable[[LiveEventModel], None] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    run_record: bool = True,
) -> Served:
    """The app with its live model started and stopped by the app's lifespan; ``on_stop`` runs after the model
    stopped (writing the live run directory, for instance). ``run_record=False`` when no run directory will be
    written: the model then keeps no row per submission and a long-running server's memory stays flat."""
    settings = scenario.registration
    store = Store(db_path, matching=settings.matching, audience=settings.audience,
                  consent_purposes=settings.consent_purposes)
    model = LiveEventModel(scenario, store, time_scale, run_record=run_record)
    org_id = org_id or DEV_ORG
    token = token or secrets.token_urlsafe(24)
    origin = origin or DEV_ORIGIN

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model.start()
        try:
            yield
        finally:
            model.stop()
            try:
                if on_stop is not None:
                    on_stop(model)
            finally:
                store.close()

    app = create_app(model.catalog, org_id=org_id, token=token, origin=origin, model=model,
                     admin_token=admin_token, host=host, lifespan=lifespan, max_body_bytes=max_body_bytes)
    return Served(app, model, store, org_id, token, origin)
