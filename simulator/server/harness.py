"""The harness plane, outside the real contract: health, stats, submission status, faults, time series, metrics.

Not in the OpenAPI schema (conformance tools test the real surface only). When the server binds a non-loopback
address, or an admin token is configured, every route here needs ``Authorization: Bearer <admin token>`` (the
gate checks it; Prometheus sends it with ``authorization: {credentials: …}`` in its scrape config).

``POST /_harness/faults`` takes ``{"kind": "outage" | "slow" | "limit", "duration": "5m" | 300, ...}``:
``factor`` (slow; latency multiplier, default 5) or any of ``requests_limit``, ``execution_limit`` (a
duration), ``concurrency_limit`` (limit). It starts now and answers ``202`` with what was injected.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from starlette.responses import Response

from simulator.scenario import parse_duration_s
from simulator.server.api import MAX_BODY_BYTES, read_body
from simulator.server.errors import CLIENT_CLOSED_REQUEST, ApiError, ErrorType, validation_error
from simulator.server.metrics import CONTENT_TYPE, metrics_registry, render_metrics
from simulator.server.model import LiveModel

__all__ = ["harness_router", "FaultRequest"]

logger = logging.getLogger(__name__)
Seconds = Annotated[float, BeforeValidator(parse_duration_s)]


class FaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["outage", "slow", "limit"]
    duration: Seconds = Field(gt=0, description='How long, e.g. "5m" or 300 (seconds)')
    factor: float | None = Field(None, ge=1.0, description="slow: latency multiplier")
    requests_limit: int | None = Field(None, ge=1)
    execution_limit: Seconds | None = None
    concurrency_limit: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _values_fit_kind(self) -> FaultRequest:
        limits = (self.requests_limit, self.execution_limit, self.concurrency_limit)
        if self.kind == "limit" and all(v is None for v in limits):
            raise ValueError('kind "limit" needs requests_limit, execution_limit or concurrency_limit, '
                             'e.g. {"kind": "limit", "duration": "5m", "requests_limit": 3000}')
        if self.kind != "limit" and any(v is not None for v in limits):
            raise ValueError(f'limit values only go with kind "limit", not "{self.kind}"')
        if self.kind != "slow" and self.factor is not None:
            raise ValueError(f'factor only goes with kind "slow", not "{self.kind}"')
        return self

    def values(self) -> dict[str, Any]:
        """The keyword values for ``LiveModel.inject_fault``."""
        if self.kind == "slow":
            return {"factor": self.factor if self.factor is not None else 5.0}
        if self.kind == "limit":
            named = {"requests_limit": self.requests_limit, "execution_limit": self.execution_limit,
                     "concurrency_limit": self.concurrency_limit}
            return {k: v for k, v in named.items() if v is not None}
        return {}


def _plain(value: Any) -> Any:
    """JSON for numbers the model may hold as numpy scalars."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def _json(content: Any, status: int = 200) -> Response:
    return Response(json.dumps(content, default=_plain, separators=(",", ":")).encode(), status_code=status,
                    media_type="application/json")


def harness_router(model: LiveModel, *, org_id: str, events: int, status_counts: Counter[int],
                   max_body_bytes: int = MAX_BODY_BYTES,
                   dataverse_stats: Callable[[], Mapping[str, Any]] | None = None) -> APIRouter:
    """``dataverse_stats``: the Dataverse Web API face's counts (``dataverse_api`` in the stats, in ``/metrics``)."""
    router = APIRouter(include_in_schema=False)
    registry = metrics_registry(model, status_counts, dataverse_stats)

    @router.get("/_harness/health")
    async def health() -> Response:
        return _json({"status": "ok", "organizationId": org_id, "events": events})

    @router.get("/_harness/stats")
    async def stats() -> Response:
        stats = {**model.stats(), "client_disconnects": status_counts[CLIENT_CLOSED_REQUEST]}
        if dataverse_stats is not None:
            stats["dataverse_api"] = dict(dataverse_stats())
        return _json(stats)

    @router.get("/_harness/submissions/{submissionId}")
    async def submission(submissionId: str) -> Response:
        status = await model.submission(submissionId)
        if status is None:
            raise ApiError(ErrorType.SUBMISSION_NOT_FOUND, f"no submission {submissionId!r}")
        return _json(dict(status))

    @router.post("/_harness/faults", status_code=202)
    async def faults(request: Request) -> Response:
        try:
            fault = FaultRequest.model_validate_json(await read_body(request, max_body_bytes))
        except ValidationError as exc:
            raise validation_error(exc) from None
        values = fault.values()
        try:
            await model.inject_fault(fault.kind, fault.duration, **values)
        except ValueError as exc:
            raise ApiError(ErrorType.FAULT_REJECTED, str(exc)) from None
        return _json({"kind": fault.kind, "duration_s": fault.duration, **values}, 202)

    @router.get("/_harness/timeseries")
    async def timeseries(since_s: Annotated[float | None, Query(description="only bins after this")] = None
                         ) -> Response:
        rows = model.timeseries()
        if since_s is not None:
            rows = [row for row in rows if float(row.get("t_s", 0.0)) > since_s]
        return _json(rows)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(render_metrics(registry), media_type=CONTENT_TYPE)

    return router
