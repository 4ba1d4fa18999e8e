"""The membership lifecycle: /join to removal. Stripe decides money; the database decides seats.

Everything a member is told here goes through the outbox, in the same transaction as the change
that caused it: a change that rolls back tells nobody anything, one that commits tells once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import seats
from billing.lifecycle import Notice, SeatView, follow_subscription, grace_is_over, hold_until
from billing.stripe_gateway import StripeGateway, SubscriptionState
from bot.gateway import GroupAccess, bot_link
from core.groups import local_time
from core.models import SEATED, Group, Member, Seat, SeatStatus
from core.outbox import enqueue
from core.settings import ConfigError, Settings
from prompts.render import Templates

log = logging.getLogger(__name__)

INVITE_LIFETIME = timedelta(days=7)
# Stripe lets a Checkout Session live at most this long.
CHECKOUT_MAX = timedelta(hours=23, minutes=55)
BILLING_BUTTON = {"inline_keyboard": [[{"text": "Update my card", "callback_data": "billing"}]]}
JOIN_BUTTON = {"inline_keyboard": [[{"text": "Join again", "callback_data": "join"}]]}


@dataclass
class Billing:
    """What membership changes need from outside: Stripe, the group, the templates, the rules."""

    settings: Settings
    stripe: StripeGateway
    access: GroupAccess
    templates: Templates
    bot: Bot

    @property
    def grace(self) -> timedelta:
        return timedelta(days=self.settings.payment_grace_days)

    @property
    def offer_for(self) -> timedelta:
        return timedelta(hours=self.settings.waitlist_offer_hours)

    async def bot_url(self, start: str) -> str:
        """A t.me link that opens the private chat with the bot (back from Checkout)."""
        return await bot_link(self.bot, start)


# --- the join funnel -------------------------------------------------------------------------


@dataclass(frozen=True)
class JoinOutcome:
    """What /join did, for the handler to render."""

    kind: Literal["no_group", "member", "checkout", "waitlisted"]
    group: Group | None = None
    url: str | None = None
    seats_left: int = 0
    position: int = 0
    hold_until: datetime | None = None


async def join(
    session: AsyncSession, billing: Billing, member: Member, now: datetime
) -> JoinOutcome:
    """Hold a seat and open Checkout, or take a waitlist place when every group is full."""
    assert member.id is not None
    for seat in await seats.seats_of(session, member.id):
        group = await _group(session, seat.group_id)
        if seat.status in SEATED:
            return JoinOutcome("member", group)
        if seat.hold_expires_at is not None and seat.hold_expires_at > now:
            return await _checkout(session, billing, seat, member, group, now)
    entry = await seats.open_entry(session, member_id=member.id)
    if entry is not None:
        position = await seats.position(session, entry)
        return JoinOutcome("waitlisted", await _group(session, entry.group_id), position=position)
    chosen, has_room = await seats.group_with_room(session, now)
    if chosen is None:
        return JoinOutcome("no_group")
    if has_room:
        until = now + timedelta(minutes=billing.settings.checkout_hold_minutes)
        held = await seats.hold_seat(session, member=member, group=chosen, now=now, until=until)
        if held is not None:
            return await _checkout(session, billing, held, member, chosen, now)
    _, position = await seats.join_waitlist(session, member=member, group=chosen, now=now)
    return JoinOutcome("waitlisted", chosen, position=position)


async def _checkout(
    session: AsyncSession,
    billing: Billing,
    seat: Seat,
    member: Member,
    group: Group,
    now: datetime,
) -> JoinOutcome:
    if seat.checkout_url is None:
        price_id = billing.settings.stripe_price_id
        if price_id is None:
            raise ConfigError("STRIPE_PRICE_ID is not set: run `between stripe setup`")
        assert seat.id is not None and member.id is not None and group.id is not None
        expires = min(
            hold_until(
                now,
                checkout_minutes=billing.settings.checkout_hold_minutes,
                offered_until=seat.hold_expires_at,
            ),
            now + CHECKOUT_MAX,
        )
        checkout = await billing.stripe.create_checkout(
            price_id=price_id,
            seat_id=seat.id,
            member_id=member.id,
            group_id=group.id,
            telegram_id=member.telegram_id,
            success_url=await billing.bot_url("paid"),
            cancel_url=await billing.bot_url("join"),
            expires_at=expires,
        )
        seat.checkout_session_id = checkout.id
        seat.checkout_url = checkout.url
        seat.hold_expires_at = max(
            seat.hold_expires_at or checkout.expires_at, checkout.expires_at
        )
        seat.updated_at = now
        session.add(seat)
        await session.flush()
    count = await seats.count_seats(session, group, now)
    return JoinOutcome(
        "checkout",
        group,
        url=seat.checkout_url,
        seats_left=count.free,
        hold_until=seat.hold_expires_at,
    )


# --- Stripe's events -------------------------------------------------------------------------


async def checkout_completed(
    billing: Billing, session: AsyncSession, event: dict[str, Any], now: datetime
) -> None:
    """Payment went through: the seat becomes active and the member gets their invite."""
    checkout = event["data"]["object"]
    seat = await _seat_from_metadata(session, checkout.get("metadata") or {})
    if seat is None or not checkout.get("subscription"):
        log.warning("checkout %s names no seat we know", checkout.get("id"))
        return
    if seat.status == SeatStatus.ENDED and seat.end_reason in {"hold_expired", "checkout_expired"}:
        # Paid in the last second of the hold: the payment wins over the clock.
        log.warning("seat %s paid just after its hold ended; reopening it", seat.id)
        seat.status = SeatStatus.HELD
    seat.stripe_customer_id = checkout.get("customer")
    seat.stripe_subscription_id = checkout["subscription"]
    subscription = await billing.stripe.subscription(checkout["subscription"])
    await follow(session, billing, seat, subscription, now)


async def checkout_expired(
    billing: Billing, session: AsyncSession, event: dict[str, Any], now: datetime
) -> None:
    """Checkout closed unpaid: the held seat goes back (to the waitlist, if anyone waits)."""
    checkout = event["data"]["object"]
    seat = (
        await session.exec(
            select(Seat).where(col(Seat.checkout_session_id) == checkout["id"]).with_for_update()
        )
    ).first()
    if seat is None or seat.status != SeatStatus.HELD:
        return
    offer = await seats.open_entry(session, member_id=seat.member_id, group_id=seat.group_id)
    still_offered = seat.hold_expires_at is not None and seat.hold_expires_at > now
    if offer is not None and offer.seat_id == seat.id and still_offered:
        # A waitlist offer may outlive one Checkout Session: /join opens a new one.
        seat.checkout_session_id = seat.checkout_url = None
        session.add(seat)
        return
    await _release_hold(session, billing, seat, now)


async def subscription_changed(
    billing: Billing, session: AsyncSession, event: dict[str, Any], now: datetime
) -> None:
    """Any subscription or invoice event: follow the subscription's *current* state.

    Asking Stripe for the state now, rather than trusting the event's snapshot, makes late,
    repeated and reordered events harmless.
    """
    found = event["data"]["object"]
    subscription_id = _subscription_id(found)
    if subscription_id is None:
        return
    seat = await seat_for_subscription(session, subscription_id, found.get("metadata") or {})
    if seat is None:
        log.info("subscription %s has no seat here; ignored", subscription_id)
        return
    seat.stripe_subscription_id = subscription_id
    await follow(session, billing, seat, await billing.stripe.subscription(subscription_id), now)


async def follow(
    session: AsyncSession,
    billing: Billing,
    seat: Seat,
    subscription: SubscriptionState,
    now: datetime,
) -> list[Notice]:
    """Apply a subscription's state to its seat, with what follows: invite, messages, removal."""
    view = SeatView(seat.status, seat.cancel_at_period_end, seat.past_due_since)
    change = follow_subscription(view, subscription, now)
    seat.current_period_end = subscription.current_period_end or seat.current_period_end
    seat.stripe_customer_id = subscription.customer_id or seat.stripe_customer_id
    seat.cancel_at_period_end = change.cancel_at_period_end
    seat.past_due_since = change.past_due_since
    seat.updated_at = now
    member = await _member(session, seat.member_id)
    group = await _group(session, seat.group_id)
    if change.status == SeatStatus.ENDED and seat.status != SeatStatus.ENDED:
        await _end_and_remove(session, billing, seat, member, group, change.end_reason or "", now)
        await offer_seats(session, billing, group, now)
    else:
        seat.status = change.status
        session.add(seat)
    for notice in change.notices:
        context: dict[str, Any] = {}
        if notice == Notice.WELCOME:
            context["invite_link"] = await grant_invite(session, billing, seat, group, member, now)
            await seats.mark_seated(session, seat, now)
        await tell(session, billing, member, group, seat, notice, now, **context)
    await session.flush()
    return list(change.notices)


