"""Check-ins in the database: a member's messages and tools' answers, kept as entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import insert_if_new
from core.localtime import local_date
from core.models import SEATED, Entry, EntryKind, Group, Member, Seat
from practice.daily import prompt_sent_on, todays_prompt
from practice.streaks import count_streak


@dataclass(frozen=True)
class Said:
    """What one Telegram message says, as a check-in or a coach's reply keeps it."""

    chat_id: int
    message_id: int
    kind: EntryKind
    text: str | None = None
    file_id: str | None = None
    duration_seconds: int | None = None
    # The words with their formatting, as Telegram HTML (kept for the coach's replies only).
    html: str | None = None


async def home_group(
    session: AsyncSession, member: Member, *, chat_id: int | None = None
) -> Group | None:
    """The group the member has a seat in (the first, if several); with `chat_id`, the group
    of that chat if they have a seat there."""
    query = (
        select(Group)
        .join(Seat, col(Seat.group_id) == col(Group.id))
        .where(col(Seat.member_id) == member.id)
        .where(col(Seat.status).in_(SEATED))
        .order_by(col(Seat.id))
    )
    if chat_id is not None:
        query = query.where(col(Group.chat_id) == chat_id)
    return (await session.exec(query)).first()


async def record_message(
    session: AsyncSession,
    *,
    member: Member,
    group: Group,
    said: Said,
    now: datetime,
) -> bool:
    """Keep a member's message as an entry (once per message); tell whether it was new."""
    values = {
        "member_id": member.id,
        "group_id": group.id,
        "chat_id": said.chat_id,
        "message_id": said.message_id,
        "kind": said.kind,
        "text": said.text,
        "file_id": said.file_id,
        "duration_seconds": said.duration_seconds,
        # The day's prompt is looked up inside the insert: one round trip fewer per check-in.
        "prompt_id": prompt_sent_on(group, local_date(now, group.timezone)),
        "created_at": now,
    }
    return await insert_if_new(session, Entry, values, ["chat_id", "message_id"])


async def record_edit(
    session: AsyncSession, *, chat_id: int, message_id: int, text: str | None, now: datetime
) -> bool:
    """An edited message updates its entry; tell whether there was one."""
    result = await session.exec(
        select(Entry)
        .where(col(Entry.chat_id) == chat_id)
        .where(col(Entry.message_id) == message_id)
    )
    entry = result.first()
    if entry is None:
        return False
    entry.text, entry.edited_at = text, now
    session.add(entry)
    return True


async def record_tool_answer(
    session: AsyncSession,
    *,
    member: Member,
    group: Group,
    kind: EntryKind,
    text: str,
    now: datetime,
) -> Entry:
    """A feeling chosen on the wheel, a /win, a /next: an entry without a message."""
    assert member.id is not None
    entry = Entry(
        member_id=member.id,
        group_id=group.id,
        chat_id=member.telegram_id,
        kind=kind,
        text=text,
        prompt_id=await todays_prompt(session, group, now),
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    return entry


async def streak(session: AsyncSession, member: Member, group: Group, now: datetime) -> int:
    """Days in a row with a check-in, in the group's zone."""
    result = await session.exec(
        select(Entry.created_at)
        .where(col(Entry.member_id) == member.id)
        .where(col(Entry.created_at) >= now - timedelta(days=400))
    )
    return count_streak(result.all(), group.timezone, now)
