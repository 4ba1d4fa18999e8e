"""Gifts: anyone buys a month (or three) for someone else, as a one-time Stripe payment.

`/gift` opens Checkout (mode=payment) for a gift code made at once but working only once
paid; the buyer then gets a link with the code to send on. Redeemed (billing.codes), it gives
a seat like any other (the group's seats and waitlist apply) that ends after its months: the
member hears a few days before, and the end brings the same kind goodbye, unless they
subscribe (`/join` from a gift seat opens Checkout whose first charge waits for the gift's
end: billing.membership).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import codes, notices
from billing.ports import CheckoutSession, Payments
from core.links import BotLinks
from core.localtime import format_local
from core.models import AccessCode, CodeKind, Group, Member, Seat, SeatStatus
from core.outbox import enqueue
from prompts.buttons import STAY_ON
from prompts.render import Templates

if TYPE_CHECKING:  # membership calls gift_paid; only the gift sweep needs a Membership
    from billing.membership import Membership

log = logging.getLogger(__name__)

GIFT_MONTHS = (1, 3)
# How long before a gift seat ends its member is told.
ENDING_NOTICE = timedelta(days=3)


async def start_gift(
    session: AsyncSession,
    payments: Payments,
    links: BotLinks,
    *,
    price_id: str,
    buyer: Member,
    months: int,
    now: datetime,
) -> CheckoutSession:
    """A gift code, not yet paid, and the Checkout that pays for it."""
    if months not in GIFT_MONTHS:
        raise ValueError(f"a gift is {GIFT_MONTHS} months, not {months}")
    code = AccessCode(
        code=codes.new_code(),
        kind=CodeKind.GIFT,
        months=months,
        created_by=buyer.telegram_id,
        created_at=now,
    )
    session.add(code)
    await session.flush()
    assert code.id is not None
    checkout = await payments.create_gift_checkout(
        price_id=price_id,
        months=months,
        code_id=code.id,
        telegram_id=buyer.telegram_id,
        success_url=await links.to_bot("gift-paid"),
        cancel_url=await links.to_bot(),
    )
    code.checkout_session_id = checkout.id
    session.add(code)
    return checkout


async def gift_paid(
    session: AsyncSession,
    templates: Templates,
    links: BotLinks,
    checkout: dict[str, Any],
    now: datetime,
) -> bool:
    """checkout.session.completed for a gift: the code works now, and the buyer gets the link
    to send on (once). False if this checkout is no gift of ours."""
    code_id = (checkout.get("metadata") or {}).get("gift_code_id", "")
    code = await session.get(AccessCode, int(code_id)) if code_id.isdigit() else None
    if code is None or code.checkout_session_id != checkout.get("id"):
        return False
    if code.paid_at is not None:
        return True
    code.paid_at = now
    session.add(code)
    if code.created_by is not None:
        await enqueue(
            session,
            key=f"gift:{code.id}:paid",
            chat_id=code.created_by,
            text=templates.render(
                "gift_paid",
                months=code.months or 1,
                code=code.code,
                link=await links.to_bot(code.code),
            ),
            now=now,
        )
    return True


async def gifts_awaiting_payment(session: AsyncSession, now: datetime) -> list[AccessCode]:
    """Gifts whose Checkout opened in the last two days and that we haven't seen paid (a
    Checkout Session lives a day at most: older ones can no longer be paid)."""
    found = await session.exec(
        select(AccessCode)
        .where(col(AccessCode.kind) == CodeKind.GIFT)
        .where(col(AccessCode.checkout_session_id).is_not(None))
        .where(col(AccessCode.paid_at).is_(None))
        .where(col(AccessCode.created_at) >= now - timedelta(days=2))
    )
    return list(found.all())


async def sweep_gift_seats(
    session: AsyncSession, templates: Templates, now: datetime
) -> list[Seat]:
    """Every minute: tell a gift seat's member a few days before it ends (once); return the
    gift seats whose time is up (the caller ends them, or moves them to their subscription)."""
    rows = await session.exec(
        select(Seat, AccessCode, Member, Group)
        .join(AccessCode, col(AccessCode.redeemed_seat_id) == col(Seat.id))
        .join(Member, col(Member.id) == col(Seat.member_id))
        .join(Group, col(Group.id) == col(Seat.group_id))
        .where(col(AccessCode.kind) == CodeKind.GIFT)
        .where(col(Seat.status) == SeatStatus.COMPED)
        .where(col(Seat.current_period_end) <= now + ENDING_NOTICE)
    )
    due: list[Seat] = []
    for seat, code, member, group in rows.all():
        assert seat.current_period_end is not None
        if seat.current_period_end <= now:
            due.append(seat)
            continue
        if code.ending_told_at is not None or seat.stripe_subscription_id:
            continue
        code.ending_told_at = now
        session.add(code)
        await enqueue(
            session,
            key=f"gift:{code.id}:ending",
            chat_id=member.telegram_id,
            text=templates.render(
                "gift_ending",
                first_name=member.first_name,
                price=templates.price_for(group, member.language_code),
                title=group.title,
                ends=format_local(seat.current_period_end, group.timezone),
            ),
            reply_markup=STAY_ON,
            now=now,
        )
    return due


async def end_gift_seats(session: AsyncSession, membership: Membership, now: datetime) -> int:
    """Every minute: gift seats that ran out end kindly, or move to the subscription the
    member took meanwhile; the others get their notice a few days before."""
    ended = 0
    for seat in await sweep_gift_seats(session, membership.templates, now):
        member = await session.get(Member, seat.member_id)
        group = await session.get(Group, seat.group_id)
        assert member is not None and group is not None
        if seat.stripe_subscription_id:
            seat.status = SeatStatus.ACTIVE
            subscription = await membership.payments.subscription(seat.stripe_subscription_id)
            await membership.follow(session, seat, subscription, now)
            if seat.status == SeatStatus.ACTIVE:
                await notices.queue_seat_ended(
                    session,
                    membership.templates,
                    member=member,
                    group=group,
                    seat=seat,
                    template="gift_to_subscription",
                    now=now,
                )
            continue
        await membership.end_and_remove(session, seat, member, group, "gift_ended", now)
        await notices.queue_seat_ended(
            session,
            membership.templates,
            member=member,
            group=group,
            seat=seat,
            template="gift_ended",
            now=now,
        )
        await membership.tell_coaches(session, "ended", f"{seat.id}:gift", member, group, now)
        await membership.offer_seats(session, group, now)
        ended += 1
    return ended


async def gift_of(session: AsyncSession, seat: Seat) -> AccessCode | None:
    """The gift that gave this seat, if it was a gift."""
    result = await session.exec(
        select(AccessCode)
        .where(col(AccessCode.redeemed_seat_id) == seat.id)
        .where(col(AccessCode.kind) == CodeKind.GIFT)
    )
    return result.first()
