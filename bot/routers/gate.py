"""The gate to the group: join requests approved only with a seat, intruders removed kindly."""

from __future__ import annotations

import logging
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatJoinRequest, ChatMemberUpdated
from sqlmodel.ext.asyncio.session import AsyncSession

from billing.membership import Membership
from bot.filters import Magic
from bot.middlewares import remember_user
from core.groups import find_group
from core.models import Group, Member
from core.settings import Settings
from prompts.render import Templates

log = logging.getLogger(__name__)

OUTSIDE = {ChatMemberStatus.LEFT, ChatMemberStatus.KICKED}
INSIDE = {ChatMemberStatus.MEMBER, ChatMemberStatus.RESTRICTED}


def create_router() -> Router:
    """A fresh router (each dispatcher needs its own)."""
    router = Router(name="gate")
    router.chat_join_request.register(join_request)
    router.chat_member.register(
        someone_joined,
        Magic(F.old_chat_member.status.in_(OUTSIDE) & F.new_chat_member.status.in_(INSIDE)),
    )
    return router


async def join_request(
    request: ChatJoinRequest,
    member: Member,
    group: Group | None,
    bot: Bot,
    session: AsyncSession,
    templates: Templates,
    membership: Membership,
) -> None:
    """Approve a member with a seat in this group; decline anyone else and say how to join."""
    asked_for = await find_group(session, chat_id=request.chat.id)
    if asked_for is None:
        return
    # Both answers go after the commit, a refusal one log line (bot.answers' door).
    if group is not None:  # the middleware found their seat in this very group
        await bot.approve_chat_join_request(request.chat.id, member.telegram_id)
        return
    log.info("join request by %s to %s declined: no seat", member.id, request.chat.id)
    # Telegram lets the bot write to an applicant only until their request is answered.
    price = templates.price_for(asked_for, member.language_code)
    declined = templates.render("join_declined", first_name=member.first_name, price=price)
    await _tell(bot, request.user_chat_id, declined)
    await bot.decline_chat_join_request(request.chat.id, member.telegram_id)


async def someone_joined(
    event: ChatMemberUpdated,
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    membership: Membership,
) -> None:
    """A member with a seat is welcome in; anyone who got in another way is taken out (after
    the commit, by the outbox) and told why."""
    user = event.new_chat_member.user
    group = await find_group(session, chat_id=event.chat.id)
    if user.id in settings.coach_telegram_ids or user.is_bot or group is None:
        return
    person = await remember_user(session, user, now=now)
    await membership.arrival(session, person, group, now)


async def _tell(bot: Bot, chat_id: int, text: str) -> None:
    # The applicant may be written to until the request is answered; a refusal is no reason
    # to leave the request unanswered.
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        log.info("could not tell %s why: %s", chat_id, error.message)
