"""Daily practice in the database: the prompt of the day, check-ins, tools' answers, streaks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ScalarSelect
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import insert_if_new
from core.models import (
    SEATED,
    Entry,
    EntryKind,
    Group,
    Member,
    PromptDay,
    PromptState,
    Seat,
)
from core.outbox import enqueue
from prompts.daily import (
    PlannedDay,
    due_date,
    local_today,
    next_prompt,
    parse_days,
    parse_time,
    plan_days,
    week_theme,
)
from prompts.library import Library, Prompt
from prompts.render import Templates

# --- the prompt of the day -------------------------------------------------------------------


async def send_due_prompts(
    session: AsyncSession, library: Library, templates: Templates, now: datetime, bot_url: str
) -> list[tuple[Group, date, Prompt]]:
    """Queue each group's prompt once its local hour has come: once per local day."""
    sent = []
    for group in (await session.exec(select(Group).order_by(col(Group.id)))).all():
        assert group.id is not None
        today = await _prompt_day(session, group.id, local_today(now, group.timezone))
        day = due_date(
            now,
            zone=group.timezone,
            at=parse_time(group.prompt_time),
            days=parse_days(group.prompt_days),
            planned=today is not None and today.state == PromptState.PLANNED,
        )
        if day is None:
            continue
        prompt = await send_prompt(session, group, day, library, templates, now, bot_url)
        if prompt is not None:
            sent.append((group, day, prompt))
    return sent


async def send_prompt(
    session: AsyncSession,
    group: Group,
    day: date,
    library: Library,
    templates: Templates,
    now: datetime,
    bot_url: str,
) -> Prompt | None:
    """Queue the prompt for `day` unless it was sent or skipped; return it when queued."""
    assert group.id is not None
    stored = await _prompt_day(session, group.id, day)
    if stored is not None and stored.state != PromptState.PLANNED:
        return None
    theme = week_theme(day, library.themed_weeks)
    if stored is not None and stored.prompt_id in {p.id for p in library.prompts}:
        prompt = library.prompt(stored.prompt_id or "")
    else:
        history = await prompt_history(session, group.id)
        prompt = next_prompt(
            library.prompts,
            history,
            theme=theme.theme if theme else None,
            reserved=await _planned_after(session, group.id, day),
        )
    tool = library.tools.get(prompt.tool) if prompt.tool else None
    markup = None
    if tool is not None:
        button = {"text": f"Try it: {tool.title}", "url": f"{bot_url}?start=tool-{tool.id}"}
        markup = {"inline_keyboard": [[button]]}
    await enqueue(
        session,
        key=f"prompt:{group.id}:{day.isoformat()}",
        chat_id=group.chat_id,
        text=templates.render("daily_prompt", prompt=prompt, theme=theme, day=day),
        reply_markup=markup,
        now=now,
    )
    row = stored or PromptDay(group_id=group.id, local_date=day, state=PromptState.SENT)
    row.prompt_id, row.state, row.sent_at = prompt.id, PromptState.SENT, now
    session.add(row)
    await session.flush()
    return prompt


async def prompt_history(session: AsyncSession, group_id: int) -> list[str]:
    """The prompts a group has had, oldest first."""
    result = await session.exec(
        select(PromptDay.prompt_id)
        .where(col(PromptDay.group_id) == group_id)
        .where(col(PromptDay.state) == PromptState.SENT)
        .order_by(col(PromptDay.local_date))
    )
    return [prompt_id for prompt_id in result.all() if prompt_id]


async def plan_week(
    session: AsyncSession, group: Group, library: Library, now: datetime
) -> list[PlannedDay]:
    """The next seven local days: sent, planned, skipped, or what the rotation will pick."""
    assert group.id is not None
    today = local_today(now, group.timezone)
    rows = await session.exec(
        select(PromptDay)
        .where(col(PromptDay.group_id) == group.id)
        .where(col(PromptDay.local_date) >= today)
    )
    fixed = {row.local_date: (str(row.state), row.prompt_id) for row in rows.all()}
    return plan_days(
        today,
        7,
        prompts=library.prompts,
        history=await prompt_history(session, group.id),
        fixed=fixed,
        days=parse_days(group.prompt_days),
        themed_weeks=library.themed_weeks,
    )


