"""Things the bot asks the coach (their name for members, new words for a summary): the
question is a message with a reply field; replying to it answers it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.models import CoachQuestion

PROFILE = "profile-"  # + the part: profile-name, profile-bio, profile-photo
SUMMARY_TEXT = "summary-text"
# ref_id of a profile question asked while setting up: the next part is asked after it.
SETTING_UP = 1


async def remember(
    session: AsyncSession,
    *,
    coach_chat_id: int,
    message_id: int,
    kind: str,
    now: datetime,
    ref_id: int | None = None,
) -> None:
    session.add(
        CoachQuestion(
            coach_chat_id=coach_chat_id,
            message_id=message_id,
            kind=kind,
            ref_id=ref_id,
            created_at=now,
        )
    )


async def question(
    session: AsyncSession, *, coach_chat_id: int, message_id: int
) -> CoachQuestion | None:
    """The question the bot asked with this message, if it did."""
    return (
        await session.exec(
            select(CoachQuestion)
            .where(col(CoachQuestion.coach_chat_id) == coach_chat_id)
            .where(col(CoachQuestion.message_id) == message_id)
        )
    ).first()
