"""Check-ins in the database: a member's messages and tools' answers, kept as entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.localtime import local_date
from core.models import SEATED, Entry, EntryKind, Group, Member, PromptDay, PromptState, Seat
from practice.daily import todays_prompt
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


async def member_and_home_group(
    session: AsyncSession, telegram_id: int, *, chat_id: int | None = None
) -> tuple[Member, Group | None] | None:
    """A known person and their `home_group` in one query (None: not known yet)."""
    in_chat = chat_id is not None
    query = _MEMBER_AND_GROUP.get(in_chat)
    if query is None:
        query = _MEMBER_AND_GROUP[in_chat] = _member_and_group(in_chat=in_chat)
    params = {"telegram_id": telegram_id, "chat_id": chat_id}
    found = (await session.exec(query, params=params)).first()
    return (found[0], found[1]) if found is not None else None


def _member_and_group(*, in_chat: bool) -> Any:
    # Built once (building a query costs more than running it); the values are parameters.
    seated = aliased(Group)
    seat_group = (
        select(Seat.group_id)
        .join(seated, col(seated.id) == col(Seat.group_id))
        .where(col(Seat.member_id) == col(Member.id))
        .where(col(Seat.status).in_(SEATED))
        .order_by(col(Seat.id))
        .limit(1)
    )
    if in_chat:
        seat_group = seat_group.where(col(seated.chat_id) == bindparam("chat_id"))
    return (
        select(Member, Group)
        .outerjoin(Group, col(Group.id) == seat_group.correlate(Member).scalar_subquery())
        .where(col(Member.telegram_id) == bindparam("telegram_id"))
    )


_MEMBER_AND_GROUP: dict[bool, Any] = {}


async def record_message(
    session: AsyncSession,
    *,
    member: Member,
    group: Group,
    said: Said,
    now: datetime,
) -> bool:
    """Keep a member's message as an entry (once per message); tell whether it was new."""
    assert group.id is not None
    connection = await session.connection()
    statement = _ENTRY_INSERT.get(connection.dialect.name)
    if statement is None:
        statement = _ENTRY_INSERT[connection.dialect.name] = _entry_insert(connection.dialect.name)
    values = {
        "member_id": member.id,
        "group_id": group.id,
        "chat_id": said.chat_id,
        "message_id": said.message_id,
        "kind": said.kind,
        "text": said.text,
        "file_id": said.file_id,
        "duration_seconds": said.duration_seconds,
        "created_at": now,
        "local_date": local_date(now, group.timezone),
    }
    return bool((await connection.execute(statement, values)).rowcount)


def _entry_insert(dialect: str) -> Any:
    """The entry of a message, once per message; the day's prompt is looked up inside the
    insert (one round trip fewer per check-in). Built once per dialect."""
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = ("member_id", "group_id", "chat_id", "message_id", "kind", "text", "file_id")
    values: dict[str, Any] = {name: bindparam(name) for name in columns}
    values["duration_seconds"] = bindparam("duration_seconds")
    values["created_at"] = bindparam("created_at")
    values["prompt_id"] = (
        select(PromptDay.prompt_id)
        .where(col(PromptDay.group_id) == bindparam("group_id"))
        .where(col(PromptDay.local_date) == bindparam("local_date"))
        .where(col(PromptDay.state) == PromptState.SENT)
        .scalar_subquery()
    )
    table = Entry.__table__  # type: ignore[attr-defined]
    unique = ["chat_id", "message_id"]
    return builder(table).values(values).on_conflict_do_nothing(index_elements=unique)


_ENTRY_INSERT: dict[str, Any] = {}


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
