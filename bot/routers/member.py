"""A person's private chat with the bot: /start and /help."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from core.clock import Clock
from core.groups import list_groups
from core.members import remember_member
from prompts.render import Templates

HELP = "help"


def create_router() -> Router:
    """A fresh router (each dispatcher needs its own)."""
    router = Router(name="member")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    router.callback_query.register(help_button, F.data == HELP)
    return router


async def start(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """Welcome: what Between is, the price, the seats left, the not-for-crisis note."""
    user = message.from_user
    assert user is not None
    await remember_member(
        session,
        telegram_id=user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
        now=clock.now(),
        started=True,
    )
    groups = await list_groups(session)
    seats_left = sum(group.capacity for group in groups) if groups else None
    buttons = [[InlineKeyboardButton(text="How it works", callback_data=HELP)]]
    await message.answer(
        templates.render("start", first_name=user.first_name, seats_left=seats_left),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons),
    )


async def help_command(message: Message, templates: Templates) -> None:
    """What a member can do."""
    await message.answer(templates.render("help"))


async def help_button(query: CallbackQuery, templates: Templates) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.answer(templates.render("help"))
