"""Scenario: the one typed configuration object, loaded from TOML in layers (file, then ``--set`` overrides).

Durations in files are strings with units ("250ms", "2s", "10m", "6h", "1h30m"); inside, every duration is a
float of seconds. Key names are fixed by DESIGN.md; defaults and their sources are in scenarios/README.md.

Errors::

    ScenarioError           base; always names the file, the key, the bad value and a good example
"""

from __future__ import annotations

import datetime
import decimal
import difflib
import math
import re
import tomllib
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo

from simulator import latency
from simulator.errors import StampedeError

__all__ = [
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
    "parse_duration_s",
    "format_duration",
    "apply_overrides",
    "scenario_to_toml",
]


class ScenarioError(StampedeError, ValueError):
    """A scenario file or override is invalid; the message says where, what and how to fix it."""


_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
DURATION_EXAMPLE = 'a duration like "2s", "250ms", "10m" or "1h30m"'


def parse_duration_s(value: Any) -> float:
    """Seconds in a duration string ("1h30m" -> 5400.0). Bare numbers are taken as seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_EXAMPLE}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise ValueError("expected a non-negative duration like \"2s\", \"250ms\" or \"10m\"")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {DURATION_EXAMPLE}")
    text = value.strip().replace(" ", "")
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"expected {DURATION_EXAMPLE}")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    """The shortest exact duration string for ``seconds`` (600 -> "10m", 0.25 -> "250ms")."""
    for unit in ("d", "h", "m", "s"):
        count = seconds / _UNIT_S[unit]
        if count >= 1 and float(count).is_integer():
            return f"{int(count)}{unit}"
    millis = seconds * 1000
    if float(millis).is_integer():
        return f"{int(millis)}ms"
    return f"{decimal.Decimal(repr(seconds)):f}s"  # exact and positional: loads back to the same float


Duration = Annotated[
    float,
    BeforeValidator(parse_duration_s),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class Catalog(_Section):
    events: int = Field(3, ge=1)
    sessions_per_event: int = Field(6, ge=0)
    speakers_per_event: int = Field(4, ge=0)
    sponsors_per_event: int = Field(3, ge=0)
    capacity: int = Field(25000, ge=0)  # per event; 0 = unlimited
    session_capacity: int = Field(500, ge=0)  # 0 = unlimited
    waitlist: bool = True
    paid_events: int = Field(0, ge=0)
    draft_events: int = Field(0, ge=0)  # extra events that are not live: unpublished, registrations refused

    @model_validator(mode="after")
    def _paid_within_events(self) -> Catalog:
        if self.paid_events > self.events:
            raise ValueError(f"paid_events ({self.paid_events}) cannot exceed events ({self.events})")
        return self


class Mix(_Section):
    event: Fraction = 0.7
    session: Fraction = 0.25
    waitlist: Fraction = 0.05

    @model_validator(mode="after")
    def _sums_to_one(self) -> Mix:
        total = self.event + self.session + self.waitlist
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"workload.mix fractions must sum to 1 (got {total:g}); e.g. event = 0.7, session = 0.25, "
                "waitlist = 0.05"
            )
        return self


class Step(_Section):
    at: Duration
    rate: float = Field(ge=0.0)


class Workload(_Section):
    shape: Literal["constant", "ramp", "spike", "steps", "trace", "journey", "window"] = "spike"
    rate: float = Field(120.0, ge=0.0)  # submissions per second (peak for spike/ramp)
    half_life: Duration = 360.0  # spike decay
    duration: Duration = 2700.0  # arrivals stop after this
    total: int = Field(0, ge=0)  # cap on submissions; 0 = none
    browse_per_submission: float = Field(4.0, ge=0.0)
    sessions_per_submission: int = Field(2, ge=1)  # sessions named by a session registration
    steps: list[Step] = Field(default_factory=list)  # shape = "steps": rate from each `at` on
    trace: str = ""  # shape = "trace": CSV with columns t_s, rate_per_s (path relative to the scenario)
    mix: Mix = Field(default_factory=lambda: Mix())

    @model_validator(mode="after")
    def _shape_inputs(self) -> Workload:
        if self.shape == "steps" and not self.steps:
            raise ValueError('shape = "steps" needs steps, e.g. steps = [{at = "0s", rate = 10}]')
        if self.shape == "trace" and not self.trace:
            raise ValueError('shape = "trace" needs trace = "arrivals.csv" (columns t_s, rate_per_s)')
        return self


class Api(_Section):
    instances: int = Field(2, ge=1)
    cache: Literal["none", "ttl", "shared", "stale-while-revalidate", "refresh-ahead"] = "ttl"
    cache_ttl: Duration = 600.0
    shared_cache_latency: Duration = 0.001  # cache = "shared": added to each lookup (an external cache)
    stale_max: Duration | None = None  # stale-while-revalidate: staleness bound; None = cache_ttl
    refresh_ahead: Duration = 60.0  # refresh-ahead: refresh an entry read this close to its expiry
    coalesce_misses: bool = False  # concurrent misses for one key wait for one read (single flight)
    processors: int = Field(16, ge=1)
    on_validation_throttle: Literal["reject", "wait"] = "reject"
    max_attempts_validation: int = Field(5, ge=1)  # with "wait": reads tried before the caller gets 429
    pacing: Literal["none", "token-bucket"] = "none"  # processors pace their calls per key
    pacing_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95  # of each key's request limit per window
    concurrency: Literal["fixed", "aimd"] = "fixed"  # aimd: processors working per app user adapt


class Retry(_Section):
    policy: Literal[
        "none", "fixed", "exponential", "full-jitter", "equal-jitter", "decorrelated-jitter"
    ] = "exponential"
    base: Duration = 2.0
    cap: Duration = 600.0
    deadline: Duration = 21600.0
    honor_retry_after: bool = True
    max_attempts: int = Field(0, ge=0)  # 0 = until the deadline
    adaptive: bool = False  # client-side adaptive throttling (Google SRE, K = 2)
    adaptive_k: float = Field(2.0, gt=1.0)
    budget: Literal["none", "ratio", "token-bucket"] = "none"  # retry budget per app user
    budget_ratio: Annotated[float, Field(gt=0.0)] = 0.2  # ratio: retries per request (Finagle percentCanRetry)
    budget_min_per_s: Annotated[float, Field(ge=0.0)] = 10.0  # ratio: retries/s always allowed
    budget_ttl: Annotated[Duration, Field(gt=0)] = 10.0  # ratio: deposits and withdrawals expire after this
    bucket_refill: Annotated[float, Field(gt=0.0)] = 0.1  # token-bucket: tokens per success
    bucket_size: Annotated[float, Field(ge=1.0)] = 5.0  # token-bucket: most tokens held
    breaker: bool = False  # circuit breaker per app user (Polly v8 defaults below)
    breaker_failure_ratio: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    breaker_min_throughput: int = Field(100, ge=2)
    breaker_window: Annotated[Duration, Field(gt=0)] = 30.0
    breaker_break: Annotated[Duration, Field(gt=0)] = 5.0


class Latency(_Section):
    median: Duration
    p99: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Latency:
        if self.p99 < self.median:
            raise ValueError(f"p99 ({format_duration(self.p99)}) must be >= median ({format_duration(self.median)})")
        return self


class LognormalLatency(Latency):
    """Log-normal service time from its median and 99th percentile: the default, and today's ``{ median, p99 }``
    form (``dist`` may be left out)."""

    dist: Literal["lognormal"] = "lognormal"


class ExponentialLatency(_Section):
    """Exponential service time of the given mean (memoryless: the M/M/c validation's service)."""

    dist: Literal["exponential"]
    mean: Annotated[Duration, Field(gt=0)]


class EmpiricalLatency(_Section):
    """Service time drawn from measured latencies: a CSV with a column ``ms`` (simulator/latency.py), the path
    relative to the scenario file."""

    dist: Literal["empirical"]
    file: str = Field(min_length=1)


LATENCY_DISTS = ("lognormal", "exponential", "empirical")


def _latency_dist(value: Any) -> Any:
    """``{ median, p99 }`` without ``dist`` is the log-normal; an unknown ``dist`` is refused with the choices."""
    if not isinstance(value, dict):
        return value
    dist = value.get("dist", "lognormal")
    if dist not in LATENCY_DISTS:
        raise ValueError(f'dist = {dist!r} — expected "lognormal", "exponential" or "empirical", e.g. '
                         '{ dist = "exponential", mean = "100ms" } or '
                         '{ dist = "empirical", file = "write-latency.csv" }')
    return {**value, "dist": dist}


ServiceTime = Annotated[
    LognormalLatency | ExponentialLatency | EmpiricalLatency,
    BeforeValidator(_latency_dist),
    Field(discriminator="dist"),
]


_TEMPLATE_FIELDS = {  # the placeholders each URL template may use
    "redirect_url": ("purchaseId", "eventId", "returnUrl"),
    "return_url": ("origin", "eventId", "purchaseId"),
}
_TEMPLATE_EXAMPLES = {
    "redirect_url": '"https://localhost:7202/GatewayRedirect/PayWithStripe?purchaseId={purchaseId}&returnUrl={returnUrl}"',
    "return_url": '"{origin}/event/confirmation?id={eventId}"',
}


def _template(value: str | None, key: str) -> str | None:
    """``value`` if it is an absolute http(s) URL template using only ``key``'s placeholders."""
    if value is None:
        return None
    allowed = _TEMPLATE_FIELDS[key]
    example = f"e.g. {_TEMPLATE_EXAMPLES[key]}"
    try:
        filled = value.format(**{name: "x" for name in allowed})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"may use only {', '.join('{' + n + '}' for n in allowed)}; {example}") from exc
    if not re.match(r"https?://[^/?#\s]+", filled) and not value.startswith("{origin}"):
        raise ValueError(f"expected an absolute http(s) URL template, {example}")
    return value


