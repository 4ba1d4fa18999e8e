"""The few Stripe calls the program makes, over stripe-python's native async client.

stripe-python 16 pins API version 2026-10-28.endive, so every answer has that shape: a
subscription's period is on its items, an invoice names its subscription under `parent`.
Webhook events follow the *account's* version instead, which billing.membership allows for.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

import stripe
from stripe.params import CouponCreateParams, PriceCreateParams, ProductCreateParams
from stripe.params.checkout import SessionCreateParams

from billing.lifecycle import SubscriptionState
from billing.ports import CheckoutSession
from core.pricing import INTERVALS, Price

PRICE_LOOKUP_KEY = "between_monthly_31"
PRICE_CENTS = 3100
PRICE_CURRENCY = "usd"
# Each call waits this long at most (stripe-python's default is 80 s, three times over with its
# retries), so a hung Stripe costs a /join seconds, not minutes.
TIMEOUT_SECONDS = 20
ENDED = ("canceled", "incomplete_expired")
MONTH_OFF_COUPON = "between_first_month_free"


def idempotency_key(kind: str, params: dict[str, Any]) -> str:
    """A key made from the request itself: the same request (a retry after a lost answer)
    replays Stripe's first answer, and any other request gets a key of its own, so Stripe can
    never answer idempotency_error (a key reused with other parameters)."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    return f"between-{kind}-{digest[:48]}"


