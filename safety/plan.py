"""A member's own safety plan, written with the bot one part at a time (/plan) and shown by /sos:
warning signs, what helps, people to call. It is the member's: /mydata shows it, /forget
deletes it, and the coach never sees it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.models import Member, SafetyPlan

# The parts, in the order /plan asks for them.
PARTS = ("warning_signs", "what_helps", "people")
MAX_PART = 1000
# A plan left half-written: after this, the next message is a check-in again, not an answer.
ANSWER_WITHIN = timedelta(minutes=30)


async def plan_of(session: AsyncSession, member: Member) -> SafetyPlan | None:
    """The member's plan, written or half-written; None if they never started one."""
    return (
        await session.exec(select(SafetyPlan).where(col(SafetyPlan.member_id) == member.id))
    ).first()


def is_written(plan: SafetyPlan | None) -> bool:
    """Whether the plan has anything in it to show."""
    return plan is not None and any(getattr(plan, part) for part in PARTS)


async def start_writing(session: AsyncSession, member: Member, now: datetime) -> str:
    """Begin (or begin again) with the first part; the next private message answers it."""
    assert member.id is not None
    plan = await plan_of(session, member) or SafetyPlan(member_id=member.id, updated_at=now)
    plan.asking, plan.updated_at = PARTS[0], now
    session.add(plan)
    await session.flush()
    return PARTS[0]


async def asking(session: AsyncSession, telegram_id: int, now: datetime) -> str | None:
    """The part /plan waits to hear from this person, if they are writing their plan."""
    found = await session.exec(
        select(SafetyPlan.asking)
        .join(Member, col(Member.id) == col(SafetyPlan.member_id))
        .where(col(Member.telegram_id) == telegram_id)
        .where(col(SafetyPlan.updated_at) >= now - ANSWER_WITHIN)
    )
    return found.first()


async def answer(session: AsyncSession, member: Member, text: str, now: datetime) -> str | None:
    """Keep the answer to the part asked; the next part to ask, or None when it is done.
    "skip" leaves a part as it was."""
    plan = await plan_of(session, member)
    if plan is None or plan.asking not in PARTS or plan.updated_at < now - ANSWER_WITHIN:
        return None
    part = plan.asking
    words = text.strip()
    if words.lower() != "skip":
        setattr(plan, part, words[:MAX_PART])
    following = PARTS.index(part) + 1
    plan.asking = PARTS[following] if following < len(PARTS) else None
    plan.updated_at = now
    session.add(plan)
    await session.flush()
    return plan.asking
