"""Who sent an update: the Telegram user as a Member, and the group they have a seat in."""

from __future__ import annotations

from aiogram.types import User
from sqlmodel.ext.asyncio.session import AsyncSession

from core.clock import Clock
from core.members import remember_member
from core.models import Group, Member
from prompts import practice


async def person(
    session: AsyncSession, user: User, clock: Clock, *, started: bool = False
) -> Member:
    """The sender as a Member, their profile refreshed (`started`: they pressed /start)."""
    return await remember_member(
        session,
        telegram_id=user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
        now=clock.now(),
        started=started,
    )


async def person_and_group(
    session: AsyncSession, user: User, clock: Clock
) -> tuple[Member, Group | None]:
    """The sender and the group they have a seat in (None: not a member)."""
    member = await person(session, user, clock)
    return member, await practice.home_group(session, member)
