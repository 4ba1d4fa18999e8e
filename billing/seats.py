"""Seats and the waitlist in the database: holding a seat safely, counting, queueing, offering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, literal, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import UTCDateTime
from core.models import (
    LIVE,
    SEATED,
    Group,
    Member,
    Seat,
    SeatStatus,
    WaitlistEntry,
    WaitlistStatus,
)

OPEN_WAITLIST = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)
# How a seat ends when its hold runs out unpaid: a payment arriving after it may still be let in.
LAPSED = ("hold_expired", "checkout_expired", "offer_declined")


@dataclass(frozen=True)
class SeatCount:
    capacity: int
    seated: int
    held: int
    waiting: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.seated - self.held)


def takes_a_seat(now: datetime) -> ColumnElement[bool]:
    """A seat row that counts against the group's capacity at `now`."""
    return or_(
        col(Seat.status).in_(SEATED),
        and_(col(Seat.status) == SeatStatus.HELD, col(Seat.hold_expires_at) > now),
    )


async def count_seats(session: AsyncSession, group: Group, now: datetime) -> SeatCount:
    """Seated, held, free and waiting for one group."""
    rows = await session.exec(
        select(Seat.status, func.count())
        .where(col(Seat.group_id) == group.id)
        .where(takes_a_seat(now))
        .group_by(col(Seat.status))
    )
    by_status = {str(status): int(number) for status, number in rows.all()}
    waiting = await session.exec(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(col(WaitlistEntry.group_id) == group.id)
        .where(col(WaitlistEntry.status).in_(OPEN_WAITLIST))
    )
    return SeatCount(
        capacity=group.capacity,
        seated=sum(by_status.get(status, 0) for status in SEATED),
        held=by_status.get(SeatStatus.HELD, 0),
        waiting=int(waiting.one()),
    )


async def hold_seat(
    session: AsyncSession, *, member: Member, group: Group, now: datetime, until: datetime
) -> Seat | None:
    """Hold a free seat for the member until `until`; None when the group is full.

    One statement counts and inserts, so concurrent /joins can't both take the last seat: on
    SQLite it runs under the write lock taken at BEGIN IMMEDIATE, on PostgreSQL the group's
    row is locked first.
    """
    assert member.id is not None and group.id is not None
    await session.exec(select(Group.id).where(col(Group.id) == group.id).with_for_update())
    taken = (
        sa_select(func.count())
        .select_from(Seat)
        .where(col(Seat.group_id) == group.id, takes_a_seat(now))
        .scalar_subquery()
    )
    has_one = exists().where(
        col(Seat.group_id) == group.id,
        col(Seat.member_id) == member.id,
        col(Seat.status).in_(LIVE),
    )
    values = sa_select(
        literal(member.id),
        literal(group.id),
        literal(str(SeatStatus.HELD)),
        literal(until, UTCDateTime()),
        literal(False),
        literal(now, UTCDateTime()),
        literal(now, UTCDateTime()),
    ).where(taken < group.capacity, ~has_one)
    columns = ["member_id", "group_id", "status", "hold_expires_at", "cancel_at_period_end"]
    insert = Seat.__table__.insert().from_select(  # type: ignore[attr-defined]
        [*columns, "created_at", "updated_at"], values
    )
    result = await session.exec(insert)
    if not result.rowcount:
        return None
    return await live_seat(session, member_id=member.id, group_id=group.id)


async def live_seat(session: AsyncSession, *, member_id: int, group_id: int) -> Seat | None:
    """The member's held, active, past-due or comped seat in the group."""
    result = await session.exec(
        select(Seat)
        .where(col(Seat.member_id) == member_id)
        .where(col(Seat.group_id) == group_id)
        .where(col(Seat.status).in_(LIVE))
    )
    return result.first()


async def seats_of(session: AsyncSession, member_id: int) -> list[Seat]:
    """The member's live seats, in any group."""
    result = await session.exec(
        select(Seat)
        .where(col(Seat.member_id) == member_id)
        .where(col(Seat.status).in_(LIVE))
        .order_by(col(Seat.id))
    )
    return list(result.all())


async def group_with_room(session: AsyncSession, now: datetime) -> tuple[Group | None, bool]:
    """The group a newcomer should join: the first with a free seat, else the first (full)."""
    groups = list((await session.exec(select(Group).order_by(col(Group.id)))).all())
    for group in groups:
        if (await count_seats(session, group, now)).free > 0:
            return group, True
    return (groups[0] if groups else None), False


async def end_seat(session: AsyncSession, seat: Seat, *, reason: str, now: datetime) -> None:
    """The seat is over (hold expired, cancelled, unpaid, removed); it frees the place."""
    seat.status = SeatStatus.ENDED
    seat.end_reason = reason
    seat.ended_at = now
    seat.updated_at = now
    session.add(seat)
    await session.exec(
        update(WaitlistEntry)
        .where(col(WaitlistEntry.seat_id) == seat.id)
        .where(col(WaitlistEntry.status) == WaitlistStatus.OFFERED)
        .values(status=WaitlistStatus.LAPSED, updated_at=now)
    )
    await session.flush()


