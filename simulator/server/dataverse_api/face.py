"""``build_face``: the Dataverse Web API face for a live model — its tables, its store file, its protection — and
what it adds to the live run directory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from simulator.server.dataverse_api.protection import COLUMNS, Ledger, Protection
from simulator.server.dataverse_api.records import Records
from simulator.server.dataverse_api.routes import DataverseFace
from simulator.server.dataverse_api.tables import Clock, tables_for
from simulator.server.live import LiveEventModel

__all__ = ["build_face", "face_run_files"]


def build_face(live: LiveEventModel, *, org_id: str, tokens: frozenset[str] | None = None,
               ledger: Ledger | None = None) -> DataverseFace:
    """The face over ``live``'s store and model; ``tokens``: the bearer tokens allowed (None: any)."""
    driver = live.driver
    tables = tables_for(live.store.matching)
    clock = Clock(datetime.now(UTC), live.started_s, driver.time_scale)  # the model's clock starts now
    path = live.store.path
    if path == ":memory:":
        raise ValueError("the Dataverse face needs the store in a file (--db), not in memory")
    protection = Protection(driver, live.scenario.dataverse, tokens, ledger or Ledger())
    return DataverseFace(records=lambda: Records(path, live.catalog, tables, clock), protection=protection,
                         tables=tables, org_id=org_id, now_s=lambda: driver.sim_now_s,
                         dop_hint=live.scenario.dataverse.dop_hint)


def face_run_files(files: Mapping[str, str], ledger: Ledger) -> dict[str, str]:
    """The live run directory's files with the face's calls: ``dataverse_api.csv`` (one row per request) and a
    ``dataverse_api`` block in summary.json (counts by limit and app user, retry latency)."""
    out = dict(files)
    summary = json.loads(out["summary.json"])
    summary["dataverse_api"] = ledger.stats()
    out["summary.json"] = json.dumps(summary, indent=2) + "\n"
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(ledger.rows())
    out["dataverse_api.csv"] = text.getvalue()
    return out
