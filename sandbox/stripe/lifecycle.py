"""How an account's objects come about and change, whoever made them change.

Customers, subscriptions with their billing periods, invoices, cancellations: the state
changes that the simulations (sandbox.stripe.simulations) and the API's routes
(sandbox.stripe.routes) share, each making the event Stripe would send. As on Stripe, periods
are counted from the billing cycle anchor, the first invoice covers just the instant it was
made, a renewal invoice's own period looks back to the period that just ended, and a declined
renewal shows its next attempt three days on.
"""

from __future__ import annotations

import copy
import secrets
from datetime import datetime, timedelta

from sandbox.stripe.events import EventsMixin
from sandbox.stripe.objects import JSON, add_interval, from_unix_time, new_id, unix_time
from sandbox.stripe.params import metadata_param, str_param

# Stripe retries a failed renewal charge a few days later (Smart Retries); its date is shown
# on the invoice as next_payment_attempt.
RENEWAL_RETRY_DELAY = timedelta(days=3)


class LifecycleMixin(EventsMixin):
    """The account's objects, and the state changes shared by simulations and API routes."""

    # Made in StripeSandbox.__init__.
    base_url: str
    products: dict[str, JSON]
    prices: dict[str, JSON]
    customers: dict[str, JSON]
    checkout_sessions: dict[str, JSON]
    subscriptions: dict[str, JSON]
    invoices: dict[str, JSON]
    portal_sessions: dict[str, JSON]
    coupons: dict[str, JSON]
    _trial_ends: dict[str, int]
    _trial_plans: dict[str, JSON]
    promotion_codes: dict[str, JSON]
    _trial_will_end_sent: set[str]
    _checkout_line_items: dict[str, list[JSON]]
    _subscription_metadata: dict[str, dict[str, str]]

    # -----------------------------------------------------------------------------------
    # State changes shared by the simulations and the API

    def _checkout_to_complete(self, session_id: str) -> JSON:
        session = self._get(self.checkout_sessions, session_id, "checkout.session")
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
        if unix_time(self._now()) >= session["expires_at"]:
            raise ValueError(f"checkout session {session_id} expired at {session['expires_at']}")
        return session

    def _expire(self, session: JSON) -> JSON:
        session.update(status="expired", url=None)
        return self.make_event("checkout.session.expired", session)

    def _new_customer(self, params: JSON) -> JSON:
        customer: JSON = {
            "id": new_id("cus"),
            "object": "customer",
            "created": unix_time(self._now()),
            "email": str_param(params, "email"),
            "name": str_param(params, "name"),
            "phone": str_param(params, "phone"),
            "description": str_param(params, "description"),
            "metadata": metadata_param(params),
            "currency": None,
            "delinquent": False,
            "invoice_prefix": secrets.token_hex(4).upper(),
            "invoice_settings": {"default_payment_method": None},
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return customer

    def _new_subscription(
        self, customer_id: str, line_items: list[JSON], session: JSON, start: datetime
    ) -> JSON:
        subscription_id = new_id("sub")
        items = [
            {
                "id": new_id("si"),
                "object": "subscription_item",
                "created": unix_time(start),
                "metadata": {},
                "price": copy.deepcopy(self.prices[item["price"]]),
                "quantity": item["quantity"],
                "subscription": subscription_id,
                "current_period_start": None,
                "current_period_end": None,
            }
            for item in line_items
        ]
        subscription: JSON = {
            "id": subscription_id,
            "object": "subscription",
            "billing_cycle_anchor": unix_time(start),
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": unix_time(start),
            "currency": items[0]["price"]["currency"],
            "customer": customer_id,
            "ended_at": None,
            "items": {
                "object": "list",
                "data": items,
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={subscription_id}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": dict(self._subscription_metadata[session["id"]]),
            "start_date": unix_time(start),
            "status": "active",
            "default_payment_method": None,
            "trial_end": None,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": None,
        }
        recurring = items[0]["price"]["recurring"]
        end = add_interval(start, recurring["interval"], recurring["interval_count"])
        trial_end = self._trial_ends.get(session["id"])
        plan = self._trial_plans.get(session["id"]) or {}
        if plan.get("days"):
            # trial_period_days count from the subscription's start.
            trial_end = unix_time(start + timedelta(days=plan["days"]))
        if plan.get("missing_payment_method"):
            subscription["trial_settings"]["end_behavior"]["missing_payment_method"] = plan[
                "missing_payment_method"
            ]
        if trial_end is not None:
            # The first period is the trial; charging starts at its end (the new anchor).
            end = from_unix_time(trial_end)
            subscription.update(
                status="trialing",
                trial_start=unix_time(start),
                trial_end=trial_end,
                billing_cycle_anchor=trial_end,
            )
        self._set_period(subscription, start, end)
        self.subscriptions[subscription_id] = subscription
        return subscription

    def _set_period(self, subscription: JSON, start: datetime, end: datetime) -> None:
        # Since 2025-03-31.basil the period lives on each item only (sandbox.stripe.versions
        # puts it back on the subscription for older versions).
        period = {"current_period_start": unix_time(start), "current_period_end": unix_time(end)}
        for item in subscription["items"]["data"]:
            item.update(period)

    @staticmethod
    def _period(subscription: JSON) -> tuple[int, int]:
        """The current billing period (start, end), as the subscription's items carry it."""
        item = subscription["items"]["data"][0]
        return item["current_period_start"], item["current_period_end"]

    def _advance_period(self, subscription: JSON) -> tuple[int, int]:
        """Move into the next billing period; returns the period just ended."""
        previous = self._period(subscription)
        # Periods are counted from the anchor so a 31st keeps renewing on month ends.
        anchor = from_unix_time(subscription["billing_cycle_anchor"])
        recurring = subscription["items"]["data"][0]["price"]["recurring"]
        start = from_unix_time(previous[1])
        periods = 1
        while (
            end := add_interval(
                anchor, recurring["interval"], recurring["interval_count"] * periods
            )
        ) <= start:
            periods += 1
        self._set_period(subscription, start, end)
        return previous

    def _new_invoice(
        self,
        subscription: JSON,
        billing_reason: str,
        *,
        paid: bool,
        looks_back: tuple[int, int],
    ) -> JSON:
        now = unix_time(self._now())
        customer = self.customers[subscription["customer"]]
        lines = [
            {
                "id": new_id("il"),
                "object": "line_item",
                "amount": item["price"]["unit_amount"] * item["quantity"],
                "currency": item["price"]["currency"],
                "description": None,
                "period": {
                    "start": item["current_period_start"],
                    "end": item["current_period_end"],
                },
                "pricing": {
                    "type": "price_details",
                    "price_details": {
                        "price": item["price"]["id"],
                        "product": item["price"]["product"],
                    },
                },
                "quantity": item["quantity"],
                "subscription": subscription["id"],
            }
            for item in subscription["items"]["data"]
        ]
        total = sum(line["amount"] for line in lines)
        invoice_id = new_id("in")
        invoice: JSON = {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": total,
            "amount_paid": 0,
            "amount_remaining": total,
            "attempt_count": 1,
            "attempted": True,
            "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": subscription["currency"],
            "customer": customer["id"],
            "customer_email": customer["email"],
            "hosted_invoice_url": f"{self.base_url}/invoice/{invoice_id}",
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": dict(subscription["metadata"]),
                    "subscription": subscription["id"],
                },
            },
            # Like Stripe's, the invoice's own period looks back (to the period that just
            # ended); the service period being paid for is on its lines.
            "period_start": looks_back[0],
            "period_end": looks_back[1],
            "status": "open",
            "status_transitions": {"finalized_at": now, "paid_at": None},
            "total": total,
        }
        if paid:
            self._mark_paid(invoice)
        else:
            invoice["next_payment_attempt"] = unix_time(self._now() + RENEWAL_RETRY_DELAY)
        self.invoices[invoice_id] = invoice
        return invoice

    def _mark_paid(self, invoice: JSON) -> None:
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            next_payment_attempt=None,
        )
        invoice["status_transitions"]["paid_at"] = unix_time(self._now())

    def _set_cancel_at_period_end(self, subscription: JSON, cancel: bool) -> None:
        subscription["cancel_at_period_end"] = cancel
        subscription["cancel_at"] = self._period(subscription)[1] if cancel else None
        subscription["canceled_at"] = unix_time(self._now()) if cancel else None
        subscription["cancellation_details"]["reason"] = (
            "cancellation_requested" if cancel else None
        )

    def _end(self, subscription: JSON) -> JSON:
        now = unix_time(self._now())
        subscription.update(status="canceled", ended_at=now)
        if subscription["canceled_at"] is None:
            subscription["canceled_at"] = now
            subscription["cancellation_details"]["reason"] = "cancellation_requested"
        return self.make_event("customer.subscription.deleted", subscription)

    def _subscription_updated(self, subscription: JSON, before: JSON) -> JSON:
        # Stripe lists the old values of what changed, so receivers can see the transition.
        changed = {key: value for key, value in before.items() if subscription[key] != value}
        return self.make_event(
            "customer.subscription.updated", subscription, previous_attributes=changed
        )

    def _payment_method(self, subscription: JSON) -> str | None:
        """The card a renewal would be charged to: the subscription's, else the customer's."""
        customer = self.customers[subscription["customer"]]
        found = subscription.get("default_payment_method") or (
            customer.get("invoice_settings") or {}
        ).get("default_payment_method")
        return str(found) if found else None

    def _live_subscription(self, subscription_id: str) -> JSON:
        subscription = self._get(self.subscriptions, subscription_id, "subscription")
        if subscription["status"] == "canceled":
            raise ValueError(f"subscription {subscription_id} is already canceled")
        return subscription

    @staticmethod
    def _get(store: dict[str, JSON], object_id: str, kind: str) -> JSON:
        try:
            return store[object_id]
        except KeyError:
            raise KeyError(f"no {kind} {object_id!r} in the sandbox") from None
