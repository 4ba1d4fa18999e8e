"""Private threads: a member's messages reach the coach; the coach's reply reaches the member."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from coaching.rules import answer_by, waited
from core.localtime import describe_days, format_local, local_date, parse_days, parse_time
from core.models import (
    SEATED,
    CoachReply,
    Entry,
    EntryKind,
    Group,
    Highlight,
    Member,
    Relay,
    SafetyAlert,
    Seat,
)
from core.outbox import enqueue
from practice.checkins import Said, streak
from prompts.render import Templates

log = logging.getLogger(__name__)

# Outbox keys of relays to the coaches: "relay:<member id>:<message id>:<coach id>:header|copy".
RELAY_KEY = "relay:"


class NotDelivered(Exception):
    """Telegram would not take the message (blocked, refused, or failing for now);
    `voice_refused`: the person's privacy settings refuse voice and video notes."""

    def __init__(self, reason: str, *, voice_refused: bool = False) -> None:
        super().__init__(reason)
        self.voice_refused = voice_refused


class Messenger(Protocol):
    """Sends on the spot (TelegramGateway); each call returns the new message's id."""

    async def send_text(self, chat_id: int, text: str, *, silent: bool = False) -> int: ...

    async def copy(
        self, chat_id: int, from_chat_id: int, message_id: int, *, silent: bool = False
    ) -> int: ...


async def reach_coaches(
    session: AsyncSession,
    templates: Templates,
    *,
    said: Said,
    member: Member,
    group: Group,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> None:
    """A private check-in: copied to each coach under a header saying who and since when, and
    acknowledged to the member (at most once a day).

    Through the outbox, so a 429 or a failing moment delays the relay instead of losing it;
    the coach's reply finds the member through the Relay rows written as each arrives.
    """
    assert member.id is not None
    since = await waiting_since(session, member.id) or now
    header = templates.render(
        "thread_header",
        member=member,
        streak=await streak(session, member, group, now),
        waited=waited(since, now),
    )
    entry = (
        await session.exec(
            select(Entry)
            .where(col(Entry.chat_id) == said.chat_id)
            .where(col(Entry.message_id) == said.message_id)
        )
    ).first()
    relay = {"relay": {"member_id": member.id, "entry_id": entry.id if entry else None}}
    for coach_id in coach_ids:
        key = f"{RELAY_KEY}{member.id}:{said.message_id}:{coach_id}"
        # Silent: the coach reads once a day, not at every ping.
        await enqueue(
            session, key=f"{key}:header", chat_id=coach_id, text=header, silent=True,
            context=relay, now=now,
        )  # fmt: skip
        await enqueue(
            session, key=f"{key}:copy", chat_id=coach_id, text="", silent=True, context=relay,
            copy_of=(said.chat_id, said.message_id), now=now,
        )  # fmt: skip
    await acknowledge(session, templates, member=member, group=group, now=now)


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
    session: AsyncSession,
    messenger: Messenger,
    *,
    reply: Said,
    answers: int,
    coach_id: int,
    now: datetime,
) -> Delivery:
    """Send the coach's reply (text, voice, anything) to the member it answers, and keep it.

    `answers` is the message in the coach's chat that the coach replied to.
    """
    relay = (
        await session.exec(
            select(Relay)
            .where(col(Relay.coach_chat_id) == reply.chat_id)
            .where(col(Relay.coach_message_id) == answers)
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
        await messenger.copy(member.telegram_id, reply.chat_id, reply.message_id)
    except NotDelivered as error:
        log.warning("coach reply to member %s failed: %s", member.id, error)
        return Delivery(member, False, "voice_refused" if error.voice_refused else "unreachable")
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
    said: Said,
    *,
    coach_id: int,
    now: datetime,
    member_id: int | None = None,
    group_id: int | None = None,
) -> None:
    """Keep what the coach said (a reply to a member, or feedback in the group)."""
    spoken = said.kind in (EntryKind.VOICE, EntryKind.VIDEO_NOTE)
    session.add(
        CoachReply(
            coach_id=coach_id,
            member_id=member_id,
            group_id=group_id,
            chat_id=said.chat_id,
            message_id=said.message_id,
            kind=said.kind if spoken else EntryKind.TEXT,
            text=said.text,
            file_id=said.file_id if spoken else None,
            duration_seconds=said.duration_seconds if spoken else None,
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
            by=format_local(deadline, group.timezone),
            today=local_date(deadline, group.timezone) == local_date(now, group.timezone),
            days=describe_days(parse_days(group.reply_days)),
        ),
        now=now,
    )


async def remember_relay(
    session: AsyncSession, *, coach_chat_id: int, message_id: int, member: Member, now: datetime
) -> None:
    """A message in the coach's chat stands for this member: replying to it answers them."""
    assert member.id is not None
    session.add(
        Relay(
            coach_chat_id=coach_chat_id,
            coach_message_id=message_id,
            member_id=member.id,
            created_at=now,
        )
    )


async def highlight(
    session: AsyncSession,
    *,
    chat_id: int,
    via_relay: bool,
    message_id: int,
    kind: str,
    coach_id: int,
    now: datetime,
) -> Highlight | None:
    """Mark a member's message as a win or an insight for their weekly summary.

    `message_id` is the message the coach replied to: the member's own in the group, or
    (`via_relay`) its copy in the coach's private chat. None when it is no member's check-in.
    """
    entry = await _relayed_entry(session, chat_id, message_id) if via_relay else None
    if not via_relay:
        entry = (
            await session.exec(
                select(Entry)
                .where(col(Entry.chat_id) == chat_id)
                .where(col(Entry.message_id) == message_id)
            )
        ).first()
    if entry is None or entry.id is None:
        return None
    marked = (
        await session.exec(select(Highlight).where(col(Highlight.entry_id) == entry.id))
    ).first() or Highlight(entry_id=entry.id, kind=kind, coach_id=coach_id, created_at=now)
    marked.kind = kind
    session.add(marked)
    return marked


async def _relayed_entry(session: AsyncSession, chat_id: int, message_id: int) -> Entry | None:
    relay = (
        await session.exec(
            select(Relay)
            .where(col(Relay.coach_chat_id) == chat_id)
            .where(col(Relay.coach_message_id) == message_id)
        )
    ).first()
    return await session.get(Entry, relay.entry_id) if relay and relay.entry_id else None


async def broadcast(
    session: AsyncSession, templates: Templates, *, text: str, key: str, now: datetime
) -> int:
    """The coach's words to every seated member, privately, through the outbox; how many."""
    seated = await session.exec(
        select(Member)
        .join(Seat, col(Seat.member_id) == col(Member.id))
        .where(col(Seat.status).in_(SEATED))
        .distinct()
    )
    body = templates.render("broadcast", text=text)
    count = 0
    for member in seated.all():
        count += await enqueue(
            session, key=f"{key}:{member.id}", chat_id=member.telegram_id, text=body, now=now
        )
    return count