async def expired_holds(session: AsyncSession, now: datetime) -> list[Seat]:
    """Held seats whose checkout or offer ran out."""
    result = await session.exec(
        select(Seat)
        .where(col(Seat.status) == SeatStatus.HELD)
        .where(col(Seat.hold_expires_at) <= now)
    )
    return list(result.all())


# --- the waitlist ---------------------------------------------------------------------------


async def join_waitlist(
    session: AsyncSession, *, member: Member, group: Group, now: datetime
) -> tuple[WaitlistEntry, int]:
    """Put the member in the queue (once); return their entry and position (1 = next)."""
    entry = await open_entry(session, member_id=member.id, group_id=group.id)
    if entry is None:
        assert member.id is not None and group.id is not None
        entry = WaitlistEntry(
            member_id=member.id, group_id=group.id, created_at=now, updated_at=now
        )
        session.add(entry)
        await session.flush()
    return entry, await position(session, entry)


async def open_entry(
    session: AsyncSession, *, member_id: int | None, group_id: int | None = None
) -> WaitlistEntry | None:
    """The member's waiting or offered entry (in the group, or in any group)."""
    query = (
        select(WaitlistEntry)
        .where(col(WaitlistEntry.member_id) == member_id)
        .where(col(WaitlistEntry.status).in_(OPEN_WAITLIST))
    )
    if group_id is not None:
        query = query.where(col(WaitlistEntry.group_id) == group_id)
    return (await session.exec(query.order_by(col(WaitlistEntry.id)))).first()


async def position(session: AsyncSession, entry: WaitlistEntry) -> int:
    """1 for the next person to be offered a seat."""
    ahead = await session.exec(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(col(WaitlistEntry.group_id) == entry.group_id)
        .where(col(WaitlistEntry.status) == WaitlistStatus.WAITING)
        .where(col(WaitlistEntry.id) < entry.id)
    )
    return int(ahead.one()) + 1


async def waiting_list(session: AsyncSession, group: Group) -> list[tuple[WaitlistEntry, Member]]:
    """The open entries in order, with who they are."""
    result = await session.exec(
        select(WaitlistEntry, Member)
        .join(Member, col(Member.id) == col(WaitlistEntry.member_id))
        .where(col(WaitlistEntry.group_id) == group.id)
        .where(col(WaitlistEntry.status).in_(OPEN_WAITLIST))
        .order_by(col(WaitlistEntry.id))
    )
    return [(entry, member) for entry, member in result.all()]


async def leave_waitlist(session: AsyncSession, entry: WaitlistEntry, now: datetime) -> None:
    """The member leaves the queue; an offered seat goes back."""
    entry.status = WaitlistStatus.LEFT
    entry.updated_at = now
    session.add(entry)
    if entry.seat_id is not None:
        seat = await session.get(Seat, entry.seat_id)
        if seat is not None and seat.status == SeatStatus.HELD:
            await end_seat(session, seat, reason="offer_declined", now=now)
    await session.flush()


async def offer_free_seats(
    session: AsyncSession, group: Group, now: datetime, *, offer_for: timedelta
) -> list[tuple[WaitlistEntry, Member, Seat]]:
    """Hold each free seat for the next person waiting; return the offers made."""
    offers: list[tuple[WaitlistEntry, Member, Seat]] = []
    while True:
        entry_and_member = await _next_waiting(session, group)
        if entry_and_member is None:
            return offers
        entry, member = entry_and_member
        seat = await hold_seat(session, member=member, group=group, now=now, until=now + offer_for)
        if seat is None:
            return offers
        entry.status = WaitlistStatus.OFFERED
        entry.seat_id = seat.id
        entry.offered_until = seat.hold_expires_at
        entry.updated_at = now
        session.add(entry)
        await session.flush()
        offers.append((entry, member, seat))


async def _next_waiting(
    session: AsyncSession, group: Group
) -> tuple[WaitlistEntry, Member] | None:
    result = await session.exec(
        select(WaitlistEntry, Member)
        .join(Member, col(Member.id) == col(WaitlistEntry.member_id))
        .where(col(WaitlistEntry.group_id) == group.id)
        .where(col(WaitlistEntry.status) == WaitlistStatus.WAITING)
        .order_by(col(WaitlistEntry.id))
        .limit(1)
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def mark_seated(session: AsyncSession, seat: Seat, now: datetime) -> None:
    """The waitlist entry that led to this seat is done."""
    await session.exec(
        update(WaitlistEntry)
        .where(col(WaitlistEntry.seat_id) == seat.id)
        .values(status=WaitlistStatus.SEATED, updated_at=now)
    )


async def seated(session: AsyncSession, *, member_id: int, group_id: int) -> Seat | None:
    """The member's seat in the group if it lets them in (active, past due or comped)."""
    seat = await live_seat(session, member_id=member_id, group_id=group_id)
    return seat if seat is not None and seat.status in SEATED else None
