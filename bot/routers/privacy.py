"""Members' data rights in private: /privacy, /mydata (everything kept), /forget."""

from __future__ import annotations

import json
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import PRIVATE
from core import privacy
from core.models import Member
from core.outbox import enqueue
from core.settings import Settings
from prompts.buttons import Forget, button, markup
from prompts.render import Templates


def create_router() -> Router:
    router = Router(name="privacy")
    router.message.filter(PRIVATE)
    router.message.register(show_privacy, Command("privacy"))
    router.message.register(my_data, Command("mydata"))
    router.message.register(ask_to_forget, Command("forget"))
    router.callback_query.register(forget, Forget.filter(F.confirm))
    router.callback_query.register(keep, Forget.filter(~F.confirm))
    return router


async def show_privacy(message: Message, settings: Settings, templates: Templates) -> None:
    """What is kept, for how long, who reads it, and how to export or delete it."""
    await message.answer(templates.render("privacy", retention_days=settings.retention_days))


async def my_data(
    message: Message,
    member: Member,
    bot: Bot,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """Everything stored about you, as a JSON file and a page to read."""
    data = await privacy.export_member(session, member)
    exported = json.dumps(data, ensure_ascii=False, indent=2).encode()
    page = templates.render("mydata_page", data=data, exported_at=now).encode()
    await message.answer(templates.render("mydata"))
    await bot.send_document(
        message.chat.id, BufferedInputFile(exported, "between-my-data.json"), caption="JSON"
    )
    await bot.send_document(
        message.chat.id, BufferedInputFile(page, "between-my-data.html"), caption="To read"
    )


async def ask_to_forget(message: Message, templates: Templates) -> None:
    """First say exactly what will go, and ask."""
    await message.answer(
        templates.render("forget_confirm"),
        reply_markup=markup(
            [button("Yes, delete it all", Forget(confirm=True))],
            [button("No, keep it", Forget(confirm=False))],
        ),
    )


async def forget(
    query: CallbackQuery,
    member: Member,
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    templates: Templates,
) -> None:
    """Delete it all; tell the coach that a member used their right (not who said what)."""
    await query.answer()
    name = member.first_name
    done = await privacy.forget_member(session, member, now)
    if isinstance(query.message, Message):
        await query.message.edit_text(templates.render("forgotten", done=done))
    for coach_id in settings.coach_telegram_ids:
        await enqueue(
            session,
            key=f"forgot:{member.id}:{now.isoformat()}:{coach_id}",
            chat_id=coach_id,
            text=templates.render("coach_member_forgot", name=name),
            now=now,
        )


async def keep(query: CallbackQuery, templates: Templates) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(templates.render("forget_kept"))