# --- access to the group ---------------------------------------------------------------------


async def grant_invite(
    session: AsyncSession,
    billing: Billing,
    seat: Seat,
    group: Group,
    member: Member,
    now: datetime,
) -> str:
    """A fresh personal invite link (the old one is revoked)."""
    if seat.invite_link:
        await billing.access.revoke_invite_link(group.chat_id, seat.invite_link)
    seat.invite_link = await billing.access.create_invite_link(
        group.chat_id, name=f"{member.first_name} #{member.id}", expire_date=now + INVITE_LIFETIME
    )
    seat.updated_at = now
    session.add(seat)
    return seat.invite_link


async def _end_and_remove(
    session: AsyncSession,
    billing: Billing,
    seat: Seat,
    member: Member,
    group: Group,
    reason: str,
    now: datetime,
) -> None:
    await seats.end_seat(session, seat, reason=reason, now=now)
    if seat.invite_link:
        await billing.access.revoke_invite_link(group.chat_id, seat.invite_link)
    if seat.joined_at is not None or seat.invite_link:
        try:
            await billing.access.remove(group.chat_id, member.telegram_id)
        except TelegramAPIError as error:
            log.warning(
                "could not remove member %s from %s: %s", member.id, group.id, error.message
            )


async def _release_hold(
    session: AsyncSession, billing: Billing, seat: Seat, now: datetime
) -> None:
    offered = await seats.open_entry(session, member_id=seat.member_id, group_id=seat.group_id)
    await seats.end_seat(session, seat, reason="hold_expired", now=now)
    member = await _member(session, seat.member_id)
    group = await _group(session, seat.group_id)
    lapsed = offered is not None and offered.seat_id == seat.id
    template = "offer_lapsed" if lapsed else "hold_expired"
    await enqueue(
        session,
        key=f"seat:{seat.id}:{template}",
        chat_id=member.telegram_id,
        text=billing.templates.render(template, first_name=member.first_name, title=group.title),
        reply_markup=JOIN_BUTTON,
        now=now,
    )
    await offer_seats(session, billing, group, now)


