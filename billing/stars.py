"""Seats paid in Telegram Stars: the same seats, waitlist and goodbyes as Stripe's.

/join holds a seat as ever and, when the coach set `STARS_PER_MONTH`, offers a Stars
subscription beside Checkout (an invoice link whose payload names the seat). Telegram asks
the bot before it takes the Stars (pre-checkout: the seat must still be this person's to
pay for); each `successful_payment` (the first and every 30-day renewal) moves the seat's
end to the subscription's expiry. Telegram says nothing when a member cancels or can't pay:
a seat whose expiry passes (with an hour's margin for the renewal to arrive) ends with the
same kind goodbye as a Stripe seat. The coach can refund the last payment, which ends the
seat at once. The nightly reconcile reads Telegram's transaction list.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import notices, seats
from billing.lifecycle import Notice
from billing.membership import Membership
from billing.ports import StarPayment, StarsPayments
from core.models import (
    Group,
    Member,
    Seat,
    SeatStatus,
    StarsPayment,
    StarsSubscription,
)

log = logging.getLogger(__name__)

_PAYLOAD = re.compile(r"^seat:(\d+):(\d+)$")
# Telegram renews at the expiry; its successful_payment may take a moment to arrive.
RENEWAL_MARGIN = timedelta(hours=1)
PERIOD = timedelta(days=30)
# Seats that ended because nobody paid in time: a payment that comes later wins over the clock.


def invoice_payload(seat: Seat, member: Member) -> str:
    return f"seat:{seat.id}:{member.telegram_id}"


def read_payload(payload: str) -> tuple[int, int] | None:
    """(seat id, telegram id) from an invoice payload; None for anything else."""
    found = _PAYLOAD.match(payload)
    return (int(found[1]), int(found[2])) if found else None


@dataclass(frozen=True)
class PaymentIn:
    """A successful_payment as the handler read it."""

    charge_id: str
    payload: str
    amount: int
    currency: str
    expires_at: datetime | None
    first: bool


async def refusal_before_payment(
    session: AsyncSession,
    *,
    user_id: int,
    payload: str,
    currency: str,
    amount: int,
    expected: int,
    now: datetime,
) -> str | None:
    """Whether Telegram may take the Stars: None for yes, else what to tell the person."""
    parsed = read_payload(payload)
    if parsed is None or parsed[1] != user_id or currency != "XTR" or amount != expected:
        return "This invoice isn't valid any more. Send /join for a fresh one."
    seat = await session.get(Seat, parsed[0])
    if seat is None:
        return "This invoice isn't valid any more. Send /join for a fresh one."
    if seat.status in (SeatStatus.ACTIVE, SeatStatus.COMPED, SeatStatus.PAST_DUE):
        return "You already have this seat, so there is nothing to pay. /status shows it."
    if seat.status == SeatStatus.ENDED:
        group = await session.get(Group, seat.group_id)
        assert group is not None
        room = (await seats.count_seats(session, group, now)).free > 0
        if seat.end_reason not in seats.LAPSED or not room:
            return "The seat this invoice was for has gone. Send /join to see what's open."
    return None


async def payment_received(
    session: AsyncSession,
    membership: Membership,
    member: Member,
    payment: PaymentIn,
    now: datetime,
) -> Literal["welcome", "renewed", "duplicate", "unknown"]:
    """A first payment or a renewal: the seat is active until the subscription's expiry."""
    known = await session.exec(
        select(StarsPayment).where(col(StarsPayment.charge_id) == payment.charge_id)
    )
    if known.first() is not None:
        return "duplicate"
    parsed = read_payload(payload=payment.payload)
    seat = await session.get(Seat, parsed[0], with_for_update=True) if parsed else None
    if seat is None or parsed is None or parsed[1] != member.telegram_id:
        log.warning("a Stars payment names no seat of this member (charge kept)")
        return "unknown"
    expires = payment.expires_at or now + PERIOD
    subscription = await _subscription(session, seat, now)
    subscription.charge_id = payment.charge_id
    subscription.amount = payment.amount
    subscription.expires_at = max(expires, subscription.expires_at or expires)
    subscription.payments += 1
    subscription.updated_at = now
    session.add(subscription)
    await session.flush()
    assert subscription.id is not None
    session.add(
        StarsPayment(
            charge_id=payment.charge_id,
            subscription_id=subscription.id,
            amount=payment.amount,
            expires_at=payment.expires_at,
            paid_at=now,
        )
    )
    seat.current_period_end = subscription.expires_at
    seat.updated_at = now
    if seat.status == SeatStatus.ACTIVE:
        session.add(seat)
        return "renewed"
    if seat.status == SeatStatus.ENDED:
        log.warning("seat %s paid in Stars just after its hold ended; reopening it", seat.id)
        seat.end_reason = seat.ended_at = None
    await _welcome(session, membership, seat, member, now)
    return "welcome"


