"""The Schemathesis configuration every conformance run shares: the standard ``st`` CLI, the pytest suite and
``stampede conform`` all start from the one file shipped beside the contract, ``conformance/schemathesis.toml``.

That file says, with a reason for each, how the built-in checks are tuned to what the event API documents:

- **positive data acceptance** expects ``2xx``, ``3xx`` (the check-in redirect), ``404`` (an id that does not
  exist), ``409`` (full), ``429`` (throttled — with ``Retry-After``, see ``checks.retry_after_on_429``), ``503``
  (a Dataverse outage) and ``400`` — but only for the catalog rules a schema cannot express, which
  ``checks.refusals_name_a_rule`` holds to the documented list;
- **negative data rejection** expects the 4xx the API documents, and ``503``; a 500 is never a rejection;
- **not a server error** lets a documented ``503`` through; any other 5xx fails;
- **ignored auth** is replaced by ``checks.TokenEnforced`` (the API documents 400 for a missing token, which the
  built-in counts as "auth ignored");
- the custom checks of ``checks.py`` are on (the file's ``hooks`` imports it);
- stateful sequences follow the contract's own links (no inferred ones).

``conformance_config`` reads that file (never the environment: ``${STAMPEDE_TOKEN}`` is for the CLI) and puts in
what a run knows: the token and organization it was given, the base URL, the web application's origin for the
CORS probes, the known ids, the number of examples and the seed.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from schemathesis.config import SchemathesisConfig

import conformance.checks  # noqa: F401  (registers the custom checks)
from conformance.checks import TOKEN_PARAMETER

__all__ = ["conformance_config", "with_known_examples", "shipped_settings", "SETTINGS_PATH", "POSITIVE_STATUSES",
           "NEGATIVE_STATUSES", "DEFAULT_MAX_EXAMPLES", "ID_PARAMETERS"]

#: The settings file shipped beside the contract, read by the ``st`` CLI and by every run here.
SETTINGS_PATH = Path(__file__).with_name("schemathesis.toml")
#: Path parameters that name catalog entities; with ``known_ids``, most generated values are real ones.
ID_PARAMETERS = ("readableEventId", "sessionId", "speakerId", "sponsorshipId")


def shipped_settings(path: Path = SETTINGS_PATH) -> dict[str, Any]:
    """The shipped ``schemathesis.toml`` as a dict (placeholders such as ``${STAMPEDE_TOKEN}`` unresolved)."""
    with path.open("rb") as file:
        return tomllib.load(file)


_SHIPPED = shipped_settings()
DEFAULT_MAX_EXAMPLES: int = _SHIPPED["generation"]["max-examples"]
POSITIVE_STATUSES: tuple[str, ...] = tuple(_SHIPPED["checks"]["positive_data_acceptance"]["expected-statuses"])
NEGATIVE_STATUSES: tuple[str, ...] = tuple(_SHIPPED["checks"]["negative_data_rejection"]["expected-statuses"])


def conformance_config(
    *,
    org_id: str,
    token: str,
    origin: str | None = None,
    base_url: str | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    rate_limit: str | None = None,
    seed: int | None = None,
    max_steps: int | None = None,
    request_timeout_s: float | None = None,
    known_ids: Mapping[str, Sequence[str]] | None = None,
    known_share: float = 0.75,
) -> SchemathesisConfig:
    """The shipped configuration, for testing the event API of organization ``org_id`` with web-application
    ``token``.

    ``origin`` is the web application's origin (enables the CORS probes from that origin); ``base_url`` the
    host to test over HTTP (none in-process); ``rate_limit`` is Schemathesis' (``auto`` honours Retry-After,
    ``"10/s"`` caps the pace); ``max_examples`` bounds each operation's generated cases; ``max_steps`` and
    ``request_timeout_s`` override the file's. ``known_ids`` maps ``ID_PARAMETERS`` to ids that exist (the
    catalog): a ``known_share`` of generated values is drawn from them, so cases reach the answers behind a real
    event, the rest probe unknown ids (404).
    """
    if max_examples < 1:
        raise ValueError(f"max_examples must be at least 1, got {max_examples}")
    data = copy.deepcopy(_SHIPPED)
    data.pop("hooks", None)  # imported above already; the file names it for the CLI
    data["generation"]["max-examples"] = max_examples
    data["parameters"] = {**data.get("parameters", {}), "organizationId": org_id}
    data["auth"] = {"openapi": {TOKEN_PARAMETER: {"api_key": token}}}
    if origin:
        data["checks"]["CorsOnlyForRegisteredOrigin"] = {"origin": origin}
    if max_steps is not None:
        data["phases"]["stateful"]["max-steps"] = max_steps
    if request_timeout_s is not None:
        data["request-timeout"] = request_timeout_s
    for name, values in (known_ids or {}).items():
        if name in ID_PARAMETERS and values:
            data.setdefault("dictionaries", {})[name] = {"values": list(values)}
            data["parameters"][name] = {"dictionary": name, "probability": known_share}
    if base_url:
        data["base-url"] = base_url.rstrip("/")
    if rate_limit:
        data["rate-limit"] = rate_limit
    if seed is not None:
        data["seed"] = seed
    return SchemathesisConfig.from_dict(data)


def with_known_examples(contract: Mapping[str, Any], known_ids: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """A copy of ``contract`` whose id path parameters have a known id as their example.

    The published examples are Microsoft's (``Contoso_Ltd_Conference``), which no target has; the examples and
    coverage phases build their requests from parameter examples, so without this every one of their
    registrations would stop at 404 before its body is even read.
    """
    patched = copy.deepcopy(dict(contract))
    for methods in patched.get("paths", {}).values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                values = known_ids.get(parameter["name"])
                if parameter.get("in") == "path" and parameter["name"] in ID_PARAMETERS and values:
                    parameter["example"] = values[0]
    return patched