class Payment(_Section):
    """Paid events (``catalog.paid_events``): the registration follows the payment. A paid registration holds
    its seats as a purchase; the registration is created only once the payment is confirmed (live: ``POST
    …/registrations/finalize``), and the seats go back when no confirmation comes within ``timeout`` — the
    payment provider's "Payment timeout (minutes)" (Microsoft, payment-gateway-integration.md)."""

    timeout: Duration = Field(900.0, gt=0)  # undocumented default: 15 minutes assumed
    delay: Latency = Field(default_factory=lambda: Latency(median=120.0, p99=600.0))  # simulated buyers only
    abandoned: Fraction = 0.1  # simulated buyers only: purchases never completed
    live_buyers: bool = False  # the live server simulates the buyers too (stampede load: Locust users do not pay)
    # live server: where a paid answer's redirectUrl sends the buyer (None: the mock's own payment page,
    # /_harness/pay/{purchaseId}), and where the payment page returns to; templates (see _TEMPLATE_FIELDS)
    redirect_url: Annotated[str | None, AfterValidator(lambda v: _template(v, "redirect_url"))] = None
    return_url: Annotated[str, AfterValidator(lambda v: _template(v, "return_url"))] = "{origin}/"


class Portal(_Section):
    """What a portal reads beyond the catalog's entities: the web applications events are published to, event
    images, and the registration form embed."""

    webapps: int = Field(1, ge=1)  # live events are published to web application i mod webapps
    event_images: bool = True  # event.image is the URL of the event's image
    registration_form: str | None = None  # event.registrationForm (an HTML embed); None = formless registration
    image_urls: Literal["absolute", "relative"] = "absolute"  # speaker imageUrl / event image: full URL or a path


