"""The bot's own place in groups: a coach adds it (the group is registered), anyone else can't."""

from __future__ import annotations

import logging
from datetime import datetime

from aiogram import Bot, Router
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberAdministrator, ChatMemberUpdated
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import IN_A_GROUP
from core.groups import BotRights, find_group, missing_rights, register_group
from core.settings import Settings
from prompts.render import Templates

log = logging.getLogger(__name__)

PRESENT = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER, ChatMemberStatus.RESTRICTED}


def create_router() -> Router:
    """A fresh router (each dispatcher needs its own)."""
    router = Router(name="group")
    router.my_chat_member.filter(IN_A_GROUP)
    router.my_chat_member.register(bot_membership_changed)
    return router


async def bot_membership_changed(
    event: ChatMemberUpdated,
    bot: Bot,
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    templates: Templates,
) -> None:
    """Register the group when a coach adds or promotes the bot; leave when anyone else does."""
    title = event.chat.title or str(event.chat.id)
    if event.new_chat_member.status not in PRESENT:
        if await find_group(session, chat_id=event.chat.id) is not None:
            await _tell_coaches(bot, settings, templates.render("group_left", title=title))
        return
    if event.from_user.id not in settings.coach_telegram_ids:
        log.warning(
            "bot added to chat %s by non-coach %s; leaving", event.chat.id, event.from_user.id
        )
        await bot.leave_chat(event.chat.id)
        return
    rights = _rights(event)
    group = await register_group(
        session, chat_id=event.chat.id, title=title, rights=rights, now=now
    )
    text = templates.render(
        "group_registered",
        title=title,
        chat_id=group.chat_id,
        timezone=group.timezone,
        missing=missing_rights(rights),
    )
    await _send_quietly(bot, event.from_user.id, text)


def _rights(event: ChatMemberUpdated) -> BotRights:
    new = event.new_chat_member
    if isinstance(new, ChatMemberAdministrator):
        return BotRights(
            is_admin=True,
            can_invite_users=new.can_invite_users,
            can_restrict_members=new.can_restrict_members,
        )
    return BotRights(is_admin=False)


async def _tell_coaches(bot: Bot, settings: Settings, text: str) -> None:
    for coach_id in settings.coach_telegram_ids:
        await _send_quietly(bot, coach_id, text)


async def _send_quietly(bot: Bot, chat_id: int, text: str) -> None:
    # A coach who has not started the bot yet can't be told; the log keeps the fact.
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        log.warning("could not tell coach %s: %s", chat_id, error.message)
