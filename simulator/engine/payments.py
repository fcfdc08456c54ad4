"""Paid registrations: the registration follows the payment (Microsoft, payment-gateway-integration.md).

    paid offer ─► validation, seats ─► accepted as a held purchase (the caller is sent to pay)
                   ─┬─ payment confirmed in time ─► the registration: journal, queue, processors ─► created
                    └─ timeout ─► seats released, dead-lettered ("payment not completed within …")

A held purchase keeps its seats for ``payment.timeout`` — the payment provider's "Payment timeout (minutes)":
"the maximum amount of time the registration reservation should wait for successful payment confirmation before
releasing the spot and canceling the transaction". The purchase is the accepted submission (the caller was
answered with it); its registration is journalled and queued for the processors only when the payment is
confirmed. A purchase never confirmed is dead-lettered with the reason ``ABANDONED`` (``summary.json``
``dead_letter_reasons``, ``submissions.csv`` ``reason``): nothing accepted is lost, and offered = accepted +
rejected, accepted = created + dead-lettered + pending hold as for free events.

Who confirms: in simulated runs, simulated buyers — a ``payment.abandoned`` share never pays, the others pay
after a delay drawn from ``payment.delay`` (log-normal through its median and p99; a delay past the timeout
is an abandoned purchase too). A buyer's draw belongs to its arrival (the run's seed and the arrival's own
number, ``Offer.arrival``), not to the order offers are answered or purchases held in: a strategy that accepts
a different set of paid offers, or answers them in another order (a cache strategy's validation reads), gives
every other buyer the same payment as before (common random numbers) — keyed by the submission's number, which
is given in answer order, 151 of 840 paid arrivals kept their draw between ``api.cache = ttl`` and ``none``.
The live server's offers carry no arrival number: there the submission's number keys it. In the live server,
the caller's ``POST …/registrations/finalize`` (``confirm``); nobody is simulated unless ``payment.live_buyers`` (which
``stampede load`` sets, since Locust's users do not pay).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

import simpy

from simulator.latency import Z_99, lognormal_params
from simulator.scenario import Payment, format_duration

__all__ = ["PaymentDesk", "Purchase", "PurchaseJournal", "ABANDONED", "CANCELLED", "Z_99"]

ABANDONED = "payment not completed within the payment timeout"
CANCELLED = "payment cancelled by the buyer"


class _Held(Protocol):  # the pipeline's Submission, as far as payments need it
    number: int
    waitlisted: bool
    accepted_s: float
    offer: Any


class PurchaseJournal(Protocol):
    """The durable side of purchases (the live server's store); every method is called on the model thread."""

    def held(self, submission: Any, expires_s: float) -> None: ...
    def abandoned(self, submission: Any, now_s: float, reason: str) -> None: ...  # ABANDONED or CANCELLED


@dataclass(slots=True)
class Purchase:
    """A held purchase: its submission (not yet accepted), when its hold ends, and whether it was settled."""

    submission: Any
    expires_s: float
    settled: bool = False


class PaymentDesk:
    """Holds paid submissions until their payment is confirmed or their hold times out.

    ``admit`` accepts a confirmed submission (the pipeline's journal-then-queue); ``expire`` gives its seats
    back and rejects the offer. ``buyers`` simulates the callers' payments (simulated runs); without, only
    ``confirm`` settles a purchase (the live server's finalize).
    """

    def __init__(self, env: simpy.Environment, settings: Payment, buyer_seed: str, *,
                 admit: Callable[[Any], None], expire: Callable[[Any, str], None], buyers: bool = True,
                 journal: PurchaseJournal | None = None) -> None:
        self.env = env
        self.settings = settings
        self.buyer_seed = buyer_seed  # with the arrival's number, seeds that buyer's draw
        self._buyer_rng = random.Random()
        self.admit = admit
        self.expire = expire
        self.buyers = buyers
        self.journal = journal
        self.held: dict[str, Purchase] = {}  # by purchase id (the submission id; its number in simulated runs)
        self.outcomes: dict[str, str] = {}  # settled purchases (live only: a repeated finalize gets the same answer)
        self.keep_outcomes = not buyers
        self.confirmed = 0
        self.abandoned = 0  # never paid: timed out or cancelled
        self.cancelled = 0
        median_s, p99_s = settings.delay.median, settings.delay.p99
        self._mu, self._sigma = lognormal_params(median_s, p99_s)

    @staticmethod
    def purchase_id(submission: _Held) -> str:
        return str(submission.offer.submission_id or submission.number)

    def hold(self, submission: _Held, expires_s: float | None = None) -> None:
        """Hold ``submission``'s seats until ``expires_s`` (default: now + the payment timeout)."""
        now = self.env.now
        expires = now + self.settings.timeout if expires_s is None else expires_s
        purchase = Purchase(submission, expires)
        self.held[self.purchase_id(submission)] = purchase
        if self.journal is not None:
            self.journal.held(submission, expires)
        paid_in_s = self.draw(self.buyer_key(submission)) if self.buyers else None
        self.env.process(self._wait(purchase, paid_in_s))

    @staticmethod
    def buyer_key(submission: _Held) -> int:
        """Whose draw a purchase gets: its arrival's own number (the simulated workload numbers its arrivals),
        else — the live server's offers carry none — the submission's number."""
        arrival: int | None = submission.offer.arrival
        return arrival if arrival is not None else submission.number

    def draw(self, key: int) -> float | None:
        """Buyer ``key``'s payment: seconds until it pays, or None when it never does (the abandoned share)."""
        rng = self._buyer_rng
        rng.seed(f"{self.buyer_seed}-{key}")
        if rng.random() >= self.settings.abandoned:
            return math.exp(rng.gauss(self._mu, self._sigma))
        return None

    def _wait(self, purchase: Purchase, paid_in_s: float | None) -> Generator[Any, Any, None]:
        remaining_s = max(0.0, purchase.expires_s - self.env.now)
        if paid_in_s is not None and paid_in_s < remaining_s:
            yield self.env.timeout(paid_in_s)
            self._settle(purchase, paid=True)
            return
        yield self.env.timeout(remaining_s)
        self._settle(purchase, paid=False)

    def confirm(self, purchase_id: str) -> str:
        """A payment confirmation (finalize): ``"confirmed"`` (now or before), ``"expired"`` or ``"unknown"``."""
        purchase = self.held.get(purchase_id)
        if purchase is None:
            return self.outcomes.get(purchase_id, "unknown")
        self._settle(purchase, paid=True)
        return "confirmed"

    def cancel(self, purchase_id: str) -> str:
        """The buyer cancelled at the gateway (``msevtmgt_paymentstatus`` Cancelled): the hold ends now and its
        seats go back. ``"cancelled"``, or what became of a purchase no longer held (``confirm``'s answers)."""
        purchase = self.held.get(purchase_id)
        if purchase is None:
            return self.outcomes.get(purchase_id, "unknown")
        self._settle(purchase, paid=False, reason=CANCELLED)
        return "cancelled"

    def withdraw(self, purchase_id: str, reason: str) -> None:
        """Undo a hold the journal could not store (the live server answered its buyer 500): its seats and
        passes go back now and it is dead-lettered with ``reason`` — not a buyer's doing, so neither abandoned
        nor cancelled is counted, and nothing is written (the store never held it)."""
        purchase = self.held.pop(purchase_id, None)
        if purchase is None or purchase.settled:
            return
        purchase.settled = True  # its payment wait ends without effect
        self.expire(purchase.submission, reason)

    def _settle(self, purchase: Purchase, *, paid: bool, reason: str = ABANDONED) -> None:
        if purchase.settled:  # confirmed by finalize before its hold ended
            return
        purchase.settled = True
        submission = purchase.submission
        purchase_id = self.purchase_id(submission)
        self.held.pop(purchase_id, None)
        if self.keep_outcomes:
            self.outcomes[purchase_id] = "confirmed" if paid else ("cancelled" if reason == CANCELLED else "expired")
        if paid:
            self.confirmed += 1
            self.admit(submission)
            return
        self.abandoned += 1
        if reason == CANCELLED:
            self.cancelled += 1
        if self.journal is not None:
            self.journal.abandoned(submission, self.env.now, reason)
        timeout = format_duration(self.settings.timeout)
        self.expire(submission, reason if reason == CANCELLED else f"{reason} ({timeout})")
