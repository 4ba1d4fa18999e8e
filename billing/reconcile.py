"""The nightly reconcile: Stripe's subscriptions against our seats, drift fixed and reported.

It is the net under everything else: a webhook never delivered, an event stranded by a crash
or given up after its retries all show here as a subscription Stripe charges for and a seat
that disagrees. What it can fix it fixes (and says so); the rest it hands to the coach.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import gifts, seats, stars
from billing.lifecycle import SeatView, SubscriptionState, follow_subscription
from billing.membership import Membership, seat_for_subscription
from core.models import Group, Member, Seat, SeatStatus, StarsSubscription
from core.outbox import enqueue
from prompts.render import Templates

log = logging.getLogger(__name__)

PAYING = ("active", "trialing", "past_due", "unpaid")


@dataclass(frozen=True)
class Drift:
    """One place where our seats and Stripe disagreed."""

    subscription_id: str
    who: str
    ours: str
    stripes: str
    fixed: bool
    advice: str | None = None

    def __str__(self) -> str:
        action = "fixed" if self.fixed else "needs a look"
        where = f"{self.subscription_id}, {action}"
        line = f"{self.who}: seat {self.ours}, Stripe {self.stripes} ({where})"
        return f"{line}: {self.advice}" if self.advice else line


async def reconcile(
    session: AsyncSession, membership: Membership, now: datetime, *, apply: bool
) -> list[Drift]:
    """Compare every subscription with its seat; with `apply`, follow Stripe where they differ;
    then the seats paid in Stars against Telegram's transactions."""
    drifts: list[Drift] = []
    # What Stripe and Telegram say is asked first, with no transaction open (on SQLite, every
    # transaction holds the write lock): the gifts to ask about are read, the read is ended.
    subscriptions = await membership.payments.subscriptions()
    stars_payments = await membership.stars.payments() if membership.stars is not None else None
    awaiting = [
        (code.checkout_session_id, code.created_by)
        for code in await gifts.gifts_awaiting_payment(session, now)
        if code.checkout_session_id is not None
    ]
    await session.commit()
    checkouts = [
        (await membership.payments.checkout_session(checkout_id), buyer)
        for checkout_id, buyer in awaiting
    ]
    to_cancel: list[str] = []
    for subscription in subscriptions:
        seat = await seat_for_subscription(session, subscription.id, subscription.metadata)
        if seat is None:
            if subscription.status in PAYING:
                who = subscription.metadata.get("telegram_id", "unknown member")
                drifts.append(Drift(subscription.id, who, "none", subscription.status, False))
            continue
        if seat.status == SeatStatus.ENDED and subscription.status in PAYING:
            drifts.append(
                await _paid_but_ended(
                    session, membership, seat, subscription, now, apply, to_cancel
                )
            )
            continue
        view = SeatView(seat.status, seat.cancel_at_period_end, seat.past_due_since)
        change = follow_subscription(view, subscription, now)
        if (change.status, change.cancel_at_period_end) == (
            seat.status,
            seat.cancel_at_period_end,
        ):
            continue
        ours = _describe(seat.status, seat.cancel_at_period_end)
        stripes = _describe(change.status, change.cancel_at_period_end)
        drifts.append(Drift(subscription.id, await _who(session, seat), ours, stripes, apply))
        if apply:
            seat.stripe_subscription_id = subscription.id
            await membership.follow(session, seat, subscription, now)
    known = {subscription.id for subscription in subscriptions}
    paying_seats = await session.exec(
        select(Seat).where(col(Seat.status).in_([SeatStatus.ACTIVE, SeatStatus.PAST_DUE]))
    )
    for seat in paying_seats.all():
        if seat.stripe_subscription_id is None and await _paid_in_stars(session, seat):
            continue  # Telegram's transactions are its record (billing.stars.reconcile)
        if seat.stripe_subscription_id not in known:
            unknown = seat.stripe_subscription_id or "no subscription"
            drifts.append(
                Drift(unknown, await _who(session, seat), str(seat.status), "unknown", False)
            )
    if stars_payments is not None:
        for found in await stars.reconcile(session, membership, stars_payments, now, apply=apply):
            drifts.append(StarsDrift(found.charge_id, found.who, found.what, "", found.fixed))
    drifts.extend(await _gifts_paid_unseen(session, membership, checkouts, now, apply=apply))
    if to_cancel:
        # Cancelled after the changes are committed; one that fails is found again tomorrow.
        await session.commit()
        for subscription_id in to_cancel:
            try:
                await membership.payments.cancel(subscription_id)
            except Exception as error:  # noqa: BLE001 - the next night tries again
                log.warning("could not cancel %s: %s", subscription_id, type(error).__name__)
    return drifts


