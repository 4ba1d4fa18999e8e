"""The gate to the group: join requests approved only with a seat, intruders removed kindly."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatJoinRequest, ChatMemberUpdated
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import seats
from billing.membership import Billing
from bot.filters import Magic
from core.clock import Clock
from core.groups import find_group
from core.members import remember_member
from core.models import SEATED, Seat
from core.settings import Settings
from prompts.render import Templates

log = logging.getLogger(__name__)

OUTSIDE = {ChatMemberStatus.LEFT, ChatMemberStatus.KICKED}
INSIDE = {ChatMemberStatus.MEMBER, ChatMemberStatus.RESTRICTED}
ADMINS = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.CREATOR}


def create_router() -> Router:
    """A fresh router (each dispatcher needs its own)."""
    router = Router(name="gate")
    router.chat_join_request.register(join_request)
    router.chat_member.register(
        someone_joined,
        Magic(F.old_chat_member.status.in_(OUTSIDE) & F.new_chat_member.status.in_(INSIDE)),
    )
    return router


async def _seat(
    session: AsyncSession, user_id: int, chat_id: int, first_name: str, clock: Clock
) -> Seat | None:
    group = await find_group(session, chat_id=chat_id)
    if group is None or group.id is None:
        return None
    member = await remember_member(
        session, telegram_id=user_id, first_name=first_name, now=clock.now()
    )
    assert member.id is not None
    seat = await seats.live_seat(session, member_id=member.id, group_id=group.id)
    return seat if seat is not None and seat.status in SEATED else None


async def join_request(
    request: ChatJoinRequest,
    bot: Bot,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    billing: Billing,
) -> None:
    """Approve a member with a seat in this group; decline anyone else and say how to join."""
    user = request.from_user
    if await find_group(session, chat_id=request.chat.id) is None:
        return
    if await _seat(session, user.id, request.chat.id, user.first_name, clock) is not None:
        await billing.access.approve(request.chat.id, user.id)
        return
    log.info("join request by %s to %s declined: no seat", user.id, request.chat.id)
    # Telegram lets the bot write to an applicant only until their request is answered.
    await _tell(
        bot, request.user_chat_id, templates.render("join_declined", first_name=user.first_name)
    )
    await billing.access.decline(request.chat.id, user.id)


async def someone_joined(
    event: ChatMemberUpdated,
    bot: Bot,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    templates: Templates,
    billing: Billing,
) -> None:
    """A member with a seat is welcome in; anyone who got in another way is taken out."""
    user = event.new_chat_member.user
    if user.id in settings.coach_telegram_ids or user.is_bot:
        return
    if await find_group(session, chat_id=event.chat.id) is None:
        return
    seat = await _seat(session, user.id, event.chat.id, user.first_name, clock)
    if seat is not None:
        seat.joined_at = seat.joined_at or clock.now()
        if seat.invite_link:  # used: nobody else may come in through it
            await billing.access.revoke_invite_link(event.chat.id, seat.invite_link)
            seat.invite_link = None
        session.add(seat)
        return
    if await _is_admin(bot, event.chat.id, user.id):
        return
    log.info("removing %s from %s: no seat", user.id, event.chat.id)
    await billing.access.remove(event.chat.id, user.id)
    await _tell(bot, user.id, templates.render("intruder_removed", first_name=user.first_name))


async def _is_admin(bot: Bot, chat_id: int, user_id: int) -> bool:
    # Asked, not taken from the update: an admin promoted a minute ago must never be removed.
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError:
        return False
    return member.status in ADMINS


async def _tell(bot: Bot, chat_id: int, text: str) -> None:
    # Someone who never started the bot can't be written to; removing them was what mattered.
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        log.info("could not tell %s why: %s", chat_id, error.message)
