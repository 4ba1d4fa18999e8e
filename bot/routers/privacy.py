"""Members' data rights in private: /privacy, /mydata (everything kept), /forget."""

from __future__ import annotations

import json

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import PRIVATE, Magic
from bot.people import person
from core import privacy
from core.clock import Clock
from core.outbox import enqueue
from core.settings import Settings
from prompts.render import Templates

FORGET_YES = "forget:yes"
FORGET_NO = "forget:no"


def create_router() -> Router:
    router = Router(name="privacy")
    router.message.filter(PRIVATE)
    router.message.register(show_privacy, Command("privacy"))
    router.message.register(my_data, Command("mydata"))
    router.message.register(ask_to_forget, Command("forget"))
    router.callback_query.register(forget, Magic(F.data == FORGET_YES))
    router.callback_query.register(keep, Magic(F.data == FORGET_NO))
    return router


async def show_privacy(message: Message, settings: Settings, templates: Templates) -> None:
    """What is kept, for how long, who reads it, and how to export or delete it."""
    await message.answer(templates.render("privacy", retention_days=settings.retention_days))


async def my_data(
    message: Message, bot: Bot, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """Everything stored about you, as a JSON file and a page to read."""
    assert message.from_user is not None
    member = await person(session, message.from_user, clock)
    data = await privacy.export_member(session, member)
    exported = json.dumps(data, ensure_ascii=False, indent=2).encode()
    page = templates.render("mydata_page", data=data, exported_at=clock.now()).encode()
    await message.answer(templates.render("mydata"))
    await bot.send_document(
        message.chat.id, BufferedInputFile(exported, "between-my-data.json"), caption="JSON"
    )
    await bot.send_document(
        message.chat.id, BufferedInputFile(page, "between-my-data.html"), caption="To read"
    )


async def ask_to_forget(message: Message, templates: Templates) -> None:
    """First say exactly what will go, and ask."""
    buttons = [
        [InlineKeyboardButton(text="Yes, delete it all", callback_data=FORGET_YES)],
        [InlineKeyboardButton(text="No, keep it", callback_data=FORGET_NO)],
    ]
    await message.answer(
        templates.render("forget_confirm"),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons),
    )


async def forget(
    query: CallbackQuery,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    templates: Templates,
) -> None:
    """Delete it all; tell the coach that a member used their right (not who said what)."""
    await query.answer()
    member = await person(session, query.from_user, clock)
    name = member.first_name
    done = await privacy.forget_member(session, member, clock.now())
    if isinstance(query.message, Message):
        await query.message.edit_text(templates.render("forgotten", done=done))
    for coach_id in settings.coach_telegram_ids:
        await enqueue(
            session,
            key=f"forgot:{member.id}:{clock.now().isoformat()}:{coach_id}",
            chat_id=coach_id,
            text=templates.render("coach_member_forgot", name=name),
            now=clock.now(),
        )


async def keep(query: CallbackQuery, templates: Templates) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(templates.render("forget_kept"))
