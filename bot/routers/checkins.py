"""Every message of a member, in the group or in private, is a check-in; each one passes the
safety net, and so does a message sent as a chat (an anonymous admin, a channel), which is
nobody's check-in. The bot never answers in the group."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import Magic
from bot.said import said
from coaching import profiles, threads
from core.groups import find_group
from core.models import Group, Member
from core.settings import Settings
from practice import checkins
from prompts.render import Templates
from safety.net import SafetyNet


def create_router() -> Router:
    """Check-ins and edits; commands are left to the routers before this one."""
    router = Router(name="checkins")
    # First: `from` of these is a stand-in (GroupAnonymousBot, Channel_Bot, or 777000
    # "Telegram" with is_bot false for a linked channel's automatic forwards).
    router.message.register(sent_as_a_chat, Magic(F.sender_chat))
    router.edited_message.register(sent_as_a_chat, Magic(F.sender_chat))
    not_a_command = Magic(~F.text.startswith("/"))
    router.message.register(check_in, not_a_command, Magic(F.from_user.is_bot.is_(False)))
    router.edited_message.register(edit, Magic(F.from_user.is_bot.is_(False)))
    return router


async def check_in(
    message: Message,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    templates: Templates,
    safety: SafetyNet,
) -> None:
    """Keep a member's message; a private one reaches the coach and is acknowledged. Anyone's
    words pass the safety net."""
    content = said(message)
    if group is not None and content is not None:
        await checkins.record_message(session, member=member, group=group, said=content, now=now)
        if message.chat.type == ChatType.PRIVATE:
            coaches = settings.coach_telegram_ids
            await threads.reach_coaches(
                session, templates, said=content, member=member, group=group,
                coach_ids=coaches, now=now,
            )  # fmt: skip
    await _safety_net(message, member, group, session, now, safety, settings)


async def edit(
    message: Message,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    safety: SafetyNet,
    settings: Settings,
) -> None:
    """An edit updates the kept entry and is checked again."""
    await checkins.record_edit(
        session,
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=message.text or message.caption,
        now=now,
    )
    await _safety_net(message, member, group, session, now, safety, settings)


async def sent_as_a_chat(
    message: Message, session: AsyncSession, now: datetime, safety: SafetyNet
) -> None:
    """Words sent as the group (an anonymous admin) or as a channel pass the safety net; the
    coach hears who it seems to be. A linked channel's posts, forwarded into the group by
    Telegram, are the channel's published posts, not someone in the group speaking."""
    if message.is_automatic_forward or message.sender_chat is None:
        return
    await safety.check_unnamed(
        session,
        text=message.text or message.caption,
        sender=message.sender_chat.title or "",
        anonymous_admin=message.sender_chat.id == message.chat.id,
        signature=message.author_signature,
        group=await find_group(session, chat_id=message.chat.id),
        chat_id=message.chat.id,
        message_id=message.message_id,
        now=now,
    )


async def _safety_net(
    message: Message,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    safety: SafetyNet,
    settings: Settings,
) -> None:
    if safety.assess(message.text or message.caption) is None:
        return  # the common case: no query for the coach's name
    await safety.check(
        session,
        text=message.text or message.caption,
        member=member,
        group=group,
        chat_id=message.chat.id,
        message_id=message.message_id,
        now=now,
        coach=await profiles.coach_name(session, settings.coach_telegram_ids),
    )
