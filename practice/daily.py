"""The prompt of the day in the database: queued once per local day, planned, skipped."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.localtime import day_due, local_date, parse_days, parse_time
from core.models import Group, PromptDay, PromptState
from core.outbox import enqueue
from practice.rotation import PlannedDay, next_prompt, plan_days, week_theme
from prompts.catalog import Library, Prompt
from prompts.render import Templates


async def send_due_prompts(
    session: AsyncSession, library: Library, templates: Templates, now: datetime, bot_url: str
) -> list[tuple[Group, date, Prompt]]:
    """Queue each group's prompt once its local hour has come: once per local day."""
    sent = []
    for group in (await session.exec(select(Group).order_by(col(Group.id)))).all():
        assert group.id is not None
        today = await _prompt_day(session, group.id, local_date(now, group.timezone))
        # A day the coach planned a prompt for is a prompt day, even a day off.
        day = day_due(
            now,
            zone_name=group.timezone,
            at=parse_time(group.prompt_time),
            days=parse_days(group.prompt_days),
            any_day=today is not None and today.state == PromptState.PLANNED,
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
    today = local_date(now, group.timezone)
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


class PlanError(ValueError):
    """A day or prompt the coach can correct; the message says what is expected."""


async def plan_prompt(
    session: AsyncSession,
    group: Group,
    *,
    day: date,
    prompt_id: str,
    library: Library,
    now: datetime,
) -> Prompt:
    """The coach chooses the prompt of a coming day (/prompt set)."""
    try:
        chosen = library.prompt(prompt_id)
    except KeyError:
        raise PlanError(f"a prompt id from the library; {prompt_id!r} isn't one") from None
    if day < local_date(now, group.timezone):
        raise PlanError(f"a date like 2026-11-24 ({day} is in the past)")
    await set_prompt_day(session, group, day, PromptState.PLANNED, chosen.id)
    return chosen


async def skip_next_prompt(session: AsyncSession, group: Group, now: datetime) -> date:
    """No prompt on the next prompt day (/prompt skip); return that day."""
    day = await next_prompt_day(session, group, now)
    await set_prompt_day(session, group, day, PromptState.SKIPPED, None)
    return day


async def set_prompt_day(
    session: AsyncSession, group: Group, day: date, state: PromptState, prompt_id: str | None
) -> None:
    """The coach chooses (or skips) the prompt of one day; a sent day can't change."""
    assert group.id is not None
    row = await _prompt_day(session, group.id, day)
    if row is not None and row.state == PromptState.SENT:
        raise PlanError(
            f"a date like 2026-11-24 (the prompt for {day:%A %-d %B} was sent already)"
        )
    row = row or PromptDay(group_id=group.id, local_date=day, state=state)
    row.state, row.prompt_id = state, prompt_id
    session.add(row)
    await session.flush()


async def next_prompt_day(session: AsyncSession, group: Group, now: datetime) -> date:
    """Today if its prompt is still to come, else the next prompt day."""
    assert group.id is not None
    days = parse_days(group.prompt_days)
    day = local_date(now, group.timezone)
    for _ in range(8):
        row = await _prompt_day(session, group.id, day)
        if day.weekday() in days and (row is None or row.state == PromptState.PLANNED):
            return day
        day += timedelta(days=1)
    return day


async def todays_prompt(session: AsyncSession, group: Group, now: datetime) -> str | None:
    assert group.id is not None
    row = await _prompt_day(session, group.id, local_date(now, group.timezone))
    return row.prompt_id if row is not None and row.state == PromptState.SENT else None


async def _planned_after(session: AsyncSession, group_id: int, day: date) -> set[str]:
    result = await session.exec(
        select(PromptDay.prompt_id)
        .where(col(PromptDay.group_id) == group_id)
        .where(col(PromptDay.local_date) > day)
        .where(col(PromptDay.state) == PromptState.PLANNED)
    )
    return {prompt_id for prompt_id in result.all() if prompt_id}


async def _prompt_day(session: AsyncSession, group_id: int, day: date) -> PromptDay | None:
    result = await session.exec(
        select(PromptDay)
        .where(col(PromptDay.group_id) == group_id)
        .where(col(PromptDay.local_date) == day)
    )
    return result.first()
