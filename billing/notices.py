"""What members are told when their membership changes, queued in the outbox.

Each message is queued in the same transaction as the change that caused it: a change that
rolls back tells nobody anything, one that commits tells once (the outbox key). A welcome
brings the member's personal invite link, made by Telegram as the welcome is sent (after the
commit, outside any transaction: core.outbox.Invite).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from billing.lifecycle import Notice
from core.localtime import format_local, format_local_day
from core.models import Group, Member, Seat, WaitlistEntry
from core.outbox import INVITE_MARK, Invite, enqueue
from prompts.buttons import (
    COME_IN_QUIETLY,
    JOIN_AGAIN,
    OPEN_BILLING,
    TAKE_MY_SEAT,
    UPDATE_CARD,
)
from prompts.render import Templates

# How long a personal invite link works (a fresh one is a /invite away).
INVITE_LIFETIME = timedelta(days=7)

# The keyboard that comes with a notice, if any.
_NOTICE_BUTTONS = {
    Notice.PAYMENT_FAILED: UPDATE_CARD,
    Notice.GOODBYE: JOIN_AGAIN,
    Notice.WELCOME: COME_IN_QUIETLY,
}


async def queue_notice(
    session: AsyncSession,
    templates: Templates,
    *,
    member: Member,
    group: Group,
    seat: Seat,
    notice: Notice,
    grace: timedelta,
    now: datetime,
    **context: Any,
) -> None:
    """The private message for a change of the seat's state (welcome, payment failed, ...);
    a welcome brings the invite link."""
    period_end = seat.current_period_end
    welcome = notice == Notice.WELCOME
    trial = seat.trial_ends_at if welcome else None
    text = templates.render(
        notice.value,
        first_name=member.first_name,
        title=group.title,
        period_end=format_local(period_end, group.timezone) if period_end else None,
        grace_days=grace.days,
        trial_ends=format_local_day(trial, group.timezone) if trial else None,
        trial_length=trial_length(group.trial_days or round((trial - now) / timedelta(days=1)))
        if trial
        else None,
        invite_link=INVITE_MARK if welcome else None,
        **context,
    )
    await enqueue(
        session,
        key=f"seat:{seat.id}:{notice.value}:{now.isoformat()}",
        chat_id=member.telegram_id,
        text=text,
        reply_markup=_NOTICE_BUTTONS.get(notice),
        now=now,
        invite=invite(seat, group, member, now) if welcome else None,
    )


def invite(seat: Seat, group: Group, member: Member, now: datetime) -> Invite:
    """A fresh personal invite link to the group for the seat (its old one stops working)."""
    assert seat.id is not None
    return Invite(
        seat_id=seat.id,
        chat_id=group.chat_id,
        name=f"{member.first_name} #{member.id}",
        expires=now + INVITE_LIFETIME,
        replacing=seat.invite_link,
    )


def trial_length(days: int) -> str:
    """ "free week", "free fortnight", "free 10-day trial": how a trial is named to a member
    (always one thing, so "Your free 10-day trial ends" reads right)."""
    names = {1: "free day", 7: "free week", 14: "free fortnight"}
    return names.get(days, f"free {days}-day trial")


async def queue_trial_ending(
    session: AsyncSession,
    templates: Templates,
    *,
    member: Member,
    group: Group,
    seat: Seat,
    card: bool,
    now: datetime,
) -> None:
    """Three days before a free trial ends: when, and what happens then. Once per trial
    (Stripe may send its notice again; the key is the seat's)."""
    assert seat.trial_ends_at is not None
    await enqueue(
        session,
        key=f"seat:{seat.id}:trial_ending",
        chat_id=member.telegram_id,
        text=templates.render(
            "trial_ending",
            first_name=member.first_name,
            title=group.title,
            trial_ends=format_local_day(seat.trial_ends_at, group.timezone),
            card=card,
            price=templates.price_for(group, member.language_code),
        ),
        reply_markup=OPEN_BILLING,
        now=now,
    )


async def queue_seat_ended(
    session: AsyncSession,
    templates: Templates,
    *,
    member: Member,
    group: Group,
    seat: Seat,
    template: str,
    now: datetime,
) -> None:
    """A seat that ends for another reason than Stripe (a hold lapsed, the coach removed them,
    unpaid): what happened, and a button to join again. Once per seat and reason."""
    await enqueue(
        session,
        key=f"seat:{seat.id}:{template}",
        chat_id=member.telegram_id,
        text=templates.render(template, first_name=member.first_name, title=group.title),
        reply_markup=JOIN_AGAIN,
        now=now,
    )


async def queue_offer(
    session: AsyncSession,
    templates: Templates,
    *,
    entry: WaitlistEntry,
    member: Member,
    group: Group,
    seat: Seat,
    now: datetime,
) -> None:
    """A seat opened: the next person waiting is offered it until the hold ends."""
    assert seat.hold_expires_at is not None
    await enqueue(
        session,
        key=f"waitlist:{entry.id}:offer:{seat.id}",
        chat_id=member.telegram_id,
        text=templates.render(
            "waitlist_offer",
            price=templates.price_for(group, member.language_code),
            first_name=member.first_name,
            title=group.title,
            until=format_local(seat.hold_expires_at, group.timezone),
        ),
        reply_markup=TAKE_MY_SEAT,
        now=now,
    )


async def queue_comped_welcome(
    session: AsyncSession,
    templates: Templates,
    *,
    member: Member,
    group: Group,
    seat: Seat,
    now: datetime,
    gift_ends: str | None = None,
) -> None:
    """A free seat from the coach (or a gift, with its end): welcome, and the invite link."""
    template = "welcome_gift" if gift_ends else "welcome_comped"
    await enqueue(
        session,
        key=f"seat:{seat.id}:{template}",
        chat_id=member.telegram_id,
        text=templates.render(
            template,
            first_name=member.first_name,
            title=group.title,
            invite_link=INVITE_MARK,
            **({"ends": gift_ends} if gift_ends else {}),
        ),
        reply_markup=COME_IN_QUIETLY,
        now=now,
        invite=invite(seat, group, member, now),
    )


async def queue_fresh_invite(
    session: AsyncSession,
    templates: Templates,
    *,
    member: Member,
    group: Group,
    seat: Seat,
    now: datetime,
) -> None:
    """A member's /invite: a new personal link (the old one stops working)."""
    await enqueue(
        session,
        key=f"seat:{seat.id}:invite_fresh:{now.isoformat()}",
        chat_id=member.telegram_id,
        text=templates.render("invite_fresh", title=group.title, invite_link=INVITE_MARK),
        now=now,
        invite=invite(seat, group, member, now),
    )


async def queue_group_welcome(
    session: AsyncSession,
    templates: Templates,
    *,
    member: Member,
    group: Group,
    seat: Seat,
    now: datetime,
) -> None:
    """A new member arrived: a short welcome in the group (unless they asked to come in
    quietly). Once per seat."""
    if not member.welcome_in_group:
        return
    await enqueue(
        session,
        key=f"group-welcome:{seat.id}",
        chat_id=group.chat_id,
        text=templates.render("group_welcome", first_name=member.first_name),
        now=now,
    )


async def queue_coach_note(
    session: AsyncSession,
    templates: Templates,
    *,
    coach_ids: tuple[int, ...],
    event: str,
    key: str,
    member: Member,
    group: Group,
    now: datetime,
    **context: Any,
) -> None:
    """A quiet note to the coaches (no sound) when someone joins, goes to the waitlist,
    cancels, or leaves: the round tells it again, this is for knowing it the same day."""
    text = templates.render(
        "coach_note", event=event, name=member.first_name, title=group.title, **context
    )
    for coach_id in coach_ids:
        await enqueue(
            session,
            key=f"coach-note:{event}:{key}:{coach_id}",
            chat_id=coach_id,
            text=text,
            silent=True,
            now=now,
        )
