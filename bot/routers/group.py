"""The bot's own place in groups: a coach adds it (the group is registered), anyone else can't."""

from __future__ import annotations

import logging
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberAdministrator, ChatMemberUpdated
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import IN_A_GROUP, IsCoach, Magic
from bot.routers.dashboard import mini_app_url, settings_url
from core.groups import BotRights, find_group, missing_rights, register_group
from core.settings import Settings
from prompts.render import Templates

log = logging.getLogger(__name__)

PRESENT = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER, ChatMemberStatus.RESTRICTED}


def create_router() -> Router:
    """A fresh router (each dispatcher needs its own)."""
    router = Router(name="group")
    router.my_chat_member.filter(IN_A_GROUP)
    router.my_chat_member.register(bot_left, Magic(~F.new_chat_member.status.in_(PRESENT)))
    router.my_chat_member.register(coach_set_the_bot_up, IsCoach())
    router.my_chat_member.register(someone_else_added_the_bot)
    return router


async def bot_left(
    event: ChatMemberUpdated,
    bot: Bot,
    session: AsyncSession,
    settings: Settings,
    templates: Templates,
) -> None:
    """The bot is out of a group: the coaches hear it if the program ran there."""
    if await find_group(session, chat_id=event.chat.id) is not None:
        text = templates.render("group_left", title=event.chat.title or str(event.chat.id))
        for coach_id in settings.coach_telegram_ids:
            await _send_quietly(bot, coach_id, text)


async def coach_set_the_bot_up(
    event: ChatMemberUpdated,
    bot: Bot,
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    templates: Templates,
) -> None:
    """A coach added or promoted the bot: the group is registered, with the rights it lacks."""
    title = event.chat.title or str(event.chat.id)
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
        settings_url=settings_url(settings, group.id),
        menu=mini_app_url(settings) is not None,
    )
    await _send_quietly(bot, event.from_user.id, text)


async def someone_else_added_the_bot(event: ChatMemberUpdated, bot: Bot) -> None:
    """Only a coach may bring the bot into a group: it leaves."""
    log.warning("bot added to chat %s by non-coach %s; leaving", event.chat.id, event.from_user.id)
    await bot.leave_chat(event.chat.id)


def _rights(event: ChatMemberUpdated) -> BotRights:
    new = event.new_chat_member
    if isinstance(new, ChatMemberAdministrator):
        return BotRights(
            is_admin=True,
            can_invite_users=new.can_invite_users,
            can_restrict_members=new.can_restrict_members,
        )
    return BotRights(is_admin=False)


async def _send_quietly(bot: Bot, chat_id: int, text: str) -> None:
    # A coach who has not started the bot yet can't be told; the log keeps the fact.
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        log.warning("could not tell coach %s: %s", chat_id, error.message)
