"""The few Stripe calls the program makes, over stripe-python's native async client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import stripe

from billing.lifecycle import SubscriptionState
from billing.ports import CheckoutSession

PRICE_LOOKUP_KEY = "between_monthly_31"
PRICE_CENTS = 3100


class StripeGateway:
    """Checkout, the customer portal, subscriptions and the price (the `Payments` port)."""

    def __init__(self, api_key: str, api_base: str) -> None:
        self._http = stripe.AIOHTTPClient()
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
    ) -> CheckoutSession:
        """A subscription Checkout Session for one held seat (the same seat, the same session)."""
        metadata = {
            "seat_id": str(seat_id),
            "member_id": str(member_id),
            "group_id": str(group_id),
            "telegram_id": str(telegram_id),
        }
        session = await self._client.v1.checkout.sessions.create_async(
            params={
                "mode": "subscription",
                "line_items": [{"price": price_id, "quantity": 1}],
                "client_reference_id": f"seat-{seat_id}",
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
                "success_url": success_url,
                "cancel_url": cancel_url,
                "expires_at": int(expires_at.timestamp()),
            },
            options={"idempotency_key": f"between-checkout-seat-{seat_id}"},
        )
        assert session.url is not None
        return CheckoutSession(
            id=session.id,
            url=session.url,
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        )

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

    async def cancel(self, subscription_id: str) -> None:
        """End a subscription now (a member removed by the coach or after the grace period)."""
        try:
            await self._client.v1.subscriptions.cancel_async(subscription_id)
        except stripe.InvalidRequestError as error:
            # Cancelling one that has ended already is what we wanted anyway.
            if "canceled" not in str(error).lower():
                raise

    async def ensure_price(self) -> tuple[str, bool]:
        """The $31/month price, created once under its lookup key; (price id, created now)."""
        found = await self._client.v1.prices.list_async(
            params={"lookup_keys": [PRICE_LOOKUP_KEY], "active": True, "limit": 1}
        )
        if found.data:
            return found.data[0].id, False
        product = await self._client.v1.products.create_async(
            params={"name": "Between: the $1/day coaching group"},
            options={"idempotency_key": "between-product"},
        )
        price = await self._client.v1.prices.create_async(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": PRICE_CENTS,
                "recurring": {"interval": "month"},
                "lookup_key": PRICE_LOOKUP_KEY,
                "nickname": "$31 a month",
            },
            options={"idempotency_key": "between-price-monthly-31"},
        )
        return price.id, True


def _state(resource: Any) -> SubscriptionState:
    found = resource.to_dict()
    # Newer API versions keep the period on the subscription's items, older ones on itself.
    period_end = None
    items = found.get("items")
    if items and items.get("data"):
        period_end = items["data"][0].get("current_period_end")
    period_end = period_end or found.get("current_period_end")
    return SubscriptionState(
        id=found["id"],
        status=found["status"],
        cancel_at_period_end=bool(found.get("cancel_at_period_end")),
        current_period_end=datetime.fromtimestamp(period_end, UTC) if period_end else None,
        customer_id=str(found.get("customer") or ""),
        metadata={str(k): str(v) for k, v in (found.get("metadata") or {}).items()},
    )