async def offer_seats(session: AsyncSession, billing: Billing, group: Group, now: datetime) -> int:
    """Offer every free seat to the next person waiting, each with a timed hold."""
    offers = await seats.offer_free_seats(session, group, now, offer_for=billing.offer_for)
    for entry, member, seat in offers:
        assert seat.hold_expires_at is not None
        await enqueue(
            session,
            key=f"waitlist:{entry.id}:offer:{seat.id}",
            chat_id=member.telegram_id,
            text=billing.templates.render(
                "waitlist_offer",
                first_name=member.first_name,
                title=group.title,
                until=local_time(seat.hold_expires_at, group),
            ),
            reply_markup={
                "inline_keyboard": [[{"text": "Take my seat", "callback_data": "join"}]]
            },
            now=now,
        )
    return len(offers)


# --- the sweeps (worker) -------------------------------------------------------------------


async def sweep_seats(session: AsyncSession, billing: Billing, now: datetime) -> dict[str, int]:
    """Every minute: end lapsed holds and offers, remove members past their grace period."""
    released = 0
    for seat in await seats.expired_holds(session, now):
        await _release_hold(session, billing, seat, now)
        released += 1
    removed = 0
    past_due = await session.exec(
        select(Seat).where(col(Seat.status) == SeatStatus.PAST_DUE).with_for_update()
    )
    for seat in past_due.all():
        if grace_is_over(seat.past_due_since, billing.grace, now):
            await remove(session, billing, seat, reason="unpaid", now=now)
            removed += 1
    offered = 0
    for group in (await session.exec(select(Group))).all():
        offered += await offer_seats(session, billing, group, now)
    return {"holds_released": released, "removed_unpaid": removed, "offers": offered}