class Latencies(_Section):
    read: ServiceTime = Field(default_factory=lambda: LognormalLatency(median=0.030, p99=0.250))
    write: ServiceTime = Field(default_factory=lambda: LognormalLatency(median=0.060, p99=0.600))


class Plan(_Section):
    """Dataverse calls per attendee (see simulator/plan.py for how they are spent). ``contact_match`` and
    ``consent`` left unset follow ``[registration]``; a number set here overrides that."""

    contact_match: int | None = Field(None, ge=0)  # unset: 1 read, none under registration.matching = "none"
    contact_write: int = Field(1, ge=0)
    registration: int = Field(1, ge=0)
    per_session: int = Field(1, ge=0)
    waitlist_item: int = Field(1, ge=0)
    purchase: int = Field(1, ge=0)  # paid events: msevtmgt_eventpurchase
    attendee_pass: int = Field(1, ge=0)  # paid events: msevtmgt_attendeepass
    consent: int | None = Field(None, ge=0)  # consent writes; unset: registration.consent_purposes


def _batch_size(value: int) -> int:
    if value > 1000:
        raise ValueError("a batch holds at most 1,000 operations (Microsoft, ExecuteMultiple / $batch), so at "
                         "most 1000 registrations; e.g. batch_size = 50")
    return value


