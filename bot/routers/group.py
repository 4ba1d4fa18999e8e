"""The bot's own place in groups: a coach adds it (the group is registered), anyone else can't;
a co-admin may change its rights (recorded, the coaches told); Telegram may upgrade a basic
group to a supergroup with a new chat id (followed)."""

from __future__ import annotations

import logging
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberAdministrator, ChatMemberUpdated, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.commands import set_coach_menu
from bot.filters import IN_A_GROUP, Magic
from bot.gateway import upgraded_to
from bot.routers.dashboard import mini_app_url, settings_url
from coaching.agreement import pin_agreement
from core.groups import (
    BotRights,
    find_group,
    list_groups,
    migrate_group,
    missing_rights,
    missing_wanted_rights,
    register_group,
)
from core.links import is_supergroup
from core.models import Group
from core.settings import Settings
from prompts.catalog import Library
from prompts.render import Templates

log = logging.getLogger(__name__)

PRESENT = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER, ChatMemberStatus.RESTRICTED}


def create_router() -> Router:
    """A fresh router (each dispatcher needs its own)."""
    router = Router(name="group")
    router.message.register(group_upgraded, Magic(F.migrate_to_chat_id | F.migrate_from_chat_id))
    router.my_chat_member.filter(IN_A_GROUP)
    router.my_chat_member.register(bot_left, Magic(~F.new_chat_member.status.in_(PRESENT)))
    router.my_chat_member.register(bot_status_changed)
    return router


async def group_upgraded(message: Message, session: AsyncSession) -> None:
    """Telegram made the basic group a supergroup: the group and its queued messages follow
    (the old group says migrate_to_chat_id, the new one migrate_from_chat_id; either may come
    first, and the second finds nothing left to move)."""
    if message.migrate_to_chat_id is not None:
        old, new = message.chat.id, message.migrate_to_chat_id
    else:
        assert message.migrate_from_chat_id is not None
        old, new = message.migrate_from_chat_id, message.chat.id
    if await migrate_group(session, old_chat_id=old, new_chat_id=new):
        log.info("group %s is now the supergroup %s", old, new)


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


async def bot_status_changed(
    event: ChatMemberUpdated,
    bot: Bot,
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    templates: Templates,
    library: Library,
) -> None:
    """The bot was added, promoted, or given other rights. A coach doing it registers the
    group (and the group agreement is pinned there, once per wording); anyone else may only
    change the rights in a group already running (the bot stays, the coaches hear what it
    lacks); a group never registered, the bot leaves."""
    group = await find_group(session, chat_id=event.chat.id) or await _upgraded_into(
        bot, session, event
    )
    by_coach = event.from_user.id in settings.coach_telegram_ids
    if group is None and not by_coach:
        log.warning("added to chat %s by non-coach %s; leaving", event.chat.id, event.from_user.id)
        await bot.leave_chat(event.chat.id)
        return
    title = event.chat.title or str(event.chat.id)
    rights = _rights(event)
    group = await register_group(
        session, chat_id=event.chat.id, title=title, rights=rights, now=now
    )
    missing = missing_rights(rights)
    if rights.is_admin:
        await pin_agreement(session, templates, library.agreement, group, now)
    if by_coach:
        text = templates.render(
            "group_registered", title=title, chat_id=group.chat_id, timezone=group.timezone,
            missing=missing, wanted=missing_wanted_rights(rights),
            settings_url=settings_url(settings, group.id), menu=mini_app_url(settings) is not None,
        )  # fmt: skip
        await _send_quietly(bot, event.from_user.id, text)
        await set_coach_menu(bot, event.from_user.id)
        return
    text = templates.render("group_rights_changed", title=title, missing=missing)
    for coach_id in settings.coach_telegram_ids:
        await _send_quietly(bot, coach_id, text)


async def _upgraded_into(
    bot: Bot, session: AsyncSession, event: ChatMemberUpdated
) -> Group | None:
    """Our basic group that Telegram upgraded into this new supergroup, followed now.

    The bot's my_chat_member in the new supergroup comes first (a real getUpdates dump), from
    whoever upgraded it, before the messages that say where the group went; so the old ids
    are asked (Telegram answers with migrate_to_chat_id).
    """
    if event.chat.type != ChatType.SUPERGROUP:
        return None
    for group in await list_groups(session):
        if is_supergroup(group.chat_id):
            continue
        if await upgraded_to(bot, group.chat_id) == event.chat.id:
            await migrate_group(session, old_chat_id=group.chat_id, new_chat_id=event.chat.id)
            log.info("group %s is now the supergroup %s", group.id, event.chat.id)
            return group
    return None


def _rights(event: ChatMemberUpdated) -> BotRights:
    new = event.new_chat_member
    if isinstance(new, ChatMemberAdministrator):
        return BotRights(
            is_admin=True,
            can_invite_users=new.can_invite_users,
            can_restrict_members=new.can_restrict_members,
            can_delete_messages=new.can_delete_messages,
            can_pin_messages=bool(new.can_pin_messages),
        )
    return BotRights(is_admin=False)


async def _send_quietly(bot: Bot, chat_id: int, text: str) -> None:
    # A coach who has not started the bot yet can't be told; the log keeps the fact.
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        log.warning("could not tell coach %s: %s", chat_id, error.message)
