"""The coach's daily digest, the ten-minute round; and the gentle check-ins it relies on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from coaching.rules import gone_quiet, nudge_due, quiet_since, waited
from coaching.threads import waiting_since
from core.localtime import day_due, parse_days, parse_time
from core.models import SEATED, Entry, Group, Member, SafetyAlert, Seat, SeatStatus
from core.outbox import enqueue
from practice.checkins import streak
from prompts.buttons import OpenThread, button, keyboard
from prompts.render import Templates


@dataclass(frozen=True)
class Waiting:
    member: Member
    since: datetime
    unanswered: int
    waited: str


@dataclass
class Digest:
    """What the coach should look at today, most urgent first."""

    group: Group
    urgent: list[tuple[Member, SafetyAlert]] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    new_members: list[Member] = field(default_factory=list)
    payment_trouble: list[Member] = field(default_factory=list)
    quiet: list[tuple[Member, str, bool]] = field(default_factory=list)  # who, how long, nudged

    @property
    def members(self) -> list[Member]:
        """Everyone named, once, in the digest's order (for the thread buttons)."""
        seen: dict[int | None, Member] = {}
        for member in [
            *(m for m, _ in self.urgent),
            *(w.member for w in self.waiting),
            *self.new_members,
            *self.payment_trouble,
            *(m for m, _, _ in self.quiet),
        ]:
            seen.setdefault(member.id, member)
        return list(seen.values())


async def build_digest(session: AsyncSession, group: Group, now: datetime) -> Digest:
    """Urgent alerts, who waits longest, new members, payment trouble, who has gone quiet."""
    digest = Digest(group)
    seats = (
        await session.exec(
            select(Seat, Member)
            .join(Member, col(Member.id) == col(Seat.member_id))
            .where(col(Seat.group_id) == group.id)
            .where(col(Seat.status).in_(SEATED))
        )
    ).all()
    for seat, member in seats:
        assert member.id is not None
        for alert in await _open_alerts(session, member.id):
            digest.urgent.append((member, alert))
        since = await waiting_since(session, member.id)
        if since is not None:
            unanswered = await _count_since(session, member.id, since)
            digest.waiting.append(Waiting(member, since, unanswered, waited(since, now)))
        if (seat.joined_at or seat.created_at) >= now - timedelta(days=1):
            digest.new_members.append(member)
        if seat.status == SeatStatus.PAST_DUE:
            digest.payment_trouble.append(member)
        silent = quiet_since(
            await last_entry(session, member.id), seat.joined_at or seat.created_at
        )
        if gone_quiet(silent, quiet_days=group.quiet_days, now=now):
            nudged = member.nudged_at is not None and member.nudged_at >= silent
            digest.quiet.append((member, waited(silent, now), nudged))
    digest.urgent.sort(key=lambda pair: pair[1].created_at)
    digest.waiting.sort(key=lambda waiting: waiting.since)
    return digest


async def send_due_digests(
    session: AsyncSession, templates: Templates, coach_ids: tuple[int, ...], now: datetime
) -> int:
    """On reply days at the digest hour, each coach gets the day's digest, once."""
    sent = 0
    for group in (await session.exec(select(Group).order_by(col(Group.id)))).all():
        day = day_due(
            now,
            zone_name=group.timezone,
            at=parse_time(group.digest_time),
            days=parse_days(group.reply_days),
        )
        if day is None:
            continue
        digest = await build_digest(session, group, now)
        text = templates.render("digest", digest=digest, day=day)
        buttons = keyboard(
            *(
                [button(f"Open {member.first_name}", OpenThread(member_id=member.id))]
                for member in digest.members[:20]
                if member.id is not None
            )
        )
        for coach_id in coach_ids:
            sent += await enqueue(
                session,
                key=f"digest:{group.id}:{day.isoformat()}:{coach_id}",
                chat_id=coach_id,
                text=text,
                reply_markup=buttons if buttons["inline_keyboard"] else None,
                now=now,
            )
    return sent


async def send_gentle_checkins(session: AsyncSession, templates: Templates, now: datetime) -> int:
    """A quiet member gets one gentle note per quiet spell, at a humane local hour."""
    sent = 0
    rows = (
        await session.exec(
            select(Seat, Member, Group)
            .join(Member, col(Member.id) == col(Seat.member_id))
            .join(Group, col(Group.id) == col(Seat.group_id))
            .where(col(Seat.status).in_(SEATED))
        )
    ).all()
    for seat, member, group in rows:
        assert member.id is not None
        silent = quiet_since(
            await last_entry(session, member.id), seat.joined_at or seat.created_at
        )
        if not nudge_due(
            silent_since=silent,
            nudged_at=member.nudged_at,
            paused=member.checkins_paused,
            quiet_days=group.quiet_days,
            now=now,
            zone=group.timezone,
        ):
            continue
        await enqueue(
            session,
            key=f"checkin:{member.id}:{silent.isoformat()}",
            chat_id=member.telegram_id,
            text=templates.render("gentle_checkin", first_name=member.first_name),
            now=now,
        )
        member.nudged_at = now
        session.add(member)
        sent += 1
    return sent


async def last_entry(session: AsyncSession, member_id: int) -> datetime | None:
    result = await session.exec(
        select(func.max(Entry.created_at)).where(col(Entry.member_id) == member_id)
    )
    return result.one()


async def _count_since(session: AsyncSession, member_id: int, since: datetime) -> int:
    result = await session.exec(
        select(func.count())
        .select_from(Entry)
        .where(col(Entry.member_id) == member_id)
        .where(col(Entry.chat_id) > 0)
        .where(col(Entry.created_at) >= since)
    )
    return int(result.one())


async def _open_alerts(session: AsyncSession, member_id: int) -> list[SafetyAlert]:
    result = await session.exec(
        select(SafetyAlert)
        .where(col(SafetyAlert.member_id) == member_id)
        .where(col(SafetyAlert.handled_at).is_(None))
    )
    return list(result.all())


async def members_overview(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    """Every seated member of every group: status, streak, last active, how long they wait."""
    rows: list[dict[str, Any]] = []
    for group in (await session.exec(select(Group).order_by(col(Group.id)))).all():
        seated = await session.exec(
            select(Seat, Member)
            .join(Member, col(Member.id) == col(Seat.member_id))
            .where(col(Seat.group_id) == group.id)
            .where(col(Seat.status).in_(SEATED))
            .order_by(col(Member.first_name))
        )
        for seat, member in seated.all():
            assert member.id is not None
            last = await last_entry(session, member.id)
            since = await waiting_since(session, member.id)
            rows.append(
                {
                    "member": member,
                    "status": str(seat.status),
                    "streak": await streak(session, member, group, now),
                    "last": waited(last, now) + " ago" if last else "never",
                    "waiting": waited(since, now) if since else None,
                }
            )
    return rows