class StripeGateway:
    """Checkout, the customer portal, subscriptions and the price (the `Payments` port)."""

    def __init__(self, api_key: str, api_base: str) -> None:
        self._http = stripe.AIOHTTPClient(timeout=TIMEOUT_SECONDS)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            http_client=self._http,
            max_network_retries=2,
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_checkout(
        self,
        *,
        price_id: str,
        seat_id: int,
        member_id: int,
        group_id: int,
        telegram_id: int,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
        coupon: str | None = None,
        trial_end: datetime | None = None,
        trial_days: int | None = None,
        promotion_codes: bool = False,
    ) -> CheckoutSession:
        """A subscription Checkout Session for one held seat (with `coupon`: an access
        code's first month off; `trial_days`: the group's free trial, no card asked, ending
        the subscription if none is saved by then; `promotion_codes`: a field for the coach's
        Stripe promotion codes).

        The key is made from the parameters (seat, member, expiry...): sent again after a lost
        answer it brings back the same session, while a new attempt for the same seat (a
        waitlist offer outliving its first session, a seat id seen before a database reset)
        is a new request, as it must be.
        """
        metadata = {
            "seat_id": str(seat_id),
            "member_id": str(member_id),
            "group_id": str(group_id),
            "telegram_id": str(telegram_id),
        }
        params: SessionCreateParams = {
            "mode": "subscription",
            "line_items": [{"price": price_id, "quantity": 1}],
            "client_reference_id": f"seat-{seat_id}",
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": int(expires_at.timestamp()),
        }
        if trial_end is not None:
            # A gift seat moving to a subscription: the first charge when the gift ends.
            params["subscription_data"]["trial_end"] = int(trial_end.timestamp())
        if trial_days:
            # Nothing is due during the trial, so Checkout asks for no card; a trial that
            # ends without one ends the subscription (and the seat, with the goodbye).
            params["subscription_data"]["trial_period_days"] = trial_days
            params["subscription_data"]["trial_settings"] = {
                "end_behavior": {"missing_payment_method": "cancel"}
            }
            params["payment_method_collection"] = "if_required"
        if coupon is not None:
            # Stripe refuses discounts together with allow_promotion_codes.
            params["discounts"] = [{"coupon": coupon}]
        elif promotion_codes:
            params["allow_promotion_codes"] = True
        key = idempotency_key("checkout", dict(params))
        session = await self._client.v1.checkout.sessions.create_async(
            params=params, options={"idempotency_key": key}
        )
        if session.status != "open":  # a replay of one that has been paid or expired since
            session = await self._client.v1.checkout.sessions.create_async(
                params=params, options={"idempotency_key": f"{key}-{secrets.token_hex(4)}"}
            )
        assert session.url is not None
        return CheckoutSession(
            id=session.id,
            url=session.url,
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        )

    async def create_gift_checkout(
        self,
        *,
        price_id: str,
        months: int,
        code_id: int,
        telegram_id: int,
        success_url: str,
        cancel_url: str,
    ) -> CheckoutSession:
        """A one-time payment for `months` of a gift (a code the buyer sends on)."""
        gift_price = await self._gift_price(price_id)
        metadata = {"gift_code_id": str(code_id), "telegram_id": str(telegram_id)}
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [{"price": gift_price, "quantity": months}],
            "client_reference_id": f"gift-{code_id}",
            "metadata": metadata,
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        session = await self._client.v1.checkout.sessions.create_async(
            params=params, options={"idempotency_key": idempotency_key("gift", dict(params))}
        )
        assert session.url is not None
        return CheckoutSession(
            id=session.id,
            url=session.url,
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        )

    async def checkout_session(self, session_id: str) -> dict[str, Any]:
        found = await self._client.v1.checkout.sessions.retrieve_async(session_id)
        return found.to_dict()

    async def _gift_price(self, recurring_price_id: str) -> str:
        """A one-time price of one month at what the recurring price comes to a month, made
        once."""
        recurring = await self._client.v1.prices.retrieve_async(recurring_price_id)
        assert recurring.unit_amount is not None and recurring.recurring is not None
        month = Price(
            recurring.unit_amount,
            recurring.currency,
            recurring.recurring.interval,
            recurring.recurring.interval_count,
        ).per_month_cents
        lookup_key = f"between_gift_{recurring.currency}_{month}"
        found = await self._client.v1.prices.list_async(
            params={"lookup_keys": [lookup_key], "active": True, "limit": 1}
        )
        if found.data:
            return found.data[0].id
        params: PriceCreateParams = {
            "product": str(recurring.product),
            "currency": recurring.currency,
            "unit_amount": month,
            "lookup_key": lookup_key,
            "nickname": "A gift month",
        }
        price = await self._client.v1.prices.create_async(
            params=params, options={"idempotency_key": idempotency_key("price", dict(params))}
        )
        return price.id

    async def first_month_coupon(self) -> str:
        """The coupon of a month-off access code (100% off the first invoice), made once."""
        try:
            return (await self._client.v1.coupons.retrieve_async(MONTH_OFF_COUPON)).id
        except stripe.InvalidRequestError as error:
            if error.code != "resource_missing":
                raise
        params: CouponCreateParams = {
            "id": MONTH_OFF_COUPON,
            "percent_off": 100,
            "duration": "once",
            "name": "Between: first month free",
        }
        try:
            created = await self._client.v1.coupons.create_async(params=params)
        except stripe.InvalidRequestError as error:
            if error.code != "resource_already_exists":  # made meanwhile by another process
                raise
            return MONTH_OFF_COUPON
        return created.id

    async def portal_url(self, customer_id: str, return_url: str) -> str:
        """A one-off link to Stripe's customer portal (card, invoices, cancelling)."""
        session = await self._client.v1.billing_portal.sessions.create_async(
            params={"customer": customer_id, "return_url": return_url}
        )
        return session.url

    async def subscription(self, subscription_id: str) -> SubscriptionState:
        """The subscription's current state (never an event's snapshot, which may be old)."""
        found = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        return _state(found)

    async def subscriptions(self) -> list[SubscriptionState]:
        """Every subscription, in every status (for the nightly reconcile)."""
        page = await self._client.v1.subscriptions.list_async(
            params={"status": "all", "limit": 100}
        )
        return [_state(found) async for found in page.auto_paging_iter()]

    async def card_saved(self, subscription_id: str) -> bool:
        """Whether a renewal has a card to be charged to: the subscription's own, or the
        customer's default (a card saved in the portal during a trial)."""
        found = await self._client.v1.subscriptions.retrieve_async(
            subscription_id, params={"expand": ["customer"]}
        )
        if found.default_payment_method:
            return True
        customer = found.customer
        settings = getattr(customer, "invoice_settings", None)
        return bool(settings and settings.default_payment_method)

    async def cancel(self, subscription_id: str) -> None:
        """End a subscription now (a member removed by the coach or after the grace period).

        One that has ended already is what we wanted: Stripe answers it with 404
        resource_missing (also when stripe-python retries a DELETE whose answer was lost), so
        a 404 is checked against the subscription's state before it counts as done.
        """
        try:
            await self._client.v1.subscriptions.cancel_async(subscription_id)
        except stripe.InvalidRequestError as error:
            if error.code != "resource_missing":
                raise
            try:
                found = await self._client.v1.subscriptions.retrieve_async(subscription_id)
            except stripe.InvalidRequestError as missing:
                if missing.code == "resource_missing":
                    return  # Stripe knows no such subscription: nothing to cancel
                raise
            if found.status not in ENDED:
                raise

    async def check_key(self) -> None:
        """The cheapest authenticated call (the balance), to check the key; raises StripeError."""
        await self._client.v1.balance.retrieve_async()

    async def price(self, price_id: str) -> dict[str, Any]:
        """A price, as Stripe describes it; raises StripeError (404 for an unknown id)."""
        found = await self._client.v1.prices.retrieve_async(price_id)
        return found.to_dict(for_json=True)

    async def webhook_urls(self) -> dict[str, list[str]]:
        """The account's enabled webhook endpoints: url → the event types it gets."""
        page = await self._client.v1.webhook_endpoints.list_async(params={"limit": 100})
        return {
            endpoint.url: list(endpoint.enabled_events)
            async for endpoint in page.auto_paging_iter()
            if endpoint.status == "enabled"
        }

    async def events_since(self, created: datetime, types: list[str]) -> list[dict[str, Any]]:
        """The account's events of `types` made at or after `created`, oldest first, as the
        webhook would have delivered them (GET /v1/events keeps 30 days)."""
        page = await self._client.v1.events.list_async(
            params={"created": {"gte": int(created.timestamp())}, "types": types, "limit": 100}
        )
        newest_first = [event.to_dict(for_json=True) async for event in page.auto_paging_iter()]
        return newest_first[::-1]

    async def ensure_price(self, price: Price | None = None) -> tuple[str, bool]:
        """The recurring price (the default: $31 a month), created once under its lookup key;
        (price id, created now)."""
        price = price or Price(PRICE_CENTS, PRICE_CURRENCY)
        lookup_key = price_lookup_key(price)
        found = await self._client.v1.prices.list_async(
            params={"lookup_keys": [lookup_key], "active": True, "limit": 1}
        )
        if found.data:
            return found.data[0].id, False
        product_params: ProductCreateParams = {"name": "Between: a seat in the coaching group"}
        product = await self._client.v1.products.create_async(
            params=product_params,
            options={"idempotency_key": idempotency_key("product", dict(product_params))},
        )
        price_params: PriceCreateParams = {
            "product": product.id,
            "currency": price.currency,
            "unit_amount": price.cents,
            "recurring": {"interval": price.interval, "interval_count": price.interval_count},
            "lookup_key": lookup_key,
            "nickname": price.recurring,
        }
        created = await self._client.v1.prices.create_async(
            params=price_params,
            options={"idempotency_key": idempotency_key("price", dict(price_params))},
        )
        return created.id, True


