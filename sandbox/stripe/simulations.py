"""What customers and Stripe itself do, which no API call can ask for.

A customer pays on the Checkout page (or lets it expire), a renewal charge goes through or is
declined, the customer cancels in the billing portal, a subscription ends. Each method changes
the account as Stripe would, delivers the events, and returns them. Tests call these, and so
do the hosted pages.
"""

from __future__ import annotations

import copy

from sandbox.stripe.lifecycle import LifecycleMixin
from sandbox.stripe.objects import JSON, unix_time


class SimulationsMixin(LifecycleMixin):
    """Paying, renewing, failing to renew, cancelling, ending."""

    # -----------------------------------------------------------------------------------
    # What customers and Stripe do

    async def complete_checkout(self, session_id: str) -> list[JSON]:
        """The customer pays: customer, active subscription and paid first invoice appear."""
        session = self._checkout_to_complete(session_id)
        now = self._now()
        events: list[JSON] = []

        customer_id = session["customer"]
        if customer_id is None:
            customer = self._new_customer({"email": session["customer_email"]})
            customer_id = customer["id"]
            events.append(self.make_event("customer.created", customer))
        customer = self.customers[customer_id]

        line_items = self._checkout_line_items[session_id]
        subscription: JSON | None = None
        invoice: JSON | None = None
        if session["mode"] == "subscription":
            subscription = self._new_subscription(customer_id, line_items, session, now)
            # Stripe's first invoice "covers" just the instant it was made.
            instant = (unix_time(now), unix_time(now))
            invoice = self._new_invoice(
                subscription, "subscription_create", paid=True, looks_back=instant
            )
            subscription["latest_invoice"] = invoice["id"]
            if subscription["status"] == "trialing":
                invoice.update(total=0, amount_due=0, amount_paid=0)
            if session.get("discounts"):
                # A coupon "once" takes its part off the first invoice only.
                off = invoice["total"] - session["amount_total"]
                invoice.update(
                    total=session["amount_total"],
                    amount_due=session["amount_total"],
                    amount_paid=session["amount_total"],
                    total_discount_amounts=[{"amount": off, "discount": "di_checkout"}],
                )

        session.update(
            status="complete",
            payment_status="paid",
            customer=customer_id,
            customer_details={"email": customer["email"], "name": customer["name"]},
            subscription=subscription["id"] if subscription else None,
            invoice=invoice["id"] if invoice else None,
            url=None,
        )
        events.append(self.make_event("checkout.session.completed", session))
        if subscription is not None and invoice is not None:
            events.append(self.make_event("customer.subscription.created", subscription))
            events.append(self.make_event("invoice.paid", invoice))
        await self._deliver(events)
        return events

    async def expire_checkout(self, session_id: str) -> list[JSON]:
        """The session times out unpaid (or is expired)."""
        session = self._get(self.checkout_sessions, session_id, "checkout.session")
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
        events = [self._expire(session)]
        await self._deliver(events)
        return events

    async def fail_renewal(self, subscription_id: str) -> list[JSON]:
        """The next period's charge is declined: the period advances, status past_due."""
        subscription = self._live_subscription(subscription_id)
        before = copy.deepcopy(subscription)
        previous_period = self._advance_period(subscription)
        invoice = self._new_invoice(
            subscription, "subscription_cycle", paid=False, looks_back=previous_period
        )
        subscription.update(status="past_due", latest_invoice=invoice["id"])
        events = [
            self.make_event("invoice.payment_failed", invoice),
            self._subscription_updated(subscription, before),
        ]
        await self._deliver(events)
        return events

    async def pay_renewal(self, subscription_id: str) -> list[JSON]:
        """The renewal is paid: a failed invoice is recovered, or the next period is charged."""
        subscription = self._live_subscription(subscription_id)
        before = copy.deepcopy(subscription)
        open_invoice = self.invoices.get(subscription["latest_invoice"] or "")
        if open_invoice is not None and open_invoice["status"] == "open":
            invoice = open_invoice
            self._mark_paid(invoice)
        else:
            previous_period = self._advance_period(subscription)
            invoice = self._new_invoice(
                subscription, "subscription_cycle", paid=True, looks_back=previous_period
            )
        subscription.update(status="active", latest_invoice=invoice["id"])
        events = [
            self.make_event("invoice.paid", invoice),
            self._subscription_updated(subscription, before),
        ]
        await self._deliver(events)
        return events

    async def cancel_at_period_end(self, subscription_id: str) -> list[JSON]:
        """The customer cancels in the portal: access runs to the end of the paid period."""
        subscription = self._live_subscription(subscription_id)
        before = copy.deepcopy(subscription)
        self._set_cancel_at_period_end(subscription, True)
        events = [self._subscription_updated(subscription, before)]
        await self._deliver(events)
        return events

    async def end_subscription(self, subscription_id: str) -> list[JSON]:
        """The subscription ends now (period over after cancelling, or dunning gave up)."""
        subscription = self._live_subscription(subscription_id)
        events = [self._end(subscription)]
        await self._deliver(events)
        return events