async def set_prompt_day(
    session: AsyncSession, group: Group, day: date, state: PromptState, prompt_id: str | None
) -> None:
    """The coach chooses (or skips) the prompt of one day; a sent day can't change."""
    assert group.id is not None
    row = await _prompt_day(session, group.id, day)
    if row is not None and row.state == PromptState.SENT:
        raise ValueError(f"the prompt for {day:%A %-d %B} was sent already")
    row = row or PromptDay(group_id=group.id, local_date=day, state=state)
    row.state, row.prompt_id = state, prompt_id
    session.add(row)
    await session.flush()


async def next_prompt_day(session: AsyncSession, group: Group, now: datetime) -> date:
    """Today if its prompt is still to come, else the next prompt day."""
    assert group.id is not None
    days = parse_days(group.prompt_days)
    day = local_today(now, group.timezone)
    for _ in range(8):
        row = await _prompt_day(session, group.id, day)
        if day.weekday() in days and (row is None or row.state == PromptState.PLANNED):
            return day
        day += timedelta(days=1)
    return day


async def todays_prompt(session: AsyncSession, group: Group, now: datetime) -> str | None:
    assert group.id is not None
    row = await _prompt_day(session, group.id, local_today(now, group.timezone))
    return row.prompt_id if row is not None and row.state == PromptState.SENT else None


async def _planned_after(session: AsyncSession, group_id: int, day: date) -> set[str]:
    result = await session.exec(
        select(PromptDay.prompt_id)
        .where(col(PromptDay.group_id) == group_id)
        .where(col(PromptDay.local_date) > day)
        .where(col(PromptDay.state) == PromptState.PLANNED)
    )
    return {prompt_id for prompt_id in result.all() if prompt_id}


def _prompt_sent(group: Group, day: date) -> ScalarSelect[str | None]:
    """The prompt sent to `group` on its local `day`, as a subquery."""
    return (
        select(PromptDay.prompt_id)
        .where(col(PromptDay.group_id) == group.id)
        .where(col(PromptDay.local_date) == day)
        .where(col(PromptDay.state) == PromptState.SENT)
        .scalar_subquery()
    )


async def _prompt_day(session: AsyncSession, group_id: int, day: date) -> PromptDay | None:
    result = await session.exec(
        select(PromptDay)
        .where(col(PromptDay.group_id) == group_id)
        .where(col(PromptDay.local_date) == day)
    )
    return result.first()


# --- check-ins -----------------------------------------------------------------------------


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
    chat_id: int,
    message_id: int,
    kind: EntryKind,
    now: datetime,
    text: str | None = None,
    file_id: str | None = None,
    duration_seconds: int | None = None,
) -> bool:
    """Keep a member's message as an entry (once per message); tell whether it was new."""
    values = {
        "member_id": member.id,
        "group_id": group.id,
        "chat_id": chat_id,
        "message_id": message_id,
        "kind": kind,
        "text": text,
        "file_id": file_id,
        "duration_seconds": duration_seconds,
        # The day's prompt is looked up inside the insert: one round trip fewer per check-in.
        "prompt_id": _prompt_sent(group, local_today(now, group.timezone)),
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


def count_streak(moments: Iterable[datetime], zone: str, now: datetime) -> int:
    """Days in a row, ending today or yesterday (a streak lives until a whole day is missed)."""
    tz = ZoneInfo(zone)
    days = {moment.astimezone(tz).date() for moment in moments}
    day = now.astimezone(tz).date()
    if day not in days:
        day -= timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count


def zone_of(group: Group) -> ZoneInfo:
    return ZoneInfo(group.timezone)