async def _welcome(
    session: AsyncSession, membership: Membership, seat: Seat, member: Member, now: datetime
) -> None:
    seat.status = SeatStatus.ACTIVE
    seat.hold_expires_at = None
    session.add(seat)
    group = await session.get(Group, seat.group_id)
    assert group is not None
    await seats.mark_seated(session, seat, now)
    await notices.queue_notice(
        session,
        membership.templates,
        member=member,
        group=group,
        seat=seat,
        notice=Notice.WELCOME,
        grace=membership.rules.grace,
        now=now,
    )


async def _subscription(session: AsyncSession, seat: Seat, now: datetime) -> StarsSubscription:
    found = (
        await session.exec(
            select(StarsSubscription).where(col(StarsSubscription.seat_id) == seat.id)
        )
    ).first()
    if found is not None:
        return found
    assert seat.id is not None
    return StarsSubscription(
        seat_id=seat.id, member_id=seat.member_id, created_at=now, updated_at=now
    )


async def subscription_of(session: AsyncSession, seat: Seat) -> StarsSubscription | None:
    """The Stars subscription paying for the seat, if it is paid in Stars."""
    result = await session.exec(
        select(StarsSubscription).where(col(StarsSubscription.seat_id) == seat.id)
    )
    return result.first()


async def end_unrenewed(session: AsyncSession, membership: Membership, now: datetime) -> int:
    """Every minute: a Stars seat whose period ran out unrenewed ends, with the goodbye."""
    due = await session.exec(
        select(Seat, StarsSubscription)
        .join(StarsSubscription, col(StarsSubscription.seat_id) == col(Seat.id))
        .where(col(Seat.status) == SeatStatus.ACTIVE)
        .where(col(StarsSubscription.expires_at) <= now - RENEWAL_MARGIN)
    )
    ended = 0
    for seat, _ in due.all():
        await _end(session, membership, seat, reason="stars_expired", template="goodbye", now=now)
        ended += 1
    return ended


async def _end(
    session: AsyncSession,
    membership: Membership,
    seat: Seat,
    *,
    reason: str,
    template: str,
    now: datetime,
) -> None:
    member = await session.get(Member, seat.member_id)
    group = await session.get(Group, seat.group_id)
    assert member is not None and group is not None
    await membership.end_and_remove(session, seat, member, group, reason, now)
    await notices.queue_seat_ended(
        session,
        membership.templates,
        member=member,
        group=group,
        seat=seat,
        template=template,
        now=now,
    )
    await membership.tell_coaches(session, "ended", f"{seat.id}:{reason}", member, group, now)
    await membership.offer_seats(session, group, now)


