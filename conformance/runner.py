"""One conformance run over HTTP: Schemathesis' engine over the published contract, against any base URL (the
engine is reached through ``st_adapter.py`` only).

    run_conformance(Target(base_url, token, org_id, origin), max_examples=…, rate_limit=…) -> Report

The engine runs every phase Schemathesis has — the contract's examples, coverage (boundaries and the documented
answers), fuzzing (positive and negative data) and stateful sequences through the contract's links — with every
check of ``config.py``. Its events are folded into a ``Report``: per operation the requests sent, the answers by
status, the checks passed and failed, and each distinct failure once, with a curl command that reproduces it.
A failure met in a stateful sequence is filed under the operation whose answer failed.

Before the run, ``discover_ids`` reads the target's published events and, for a few of them, their sessions,
speakers and sponsorships (at most ten requests), so that most generated ids are real ones and the cases reach
the answers behind an event (200s, registrations, 429s); the rest stay random, for the 404s.

The target is a real tenant (``https://public-<geo>.mkt.dynamics.com``) or the mock (``mock.py`` starts one).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conformance.config import DEFAULT_MAX_EXAMPLES, conformance_config, with_known_examples
from conformance.generate import CONTRACT_PATH
from conformance.st_adapter import CheckDone, EngineError, Exchange, ScenarioDone, Skipped, load_contract, run_engine

__all__ = ["Target", "Finding", "OperationResult", "Report", "run_conformance", "contract_operations",
           "discover_ids"]

_EVENTS_SAMPLED = 3


@dataclass(frozen=True)
class Target:
    """What to test: a base URL (scheme and host, no path), the web application's token and origin, the org."""

    base_url: str
    token: str
    org_id: str
    origin: str | None = None
    description: str = ""


@dataclass
class Finding:
    """One distinct contract violation: which operation, which check, what happened, how to see it again."""

    operation: str
    check: str
    title: str
    message: str
    status_code: int | None
    reproduce: str
    occurrences: int = 1


@dataclass
class OperationResult:
    """What the run saw of one operation of the contract."""

    label: str
    operation_id: str
    requests: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    elapsed_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings and not self.errors


@dataclass
class Report:
    """A whole run; ``passed`` is what CI gates on."""

    target: Target
    contract: str
    seed: int
    max_examples: int
    operations: dict[str, OperationResult]
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    known_ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        return [finding for result in self.operations.values() for finding in result.findings]

    @property
    def requests(self) -> int:
        return sum(result.requests for result in self.operations.values())

    @property
    def tested(self) -> int:
        return sum(1 for result in self.operations.values() if result.requests)

    @property
    def passed(self) -> bool:
        return not self.errors and all(result.ok for result in self.operations.values()) and self.tested > 0


def contract_operations(contract: dict[str, Any]) -> dict[str, str]:
    """``{"GET /api/…/events/published": "publicApiGetEvents", …}`` in the contract's order."""
    return {f"{method.upper()} {path}": operation.get("operationId", "")
            for path, methods in contract.get("paths", {}).items() for method, operation in methods.items()}


