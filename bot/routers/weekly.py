"""The weekly rhythm for members: /zoom, /ask, /summary (the week so far)."""

from __future__ import annotations

from datetime import datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import PRIVATE
from bot.people import person_and_group
from core.clock import Clock
from core.groups import local_time
from core.models import Question
from prompts import practice
from prompts.daily import WEEKDAYS
from prompts.library import Library
from prompts.render import Templates
from scheduling import qa, summaries
from scheduling.weekly import monday_of


def create_router() -> Router:
    router = Router(name="weekly")
    router.message.filter(PRIVATE)
    router.message.register(next_zoom, Command("zoom"))
    router.message.register(ask, Command("ask"))
    router.message.register(week_so_far, Command("summary"))
    return router


async def next_zoom(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """/zoom: when and where the next live Q&A is."""
    assert message.from_user is not None
    member, group = await person_and_group(session, message.from_user, clock)
    if group is None:
        await message.answer(templates.render("members_only"))
        return
    meeting = await qa.next_meeting(session, group, clock.now())
    usual = f"{WEEKDAYS[group.qa_weekday].title()} at {group.qa_time} ({group.timezone})"
    when = local_time(meeting.starts_at, group) if meeting else None
    await message.answer(templates.render("zoom_next", meeting=meeting, when=when, usual=usual))


async def ask(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
) -> None:
    """/ask TEXT: a question for the live Q&A."""
    assert message.from_user is not None
    member, group = await person_and_group(session, message.from_user, clock)
    if group is None or member.id is None or group.id is None:
        await message.answer(templates.render("members_only"))
        return
    text = (command.args or "").strip()
    if text:
        session.add(
            Question(member_id=member.id, group_id=group.id, text=text, created_at=clock.now())
        )
    await message.answer(templates.render("ask_kept", kept=bool(text)))


async def week_so_far(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates, library: Library
) -> None:
    """/summary: your week so far, as Sunday's summary will tell it."""
    assert message.from_user is not None
    member, group = await person_and_group(session, message.from_user, clock)
    if group is None:
        await message.answer(templates.render("members_only"))
        return
    now: datetime = clock.now()
    week_start = monday_of(now.astimezone(practice.zone_of(group)).date())
    figures = await summaries.figures_for(session, member, group, week_start, library, until=now)
    await message.answer(summaries.render_summary(templates, member, group, week_start, figures))
