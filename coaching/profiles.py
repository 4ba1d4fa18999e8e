"""Who the coach is, as members see it: the profile a coach sets from Telegram (/profile),
and the name that labels what the coach says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.models import CoachProfile

# The parts of a profile, in the order /profile asks for them the first time.
PARTS = ("name", "bio", "photo")
MAX_NAME = 64
# Two lines: a short bio fits in the welcome without pushing the price out of sight.
MAX_BIO_LINES = 2
MAX_BIO = 400


class ProfileError(ValueError):
    """What the coach wrote doesn't fit (too long, too many lines); the message says why."""


async def profile_of(session: AsyncSession, coach_id: int) -> CoachProfile | None:
    return (
        await session.exec(select(CoachProfile).where(col(CoachProfile.telegram_id) == coach_id))
    ).first()


async def profiles(session: AsyncSession, coach_ids: Sequence[int]) -> list[CoachProfile]:
    """The coaches' profiles that have a name, in the order of COACH_TELEGRAM_IDS."""
    found = (
        await session.exec(
            select(CoachProfile).where(col(CoachProfile.telegram_id).in_(list(coach_ids)))
        )
    ).all()
    by_id = {profile.telegram_id: profile for profile in found if profile.name}
    return [by_id[coach_id] for coach_id in coach_ids if coach_id in by_id]


async def coach_name(session: AsyncSession, coach_ids: Sequence[int]) -> str | None:
    """The name members know the coach by (the first coach with a profile), if one is set."""
    named = await profiles(session, coach_ids)
    return named[0].name if named else None


async def speaker(session: AsyncSession, coach_id: int, telegram_name: str) -> str:
    """The name that labels what this coach says: their profile's, else their Telegram name."""
    profile = await profile_of(session, coach_id)
    return profile.name if profile and profile.name else telegram_name


async def set_part(
    session: AsyncSession, coach_id: int, part: str, value: str | None, now: datetime
) -> CoachProfile:
    """Set one part of the coach's profile (None clears the bio or the photo)."""
    profile = await profile_of(session, coach_id) or CoachProfile(
        telegram_id=coach_id, updated_at=now
    )
    if part == "name":
        name = " ".join((value or "").split())
        if not name or len(name) > MAX_NAME:
            raise ProfileError(f"a name of 1 to {MAX_NAME} characters")
        profile.name = name
    elif part == "bio":
        profile.bio = _bio(value) if value else None
    elif part == "photo":
        profile.photo_file_id = value
    else:
        raise ValueError(f"no profile part {part!r}")
    profile.updated_at = now
    session.add(profile)
    await session.flush()
    return profile


def _bio(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > MAX_BIO_LINES or len(text) > MAX_BIO:
        raise ProfileError(f"at most {MAX_BIO_LINES} lines and {MAX_BIO} characters")
    return "\n".join(lines)


def following(part: str) -> str | None:
    """While setting up the profile the first time, the part asked after `part`."""
    index = PARTS.index(part) + 1
    return PARTS[index] if index < len(PARTS) else None
