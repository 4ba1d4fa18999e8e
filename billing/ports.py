"""What membership needs from the outside world, as small ports: payments (Stripe, Telegram
Stars). The app plugs the real gateways in; nothing here does I/O. (The group's door, taking
someone out or revoking a link, is an outbox row made after the commit: core.outbox.DoorAction.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from billing.lifecycle import SubscriptionState


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    expires_at: datetime


class Payments(Protocol):
    """Checkout, the customer portal and subscriptions (StripeGateway)."""

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
    ) -> CheckoutSession: ...

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
        """A one-time payment for a gift of `months` at the monthly price."""
        ...

    async def checkout_session(self, session_id: str) -> dict[str, Any]:
        """A Checkout Session as Stripe has it now (for the reconcile of gifts)."""
        ...

    async def first_month_coupon(self) -> str:
        """The coupon id that takes the first month off (made once)."""
        ...

    async def portal_url(self, customer_id: str, return_url: str) -> str: ...

    async def subscription(self, subscription_id: str) -> SubscriptionState: ...

    async def subscriptions(self) -> list[SubscriptionState]: ...

    async def card_saved(self, subscription_id: str) -> bool:
        """Whether the subscription has a card to charge when its trial ends."""
        ...

    async def cancel(self, subscription_id: str) -> None: ...


@dataclass(frozen=True)
class StarPayment:
    """One incoming Stars payment in the bot's transaction list (getStarTransactions)."""

    charge_id: str
    user_id: int
    amount: int
    paid_at: datetime
    payload: str
    subscription_period: int | None


class StarsPayments(Protocol):
    """Invoices, refunds and subscriptions in Telegram Stars (the bot's StarsGateway)."""

    async def invoice_link(self, *, title: str, description: str, payload: str, stars: int) -> str:
        """A link to a monthly (30-day) Stars subscription invoice."""
        ...

    async def refund(self, user_id: int, charge_id: str) -> None: ...

    async def stop_renewal(self, user_id: int, charge_id: str) -> None:
        """No further period: the subscription runs to the end of the one paid."""
        ...

    async def payments(self) -> tuple[list[StarPayment], set[str]]:
        """Every incoming payment, and the charge ids refunded since."""
        ...


class DoorRefused(Exception):
    """Telegram refused an action (no right, the person or the charge is gone): retrying the
    same action will not help. A failure that may pass (network, 5xx) is not this."""
