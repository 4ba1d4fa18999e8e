"""Private threads: a member's messages reach the coach; the coach's reply reaches the member."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message
from sqlalchemy import func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from coaching.rules import answer_by, local_date, waited
from core.groups import local_time
from core.models import (
    SEATED,
    CoachReply,
    Entry,
    EntryKind,
    Group,
    Member,
    Relay,
    SafetyAlert,
    Seat,
)
from core.outbox import enqueue
from prompts import practice
from prompts.daily import describe_days, parse_days, parse_time
from prompts.render import Templates

log = logging.getLogger(__name__)


async def relay_to_coaches(
    session: AsyncSession,
    bot: Bot,
    templates: Templates,
    *,
    message: Message,
    member: Member,
    group: Group,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> None:
    """Copy a member's private message to each coach, under a header saying who and since when."""
    assert member.id is not None
    since = await waiting_since(session, member.id) or now
    header = templates.render(
        "thread_header",
        member=member,
        streak=await practice.streak(session, member, group, now),
        waited=waited(since, now),
    )
    entry = (
        await session.exec(
            select(Entry)
            .where(col(Entry.chat_id) == message.chat.id)
            .where(col(Entry.message_id) == message.message_id)
        )
    ).first()
    for coach_id in coach_ids:
        try:
            # Silent: the coach reads once a day, not at every ping.
            top = await bot.send_message(coach_id, header, disable_notification=True)
            copy = await bot.copy_message(
                coach_id, message.chat.id, message.message_id, disable_notification=True
            )
        except TelegramAPIError as error:
            log.warning(
                "could not relay member %s to coach %s: %s", member.id, coach_id, error.message
            )
            continue
        for coach_message_id in (top.message_id, copy.message_id):
            session.add(
                Relay(
                    coach_chat_id=coach_id,
                    coach_message_id=coach_message_id,
                    member_id=member.id,
                    entry_id=entry.id if entry else None,
                    created_at=now,
                )
            )


async def waiting_since(session: AsyncSession, member_id: int) -> datetime | None:
    """The member's oldest private message the coach hasn't answered yet."""
    last_reply = (
        await session.exec(
            select(func.max(CoachReply.created_at)).where(col(CoachReply.member_id) == member_id)
        )
    ).one()
    query = (
        select(func.min(Entry.created_at))
        .where(col(Entry.member_id) == member_id)
        .where(col(Entry.chat_id) > 0)
        .where(col(Entry.message_id).is_not(None))
    )
    if last_reply is not None:
        query = query.where(col(Entry.created_at) > last_reply)
    return (await session.exec(query)).one()


@dataclass(frozen=True)
class Delivery:
    """What became of a coach's reply."""

    member: Member | None
    delivered: bool
    reason: str = ""


async def deliver_reply(
    session: AsyncSession, bot: Bot, *, reply: Message, coach_id: int, now: datetime
) -> Delivery:
    """Send the coach's reply (text, voice, anything) to the member it answers, and keep it."""
    assert reply.reply_to_message is not None
    relay = (
        await session.exec(
            select(Relay)
            .where(col(Relay.coach_chat_id) == reply.chat.id)
            .where(col(Relay.coach_message_id) == reply.reply_to_message.message_id)
        )
    ).first()
    if relay is None:
        return Delivery(None, False, "not_a_thread")
    member = await session.get(Member, relay.member_id)
    assert member is not None
    seated = (
        await session.exec(
            select(Seat.id)
            .where(col(Seat.member_id) == member.id)
            .where(col(Seat.status).in_(SEATED))
        )
    ).first()
    if seated is None:
        return Delivery(member, False, "left")
    try:
        await bot.copy_message(member.telegram_id, reply.chat.id, reply.message_id)
    except TelegramAPIError as error:
        log.warning("coach reply to member %s failed: %s", member.id, error.message)
        return Delivery(member, False, "unreachable")
    await record_reply(session, reply, coach_id=coach_id, member_id=member.id, now=now)
    await session.exec(
        update(SafetyAlert)
        .where(col(SafetyAlert.member_id) == member.id)
        .where(col(SafetyAlert.handled_at).is_(None))
        .values(handled_at=now)
    )
    return Delivery(member, True)


async def record_reply(
    session: AsyncSession,
    message: Message,
    *,
    coach_id: int,
    now: datetime,
    member_id: int | None = None,
    group_id: int | None = None,
) -> None:
    """Keep what the coach said (a reply to a member, or feedback in the group)."""
    kind = EntryKind.VOICE if message.voice else EntryKind.TEXT
    session.add(
        CoachReply(
            coach_id=coach_id,
            member_id=member_id,
            group_id=group_id,
            chat_id=message.chat.id,
            message_id=message.message_id,
            kind=EntryKind.VIDEO_NOTE if message.video_note else kind,
            text=message.text or message.caption,
            file_id=message.voice.file_id if message.voice else None,
            duration_seconds=message.voice.duration if message.voice else None,
            created_at=now,
        )
    )
    await session.flush()


@dataclass(frozen=True)
class ThreadLine:
    when: datetime
    who: str
    kind: str
    text: str | None
    seconds: int | None


async def thread(session: AsyncSession, member: Member, *, limit: int = 12) -> list[ThreadLine]:
    """The member's recent check-ins and the coach's replies, oldest first."""
    entries = await session.exec(
        select(Entry)
        .where(col(Entry.member_id) == member.id)
        .order_by(col(Entry.created_at).desc())
        .limit(limit)
    )
    replies = await session.exec(
        select(CoachReply)
        .where(col(CoachReply.member_id) == member.id)
        .order_by(col(CoachReply.created_at).desc())
        .limit(limit)
    )
    lines = [
        ThreadLine(e.created_at, member.first_name, str(e.kind), e.text, e.duration_seconds)
        for e in entries.all()
    ] + [
        ThreadLine(r.created_at, "you", str(r.kind), r.text, r.duration_seconds)
        for r in replies.all()
    ]
    return sorted(lines, key=lambda line: line.when)[-limit:]


async def acknowledge(
    session: AsyncSession, templates: Templates, *, member: Member, group: Group, now: datetime
) -> bool:
    """At most once a local day: "got it, your coach answers by ..." (nobody waits in silence)."""
    deadline = answer_by(
        now,
        zone=group.timezone,
        days=parse_days(group.reply_days),
        by=parse_time(group.reply_by),
    )
    return await enqueue(
        session,
        key=f"ack:{member.id}:{local_date(now, group.timezone).isoformat()}",
        chat_id=member.telegram_id,
        text=templates.render(
            "ack",
            first_name=member.first_name,
            by=local_time(deadline, group),
            today=local_date(deadline, group.timezone) == local_date(now, group.timezone),
            days=describe_days(parse_days(group.reply_days)),
        ),
        now=now,
    )
