"""Every message of a member, in the group or in private, is a check-in; each one passes the
safety net. The bot never answers in the group."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import Magic
from bot.said import said
from coaching import threads
from coaching.threads import Messenger
from core.models import Group, Member
from core.settings import Settings
from practice import checkins
from prompts.render import Templates
from safety.net import SafetyNet


def create_router() -> Router:
    """Check-ins and edits; commands are left to the routers before this one."""
    router = Router(name="checkins")
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
    messenger: Messenger,
) -> None:
    """Keep a member's message; a private one reaches the coach and is acknowledged. Anyone's
    words pass the safety net."""
    content = said(message)
    if group is not None and content is not None:
        await checkins.record_message(session, member=member, group=group, said=content, now=now)
        if message.chat.type == ChatType.PRIVATE:
            coaches = settings.coach_telegram_ids
            await threads.reach_coaches(
                session, messenger, templates, said=content, member=member, group=group,
                coach_ids=coaches, now=now,
            )  # fmt: skip
    await _safety_net(message, member, group, session, now, safety)


async def edit(
    message: Message,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    safety: SafetyNet,
) -> None:
    """An edit updates the kept entry and is checked again."""
    await checkins.record_edit(
        session,
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=message.text or message.caption,
        now=now,
    )
    await _safety_net(message, member, group, session, now, safety)


async def _safety_net(
    message: Message,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    safety: SafetyNet,
) -> None:
    await safety.check(
        session,
        text=message.text or message.caption,
        member=member,
        group=group,
        chat_id=message.chat.id,
        message_id=message.message_id,
        now=now,
    )