class Dataverse(_Section):
    web_servers: int = Field(1, ge=1)
    app_users: int = Field(1, ge=1)
    affinity: bool = True
    requests_limit: int = Field(6000, ge=1)
    execution_limit: Annotated[Duration, Field(gt=0)] = 1200.0
    window: Annotated[Duration, Field(gt=0)] = 300.0
    concurrency_limit: int = Field(52, ge=1)
    enforcement: Literal["exact", "lagging"] = "exact"
    enforcement_lag: Duration = 30.0  # "lagging": how stale the limiter's view of the window is
    extend_retry_after: bool = False  # throttled calls still count, so callers that keep sending wait longer
    concurrency_retry_after: Duration = 1.0  # Retry-After on a concurrency 429 (undocumented; assumption)
    worker_slots: int = Field(128, ge=1)  # requests one web server executes at once; beyond, they queue
    batch_size: Annotated[int, AfterValidator(_batch_size)] = Field(1, ge=1)  # registrations per request
    # The event API's app user, as the Web API face (`stampede serve`) names it: a client whose bearer token
    # names it spends the processors' budget (user i is "<app_user>-<i+1>" when app_users > 1).
    app_user: str = Field("event-api", min_length=1, pattern=r"^\S+$")
    dop_hint: int = Field(4, ge=1)  # the face's x-ms-dop-hint (recommended degree of parallelism)
    latency: Latencies = Field(default_factory=lambda: Latencies())
    plan: Plan = Field(default_factory=lambda: Plan())


class Fault(_Section):
    at: Duration
    duration: Duration
    kind: Literal["outage", "slow", "limit"]
    factor: float = Field(5.0, ge=1.0)  # slow: latency multiplier
    requests_limit: int | None = Field(None, ge=1)  # limit: values in force during the fault
    execution_limit: Annotated[Duration, Field(gt=0)] | None = None
    concurrency_limit: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _limit_values(self) -> Fault:
        values = (self.requests_limit, self.execution_limit, self.concurrency_limit)
        if self.kind == "limit" and all(v is None for v in values):
            raise ValueError('kind = "limit" needs at least one of requests_limit, execution_limit, '
                                 "concurrency_limit, e.g. requests_limit = 3000")
        return self


class Registration(_Section):
    """The tenant's event registration settings (Settings > Event management > Event registration settings),
    which the event API applies to every submission: who counts as the same person, whether registrations
    make contacts or leads, and the compliance profile's consent purposes (simulator/matching.py, consent.py)."""

    audience: Literal["contact", "lead"] = "contact"
    matching: Literal["email", "email+name", "none"] = "email"  # unset: the audience's RTM default (below)
    consent_purposes: int = Field(0, ge=0)  # consent records each attendee writes, one per purpose

    @model_validator(mode="before")
    @classmethod
    def _audience_default_matching(cls, data: Any) -> Any:
        # RTM's defaults differ by audience: contacts "Update contact using email", leads "Always create a new
        # record" (scenarios/README.md cites the source).
        if isinstance(data, dict) and "matching" not in data:
            return {**data, "matching": "none" if data.get("audience") == "lead" else "email"}
        return data


