"""The paid flow's other half, on the harness plane: where a paid answer sends the buyer, the mock's own payment
page, and a purchase's state.

    portal ── POST …/registrations ──► 200 {"status": "Redirect", "purchaseId", "redirectUrl"}, Location: purchase
    browser ─ GET redirectUrl ───────► /_harness/pay/{purchaseId}   (or the scenario's payment.redirect_url)
            ─ Pay ───────────────────► the purchase is confirmed, as a gateway's webhook confirms it through
                                       msevtmgt_finalizeregistrationpayment (Completed) ─► 303 to return_url
            ─ Cancel ────────────────► the hold ends now, its seats go back (Cancelled) ─► 303 to return_url
    anyone ─ GET /_harness/purchases/{purchaseId} ─► its state: held, confirmed, expired or cancelled

Microsoft's payment-gateway article (``ci-docs/journeys/developer/payment-gateway-integration.md``): the
registration answer's ``redirectUrl`` is the registration completion service's "Payment page URL" with
``purchaseId`` and ``returnUrl``; the gateway sends the buyer back to ``returnUrl``; the completion service
finalizes the purchase from the gateway's notification. The mock's page plays the gateway and the completion
service at once, so that a portal developer can click through the whole flow with no gateway account.

The page needs no admin token even where the harness plane does (``gate.py``): a browser sent to pay carries
none, and the purchase id, a random GUID, is what a gateway's payment link is — the capability to pay.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from simulator.catalog import Catalog, Event
from simulator.scenario import Payment
from simulator.server.api import PURCHASES_PATH, read_body
from simulator.server.errors import ApiError, ErrorType
from simulator.server.model import LiveModel, Purchases

__all__ = ["Checkout", "checkout_router", "PAY_PATH"]

PAY_PATH = "/_harness/pay/"


class Checkout:
    """The scenario's ``[payment]`` URLs for one web application (``origin``)."""

    def __init__(self, payment: Payment, origin: str) -> None:
        self.payment = payment
        self.origin = origin

    def return_url(self, event: Event, purchase_id: str) -> str:
        """Where the payment page sends the buyer back (``payment.return_url`` filled in)."""
        return self.payment.return_url.format(origin=self.origin, eventId=quote(event.readable_id, safe=""),
                                              purchaseId=quote(purchase_id, safe=""))

    def redirect_url(self, event: Event, purchase_id: str, host: str) -> str:
        """A paid answer's ``redirectUrl``: ``payment.redirect_url`` filled in, or the mock's own page on ``host``
        (the ``scheme://host[:port]`` the portal called)."""
        template = self.payment.redirect_url
        if template is None:
            return f"{host}{PAY_PATH}{quote(purchase_id, safe='')}"
        return template.format(purchaseId=quote(purchase_id, safe=""), eventId=quote(event.readable_id, safe=""),
                               returnUrl=quote(self.return_url(event, purchase_id), safe=""))


def _iso(unix_s: float | None) -> str | None:
    return None if unix_s is None else datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="seconds")


def _amount(event: Event, body: str) -> float:
    """What the purchase costs: the price of each seated attendee's pass."""
    prices = {p.id: p.price for p in event.passes}
    attendees = json.loads(body).get("attendees", [])
    return sum(prices.get(a.get("passId") or "", 0.0) for a in attendees if not a.get("waitlisted"))


def checkout_router(catalog: Catalog, model: LiveModel, checkout: Checkout) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    events = {event.id: event for event in catalog.events}

    async def stored(purchase_id: str) -> tuple[Purchases, Mapping[str, Any], Event]:
        row = await model.purchase(purchase_id) if isinstance(model, Purchases) else None
        event = events.get(str(row["event_id"])) if row is not None else None
        if row is None or event is None or not isinstance(model, Purchases):
            raise ApiError(ErrorType.PURCHASE_UNKNOWN, f"no purchase {purchase_id!r}")
        return model, row, event

    def state(row: Mapping[str, Any], event: Event) -> dict[str, Any]:
        purchase_id = str(row["id"])
        return {
            "purchaseId": purchase_id, "readableEventId": event.readable_id, "state": row["state"],
            "amount": _amount(event, str(row["body"])),
            "currencySymbol": event.passes[0].currency_symbol if event.passes else None,
            "expiresAt": _iso(row["expires_at"]),
            "payUrl": f"{PAY_PATH}{quote(purchase_id, safe='')}",
            "returnUrl": checkout.return_url(event, purchase_id),
            "submission": (f"/_harness/submissions/{quote(purchase_id, safe='')}"
                           if row["state"] == "confirmed" else None),
        }

    @router.get(PURCHASES_PATH + "{purchaseId}")
    async def purchase(purchaseId: str) -> Response:
        _, row, event = await stored(purchaseId)
        return Response(json.dumps(state(row, event)).encode(), media_type="application/json")

    @router.get(PAY_PATH + "{purchaseId}")
    async def page(purchaseId: str) -> Response:
        _, row, event = await stored(purchaseId)
        return _page(state(row, event), event)

    @router.post(PAY_PATH + "{purchaseId}")
    async def act(purchaseId: str, request: Request) -> Response:
        purchases, row, event = await stored(purchaseId)
        action = parse_qs((await read_body(request, 4096)).decode("utf-8", "replace")).get("action", [""])[0]
        if action == "pay":
            outcome = await purchases.finalize(event, purchaseId)
            done = outcome == "confirmed"
        elif action == "cancel":
            outcome = await purchases.cancel(event, purchaseId)
            done = outcome == "cancelled"
        else:
            raise ApiError(ErrorType.PAYMENT_ACTION_INVALID, f"action must be pay or cancel, not {action!r}")
        if done:  # back to the portal, as the gateway returns the buyer to returnUrl
            return Response(status_code=303, headers={"Location": checkout.return_url(event, purchaseId)})
        # too late: the hold ended before the buyer acted; say so where the buyer is
        return _page({**state(row, event), "state": outcome}, event, status=409)

    return router


def _page(purchase: Mapping[str, Any], event: Event, status: int = 200) -> Response:
    """A small payment page: what is bought and for how much, Pay and Cancel while the hold lasts."""
    e = html.escape
    held = purchase["state"] == "held"
    amount = f"{purchase['currencySymbol'] or ''}{purchase['amount']:,.2f}"
    actions = (
        f'<form method="post"><button id="pay" name="action" value="pay">Pay {e(amount)}</button> '
        '<button id="cancel" name="action" value="cancel">Cancel</button></form>'
        f"<p>The seat is held until {e(str(purchase['expiresAt']))} (UTC).</p>"
        if held else
        f'<p id="outcome">This purchase is {e(str(purchase["state"]))}.</p>'
        f'<p><a id="back" href="{e(str(purchase["returnUrl"]))}">Back to the event</a></p>'
    )
    body = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Pay · "
        f"{e(event.name)}</title><style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto}}"
        "button{font-size:1.1rem;padding:.4rem 1rem}</style></head><body>"
        f"<h1>{e(event.name)}</h1><p>Stampede's payment page (a stand-in for your payment gateway).</p>"
        f'<p>Purchase <code>{e(str(purchase["purchaseId"]))}</code>: <strong id="amount">{e(amount)}</strong></p>'
        f'<p>State: <span id="state">{e(str(purchase["state"]))}</span></p>{actions}</body></html>'
    )
    return Response(body.encode(), status_code=status, media_type="text/html; charset=utf-8")
