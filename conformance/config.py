"""The Schemathesis configuration every conformance run shares (the pytest suite and ``stampede conform``).

All built-in checks are on, tuned to what the event API documents:

- **positive data acceptance** expects ``2xx`` (``202`` is an asynchronous acceptance, ``200`` a paid event's
  redirect), ``3xx`` (the check-in redirect), ``404`` (an id that does not exist), ``409`` (full), ``429``
  (throttled — with ``Retry-After``, see ``checks.retry_after_on_429``), ``503`` (a Dataverse outage) and ``400``
  — but only for the catalog rules a schema cannot express, which ``checks.refusals_name_a_rule`` holds to the
  documented list. A valid token is never refused (no 401/403), and no 5xx other than 503 is acceptable;
- **negative data rejection** expects the 4xx the API documents, and ``503``; a 500 is never a rejection;
- **not a server error** lets a documented ``503`` through; any other 5xx fails;
- **ignored auth** is replaced by ``checks.TokenEnforced`` (the API documents 400 for a missing token, which the
  built-in counts as "auth ignored");
- the custom checks of ``checks.py`` are on (registered by importing it);
- stateful sequences follow the contract's own links (no inferred ones, see below).

Curl samples are not sanitized, so each failure's reproduction runs as printed: the emApplicationtoken is
public anyway — every browser that loads the portal sees it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from schemathesis.config import SchemathesisConfig

import conformance.checks  # noqa: F401  (registers the custom checks)
from conformance.checks import TOKEN_PARAMETER

__all__ = ["conformance_config", "with_known_examples", "POSITIVE_STATUSES", "NEGATIVE_STATUSES",
           "DEFAULT_MAX_EXAMPLES", "ID_PARAMETERS"]

DEFAULT_MAX_EXAMPLES = 10
POSITIVE_STATUSES = ("2xx", "3xx", "400", "404", "409", "429", "503")
NEGATIVE_STATUSES = ("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "429", "503")
SERVER_ERRORS_ALLOWED = ("2xx", "3xx", "4xx", "503")
#: Path parameters that name catalog entities; with ``known_ids``, most generated values are real ones.
ID_PARAMETERS = ("readableEventId", "sessionId", "speakerId", "sponsorshipId")


def conformance_config(
    *,
    org_id: str,
    token: str,
    origin: str | None = None,
    base_url: str | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    rate_limit: str | None = None,
    seed: int | None = None,
    max_steps: int = 6,
    request_timeout_s: float = 10.0,
    known_ids: Mapping[str, Sequence[str]] | None = None,
    known_share: float = 0.75,
) -> SchemathesisConfig:
    """The configuration for testing the event API of organization ``org_id`` with web-application ``token``.

    ``origin`` is the web application's origin (enables the CORS probes from that origin); ``base_url`` the
    host to test over HTTP (none in-process); ``rate_limit`` is Schemathesis' (``auto`` honours Retry-After,
    ``"10/s"`` caps the pace); ``max_examples`` bounds each operation's generated cases. ``known_ids`` maps
    ``ID_PARAMETERS`` to ids that exist (the catalog): a ``known_share`` of generated values is drawn from them,
    so cases reach the answers behind a real event, the rest probe unknown ids (404).
    """
    if max_examples < 1:
        raise ValueError(f"max_examples must be at least 1, got {max_examples}")
    checks: dict[str, Any] = {
        "ignored_auth": {"enabled": False},
        "positive_data_acceptance": {"expected-statuses": list(POSITIVE_STATUSES)},
        "negative_data_rejection": {"expected-statuses": list(NEGATIVE_STATUSES)},
        "not_a_server_error": {"expected-statuses": list(SERVER_ERRORS_ALLOWED)},
    }
    if origin:
        checks["CorsOnlyForRegisteredOrigin"] = {"origin": origin}
    data: dict[str, Any] = {
        "generation": {"max-examples": max_examples, "database": "none"},
        "parameters": {"organizationId": org_id},
        "auth": {"openapi": {TOKEN_PARAMETER: {"api_key": token}}},
        "checks": checks,
        # Stateful sequences follow the contract's links only. Inferred ones (from Location headers and
        # parameter names) would send a registration's event to registrations/finalize with a generated
        # purchaseId and call the documented 404 PurchaseNotFound "a created resource not found".
        "phases": {"stateful": {"max-steps": max_steps, "inference": {"algorithms": []}}},
        "output": {"sanitization": {"enabled": False}},
        "request-timeout": request_timeout_s,
        "workers": 1,  # RegistrationCountsNeverDecrease compares answers in the order they were read
        "suppress-health-check": ["too_slow", "filter_too_much"],
    }
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