class Load(_Section):
    """How ``stampede load`` drives the scenario over real HTTP; simulated runs ignore this section."""

    time_scale: float = Field(1.0, gt=0.0)  # simulated seconds per wall second (60: a 5-minute window in 5 s)
    repeat_share: Fraction = 0.05  # registrations whose attendee's email was already used (contact matching)


# --- the levers a customer holds (shared/reference §7; scenarios/README.md) ------------------------------------

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
AUDIENCE_MAX = 10_000_000  # members of a segment-based journey (Microsoft, fair-use policy)


def _days(value: list[str]) -> list[str]:
    bad = [d for d in value if d not in DAYS]
    if bad or not value:
        raise ValueError(f"{bad[0] if bad else 'an empty list'!r} is not a day — expected some of "
                         f"{', '.join(DAYS)}, e.g. entry_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]")
    return value


def _local_time(value: str) -> str:
    try:
        datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError('expected a local date and time like "2027-03-01T09:00"') from None
    return value


def _clock(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(value)):
        raise ValueError('expected a time of day like "20:00"')
    return value


def _audience(value: int) -> int:
    if value > AUDIENCE_MAX:
        raise ValueError(f"a segment-based journey holds at most {AUDIENCE_MAX:,} members (Microsoft fair-use "
                         "policy), e.g. audience = 400000")
    return value


