"""Assemble a servable mock from a scenario: store, live model, app, lifespan (``stampede serve`` runs it)."""

from __future__ import annotations

import contextlib
import gc
import secrets
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from simulator.engine.gc_policy import fewer_young_collections
from simulator.scenario import Scenario
from simulator.server.api import MAX_BODY_BYTES
from simulator.server.app import create_app
from simulator.server.dataverse_api import DataverseFace, Ledger, build_face
from simulator.server.dataverse_api.face import face_run_files
from simulator.server.dbfile import DatabaseRefused, check_database
from simulator.server.live import LiveEventModel
from simulator.server.store import Store

__all__ = ["Served", "build_served", "DEV_ORG", "DEV_ORIGIN"]

DEV_ORG = "00000000-0000-4000-8000-000000000001"
DEV_ORIGIN = "http://localhost:5173"  # the usual address of a local portal dev server (Vite)
#: How often the interpreter hands the GIL between the event loop and the model thread while the model runs.
#: Every registration crosses both threads twice; with Python's default of 5 ms a thread that was given work
#: waits up to that long for the other to let go. 0.5 ms doubled the registration POST's throughput and halved
#: its p99 in benchmarks/api.py (same CPU per request).
SWITCH_INTERVAL_S = 0.0005
#: Everything built before serving (the app, the catalog, the model and its SimPy environment, the libraries)
#: is moved out of the garbage collector's generations when the model starts: a full collection scanned it all
#: and paused the server, which was the registration POST's p99 (~150-180 ms against a median of ~20 ms in
#: benchmarks/api.py). What is made while serving is collected as usual.
GC_FREEZE = True


@dataclass
class Served:
    app: FastAPI
    model: LiveEventModel
    store: Store
    org_id: str
    token: str
    origin: str
    origins: tuple[str, ...] = ()
    dataverse: DataverseFace | None = None

    def run_files(self) -> dict[str, str]:
        """The live run directory's files, the Dataverse face's calls included (after the model stopped)."""
        files = self.model.run_files()
        return files if self.dataverse is None else face_run_files(files, self.dataverse.protection.ledger)


def build_served(
    scenario: Scenario,
    *,
    db_path: str | Path,
    time_scale: float = 1.0,
    host: str = "127.0.0.1",
    org_id: str | None = None,
    token: str | None = None,
    origin: str | Sequence[str] | None = None,
    admin_token: str | None = None,
    on_stop: Callable[[LiveEventModel], None] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    run_record: bool = True,
    switch_interval_s: float | None = SWITCH_INTERVAL_S,
    images_need_token: bool = False,
    freeze_gc: bool = GC_FREEZE,
    dataverse_tokens: Sequence[str] = (),
) -> Served:
    """The app with its live model started and stopped by the app's lifespan; ``on_stop`` runs after the model
    stopped (writing the live run directory, for instance). ``run_record=False`` when no run directory will be
    written: the model then keeps no row per submission and a long-running server's memory stays flat.
    ``switch_interval_s`` is the interpreter's switch interval while the model runs (restored when it stops;
    None leaves it alone); ``freeze_gc``: see ``GC_FREEZE``. ``dataverse_tokens``: the bearer tokens the
    Dataverse Web API face accepts (none given: any token, each naming its app user)."""
    settings = scenario.registration
    check_database(db_path)  # a bad file in one line, before anything is written
    try:
        store = Store(db_path, matching=settings.matching, audience=settings.audience,
                      consent_purposes=settings.consent_purposes, exclusive=True)
    except sqlite3.Error as exc:  # what check_database could not see from outside
        raise DatabaseRefused(f"{db_path}: cannot be opened as a Stampede database ({exc}): choose another --db "
                              f"or delete it") from None
    try:
        model = LiveEventModel(scenario, store, time_scale, run_record=run_record)
    except BaseException:
        store.close()  # and its lock on the file
        raise
    org_id = org_id or DEV_ORG
    token = token or secrets.token_urlsafe(24)
    origins = ([origin] if isinstance(origin, str) else list(origin or ())) or [DEV_ORIGIN]
    face = build_face(model, org_id=org_id, tokens=frozenset(dataverse_tokens) or None,
                      ledger=Ledger(keep_calls=run_record))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        interval_s = sys.getswitchinterval()
        if switch_interval_s is not None:
            sys.setswitchinterval(switch_interval_s)
        model.start()
        if freeze_gc:
            gc.collect()
            gc.freeze()  # see GC_FREEZE below
        try:
            with fewer_young_collections():
                yield
        finally:
            model.stop()
            face.close()
            if freeze_gc:
                gc.unfreeze()
            sys.setswitchinterval(interval_s)
            try:
                if on_stop is not None:
                    on_stop(model)
            finally:
                store.close()

    app = create_app(model.catalog, org_id=org_id, token=token, origin=origins, model=model,
                     admin_token=admin_token, host=host, lifespan=lifespan, max_body_bytes=max_body_bytes,
                     images_need_token=images_need_token, portal=scenario.portal,
                     payment=scenario.payment, dataverse=face, dataverse_stats=face.protection.ledger.stats)
    return Served(app, model, store, org_id, token, app.state.origin, app.state.origins, face)