def price_lookup_key(price: Price) -> str:
    """The lookup key `between stripe setup` finds its price by when run again (the default
    price keeps the key it always had)."""
    if price == Price(PRICE_CENTS, PRICE_CURRENCY):
        return PRICE_LOOKUP_KEY
    every = "" if price.interval_count == 1 else f"{price.interval_count}"
    return f"between_{every}{price.interval}_{price.currency}_{price.cents}"


def _state(resource: Any) -> SubscriptionState:
    found = resource.to_dict()
    # Endive (our pinned version) keeps the billing period on the subscription's items only.
    period_end = None
    billed = None
    items = found.get("items")
    if items and items.get("data"):
        period_end = items["data"][0].get("current_period_end")
        billed = _billed(items["data"][0])
    return SubscriptionState(
        id=found["id"],
        status=found["status"],
        cancel_at_period_end=bool(found.get("cancel_at_period_end")),
        current_period_end=datetime.fromtimestamp(period_end, UTC) if period_end else None,
        customer_id=str(found.get("customer") or ""),
        trial_end=datetime.fromtimestamp(found["trial_end"], UTC)
        if found.get("trial_end")
        else None,
        metadata={str(k): str(v) for k, v in (found.get("metadata") or {}).items()},
        price=billed,
    )


def _billed(item: dict[str, Any]) -> Price | None:
    """What a subscription item bills a period; None for a price without one amount."""
    price = item.get("price") or {}
    recurring = price.get("recurring") or {}
    amount = price.get("unit_amount")
    if not isinstance(amount, int) or recurring.get("interval") not in INTERVALS:
        return None
    return Price(
        amount * int(item.get("quantity") or 1),
        str(price.get("currency", "")),
        str(recurring["interval"]),
        int(recurring.get("interval_count") or 1),
    )
