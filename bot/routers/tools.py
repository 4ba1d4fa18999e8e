"""Small tools for the moment: the feelings wheel, breathing, grounding, boundaries, the inner
kid, wins, next steps and the streak. In private only."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import PRIVATE
from core.models import EntryKind, Group, Member
from practice import checkins
from prompts.buttons import BACK, NameFeeling, PickFeeling, button, markup
from prompts.catalog import Library
from prompts.render import Templates

T = TypeVar("T")
TOOL_COMMANDS = {
    "breathe": "breathe",
    "ground": "ground",
    "boundary": "boundary",
    "innerkid": "inner-kid",
}


def create_router() -> Router:
    router = Router(name="tools")
    router.message.filter(PRIVATE)
    router.message.register(feel, Command("feel"))
    router.callback_query.register(pick_feeling, PickFeeling.filter())
    router.callback_query.register(name_feeling, NameFeeling.filter())
    router.message.register(show_tool, Command(*TOOL_COMMANDS))
    router.message.register(win, Command("win"))
    router.message.register(next_step, Command("next"))
    router.message.register(show_streak, Command("streak"))
    return router


async def show_tool(
    message: Message, command: CommandObject, library: Library, templates: Templates
) -> None:
    """/breathe, /ground, /boundary, /innerkid: the guide, right now."""
    tool = library.tools[TOOL_COMMANDS[command.command]]
    await message.answer(templates.render("tool", tool=tool))


async def feel(message: Message, library: Library, templates: Templates) -> None:
    """The feelings wheel: pick a core feeling, then the word that fits best."""
    await message.answer(templates.render("feel_start"), reply_markup=_cores(library))


async def pick_feeling(
    query: CallbackQuery, callback_data: PickFeeling, library: Library, templates: Templates
) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if callback_data.index == BACK:
        await query.message.edit_text(templates.render("feel_start"), reply_markup=_cores(library))
        return
    core = library.wheel[callback_data.index]
    rows = [
        [button(word, NameFeeling(index=callback_data.index, word=word)) for word in chunk]
        for chunk in _chunks(list(core.words), 3)
    ]
    await query.message.edit_text(
        templates.render("feel_core", core=core),
        reply_markup=markup(*rows, [button("← back", PickFeeling(index=BACK))]),
    )


async def name_feeling(
    query: CallbackQuery,
    callback_data: NameFeeling,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    library: Library,
    templates: Templates,
) -> None:
    """The word is named: kept for the member's weekly summary."""
    await query.answer()
    if group is not None:
        await checkins.record_tool_answer(
            session,
            member=member,
            group=group,
            kind=EntryKind.FEELING,
            text=callback_data.word,
            now=now,
        )
    if isinstance(query.message, Message):
        core = library.wheel[callback_data.index]
        await query.message.edit_text(
            templates.render(
                "feel_named", word=callback_data.word, core=core, kept=group is not None
            )
        )


async def win(
    message: Message,
    command: CommandObject,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/win TEXT: a win, big or small, for the weekly summary."""
    await _note(message, command, member, group, session, now, templates, EntryKind.WIN)


async def next_step(
    message: Message,
    command: CommandObject,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/next TEXT: the next small step."""
    await _note(message, command, member, group, session, now, templates, EntryKind.NEXT_STEP)


async def _note(
    message: Message,
    command: CommandObject,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    kind: EntryKind,
) -> None:
    text = (command.args or "").strip()
    if not text:
        await message.answer(templates.render("note_usage", kind=kind.value))
    elif group is None:
        await message.answer(templates.render("members_only"))
    else:
        await checkins.record_tool_answer(
            session, member=member, group=group, kind=kind, text=text, now=now
        )
        await message.answer(templates.render("note_kept", kind=kind.value))


async def show_streak(
    message: Message,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/streak: days in a row with a check-in."""
    if group is None:
        await message.answer(templates.render("members_only"))
        return
    days = await checkins.streak(session, member, group, now)
    await message.answer(templates.render("streak", days=days))


def _cores(library: Library) -> InlineKeyboardMarkup:
    buttons = [
        button(f"{core.emoji} {core.core}", PickFeeling(index=index))
        for index, core in enumerate(library.wheel)
    ]
    return markup(*_chunks(buttons, 2))


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