async def _gifts_paid_unseen(
    session: AsyncSession,
    membership: Membership,
    checkouts: list[tuple[dict[str, Any], int | None]],
    now: datetime,
    *,
    apply: bool,
) -> list[Drift]:
    """Gifts Stripe took payment for while we never heard (a webhook lost past its retries):
    with `apply`, the code works and the buyer gets their link, as the webhook would have."""
    found: list[Drift] = []
    for checkout, buyer in checkouts:
        if checkout.get("payment_status") != "paid":
            continue
        fixed = apply and await gifts.gift_paid(
            session, membership.templates, membership.links, checkout, now
        )
        who = await _buyer(session, buyer)
        found.append(GiftDrift(checkout["id"], who, "unpaid", "paid", fixed))
    return found


@dataclass(frozen=True)
class GiftDrift(Drift):
    """A gift Stripe was paid for that we had not seen paid."""

    def __str__(self) -> str:
        action = "fixed: the buyer has their link" if self.fixed else "needs a look"
        where = f"{self.subscription_id}, {action}"
        return f"{self.who}: a gift paid at Stripe, not seen here ({where})"


@dataclass(frozen=True)
class StarsDrift(Drift):
    """A difference with Telegram's Stars transactions (`ours` says what it is)."""

    def __str__(self) -> str:
        action = "fixed" if self.fixed else "needs a look"
        return f"{self.who}: {self.ours} ({self.subscription_id}, Telegram Stars, {action})"


async def report_to_coaches(
    session: AsyncSession,
    templates: Templates,
    coach_ids: tuple[int, ...],
    drifts: Sequence[Drift],
    now: datetime,
) -> None:
    """Tell the coach what the reconcile changed or could not fix (nothing when all agreed)."""
    if not drifts:
        return
    text = templates.render("reconcile_report", drifts=[str(drift) for drift in drifts])
    for coach_id in coach_ids:
        await enqueue(
            session,
            key=f"reconcile:{now:%Y-%m-%d}:{coach_id}",
            chat_id=coach_id,
            text=text,
            now=now,
        )


async def _paid_but_ended(
    session: AsyncSession,
    membership: Membership,
    seat: Seat,
    subscription: SubscriptionState,
    now: datetime,
    apply: bool,
    to_cancel: list[str],
) -> Drift:
    """Stripe charges for a seat we ended: let the member in when we can, else say why not."""
    who = await _who(session, seat)
    ours = f"ended ({seat.end_reason})"
    if seat.end_reason not in seats.LAPSED:
        # We ended it on purpose (removed, unpaid); Stripe should not be charging any more.
        if apply:
            to_cancel.append(subscription.id)  # after the commit (reconcile)
        advice = "cancelled it in Stripe" if apply else "it should be cancelled in Stripe"
        return Drift(subscription.id, who, ours, subscription.status, apply, advice)
    group = await session.get(Group, seat.group_id)
    assert group is not None
    other = await seats.live_seat(session, member_id=seat.member_id, group_id=seat.group_id)
    if other is not None:
        advice = f"they have another seat ({other.status}): refund one payment in Stripe"
        return Drift(subscription.id, who, ours, subscription.status, False, advice)
    if (await seats.count_seats(session, group, now)).free == 0:
        advice = f"{group.title} is full: raise /capacity to let them in, or refund in Stripe"
        return Drift(subscription.id, who, ours, subscription.status, False, advice)
    if apply:
        # They paid after the hold ran out (or the event that said so was lost): the
        # payment wins over the clock, as when the event comes late (Membership).
        seat.status = SeatStatus.HELD
        seat.end_reason = seat.ended_at = None
        seat.stripe_subscription_id = subscription.id
        await membership.follow(session, seat, subscription, now)
    advice = "let them in" if apply else "they paid: they can be let in"
    return Drift(subscription.id, who, ours, subscription.status, apply, advice)


async def _paid_in_stars(session: AsyncSession, seat: Seat) -> bool:
    found = await session.exec(
        select(StarsSubscription.id).where(col(StarsSubscription.seat_id) == seat.id)
    )
    return found.first() is not None


def _describe(status: str, cancelling: bool) -> str:
    return f"{status} (cancelling)" if cancelling else str(status)


async def _who(session: AsyncSession, seat: Seat) -> str:
    member = await session.get(Member, seat.member_id)
    return f"{member.first_name} (#{member.id})" if member else f"member #{seat.member_id}"


async def _buyer(session: AsyncSession, telegram_id: int | None) -> str:
    found = await session.exec(select(Member).where(col(Member.telegram_id) == telegram_id))
    member = found.first()
    return f"{member.first_name} (#{member.id})" if member else "a buyer we don't know"
