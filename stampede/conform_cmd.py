"""`stampede conform`: does an event API — a real tenant, or the mock — honour the published contract?"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from stampede import console

_ORG_IN_PATH = re.compile(r"/api/v1\.0/orgs/([^/]+)")
_RATE = re.compile(r"^(auto|\d+/[smhd])$")


def _split_url(url: str) -> tuple[str, str | None]:
    """``https://host[/api/v1.0/orgs/ORG/eventmanagement/]`` → (``https://host``, ORG or None)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        console.fail(f"--url {url!r} is not an http(s) URL; expected the API host, e.g. "
                     "https://public-eur.mkt.dynamics.com (or the base URL with /api/v1.0/orgs/<org>/eventmanagement/)")
    match = _ORG_IN_PATH.match(parts.path)
    return f"{parts.scheme}://{parts.netloc}", match.group(1) if match else None


# Schemathesis runs each operation once per phase — the contract's examples, coverage, fuzzing — then the
# stateful sequences once; a phase with nothing to do is skipped, so the bar may finish early, never late.
_PHASES_PER_OPERATION = 3


def _scenario_count(contract_path: Path) -> int:
    from conformance.runner import contract_operations

    contract = json.loads(contract_path.read_text(encoding="utf-8"))
    return len(contract_operations(contract)) * _PHASES_PER_OPERATION + 1


def conform(
    url: Annotated[str | None, typer.Option(help="The API host to test, e.g. https://public-eur.mkt.dynamics.com "
                                                 "(default: start a local mock and test it).")] = None,
    token: Annotated[str | None, typer.Option(help="The web application's emApplicationtoken (with --url).")] = None,
    org: Annotated[str | None, typer.Option(help="The organization id (with --url, unless the URL carries it).")]
    = None,
    origin: Annotated[str | None, typer.Option(help="The web application's origin, to check CORS from it "
                                                    "(with --url; optional).")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here: one test case per operation.")] = None,
    max_examples: Annotated[int, typer.Option(min=1, help="Generated cases per operation and phase (CI: small; "
                                                          "a deeper run: 100).")] = 10,
    rate_limit: Annotated[str | None, typer.Option(help="auto (wait out 429s as Retry-After says) or a cap like "
                                                        "10/s (default: auto with --url, none for the mock).")]
    = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the generated cases (printed; reuse to repeat).")]
    = None,
    scenario: Annotated[Path | None, typer.Option(help="Scenario for the local mock (default: built-in).")] = None,
    time_scale: Annotated[float, typer.Option(help="The local mock's time scale.")] = 1.0,
    contract: Annotated[Path | None, typer.Option(help="The OpenAPI contract (default: the published one).")]
    = None,
) -> None:
    """Test an event API against the published OpenAPI contract with Schemathesis; exit 1 on any failure."""
    from conformance.generate import CONTRACT_PATH
    from conformance.mock import LocalMock, MockError, start_mock
    from conformance.report import junit_xml, summary_text
    from conformance.runner import Target, run_conformance, unreachable

    if rate_limit is not None and not _RATE.match(rate_limit):
        console.fail(f"--rate-limit {rate_limit!r}: expected auto or a rate like 10/s, 300/m")
    contract_path = contract or CONTRACT_PATH
    if not contract_path.is_file():
        console.fail(f"--contract {contract_path}: no such file")
    mock: LocalMock | None = None
    if url is not None:
        base_url, org_in_url = _split_url(url)
        org_id = org or org_in_url
        if not token or not org_id:
            console.fail("--url needs --token (the web application's emApplicationtoken) and --org (the "
                         "organization id), e.g. --url https://public-eur.mkt.dynamics.com --token … --org …")
        target = Target(base_url, token, org_id, origin, "the given URL")
        reason = unreachable(target)  # fail fast, in one line, before any per-operation row
        if reason is not None:
            console.fail(f"--url {url}: {reason}; check the address and that the API is up, or leave out --url to "
                         "test a local mock")
        pace: str | None = rate_limit or "auto"
    else:
        if token or org or origin:
            console.fail("--token, --org and --origin go with --url; the local mock makes its own")
        try:
            mock = start_mock(scenario=scenario, time_scale=time_scale)
        except MockError as exc:
            console.fail(f"could not start the local mock: {exc}")
        target = Target(mock.url, mock.token, mock.org_id, mock.origin, f"the local mock, pid {mock.pid}")
        pace = rate_limit
    try:
        console.err.print(f"testing {target.base_url} ({target.description}) against {contract_path} …",
                          highlight=False)
        with console.count_progress("conformance scenarios", _scenario_count(contract_path)) as advance:
            report = run_conformance(target, contract_path=contract_path, max_examples=max_examples,
                                     rate_limit=pace, seed=seed, on_scenario=lambda label: advance())
    finally:
        if mock is not None:
            mock.stop()
    print(summary_text(report))
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(report), encoding="utf-8")
        console.err.print(f"JUnit XML: {junit}", highlight=False)
    raise typer.Exit(0 if report.passed else 1)


def register(app: typer.Typer) -> None:
    app.command("conform")(conform)
