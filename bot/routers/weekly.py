"""The weekly rhythm for members: /zoom, /ask, /summary (the week so far)."""

from __future__ import annotations

from datetime import datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import PRIVATE
from bot.parts import answer_in_parts
from core.localtime import day_name, format_local, local_date, monday_of
from core.models import Group, Member, Question
from practice.words import Vocabulary
from prompts.render import Templates
from scheduling import qa, summaries


def create_router() -> Router:
    router = Router(name="weekly")
    router.message.filter(PRIVATE)
    router.message.register(next_zoom, Command("zoom"))
    router.message.register(ask, Command("ask"))
    router.message.register(week_so_far, Command("summary"))
    return router


async def next_zoom(
    message: Message,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/zoom: when and where the next live Q&A is."""
    if group is None:
        await message.answer(templates.render("members_only"))
        return
    meeting = await qa.next_meeting(session, group, now)
    usual = f"{day_name(group.qa_weekday)} at {group.qa_time} ({group.timezone})"
    when = format_local(meeting.starts_at, group.timezone) if meeting else None
    await message.answer(templates.render("zoom_next", meeting=meeting, when=when, usual=usual))


async def ask(
    message: Message,
    command: CommandObject,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/ask TEXT: a question for the live Q&A."""
    if group is None or member.id is None or group.id is None:
        await message.answer(templates.render("members_only"))
        return
    text = (command.args or "").strip()
    if text:
        session.add(Question(member_id=member.id, group_id=group.id, text=text, created_at=now))
    await message.answer(templates.render("ask_kept", kept=bool(text)))


async def week_so_far(
    message: Message,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    vocabulary: Vocabulary,
) -> None:
    """/summary: your week so far, as Sunday's summary will tell it."""
    if group is None:
        await message.answer(templates.render("members_only"))
        return
    week_start = monday_of(local_date(now, group.timezone))
    figures = await summaries.figures_for(
        session, member, group, week_start, vocabulary, until=now
    )
    text = summaries.render_summary(templates, member, group, week_start, figures, so_far=True)
    await answer_in_parts(message, text)
