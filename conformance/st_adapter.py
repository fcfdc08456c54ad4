"""The one seam to Schemathesis' engine (tested with schemathesis 4.32.5; pyproject pins ``<4.33``).

Everything that knows how Schemathesis loads a schema, runs its engine and records what it saw lives here;
the rest of ``conformance`` folds plain records::

    load_contract(contract, config)  ->  Schema           (schemathesis.openapi.from_dict)
    load_asgi(path, app, config)     ->  Schema           (schemathesis.openapi.from_asgi, in-process tests)
    run_engine(schema)               ->  Iterator[Exchange | CheckDone | Skipped | EngineError | ScenarioDone]

What it reaches that Schemathesis does not document as stable: ``schemathesis.engine.from_schema`` and its
event classes, and the ``ScenarioRecorder`` of a finished scenario (``cases`` → ``node.value.operation.label``,
``interactions``, ``checks`` → ``failure_info``). Checks themselves (``conformance/checks.py``) use the public
``@schemathesis.check`` API, and settings the public ``SchemathesisConfig`` (``conformance/config.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.specs.openapi.schemas import OpenApiSchema as Schema

__all__ = ["Schema", "Exchange", "CheckDone", "Skipped", "EngineError", "ScenarioDone", "load_contract",
           "load_asgi", "run_engine"]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request the engine sent and the answer it got."""

    label: str  # the operation, "GET /api/…/events/published"
    status_code: int
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class CheckDone:
    """One check on one answer; for a failure, what it found and how to reproduce it."""

    label: str
    check: str
    passed: bool  # succeeded (a check can also neither succeed nor fail: skipped)
    failed: bool = False
    title: str = ""
    message: str = ""  # the failure's message, else the start of the answer's body
    status_code: int | None = None
    reproduce: str = ""


@dataclass(frozen=True, slots=True)
class Skipped:
    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class EngineError:
    """An error that is not a check's finding: for one operation (``label``) or for the run (``label`` None)."""

    label: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ScenarioDone:
    label: str


Record = Exchange | CheckDone | Skipped | EngineError | ScenarioDone


def load_contract(contract: dict[str, Any], config: SchemathesisConfig) -> Schema:
    return schemathesis.openapi.from_dict(contract, config=config)


def load_asgi(path: str, app: Any, config: SchemathesisConfig) -> Schema:
    return schemathesis.openapi.from_asgi(path, app, config=config)


def run_engine(schema: Schema) -> Iterator[Record]:
    """Run every phase of the engine over ``schema``; what it saw, as plain records, as it goes."""
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            yield from _scenario(event)
            yield ScenarioDone(event.recorder.label)
        elif isinstance(event, events.NonFatalError):
            yield EngineError(event.label, f"{type(event.value).__name__}: {event.value}")
        elif isinstance(event, events.FatalError):
            yield EngineError(None, f"{type(event.exception).__name__}: {event.exception}")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:  # after-run checks
                yield EngineError(None, f"{failure.title}: {failure.message}")


def _scenario(event: events.ScenarioFinished) -> Iterator[Record]:
    recorder: ScenarioRecorder = event.recorder
    if event.status == Status.SKIP and not recorder.cases:
        yield Skipped(recorder.label, event.skip_reason or "skipped")
        return

    def label_of(case_id: str) -> str:  # a stateful sequence crosses operations: file each case under its own
        node = recorder.cases.get(case_id)
        return node.value.operation.label if node is not None else recorder.label

    for case_id, interaction in recorder.interactions.items():
        if interaction.response is not None:
            yield Exchange(label_of(case_id), interaction.response.status_code, interaction.response.elapsed)
    for case_id, checks in recorder.checks.items():
        label = label_of(case_id)
        for check in checks:
            if check.failure_info is None:
                yield CheckDone(label, check.name, passed=check.status == Status.SUCCESS)
                continue
            failure = check.failure_info.failure
            answered = recorder.interactions.get(failure.case_id or case_id)
            response = answered.response if answered is not None else None
            message = failure.message.strip()
            if not message and response is not None:  # e.g. a server error: show what the server said
                message = f"the answer began: {response.content[:300].decode('utf-8', 'replace')}"
            yield CheckDone(label, check.name, passed=False, failed=True, title=failure.title, message=message,
                            status_code=response.status_code if response is not None else None,
                            reproduce=check.failure_info.code_sample)
