"""Write (or check) ``conformance/event-api.openapi.json`` from the mock's own OpenAPI schema.

    python -m conformance.generate            rewrite the file
    python -m conformance.generate --check    exit 1 when the file and the app's schema differ

The schema does not depend on the catalog, the organization or the token (paths carry ``{organizationId}``;
examples are the documented ones), so any app renders the same document; this one is built over a small
default catalog and a model that is never called.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.catalog import Event, build_catalog
from simulator.scenario import Catalog as CatalogSettings
from simulator.server import create_app
from simulator.server.contract import RegistrationRequest
from simulator.server.model import RegistrationOutcome
from simulator.server.serve import DEV_ORG, DEV_ORIGIN

__all__ = ["CONTRACT_PATH", "REGENERATE", "app_schema", "render", "main"]

CONTRACT_PATH = Path(__file__).resolve().with_name("event-api.openapi.json")
REGENERATE = "python -m conformance.generate"


class _SchemaOnly:
    """A LiveModel that is never asked anything: building the schema calls no route."""

    async def register(self, event: Event, request: RegistrationRequest) -> RegistrationOutcome:
        raise NotImplementedError("schema generation calls no route")

    def registration_count(self, event_id: str) -> int:
        raise NotImplementedError

    def session_registration_count(self, session_id: str) -> int:
        raise NotImplementedError

    async def submission(self, submission_id: str) -> Mapping[str, Any] | None:
        raise NotImplementedError

    def stats(self) -> Mapping[str, Any]:
        raise NotImplementedError

    def timeseries(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def inject_fault(self, kind: str, duration_s: float, **values: Any) -> None:
        raise NotImplementedError


def app_schema() -> dict[str, Any]:
    """The OpenAPI document the mock serves at ``/openapi.json``."""
    catalog = build_catalog(CatalogSettings(events=1, sessions_per_event=1), seed=0)
    app = create_app(catalog, org_id=DEV_ORG, token="schema", origin=DEV_ORIGIN, model=_SchemaOnly())
    return app.openapi()


def render(schema: Mapping[str, Any]) -> str:
    """The file's text: stable key order as generated, two-space indent, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is out of date")
    parser.add_argument("--out", type=Path, default=CONTRACT_PATH, help=f"where to write (default {CONTRACT_PATH})")
    args = parser.parse_args(argv)
    text = render(app_schema())
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if args.check:
        if current == text:
            print(f"{args.out} is up to date")
            return 0
        print(f"{args.out} differs from the app's schema; regenerate with: {REGENERATE}", file=sys.stderr)
        return 1
    if current != text:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(f"{args.out} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
