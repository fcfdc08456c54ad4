"""The HTTP face: the reference mock of the Customer Insights - Journeys event API (RTM) over a live model.

    create_app(catalog, *, org_id, token, origin, model, ...) -> FastAPI     app.py
    LiveModel, Accepted, Refused                                          model.py   (the seam to the engine)
    contract models (v2.0 field names)                                    contract.py
    Store (SQLite, WAL)                                                   store.py

Modules: ``operations`` (the 19 operations, each named once: everything below is derived from it), ``gate``
(origin, CORS, organization, token, admin token), ``api`` (the operations' handlers and FastAPI routes),
``fastlane`` (the same handlers without FastAPI's machinery), ``openapi`` (the published contract), ``harness``
(``/_harness/…``, ``/metrics``), ``pages`` (the catalog pre-serialized), ``images`` (QR, portraits, logos),
``metrics`` (Prometheus), ``errors`` (the exception tree, every ``ErrorType``, the error body).
"""

from simulator.server.app import create_app, is_loopback
from simulator.server.errors import ApiError, ConfigurationError, ErrorType, ServerError, StoreError, UnknownSubmission
from simulator.server.model import (
    STATS_KEYS,
    Accepted,
    LiveModel,
    Refused,
    RegistrationOutcome,
    RejectionCode,
    SubmissionStatus,
    entity_refusal,
)
from simulator.server.store import CreatedRecords, Store, StoredSubmission

__all__ = [
    "create_app",
    "is_loopback",
    "LiveModel",
    "Accepted",
    "Refused",
    "RegistrationOutcome",
    "SubmissionStatus",
    "STATS_KEYS",
    "entity_refusal",
    "RejectionCode",
    "Store",
    "StoredSubmission",
    "CreatedRecords",
    "ServerError",
    "ConfigurationError",
    "ApiError",
    "ErrorType",
    "StoreError",
    "UnknownSubmission",
]