class Quiet(_Section):
    """A daily quiet time: members still enter, their messages wait, and go out in a burst when it ends."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True,
                              serialize_by_alias=True)
    begins: Annotated[str, AfterValidator(_clock)] = Field(alias="from")
    ends: Annotated[str, AfterValidator(_clock)] = Field(alias="to")

    @model_validator(mode="after")
    def _not_empty(self) -> Quiet:
        if self.begins == self.ends:
            raise ValueError(f'from and to are both {self.begins} — e.g. quiet = {{ from = "20:00", to = "08:00" }}')
        return self


DELAY_PARAMS = {"lognormal": ("median", "p95"), "uniform": ("low", "high"), "triangular": ("low", "mode", "high"),
                "normal": ("mean", "sd"), "choice": ("values", "weights")}


class Delay(_Section):
    """A delay written as an ``[uncertain]`` entry is (``dist`` and its parameters, durations with units). The
    default is the log-normal fitted to published email open-time curves (scenarios/README.md)."""

    dist: Literal["lognormal", "uniform", "triangular", "normal", "choice"] = "lognormal"
    median: Annotated[Duration, Field(gt=0)] = 14400.0  # 4h: the fit's median (4.06 h)
    p95: Annotated[Duration, Field(gt=0)] = 633600.0  # 7d8h: the fit's 95th percentile (7.4 d)
    low: Duration = 0.0
    mode: Duration = 0.0
    high: Duration = 0.0
    mean: Duration = 0.0
    sd: Duration = 0.0
    values: list[Duration] = Field(default_factory=list)
    weights: list[Annotated[float, Field(ge=0.0)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _parameters(self) -> Delay:
        used = DELAY_PARAMS[self.dist]
        defaults = Delay.model_fields
        stray = [n for n in self.model_fields_set - {"dist", *used}
                 if getattr(self, n) != defaults[n].get_default(call_default_factory=True)]
        if stray:
            raise ValueError(f"{stray[0]} is not a parameter of {self.dist} ({', '.join(used)}), e.g. "
                             '{ dist = "lognormal", median = "3h", p95 = "7d" }')
        ordered = {"lognormal": self.median < self.p95, "uniform": self.low <= self.high,
                   "triangular": self.low <= self.mode <= self.high, "normal": self.sd > 0,
                   "choice": bool(self.values) and (not self.weights or len(self.weights) == len(self.values))}
        if not ordered[self.dist]:
            raise ValueError(f"{self.dist}({', '.join(used)}) needs " + {
                "lognormal": "median < p95", "uniform": "low <= high", "triangular": "low <= mode <= high",
                "normal": "sd > 0", "choice": "values, and one weight per value if weights are given"}[self.dist])
        return self


class InvitationJourney(_Section):
    """``workload.shape = "journey"``: the invitation journey's members enter, are sent the email, and a share
    of them register after a delay (simulator/journey.py)."""

    audience: Annotated[int, AfterValidator(_audience)] = Field(400_000, ge=0)
    send_rate_per_h: float = Field(140_000.0, gt=0)  # the licence's sending throughput, interactions/hr
    entry_limit: int = Field(0, ge=0)  # members per entry_interval; 0 = no journey rate limit
    entry_interval: Literal["1h", "1d"] = "1h"
    entry_days: Annotated[list[str], AfterValidator(_days)] = Field(default_factory=lambda: list(DAYS))
    start: Annotated[str, AfterValidator(_local_time)] = "2027-03-01T09:00"  # local; a Monday
    quiet: Quiet | None = None
    response_share: Fraction = 0.15  # members sent the email who register (assumption)
    response_delay: Delay = Field(default_factory=lambda: Delay())


class Window(_Section):
    """A registration period: arrivals burst after ``opens`` (``workload.shape = "window"``); from ``closes``
    on, submissions are refused (any shape)."""

    opens: Duration = 0.0
    closes: Duration | None = None  # None: the period never closes within the run

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.closes is not None and self.closes <= self.opens:
            raise ValueError(f"closes ({format_duration(self.closes)}) must be after opens "
                             f"({format_duration(self.opens)}), e.g. opens = \"0s\", closes = \"2h\"")
        return self


class ConfirmationLatency(_Section):
    p90: Annotated[Duration, Field(gt=0)] = 180.0
    p95: Annotated[Duration, Field(gt=0)] = 300.0
    max: Annotated[Duration, Field(gt=0)] = 1800.0  # the log-normal's tail is cut here (undocumented beyond P95)

    @model_validator(mode="after")
    def _ordered(self) -> ConfirmationLatency:
        if not self.p90 < self.p95 < self.max:
            raise ValueError(f"needs p90 < p95 < max (got {format_duration(self.p90)}, {format_duration(self.p95)}, "
                             f"{format_duration(self.max)}), e.g. latency = {{ p90 = \"3m\", p95 = \"5m\" }}")
        return self


class Confirmation(_Section):
    """The trigger-based confirmation journey a created registration starts (simulator/engine/confirmation.py)."""

    enabled: bool = True
    triggers_per_min: int = Field(2500, ge=1)  # for the whole org (fair-use policy)
    latency: ConfirmationLatency = Field(default_factory=lambda: ConfirmationLatency())
    drop_after: Annotated[Duration, Field(gt=0)] | None = None  # a trigger queued longer is dropped; None = never


class Tenant(_Section):
    """The tenant's 24 h Power Platform request pool (reported, not enforced)."""

    licences: int = Field(0, ge=0)
    pool_addons: int = Field(0, ge=0)


class Scenario(_Section):
    """A whole run: catalog, workload, event API, retry policy, Dataverse, faults; deterministic by seed."""

    name: str = Field("scenario", pattern=r"^[A-Za-z0-9._-]+$")
    description: str = ""
    seed: int = 7
    horizon: Duration = 28800.0
    bin: Duration = Field(10.0, gt=0)
    catalog: Catalog = Field(default_factory=lambda: Catalog())
    workload: Workload = Field(default_factory=lambda: Workload())
    api: Api = Field(default_factory=lambda: Api())
    retry: Retry = Field(default_factory=lambda: Retry())
    dataverse: Dataverse = Field(default_factory=lambda: Dataverse())
    faults: list[Fault] = Field(default_factory=list)
    registration: Registration = Field(default_factory=lambda: Registration())
    load: Load = Field(default_factory=lambda: Load())
    payment: Payment = Field(default_factory=lambda: Payment())
    portal: Portal = Field(default_factory=lambda: Portal())
    journey: InvitationJourney = Field(default_factory=lambda: InvitationJourney())
    window: Window = Field(default_factory=lambda: Window())
    confirmation: Confirmation = Field(default_factory=lambda: Confirmation())
    tenant: Tenant = Field(default_factory=lambda: Tenant())
    # dotted key -> distribution, drawn once per replication (parsed and checked in simulator/uncertain.py)
    uncertain: dict[str, Any] = Field(default_factory=dict)


