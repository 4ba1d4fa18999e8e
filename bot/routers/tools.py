"""Small tools for the moment: the feelings wheel, breathing, grounding, boundaries, the inner
kid, wins, next steps and the streak. In private only."""

from __future__ import annotations

from typing import TypeVar

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import PRIVATE, Magic
from bot.people import person_and_group
from core.clock import Clock
from core.models import EntryKind
from prompts import practice
from prompts.library import Library
from prompts.render import Templates

T = TypeVar("T")
FEEL = "feel"
BACK = "back"
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
    router.callback_query.register(feel_core, Magic(F.data.startswith(f"{FEEL}:core:")))
    router.callback_query.register(feel_word, Magic(F.data.startswith(f"{FEEL}:word:")))
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


async def feel_core(query: CallbackQuery, library: Library, templates: Templates) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    choice = (query.data or "").rsplit(":", 1)[1]
    if choice == BACK:
        await query.message.edit_text(templates.render("feel_start"), reply_markup=_cores(library))
        return
    index = int(choice)
    core = library.wheel[index]
    rows = [
        [
            InlineKeyboardButton(text=word, callback_data=f"{FEEL}:word:{index}:{word}")
            for word in chunk
        ]
        for chunk in _chunks(list(core.words), 3)
    ]
    rows.append([InlineKeyboardButton(text="← back", callback_data=f"{FEEL}:core:{BACK}")])
    await query.message.edit_text(
        templates.render("feel_core", core=core),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


async def feel_word(
    query: CallbackQuery,
    session: AsyncSession,
    clock: Clock,
    library: Library,
    templates: Templates,
) -> None:
    """The word is named: kept for the member's weekly summary."""
    await query.answer()
    _, _, index, word = (query.data or "").split(":", 3)
    member, group = await person_and_group(session, query.from_user, clock)
    if group is not None:
        await practice.record_tool_answer(
            session, member=member, group=group, kind=EntryKind.FEELING, text=word, now=clock.now()
        )
    if isinstance(query.message, Message):
        core = library.wheel[int(index)]
        await query.message.edit_text(
            templates.render("feel_named", word=word, core=core, kept=group is not None)
        )


async def win(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
) -> None:
    """/win TEXT: a win, big or small, for the weekly summary."""
    await _note(message, command, session, clock, templates, EntryKind.WIN)


async def next_step(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
) -> None:
    """/next TEXT: the next small step."""
    await _note(message, command, session, clock, templates, EntryKind.NEXT_STEP)


async def _note(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    kind: EntryKind,
) -> None:
    assert message.from_user is not None
    text = (command.args or "").strip()
    if not text:
        await message.answer(templates.render("note_usage", kind=kind.value))
        return
    member, group = await person_and_group(session, message.from_user, clock)
    if group is None:
        await message.answer(templates.render("members_only"))
        return
    await practice.record_tool_answer(
        session, member=member, group=group, kind=kind, text=text, now=clock.now()
    )
    await message.answer(templates.render("note_kept", kind=kind.value))


async def show_streak(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """/streak: days in a row with a check-in."""
    assert message.from_user is not None
    member, group = await person_and_group(session, message.from_user, clock)
    if group is None:
        await message.answer(templates.render("members_only"))
        return
    days = await practice.streak(session, member, group, clock.now())
    await message.answer(templates.render("streak", days=days))


def _cores(library: Library) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=f"{core.emoji} {core.core}", callback_data=f"{FEEL}:core:{i}")
        for i, core in enumerate(library.wheel)
    ]
    return InlineKeyboardMarkup(inline_keyboard=_chunks(buttons, 2))


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
