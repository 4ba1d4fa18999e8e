"""The nightly reconcile: Stripe's subscriptions against our seats, drift fixed and reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billing.lifecycle import SeatView, follow_subscription
from billing.membership import Membership, seat_for_subscription
from core.models import Member, Seat, SeatStatus
from core.outbox import enqueue
from prompts.render import Templates

PAYING = ("active", "trialing", "past_due", "unpaid")


@dataclass(frozen=True)
class Drift:
    """One place where our seats and Stripe disagreed."""

    subscription_id: str
    who: str
    ours: str
    stripes: str
    fixed: bool

    def __str__(self) -> str:
        action = "fixed" if self.fixed else "needs a look"
        where = f"{self.subscription_id}, {action}"
        return f"{self.who}: seat {self.ours}, Stripe {self.stripes} ({where})"


async def reconcile(
    session: AsyncSession, membership: Membership, now: datetime, *, apply: bool
) -> list[Drift]:
    """Compare every subscription with its seat; with `apply`, follow Stripe where they differ."""
    drifts: list[Drift] = []
    subscriptions = await membership.payments.subscriptions()
    for subscription in subscriptions:
        seat = await seat_for_subscription(session, subscription.id, subscription.metadata)
        if seat is None:
            if subscription.status in PAYING:
                who = subscription.metadata.get("telegram_id", "unknown member")
                drifts.append(Drift(subscription.id, who, "none", subscription.status, False))
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
        if seat.stripe_subscription_id not in known:
            unknown = seat.stripe_subscription_id or "no subscription"
            drifts.append(
                Drift(unknown, await _who(session, seat), str(seat.status), "unknown", False)
            )
    return drifts


async def report_to_coaches(
    session: AsyncSession,
    templates: Templates,
    coach_ids: tuple[int, ...],
    drifts: list[Drift],
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


def _describe(status: str, cancelling: bool) -> str:
    return f"{status} (cancelling)" if cancelling else str(status)


async def _who(session: AsyncSession, seat: Seat) -> str:
    member = await session.get(Member, seat.member_id)
    return f"{member.first_name} (#{member.id})" if member else f"member #{seat.member_id}"