# --- loading -----------------------------------------------------------------------------------------------

_EXAMPLES = {
    "duration": DURATION_EXAMPLE,
    "int": "a whole number like 4",
    "float": "a number like 0.25",
    "bool": "true or false",
    "literal": "one of the allowed values",
}


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the section at ``loc`` (for 'did you mean' on an unknown key); ``loc`` as pydantic gives
    it, with the tag of a tagged union (``latency.write.exponential``) naming the member."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if isinstance(current, list):  # a tagged union's members: this part is the tag
            current = next((m for m in current if part in getattr(m.model_fields["dist"].annotation, "__args__", ())),
                           None)
            if current is None:
                return []
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        models = [a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not models:
            return []
        current = models[0] if len(models) == 1 else models
    return list(getattr(current[0] if isinstance(current, list) else current, "model_fields", {}))


def _key_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` as the file spells it: without validator names, nor the tag pydantic adds inside a
    ``dataverse.latency.*`` (``write.exponential.mean`` is ``write.mean`` in the file)."""
    return tuple(p for i, p in enumerate(loc) if not (isinstance(p, str) and p.startswith("function-"))
                 and not (i >= 2 and loc[i - 2] == "latency" and p in LATENCY_DISTS))


def _describe(error: dict[str, Any], source: str) -> str:
    raw_loc = tuple(error["loc"])
    loc = _key_path(raw_loc)
    key = ".".join(str(p) for p in loc) or "(top level)"
    kind = error["type"]
    message = error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        known = _known_keys(Scenario, raw_loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f' — did you mean "{close[0]}"?' if close else f" — known keys here: {', '.join(known)}"
        return f"{source}: {key} is not a scenario key{hint}"
    value = error.get("input")
    shown = f"{value!r}" if not isinstance(value, dict) else "{…}"
    if kind.startswith(("int", "float", "bool")) and kind != "int_from_float":
        message = f"expected {_EXAMPLES[kind.partition('_')[0]]}"
    elif kind == "int_from_float":
        message = f"not a whole number — expected {_EXAMPLES['int']}"
    else:
        message = _plain(message)
    return f"{source}: {key} = {shown} — {message}"


_PYDANTIC_WORDS = (  # pydantic's phrasing → ours (the first that matches)
    ("Input should be greater than or equal to ", "expected at least "),
    ("Input should be greater than ", "expected more than "),
    ("Input should be less than or equal to ", "expected at most "),
    ("Input should be less than ", "expected less than "),
    ("Input should be a valid string", "expected text in quotes"),
    ("Input should be a valid list", "expected a list like [\"mon\", \"tue\"]"),
    ("Input should be a valid dictionary", "expected a table like { median = \"30ms\", p99 = \"250ms\" }"),
    ("Input should be ", "expected "),
)


def _plain(message: str) -> str:
    """pydantic's wording ("Input should be greater than or equal to 1") in ours ("expected at least 1")."""
    for theirs, ours in _PYDANTIC_WORDS:
        if message.startswith(theirs):
            return ours + message.removeprefix(theirs)
    return message


def parse_scenario(raw: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a raw TOML mapping; every problem is reported, one line each, naming ``source``."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(dict(e), source) for e in exc.errors()]
        raise ScenarioError("\n".join(lines)) from None


def _parse_override_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # bare words: cache=none, retry.policy=full-jitter, retry.base=2s


def apply_overrides(raw: dict[str, Any], overrides: list[str], source: str = "--set") -> dict[str, Any]:
    """A copy of ``raw`` with each ``key.path=value`` applied (values parsed as TOML, else taken as text)."""
    result: dict[str, Any] = _deep_copy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ScenarioError(f'{source} {item!r}: expected key=value, e.g. --set dataverse.app_users=4')
        parts = key.split(".")
        node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ScenarioError(f"{source} {item!r}: {part} is a value, not a section")
            node = child
        node[parts[-1]] = _parse_override_value(text.strip())
    return result


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw


def load_scenario(path: str | Path, overrides: list[str] | None = None, seed: int | None = None, *,
                  overrides_from: str = "--set overrides", warn: Callable[[str], None] | None = None) -> Scenario:
    """Read ``path``, apply overrides and an optional seed, validate; ScenarioError on any problem, naming the
    file and, with overrides, where they came from (``overrides_from``: "--set overrides", "--vary
    retry.policy=none"). ``warn`` hears each bare number below a minute given for a duration (seconds,
    perhaps meant as minutes)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file (shipped ones are in scenarios/*.toml)") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    raw.setdefault("name", re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem) or "scenario")
    raw = apply_overrides(raw, overrides or [])
    if seed is not None:
        raw["seed"] = seed
    source = f"{path}" + (f" (with {overrides_from})" if overrides else "")
    scenario = parse_scenario(raw, source)
    if warn is not None:
        for key, seconds in bare_short_durations(raw):
            unit = "second" if seconds == 1 else "seconds"
            warn(f'{key} = {seconds:g} is {seconds:g} {unit}; write "{seconds:g}m" for minutes, "{seconds:g}s" for '
                 f"{unit}")
    trace = scenario.workload.trace
    if trace and not Path(trace).is_absolute():
        scenario.workload.trace = str((path.parent / trace).resolve())
    if scenario.workload.shape == "trace" and not Path(scenario.workload.trace).is_file():
        raise ScenarioError(f"{source}: workload.trace = {trace!r} — no such file "
                            f"(looked for {scenario.workload.trace}; a path is relative to the scenario file)")
    _resolve_latency_files(scenario.dataverse.latency, path.parent, source)
    return scenario


def _is_duration(field: FieldInfo) -> bool:
    """Whether a field is a ``Duration`` (or ``Duration | None``)."""
    inner = (m for a in typing.get_args(field.annotation) for m in getattr(a, "__metadata__", ()))
    metadata = [*field.metadata, *inner]
    return any(getattr(meta, "func", None) is parse_duration_s for meta in metadata)


def bare_short_durations(raw: dict[str, Any], model: type[BaseModel] | None = None, prefix: str = ""
                         ) -> list[tuple[str, float]]:
    """``(key, seconds)`` for each duration key given a bare number between 0 and 60 (exclusive): seconds, as
    documented, yet most such numbers were meant as minutes ("half_life = 6")."""
    model = model or Scenario
    found: list[tuple[str, float]] = []
    for key, value in raw.items():
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if field is None:
            continue
        if isinstance(value, dict):
            nested = [a for a in (field.annotation, *typing.get_args(field.annotation))
                      if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(nested) == 1:
                found += bare_short_durations(value, nested[0], f"{prefix}{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 60 and _is_duration(field):
            found.append((f"{prefix}{key}", float(value)))
    return found


def _resolve_latency_files(latencies: Latencies, directory: Path, source: str) -> None:
    """Make each empirical latency file's path absolute (relative to the scenario file, like workload.trace)
    and read it now, so a bad file is refused before any run starts."""
    for kind in Latencies.model_fields:
        spec = getattr(latencies, kind)
        if not isinstance(spec, EmpiricalLatency):
            continue
        given = spec.file
        if not Path(given).is_absolute():
            spec.file = str((directory / given).resolve())
        try:
            latency.read_latency_ms(spec.file)
        except latency.LatencyFileError as exc:
            raise ScenarioError(f"{source}: dataverse.latency.{kind}.file = {given!r} — {exc}") from None


def scenario_to_toml(scenario: Scenario) -> str:
    """The resolved scenario as TOML that loads back to an equal Scenario."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    return tomli_w.dumps(data)