def unreachable(target: Target, timeout_s: float = 10.0) -> str | None:
    """Why ``target`` cannot be tested at all (no connection), or None (``stampede conform`` asks first, to fail
    fast in one line)."""
    try:
        httpx.get(target.base_url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"cannot reach {target.base_url}: {type(exc).__name__}: {exc}"
    return None


def discover_ids(target: Target, *, timeout_s: float = 10.0) -> dict[str, list[str]]:
    """Ids that exist at ``target``: published events, and the sessions, speakers and sponsorships of the first
    few. Whatever cannot be read is left out (the run then tests with random ids only, and says so)."""
    base = f"{target.base_url.rstrip('/')}/api/v1.0/orgs/{target.org_id}/eventmanagement"
    found: dict[str, list[str]] = {"readableEventId": [], "sessionId": [], "speakerId": [], "sponsorshipId": []}

    def listed(client: httpx.Client, path: str, key: str) -> list[str]:
        try:
            response = client.get(f"{base}/{path}", params={"emApplicationtoken": target.token})
            items = response.json() if response.status_code == 200 else []
        except (httpx.HTTPError, ValueError):
            return []
        return [str(item[key]) for item in items if isinstance(item, dict) and item.get(key)] \
            if isinstance(items, list) else []

    with httpx.Client(timeout=timeout_s) as client:
        found["readableEventId"] = listed(client, "events/published", "readableEventId")
        for event_id in found["readableEventId"][:_EVENTS_SAMPLED]:
            for kind, name in (("sessions", "sessionId"), ("speakers", "speakerId"),
                               ("sponsorships", "sponsorshipId")):
                found[name] += listed(client, f"events/{event_id}/{kind}", "id")
    return {name: values for name, values in found.items() if values}


def run_conformance(
    target: Target,
    *,
    contract_path: Path = CONTRACT_PATH,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    rate_limit: str | None = None,
    seed: int | None = None,
    known_ids: dict[str, list[str]] | None = None,
    on_scenario: Callable[[str], None] | None = None,
) -> Report:
    """Test ``target`` against the contract at ``contract_path``; ``on_scenario(label)`` after each scenario.

    ``known_ids`` (default: ``discover_ids(target)``) seeds the id parameters with ids that exist.
    """
    contract = json.loads(contract_path.read_text(encoding="utf-8"))
    labels = contract_operations(contract)
    cannot_reach = unreachable(target)
    if cannot_reach is not None:  # one clear error instead of one per generated request
        return Report(target=target, contract=str(contract_path), seed=seed or 0, max_examples=max_examples,
                      operations={label: OperationResult(label, op_id) for label, op_id in labels.items()},
                      errors=[cannot_reach])
    if known_ids is None:
        known_ids = discover_ids(target)
    config = conformance_config(org_id=target.org_id, token=target.token, origin=target.origin,
                                base_url=target.base_url, max_examples=max_examples, rate_limit=rate_limit,
                                seed=seed, known_ids=known_ids)
    schema = load_contract(with_known_examples(contract, known_ids), config)
    report = Report(target=target, contract=str(contract_path), seed=config.seed, max_examples=max_examples,
                    operations={label: OperationResult(label, op_id) for label, op_id in labels.items()},
                    known_ids=known_ids)
    started = time.perf_counter()
    seen: dict[tuple[str, str, str, str], Finding] = {}
    for record in run_engine(schema):
        if isinstance(record, ScenarioDone):
            if on_scenario is not None:
                on_scenario(record.label)
        elif isinstance(record, EngineError):
            result = report.operations.get(record.label) if record.label is not None else None
            if result is not None:
                result.errors.append(record.message)
            else:
                report.errors.append(f"{record.label}: {record.message}" if record.label else record.message)
        else:
            _fold(report, record, seen)
    report.elapsed_s = time.perf_counter() - started
    return report


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _fold(report: Report, record: Exchange | CheckDone | Skipped,
          seen: dict[tuple[str, str, str, str], Finding]) -> None:
    result = report.operations.get(record.label)
    if result is None:
        return
    if isinstance(record, Skipped):
        if not result.requests:
            result.skipped = record.reason
    elif isinstance(record, Exchange):
        result.requests += 1
        result.statuses[record.status_code] += 1
        result.elapsed_s += record.elapsed_s
    elif not record.failed:
        result.checks_passed += record.passed
    else:
        result.checks_failed += 1
        key = (result.label, record.check, record.title, _first_line(record.message))
        if key in seen:
            seen[key].occurrences += 1
            return
        finding = Finding(operation=result.label, check=record.check, title=record.title, message=record.message,
                          status_code=record.status_code, reproduce=record.reproduce)
        seen[key] = finding
        result.findings.append(finding)
