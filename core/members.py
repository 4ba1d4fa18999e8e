"""The people the bot knows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.models import Member


async def remember_member(
    session: AsyncSession,
    *,
    telegram_id: int,
    first_name: str,
    now: datetime,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
    started: bool = False,
) -> Member:
    """Create or refresh a person from their profile; starting the bot makes them reachable."""
    result = await session.exec(select(Member).where(col(Member.telegram_id) == telegram_id))
    member = result.first() or Member(
        telegram_id=telegram_id, first_name=first_name, created_at=now
    )
    refresh_profile(
        member,
        first_name=first_name,
        last_name=last_name,
        username=username,
        language_code=language_code,
        now=now,
        started=started,
    )
    session.add(member)
    await session.flush()
    return member


def refresh_profile(
    member: Member,
    *,
    first_name: str,
    now: datetime,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
    started: bool = False,
) -> None:
    """The profile as Telegram shows it now (the ORM writes it only if something changed)."""
    member.first_name = first_name[:255]
    member.last_name = last_name[:255] if last_name else None
    member.username = username
    member.language_code = language_code
    if started:
        member.started_at = member.started_at or now
        member.unreachable_since = None


async def find_members(session: AsyncSession, handle: str) -> list[Member]:
    """Everyone a coach's words may name: @username, a numeric Telegram id, or a name as the
    bot shows it ("Maya", "Maya Katz"; any case). Several people may share a first name."""
    handle = " ".join(handle.split())
    found = await find_member(session, handle)
    if found is not None:
        return [found]
    wanted = handle.removeprefix("@").casefold()
    if not wanted:
        return []
    # Names are compared in Python: SQLite's lower() knows only ASCII, and "Élodie" is a name.
    # A coach's program has hundreds of people at most.
    everyone = (await session.exec(select(Member).order_by(col(Member.id)))).all()
    return [
        member
        for member in everyone
        if wanted in {member.first_name.casefold(), full_name(member).casefold()}
    ]


def full_name(member: Member) -> str:
    return f"{member.first_name} {member.last_name}" if member.last_name else member.first_name


async def find_member(session: AsyncSession, handle: str) -> Member | None:
    """The person a coach names: @username (or username) or numeric Telegram id."""
    handle = handle.strip()
    at = handle.startswith("@")
    handle = handle.removeprefix("@")
    if not handle:
        return None
    # Telegram's usernames are ASCII and case-insensitive: @Maya_K is @maya_k. Without the @
    # only the exact username counts, so that "Maya" can still be a name several people share.
    username = col(Member.username)
    conditions = [func.lower(username) == handle.lower() if at else username == handle]
    if handle.lstrip("-").isdigit():
        conditions.append(col(Member.telegram_id) == int(handle))
    return (await session.exec(select(Member).where(or_(*conditions)))).first()
