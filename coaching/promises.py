"""The reply promise: a member who writes in private is told when the coach will answer; this
keeps that promise in view. The coach is reminded once before the time, the member is told
honestly once when it passed, and the figures (kept, median time to answer) are here for the
round, /members and anyone else who wants them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from coaching.rules import (
    PROMISE_WINDOW,
    REMIND_BEFORE,
    PromiseFigures,
    PromiseRecord,
    answer_by,
    promise_figures,
    reminder_due,
    running_late,
    waited,
)
from core.localtime import format_local, parse_days, parse_time
from core.models import SEATED, Group, Member, ReplyPromise, Seat
from core.outbox import enqueue
from prompts.buttons import OpenThread, button, keyboard
from prompts.render import Templates


@dataclass(frozen=True)
class Promised:
    """What a member is told when they write: by when, and whether that is a new time
    because the last one passed (the honest note)."""

    promise: ReplyPromise
    by: datetime
    late: bool


def next_window(group: Group, now: datetime) -> datetime:
    """The group's next reply-by time."""
    return answer_by(
        now,
        zone=group.timezone,
        days=parse_days(group.reply_days),
        by=parse_time(group.reply_by),
    )


async def open_promise(session: AsyncSession, member_id: int) -> ReplyPromise | None:
    return (
        await session.exec(
            select(ReplyPromise)
            .where(col(ReplyPromise.member_id) == member_id)
            .where(col(ReplyPromise.answered_at).is_(None))
            .order_by(col(ReplyPromise.id).desc())
        )
    ).first()


async def promise_for(
    session: AsyncSession, *, member: Member, group: Group, now: datetime
) -> Promised:
    """The promise a private message is given: the open one (a second message waits for the
    same answer), or a new one for the next reply window. An open promise whose time has
    passed gets a new time, and says so once."""
    assert member.id is not None and group.id is not None
    promise = await open_promise(session, member.id)
    if promise is None:
        promise = ReplyPromise(
            member_id=member.id, group_id=group.id, made_at=now, due_at=next_window(group, now)
        )
        session.add(promise)
        await session.flush()
        return Promised(promise, promise.due_at, late=False)
    by = promise.late_by or promise.due_at
    if by > now:
        return Promised(promise, by, late=False)
    late = running_late(promise.due_at, None, now, told=promise.late_told_at is not None)
    promise.late_by = next_window(group, now)
    promise.late_told_at = promise.late_told_at or now
    session.add(promise)
    return Promised(promise, promise.late_by, late=late)


async def keep_promise(session: AsyncSession, member_id: int, now: datetime) -> None:
    """The coach answered: the member's open promise is settled now."""
    promise = await open_promise(session, member_id)
    if promise is not None:
        promise.answered_at = now
        session.add(promise)


async def remind_coaches(
    session: AsyncSession, templates: Templates, coach_ids: tuple[int, ...], now: datetime
) -> int:
    """Two hours before a reply-by time, each coach hears once who is still waiting for it
    (a new time given in a "running late" note is a reply-by time too)."""
    rows = (
        await session.exec(
            select(ReplyPromise, Member, Group)
            .join(Member, col(Member.id) == col(ReplyPromise.member_id))
            .join(Group, col(Group.id) == col(ReplyPromise.group_id))
            .where(col(ReplyPromise.answered_at).is_(None))
            .order_by(col(ReplyPromise.made_at))
        )
    ).all()
    due: dict[tuple[int, datetime], list[tuple[ReplyPromise, Member, Group]]] = defaultdict(list)
    for promise, member, group in rows:
        by = promise.late_by or promise.due_at
        reminded = promise.reminded_at is not None and promise.reminded_at >= by - REMIND_BEFORE
        if reminder_due(by, now, reminded=reminded):
            assert group.id is not None
            due[(group.id, by)].append((promise, member, group))
    sent = 0
    for (group_id, due_at), waiting in due.items():
        group = waiting[0][2]
        text = templates.render(
            "coach_promise_reminder",
            group=group,
            by=format_local(due_at, group.timezone),
            waiting=[(member, waited(promise.made_at, now)) for promise, member, _ in waiting],
        )
        buttons = keyboard(
            *(
                [button(f"Open {member.first_name}", OpenThread(member_id=member.id))]
                for _, member, _ in waiting[:20]
                if member.id is not None
            )
        )
        for coach_id in coach_ids:
            sent += await enqueue(
                session,
                key=f"promise-reminder:{group_id}:{due_at.isoformat()}:{coach_id}",
                chat_id=coach_id,
                text=text,
                reply_markup=buttons,
                now=now,
            )
        # One message per reply-by time: whoever joins the wait later is in the round.
        for promise, _, _ in waiting:
            promise.reminded_at = now
            session.add(promise)
    return sent


async def tell_late(
    session: AsyncSession, templates: Templates, coach_name: str | None, now: datetime
) -> int:
    """A reply-by time passed unanswered: the member is told so, honestly and once, with the
    next time they can count on."""
    rows = (
        await session.exec(
            select(ReplyPromise, Member, Group)
            .join(Member, col(Member.id) == col(ReplyPromise.member_id))
            .join(Group, col(Group.id) == col(ReplyPromise.group_id))
            .join(Seat, col(Seat.member_id) == col(Member.id))
            .where(col(Seat.group_id) == col(Group.id))
            .where(col(Seat.status).in_(SEATED))
            .where(col(ReplyPromise.answered_at).is_(None))
            .where(col(ReplyPromise.late_told_at).is_(None))
            .where(col(ReplyPromise.due_at) <= now)
        )
    ).all()
    told = 0
    for promise, member, group in rows:
        promise.late_by = next_window(group, now)
        promise.late_told_at = now
        session.add(promise)
        told += await enqueue(
            session,
            key=f"promise-late:{promise.id}",
            chat_id=member.telegram_id,
            text=render_late(templates, member, group, promise.late_by, coach_name),
            now=now,
        )
    return told


def render_late(
    templates: Templates, member: Member, group: Group, by: datetime, coach_name: str | None
) -> str:
    return templates.render(
        "promise_late",
        first_name=member.first_name,
        coach=coach_name,
        by=format_local(by, group.timezone),
    )


async def figures(
    session: AsyncSession, now: datetime, *, group_id: int | None = None
) -> PromiseFigures:
    """The promises of the last seven days: how many came due, how many were kept, the
    median time to answer (of one group, or of all)."""
    query = select(ReplyPromise).where(
        (col(ReplyPromise.due_at) > now - PROMISE_WINDOW)
        | (col(ReplyPromise.answered_at) > now - PROMISE_WINDOW)
        | col(ReplyPromise.answered_at).is_(None)
    )
    if group_id is not None:
        query = query.where(col(ReplyPromise.group_id) == group_id)
    records = [
        PromiseRecord(promise.made_at, promise.due_at, promise.answered_at)
        for promise in (await session.exec(query)).all()
    ]
    return promise_figures(records, now=now)
