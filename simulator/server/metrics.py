"""``/metrics``: the live model's counters in the Prometheus text format, read at scrape time.

One registry per app (no process-global state): a collector turns ``LiveModel.stats()`` into metric families
when Prometheus scrapes, so the numbers are never copied or kept twice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from simulator.server.errors import CLIENT_CLOSED_REQUEST
from simulator.server.model import LiveModel

__all__ = ["metrics_registry", "render_metrics", "CONTENT_TYPE"]

CONTENT_TYPE = CONTENT_TYPE_LATEST  # the format generate_latest writes

_COUNTERS = {  # stats key -> (metric name without _total, help)
    "offered": ("stampede_submissions_offered", "Registrations offered to the event API."),
    "accepted": ("stampede_submissions_accepted", "Registrations accepted (durably enqueued)."),
    "rejected": ("stampede_submissions_rejected", "Registrations refused at validation."),
    "created": ("stampede_submissions_created", "Accepted registrations whose records exist in Dataverse."),
    "dead_lettered": ("stampede_submissions_dead_lettered", "Accepted registrations given up on."),
    "dv_admitted": ("stampede_dataverse_admitted", "Dataverse requests admitted by service protection."),
    "dv_throttled": ("stampede_dataverse_throttled", "Dataverse requests answered 429 by service protection."),
    "cache_hits": ("stampede_cache_hits", "Validation read-cache hits."),
    "cache_misses": ("stampede_cache_misses", "Validation read-cache misses (each a Dataverse read)."),
    "confirmations_sent": ("stampede_confirmations_sent", "Confirmation emails sent by the confirmation journey."),
    "confirmations_dropped": ("stampede_confirmations_dropped", "Confirmation triggers dropped (drop_after)."),
}
_BY_LIMIT = ("dv_throttled_requests", "dv_throttled_execution", "dv_throttled_concurrency")
_GAUGES = {"pending": ("stampede_submissions_pending", "Accepted registrations neither created nor dead-lettered."),
           "confirmations_queued_max": ("stampede_confirmations_queued_max",
                                        "Most confirmation triggers waiting to start at once.")}
_NAME = re.compile(r"[^a-zA-Z0-9_]")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class _StatsCollector(Collector):
    def __init__(self, model: LiveModel, status_counts: Counter[int]) -> None:
        self.model = model
        self.status_counts = status_counts

    def collect(self) -> Iterator[Metric]:
        stats = dict(self.model.stats())
        for key, (name, help_text) in _COUNTERS.items():
            value = _number(stats.pop(key, None))
            if value is not None:
                yield CounterMetricFamily(name, help_text, value=value)
        by_limit = CounterMetricFamily("stampede_dataverse_throttled_by_limit",
                                       "Dataverse 429s by the service-protection limit that bit.", labels=["limit"])
        for key in _BY_LIMIT:
            value = _number(stats.pop(key, None))
            if value is not None:
                by_limit.add_metric([key.removeprefix("dv_throttled_")], value)
        yield by_limit
        for key, (name, help_text) in _GAUGES.items():
            value = _number(stats.pop(key, None))
            if value is not None:
                yield GaugeMetricFamily(name, help_text, value=value)
        for key, raw in sorted(stats.items()):  # anything else the model reports, as a gauge
            value = _number(raw)
            if value is not None:
                yield GaugeMetricFamily(f"stampede_model_{_NAME.sub('_', key)}", f"Model statistic {key}.",
                                        value=value)
        responses = CounterMetricFamily("stampede_http_responses", "HTTP answers by status code.", labels=["code"])
        for code, count in sorted(self.status_counts.items()):
            if code != CLIENT_CLOSED_REQUEST:  # never sent: the client had gone
                responses.add_metric([str(code)], float(count))
        yield responses
        yield CounterMetricFamily("stampede_client_disconnects", "Requests whose client hung up before its body "
                                  "was in (not answered, not a failure).",
                                  value=float(self.status_counts[CLIENT_CLOSED_REQUEST]))


class _FaceCollector(Collector):
    """The Dataverse Web API face's requests by app user and outcome, 429s by limit, retry latency."""

    def __init__(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats()
        requests = CounterMetricFamily("stampede_dataverse_api_requests",
                                       "Dataverse Web API face requests by app user and outcome.",
                                       labels=["user", "outcome"])
        throttled = CounterMetricFamily("stampede_dataverse_api_throttled_by_limit",
                                        "Dataverse Web API face 429s by app user and limit.", labels=["user", "limit"])
        for user, counts in stats.get("by_user", {}).items():
            requests.add_metric([user, "admitted"], float(counts["admitted"]))
            requests.add_metric([user, "throttled"], float(counts["throttled"]))
            for limit, count in counts["throttled_by"].items():
                throttled.add_metric([user, limit], float(count))
        yield requests
        yield throttled
        latency = stats.get("retry_latency_s", {})
        waits = GaugeMetricFamily("stampede_dataverse_api_retry_latency_seconds",
                                  "Wall seconds from an app user's first 429 to its next admitted request.",
                                  labels=["quantile"])
        for quantile in ("p50", "p95", "max"):
            if quantile in latency:
                waits.add_metric([quantile], float(latency[quantile]))
        yield waits


def metrics_registry(model: LiveModel, status_counts: Counter[int],
                     dataverse_stats: Callable[[], Mapping[str, Any]] | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatsCollector(model, status_counts))
    if dataverse_stats is not None:
        registry.register(_FaceCollector(dataverse_stats))
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
