"""What customers and Stripe itself do, which no API call can ask for.

A customer pays on the Checkout page (or lets it expire; with a promotion code, when the
session takes them), saves a card, a renewal charge goes through or is declined, the customer
cancels in the billing portal, a subscription ends, a trial comes near its end and ends. Each
method changes the account as Stripe would, delivers the events, and returns them. Tests call
these, and so do the hosted pages.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from sandbox.stripe.lifecycle import LifecycleMixin
from sandbox.stripe.objects import JSON, from_unix_time, new_id, unix_time

# Stripe sends customer.subscription.trial_will_end three days before a trial ends (the
# webhook events reference and "Configure free trials").
TRIAL_WILL_END_NOTICE = timedelta(days=3)


class SimulationsMixin(LifecycleMixin):
    """Paying, renewing, failing to renew, cancelling, ending."""

    # -----------------------------------------------------------------------------------
    # What customers and Stripe do

    async def complete_checkout(
        self, session_id: str, *, promotion_code: str | None = None
    ) -> list[JSON]:
        """The customer pays: customer, active subscription and paid first invoice appear.

        `promotion_code`: what the customer typed into the page's code field (only there when
        the session allows promotion codes); an unknown or used-up code is refused
        (ValueError) and nothing is paid. A card is taken unless the session collects one
        only if required and nothing is due now (a trial).
        """
        session = self._checkout_to_complete(session_id)
        if promotion_code is not None:
            self._apply_promotion_code(session, promotion_code)
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
            due_now = invoice["total"] if not session.get("discounts") else session["amount_total"]
            if session["payment_method_collection"] == "always" or due_now > 0:
                subscription["default_payment_method"] = new_id("pm")
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

    def _apply_promotion_code(self, session: JSON, typed: str) -> None:
        if not session.get("allow_promotion_codes"):
            raise ValueError(f"checkout session {session['id']} takes no promotion codes")
        now = unix_time(self._now())
        found = next(
            (
                code
                for code in self.promotion_codes.values()
                if code["code"].lower() == typed.strip().lower()
                and code["active"]
                and (code["expires_at"] is None or code["expires_at"] > now)
                and (
                    code["max_redemptions"] is None
                    or code["times_redeemed"] < code["max_redemptions"]
                )
            ),
            None,
        )
        if found is None:
            raise ValueError(f"This code is invalid: {typed!r}")
        coupon = self.coupons[found["promotion"]["coupon"]]
        total = session["amount_subtotal"]
        if coupon["percent_off"] is not None:
            total -= round(total * coupon["percent_off"] / 100)
        else:
            total = max(0, total - int(coupon["amount_off"]))
        found["times_redeemed"] += 1
        session.update(
            amount_total=total,
            discounts=[{"coupon": coupon["id"], "promotion_code": found["id"]}],
        )

    async def add_payment_method(self, customer_id: str) -> list[JSON]:
        """The customer saves a card in the billing portal: it becomes the one their
        subscriptions are charged to (invoice_settings.default_payment_method)."""
        customer = self._get(self.customers, customer_id, "customer")
        before = copy.deepcopy(customer)
        card = new_id("pm")
        customer["invoice_settings"]["default_payment_method"] = card
        events = [
            self.make_event(
                "payment_method.attached",
                {"id": card, "object": "payment_method", "customer": customer_id, "type": "card"},
            ),
            self.make_event(
                "customer.updated",
                customer,
                previous_attributes={"invoice_settings": before["invoice_settings"]},
            ),
        ]
        await self._deliver(events)
        return events

    async def pass_time(self) -> list[JSON]:
        """What Stripe does by itself when its clock reaches the moment: three days before a
        trial ends, customer.subscription.trial_will_end (once per subscription; at once for a
        trial shorter than that); at the trial's end, the first charge to the saved card, or
        without a card what trial_settings.end_behavior.missing_payment_method says (cancel:
        the subscription ends; pause: it is paused; create_invoice: an invoice nobody can
        pay, past_due)."""
        now = self._now()
        events: list[JSON] = []
        for subscription in list(self.subscriptions.values()):
            if subscription["status"] != "trialing" or subscription["trial_end"] is None:
                continue
            trial_end = from_unix_time(subscription["trial_end"])
            if (
                now >= trial_end - TRIAL_WILL_END_NOTICE
                and subscription["id"] not in self._trial_will_end_sent
            ):
                self._trial_will_end_sent.add(subscription["id"])
                events.append(
                    self.make_event("customer.subscription.trial_will_end", subscription)
                )
            if now >= trial_end:
                events.extend(self._end_trial(subscription))
        await self._deliver(events)
        return events

    def _end_trial(self, subscription: JSON) -> list[JSON]:
        before = copy.deepcopy(subscription)
        if subscription["cancel_at_period_end"]:
            return [self._end(subscription)]  # cancelled in the trial: it ends, uncharged
        if self._payment_method(subscription) is not None:
            previous_period = self._advance_period(subscription)
            invoice = self._new_invoice(
                subscription, "subscription_cycle", paid=True, looks_back=previous_period
            )
            subscription.update(status="active", latest_invoice=invoice["id"])
            return [
                self.make_event("invoice.paid", invoice),
                self._subscription_updated(subscription, before),
            ]
        behavior = subscription["trial_settings"]["end_behavior"]["missing_payment_method"]
        if behavior == "cancel":
            return [self._end(subscription)]
        if behavior == "pause":
            subscription["status"] = "paused"
            return [self._subscription_updated(subscription, before)]
        previous_period = self._advance_period(subscription)
        invoice = self._new_invoice(
            subscription, "subscription_cycle", paid=False, looks_back=previous_period
        )
        subscription.update(status="past_due", latest_invoice=invoice["id"])
        return [
            self.make_event("invoice.payment_failed", invoice),
            self._subscription_updated(subscription, before),
        ]

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
