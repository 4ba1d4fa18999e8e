"""What each seat pays: how (Stripe, Stars, a trial, a code, a gift, comped by the coach) and
what it brings in a month, for /seats and the dashboard.

Nothing here is stored twice: the way a seat is paid is read from what made it (its Stripe
subscription and that subscription's status, its Stars subscription, the access code that
opened it), so it follows every change (a gift seat that subscribes, a free month that ends).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.models import (
    SEATED,
    AccessCode,
    CodeKind,
    Group,
    Member,
    Seat,
    SeatStatus,
    StarsSubscription,
)
from core.pricing import Price

# A month-off code's free month: the first period (a calendar month) after it was used.
_FREE_MONTH = timedelta(days=32)


class Method(StrEnum):
    STRIPE = "Stripe"
    TRIAL = "trial"  # a Stripe subscription Stripe says is trialing
    STARS = "Stars"
    CODE = "code"  # the coach's access code: a free seat, or a free first month
    GIFT = "gift"
    COMPED = "comped"  # /comp


def seat_method(
    seat: Seat,
    *,
    paid_in_stars: bool,
    code: AccessCode | None,
    now: datetime,
) -> Method:
    """How a seated seat is paid for right now."""
    kind = code.kind if code is not None else None
    if kind == CodeKind.GIFT and seat.status == SeatStatus.COMPED:
        return Method.GIFT  # even once its member subscribed: the gift pays until it ends
    if seat.stripe_subscription_id and seat.status != SeatStatus.COMPED:
        # Any trial Stripe runs (a group's free trial, a gift's "Stay on") shows here.
        if seat.stripe_status == "trialing":
            return Method.TRIAL
        if kind == CodeKind.MONTH_OFF and _in_free_month(seat, code, now):
            return Method.CODE
        return Method.STRIPE
    if paid_in_stars:
        return Method.STARS
    return Method.CODE if kind == CodeKind.COMP else Method.COMPED


def _in_free_month(seat: Seat, code: AccessCode | None, now: datetime) -> bool:
    used = code.redeemed_at if code is not None else None
    if used is None:
        return True  # paid, and the code not yet marked: the free month has just begun
    period_end = seat.current_period_end or now
    return period_end <= used + _FREE_MONTH


@dataclass(frozen=True)
class SeatPays:
    """One seat, how it is paid and what it brings in a month."""

    member: Member
    seat: Seat
    method: Method
    cents: int  # a month, in the smallest unit of `currency`
    currency: str  # the group's, or that of the price the seat was sold at
    stars: int  # a month (Telegram's 30 days), in Stars


@dataclass(frozen=True)
class GroupIncome:
    """Every seated seat of one group with what it pays, and the totals."""

    price: Price
    seats: list[SeatPays]

    @property
    def cents(self) -> int:
        """What the seats bring in a month in the group's currency."""
        return self.by_currency().get(self.price.currency, 0)

    @property
    def stars(self) -> int:
        return sum(paid.stars for paid in self.seats)

    def by_currency(self) -> dict[str, int]:
        """Money a month by currency, the group's first (seats sold before its price changed
        to another currency keep theirs)."""
        totals = {self.price.currency: 0}
        for paid in self.seats:
            totals[paid.currency] = totals.get(paid.currency, 0) + paid.cents
        return {currency: cents for currency, cents in totals.items() if cents}

    @property
    def total(self) -> str:
        """ "£62", "£62 and ⭐ 500", "nothing yet"."""
        parts = [self._money(cents, currency) for currency, cents in self.by_currency().items()]
        if self.stars:
            parts.append(f"⭐ {self.stars}")
        return " and ".join(parts) or "nothing yet"

    def brings(self, paid: SeatPays) -> str:
        """What one seat brings in a month: "£31", "⭐ 500", "nothing"."""
        if paid.stars:
            return f"⭐ {paid.stars}"
        return self._money(paid.cents, paid.currency) if paid.cents else "nothing"

    def _money(self, cents: int, currency: str) -> str:
        return replace(self.price, currency=currency).money(cents)


async def what_seats_pay(
    session: AsyncSession, group: Group, price: Price, now: datetime
) -> GroupIncome:
    """Each seated member of the group, how their seat is paid and what it brings in a
    month (a Stripe seat at what its subscription bills, else at the group's price)."""
    rows = (
        await session.exec(
            select(Seat, Member)
            .join(Member, col(Member.id) == col(Seat.member_id))
            .where(col(Seat.group_id) == group.id)
            .where(col(Seat.status).in_(SEATED))
            .order_by(col(Seat.id))
        )
    ).all()
    seat_ids = [seat.id for seat, _ in rows]
    codes: dict[int | None, AccessCode] = {
        code.redeemed_seat_id: code
        for code in (
            await session.exec(
                select(AccessCode).where(col(AccessCode.redeemed_seat_id).in_(seat_ids))
            )
        ).all()
    }
    stars: dict[int | None, StarsSubscription] = {
        subscription.seat_id: subscription
        for subscription in (
            await session.exec(
                select(StarsSubscription).where(col(StarsSubscription.seat_id).in_(seat_ids))
            )
        ).all()
    }
    paying = []
    for seat, member in rows:
        in_stars = stars.get(seat.id)
        method = seat_method(
            seat, paid_in_stars=in_stars is not None, code=codes.get(seat.id), now=now
        )
        # A seat whose payment failed brings in nothing until Stripe's retry goes through.
        paid = method == Method.STRIPE and seat.status == SeatStatus.ACTIVE
        cents, currency = _billed(seat, price) if paid else (0, price.currency)
        paying.append(
            SeatPays(
                member=member,
                seat=seat,
                method=method,
                cents=cents,
                currency=currency,
                stars=in_stars.amount if method == Method.STARS and in_stars else 0,
            )
        )
    return GroupIncome(price=price, seats=paying)


def _billed(seat: Seat, price: Price) -> tuple[int, str]:
    """What a Stripe seat's subscription bills a month, as Stripe last said; the group's
    price for a seat not heard of since it was stored."""
    if seat.billed_cents is None or seat.billed_currency is None:
        return price.per_month_cents, price.currency
    return seat.billed_cents, seat.billed_currency
