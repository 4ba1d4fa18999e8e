"""The membership rules as pure functions: what a seat becomes, and who is told what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.models import SeatStatus
from core.pricing import Price


@dataclass(frozen=True)
class SubscriptionState:
    """What the payment provider says about a subscription right now."""

    id: str
    status: str
    cancel_at_period_end: bool
    current_period_end: datetime | None
    customer_id: str
    metadata: dict[str, str]
    # What it bills a period (its item's price × quantity, before discounts), when known.
    price: Price | None = None
    # When its free trial ends (Stripe's trial_end), if it has or had one.
    trial_end: datetime | None = None
    # Whether a renewal has a card to be charged to (asked only where it matters).
    card_saved: bool | None = None


class Notice(StrEnum):
    """A private message a member gets because their membership changed."""

    WELCOME = "welcome_paid"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_RECOVERED = "payment_recovered"
    CANCEL_SCHEDULED = "cancel_scheduled"
    CANCEL_UNDONE = "cancel_undone"
    GOODBYE = "goodbye"
    TRIAL_ENDING = "trial_ending"


# Stripe's statuses as a seat sees them; the others (incomplete, paused) change nothing.
_SEAT_FOR_STRIPE = {
    "active": SeatStatus.ACTIVE,
    "trialing": SeatStatus.ACTIVE,
    "past_due": SeatStatus.PAST_DUE,
    "unpaid": SeatStatus.PAST_DUE,
    "canceled": SeatStatus.ENDED,
    "incomplete_expired": SeatStatus.ENDED,
}


@dataclass(frozen=True)
class SeatView:
    """The part of a seat the rules look at."""

    status: SeatStatus
    cancel_at_period_end: bool = False
    past_due_since: datetime | None = None


@dataclass(frozen=True)
class SeatChange:
    """The seat after following Stripe, and what that means for the member."""

    status: SeatStatus
    cancel_at_period_end: bool
    past_due_since: datetime | None
    notices: tuple[Notice, ...] = ()
    end_reason: str | None = None


def follow_subscription(
    seat: SeatView, subscription: SubscriptionState, now: datetime
) -> SeatChange:
    """Bring a seat in line with its subscription's current state.

    Only a change of state tells anyone anything, so the same state applied twice (a replayed
    or late event) is silent, and an ended seat never comes back to life.
    """
    unchanged = SeatChange(seat.status, seat.cancel_at_period_end, seat.past_due_since)
    if seat.status in (SeatStatus.ENDED, SeatStatus.COMPED):
        return unchanged
    target = _SEAT_FOR_STRIPE.get(subscription.status, seat.status)
    if target == SeatStatus.ENDED:
        return SeatChange(
            SeatStatus.ENDED,
            subscription.cancel_at_period_end,
            seat.past_due_since,
            notices=(Notice.GOODBYE,),
            end_reason="canceled",
        )
    notices: list[Notice] = []
    past_due_since = seat.past_due_since
    if seat.status == SeatStatus.HELD and target in (SeatStatus.ACTIVE, SeatStatus.PAST_DUE):
        notices.append(Notice.WELCOME)
    if target == SeatStatus.PAST_DUE and seat.status != SeatStatus.PAST_DUE:
        notices.append(Notice.PAYMENT_FAILED)
        past_due_since = now
    if target == SeatStatus.ACTIVE and seat.status == SeatStatus.PAST_DUE:
        notices.append(Notice.PAYMENT_RECOVERED)
        past_due_since = None
    if subscription.cancel_at_period_end and not seat.cancel_at_period_end:
        notices.append(Notice.CANCEL_SCHEDULED)
    if not subscription.cancel_at_period_end and seat.cancel_at_period_end:
        notices.append(Notice.CANCEL_UNDONE)
    return SeatChange(target, subscription.cancel_at_period_end, past_due_since, tuple(notices))


def grace_is_over(past_due_since: datetime | None, grace: timedelta, now: datetime) -> bool:
    """A failed payment still not fixed after the grace period costs the seat."""
    return past_due_since is not None and now >= past_due_since + grace


def hold_until(
    now: datetime, *, checkout_minutes: int, offered_until: datetime | None
) -> datetime:
    """How long a seat is held for a checkout: the checkout's life, or the waitlist offer's."""
    checkout_ends = now + timedelta(minutes=checkout_minutes)
    return max(checkout_ends, offered_until) if offered_until else checkout_ends