async def refund_last_payment(
    session: AsyncSession,
    membership: Membership,
    stars: StarsPayments,
    member: Member,
    now: datetime,
) -> Literal["refunded", "not_stars"]:
    """The coach's refund: the member's last Stars payment goes back, the renewal stops and
    the seat ends now (the member is told kindly)."""
    assert member.id is not None
    for seat in await seats.seats_of(session, member.id):
        subscription = await subscription_of(session, seat)
        if subscription is None or subscription.charge_id is None:
            continue
        await stars.stop_renewal(member.telegram_id, subscription.charge_id)
        await stars.refund(member.telegram_id, subscription.charge_id)
        subscription.refunded_at = now
        subscription.updated_at = now
        session.add(subscription)
        payment = (
            await session.exec(
                select(StarsPayment).where(col(StarsPayment.charge_id) == subscription.charge_id)
            )
        ).first()
        if payment is not None:
            payment.refunded_at = now
            session.add(payment)
        await _end(
            session, membership, seat, reason="refunded", template="stars_refunded", now=now
        )
        return "refunded"
    return "not_stars"


@dataclass(frozen=True)
class StarsDifference:
    """One place where the Stars seats and Telegram's transactions disagreed."""

    charge_id: str
    who: str
    what: str
    fixed: bool


async def reconcile(
    session: AsyncSession,
    membership: Membership,
    told: tuple[list[StarPayment], set[str]],
    now: datetime,
    *,
    apply: bool,
) -> list[StarsDifference]:
    """Telegram's transaction list (`told`: every payment and the charges refunded, asked
    before the transaction opened) against the Stars seats: a payment we never heard of is
    applied (the seat extended, or let in), a refund done elsewhere is noted, and a live
    Stars seat whose last payment Telegram doesn't list is reported."""
    drifts: list[StarsDifference] = []
    listed, refunded = told
    ours = {row.charge_id: row for row in (await session.exec(select(StarsPayment))).all()}
    for payment in listed:
        if payment.charge_id in ours or payment.charge_id in refunded:
            continue
        parsed = read_payload(payment.payload)
        member = (
            await session.exec(select(Member).where(col(Member.telegram_id) == payment.user_id))
        ).first()
        who = f"{member.first_name} (#{member.id})" if member else f"user {payment.user_id}"
        if parsed is None or member is None:
            drifts.append(
                StarsDifference(payment.charge_id, who, "a payment we can't place", False)
            )
            continue
        placed = True
        if apply:
            done = await payment_received(session, membership, member, _as_payment(payment), now)
            placed = done != "unknown"
        what = "a payment we missed" if placed else "a payment we can't place"
        drifts.append(StarsDifference(payment.charge_id, who, what, apply and placed))
    for charge_id in refunded:
        row = ours.get(charge_id)
        if row is not None and row.refunded_at is None:
            if apply:
                row.refunded_at = now
                session.add(row)
            who = await _who(session, row)
            drifts.append(StarsDifference(charge_id, who, "refunded in Telegram", apply))
    listed_ids = {payment.charge_id for payment in listed}
    live = await session.exec(
        select(Seat, StarsSubscription)
        .join(StarsSubscription, col(StarsSubscription.seat_id) == col(Seat.id))
        .where(col(Seat.status) == SeatStatus.ACTIVE)
    )
    for seat, subscription in live.all():
        if subscription.charge_id not in listed_ids:
            member = await session.get(Member, seat.member_id)
            who = f"{member.first_name} (#{member.id})" if member else f"seat {seat.id}"
            drifts.append(
                StarsDifference(
                    subscription.charge_id or "no payment",
                    who,
                    "active, but Telegram lists no such payment",
                    False,
                )
            )
    return drifts


async def _who(session: AsyncSession, payment: StarsPayment) -> str:
    subscription = await session.get(StarsSubscription, payment.subscription_id)
    member = await session.get(Member, subscription.member_id) if subscription else None
    return f"{member.first_name} (#{member.id})" if member else "a member"


def _as_payment(payment: StarPayment) -> PaymentIn:
    period = timedelta(seconds=payment.subscription_period or int(PERIOD.total_seconds()))
    return PaymentIn(
        charge_id=payment.charge_id,
        payload=payment.payload,
        amount=payment.amount,
        currency="XTR",
        expires_at=payment.paid_at + period,
        first=False,
    )