async def remove(
    session: AsyncSession, billing: Billing, seat: Seat, *, reason: str, now: datetime
) -> None:
    """End a seat for good (unpaid after the grace period, or the coach's decision)."""
    if seat.stripe_subscription_id:
        await billing.stripe.cancel(seat.stripe_subscription_id)
    member = await _member(session, seat.member_id)
    group = await _group(session, seat.group_id)
    await _end_and_remove(session, billing, seat, member, group, reason, now)
    # The coach's /remove frees the seat at once; the sweep offers it with the others.
    if reason != "unpaid":
        await offer_seats(session, billing, group, now)
    template = "removed_unpaid" if reason == "unpaid" else "removed_by_coach"
    await enqueue(
        session,
        key=f"seat:{seat.id}:{template}",
        chat_id=member.telegram_id,
        text=billing.templates.render(template, first_name=member.first_name, title=group.title),
        reply_markup=JOIN_BUTTON,
        now=now,
    )


# --- what members are told -----------------------------------------------------------------


async def tell(
    session: AsyncSession,
    billing: Billing,
    member: Member,
    group: Group,
    seat: Seat,
    notice: Notice,
    now: datetime,
    **context: Any,
) -> None:
    """Queue the private message for a membership change."""
    text = billing.templates.render(
        notice.value,
        first_name=member.first_name,
        title=group.title,
        period_end=local_time(seat.current_period_end, group) if seat.current_period_end else None,
        grace_days=billing.settings.payment_grace_days,
        **context,
    )
    markup = BILLING_BUTTON if notice == Notice.PAYMENT_FAILED else None
    if notice == Notice.GOODBYE:
        markup = JOIN_BUTTON
    await enqueue(
        session,
        key=f"seat:{seat.id}:{notice.value}:{now.isoformat()}",
        chat_id=member.telegram_id,
        text=text,
        reply_markup=markup,
        now=now,
    )


# --- lookups ---------------------------------------------------------------------------------


def _subscription_id(found: dict[str, Any]) -> str | None:
    if found.get("object") == "subscription":
        return str(found["id"])
    parent = (found.get("parent") or {}).get("subscription_details") or {}
    subscription = parent.get("subscription") or found.get("subscription")
    return str(subscription) if subscription else None


async def seat_for_subscription(
    session: AsyncSession, subscription_id: str, metadata: dict[str, str]
) -> Seat | None:
    found = (
        await session.exec(
            select(Seat)
            .where(col(Seat.stripe_subscription_id) == subscription_id)
            .order_by(col(Seat.id).desc())
            .with_for_update()
        )
    ).first()
    return found or await _seat_from_metadata(session, metadata)


async def _seat_from_metadata(session: AsyncSession, metadata: dict[str, str]) -> Seat | None:
    seat_id = metadata.get("seat_id")
    if not seat_id or not seat_id.isdigit():
        return None
    # Locked: two events about one seat (checkout and subscription) may be applied at once.
    return await session.get(Seat, int(seat_id), with_for_update=True)


async def _member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    assert member is not None
    return member


async def _group(session: AsyncSession, group_id: int) -> Group:
    group = await session.get(Group, group_id)
    assert group is not None
    return group
