"""What the dashboard reads: one group's members, weeks, seats and money, in a fixed number
of statements however many members there are (bench/dashboard.py counts them)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billing.paying import GroupIncome, Method, SeatPays, what_seats_pay
from billing.seats import SeatCount, count_seats
from coaching.rules import answer_by
from core.localtime import at_local, local_date, monday_of, parse_days, parse_time
from core.models import (
    SEATED,
    CoachReply,
    Entry,
    EntryKind,
    Group,
    Member,
    MemberNote,
    SafetyAlert,
    Seat,
    SeatStatus,
    Summary,
    SummaryState,
    WaitlistEntry,
    WaitlistStatus,
)
from core.pricing import Price
from dashboard import figures
from dashboard.figures import MonthChurn, ResponseTimes, Tenure
from practice.words import Vocabulary

WEEKS = 12  # the group over time: the last twelve local weeks
MONTHS = 6  # churn: the last six months
SPOKEN = (EntryKind.VOICE, EntryKind.VIDEO_NOTE)
WRITTEN = (EntryKind.TEXT, EntryKind.PHOTO)


@dataclass
class MemberRow:
    """One seated member, as the members list shows them."""

    member: Member
    seat: Seat
    joined: datetime
    last_check_in: datetime | None = None
    strip: list[bool] = field(default_factory=list)
    days_checked_in: int = 0
    waiting_since: datetime | None = None
    open_alerts: int = 0
    last_reply: datetime | None = None
    summary: str | None = None  # "sent", "edited", "approved", "draft"
    summary_week: date | None = None
    notes: int = 0
    drifting: str | None = None
    pays: SeatPays | None = None  # how the seat is paid, what it brings in a month

    @property
    def status(self) -> str:
        if self.seat.status == SeatStatus.ACTIVE and self.seat.cancel_at_period_end:
            return "cancelling"
        return str(self.seat.status).replace("_", " ")

    @property
    def renews_or_ends(self) -> datetime | None:
        return self.seat.current_period_end


@dataclass(frozen=True)
class Week:
    start: date
    seated: int
    active: int  # members with a check-in that week
    text: int
    voice: int
    prompts: int  # check-ins answering the day's prompt
    feelings: int  # feeling words named (the wheel, and in what they wrote)


@dataclass(frozen=True)
class Money:
    seats: SeatCount
    offers: int
    paying: int
    comped: int
    past_due: int
    cancelling: int
    income: GroupIncome
    churn: list[MonthChurn]

    @property
    def mrr_cents(self) -> int:
        """What the seats paid in money bring in a month, in the group's currency."""
        return self.income.cents


@dataclass
class Overview:
    group: Group
    today: date
    rows: list[MemberRow]
    weeks: list[Week]
    money: Money
    responses: ResponseTimes

    @property
    def drifting(self) -> list[MemberRow]:
        return [row for row in self.rows if row.drifting]


async def overview(
    session: AsyncSession, group: Group, now: datetime, vocabulary: Vocabulary, price: Price
) -> Overview:
    """Everything the dashboard's page shows for one group."""
    assert group.id is not None
    today = local_date(now, group.timezone)
    this_monday = monday_of(today)
    weeks = figures.week_starts(this_monday, WEEKS)
    since = at_local(weeks[0], parse_time("00:00"), group.timezone)
    strip_since = at_local(
        today - timedelta(days=2 * figures.DRIFT_WINDOW), parse_time("00:00"), group.timezone
    )
    window_start = min(since, strip_since)

    rows = await _seated_rows(session, group)
    by_member = {row.member.id: row for row in rows}
    members_here = _members_of(group)

    for member_id, last in await _all(
        session,
        select(Entry.member_id, func.max(Entry.created_at))
        .where(col(Entry.member_id).in_(members_here))
        .group_by(col(Entry.member_id)),
    ):
        if member_id in by_member:
            by_member[member_id].last_check_in = last
    for member_id, last in await _all(
        session,
        select(CoachReply.member_id, func.max(CoachReply.created_at))
        .where(col(CoachReply.member_id).in_(members_here))
        .group_by(col(CoachReply.member_id)),
    ):
        if member_id in by_member:
            by_member[member_id].last_reply = last
    for member_id, since_when in await _all(session, _waiting_since_query(members_here)):
        if member_id in by_member:
            by_member[member_id].waiting_since = since_when
    for member_id, open_alerts in await _all(
        session,
        select(SafetyAlert.member_id, func.count())
        .where(col(SafetyAlert.member_id).in_(members_here))
        .where(col(SafetyAlert.handled_at).is_(None))
        .where(col(SafetyAlert.level) == "urgent")  # a concerning one has nothing to close
        .group_by(col(SafetyAlert.member_id)),
    ):
        if member_id in by_member:
            by_member[member_id].open_alerts = int(open_alerts)
    for member_id, notes in await _all(
        session,
        select(MemberNote.member_id, func.count())
        .where(col(MemberNote.member_id).in_(members_here))
        .group_by(col(MemberNote.member_id)),
    ):
        if member_id in by_member:
            by_member[member_id].notes = int(notes)
    for member_id, week_start, state, edited_at in await _all(
        session,
        select(
            col(Summary.member_id),
            col(Summary.week_start),
            col(Summary.state),
            col(Summary.edited_at),
        )
        .where(col(Summary.group_id) == group.id)
        .where(col(Summary.week_start) >= this_monday - timedelta(weeks=2))
        .order_by(col(Summary.week_start)),
    ):
        row = by_member.get(member_id)
        if row is not None:  # the latest week wins
            row.summary_week = week_start
            row.summary = "edited" if edited_at and state != SummaryState.SENT else str(state)
            if edited_at and state == SummaryState.SENT:
                row.summary = "sent, edited"

    # Seven columns: more than sqlmodel's select() types, so SQLAlchemy's own.
    entries = list(
        (
            await session.exec(  # type: ignore[call-overload]
                sa_select(
                    col(Entry.member_id), col(Entry.kind), col(Entry.created_at),
                    col(Entry.prompt_id), col(Entry.text), col(Entry.chat_id),
                    col(Entry.message_id),
                )
                .where(col(Entry.member_id).in_(members_here))
                .where(or_(col(Entry.group_id) == group.id, col(Entry.group_id).is_(None)))
                .where(col(Entry.created_at) >= window_start)
            )
        ).all()
    )  # fmt: skip
    replies = await _all(
        session,
        select(CoachReply.member_id, CoachReply.created_at)
        .where(col(CoachReply.member_id).in_(members_here))
        .where(col(CoachReply.created_at) >= window_start),
    )
    days: dict[int, set[date]] = defaultdict(set)
    for member_id, _kind, created_at, *_ in entries:
        days[member_id].add(local_date(created_at, group.timezone))
    for row in rows:
        assert row.member.id is not None
        member_days = days.get(row.member.id, set())
        row.strip = figures.strip(member_days, today)
        row.days_checked_in = sum(row.strip)
        row.drifting = figures.drifting(
            member_days,
            today=today,
            last_check_in=row.last_check_in,
            joined=row.joined,
            quiet_days=group.quiet_days,
            now=now,
        )

    tenures = await _tenures(session, group)
    return Overview(
        group=group,
        today=today,
        rows=rows,
        weeks=_weeks(group, weeks, entries, tenures, vocabulary, since),
        money=await _money(session, group, rows, tenures, today, now, price),
        responses=_responses(group, entries, replies, since, now),
    )


def _members_of(group: Group) -> Any:
    """Everyone who ever had a seat in the group (a subquery, so no long list of ids)."""
    return select(Seat.member_id).where(col(Seat.group_id) == group.id)


async def _seated_rows(session: AsyncSession, group: Group) -> list[MemberRow]:
    seated = await _all(
        session,
        select(Seat, Member)
        .join(Member, col(Member.id) == col(Seat.member_id))
        .where(col(Seat.group_id) == group.id)
        .where(col(Seat.status).in_(SEATED))
        .order_by(col(Member.first_name), col(Member.id)),
    )
    return [MemberRow(member, seat, seat.joined_at or seat.created_at) for seat, member in seated]


def _waiting_since_query(members_here: Any) -> Any:
    """Per member, their oldest private message after the coach's last reply (the same rule
    as coaching.threads.waiting_since, for everyone at once)."""
    last_reply = (
        select(CoachReply.member_id, func.max(CoachReply.created_at).label("last"))
        .where(col(CoachReply.member_id).is_not(None))
        .group_by(col(CoachReply.member_id))
        .subquery()
    )
    return (
        select(Entry.member_id, func.min(Entry.created_at))
        .outerjoin(last_reply, last_reply.c.member_id == col(Entry.member_id))
        .where(col(Entry.member_id).in_(members_here))
        .where(col(Entry.chat_id) > 0)
        .where(col(Entry.message_id).is_not(None))
        .where(or_(last_reply.c.last.is_(None), col(Entry.created_at) > last_reply.c.last))
        .group_by(col(Entry.member_id))
    )


async def _tenures(session: AsyncSession, group: Group) -> list[Tenure]:
    """Every seat that was really taken (paid, comped or joined), for churn and seat counts."""
    seats = await _all(
        session,
        select(Seat.joined_at, Seat.created_at, Seat.ended_at)
        .where(col(Seat.group_id) == group.id)
        .where(
            or_(
                col(Seat.status).in_(SEATED),
                and_(
                    col(Seat.status) == SeatStatus.ENDED,
                    or_(
                        col(Seat.stripe_subscription_id).is_not(None),
                        col(Seat.joined_at).is_not(None),
                    ),
                ),
            )
        ),
    )
    return [Tenure(joined or created, ended) for joined, created, ended in seats]


def _weeks(
    group: Group,
    weeks: list[date],
    entries: list[Any],
    tenures: list[Tenure],
    vocabulary: Vocabulary,
    since: datetime,
) -> list[Week]:
    index = {start: n for n, start in enumerate(weeks)}
    active: list[set[int]] = [set() for _ in weeks]
    counts = [dict.fromkeys(("text", "voice", "prompts", "feelings"), 0) for _ in weeks]
    for member_id, kind, created_at, prompt_id, text, _chat, _message in entries:
        if created_at < since:
            continue
        n = index.get(monday_of(local_date(created_at, group.timezone)))
        if n is None:
            continue
        active[n].add(member_id)
        if kind in WRITTEN:
            counts[n]["text"] += 1
        elif kind in SPOKEN:
            counts[n]["voice"] += 1
        if prompt_id:
            counts[n]["prompts"] += 1
        if kind == EntryKind.FEELING:
            counts[n]["feelings"] += 1
        elif text and kind in WRITTEN:
            counts[n]["feelings"] += len(vocabulary.feelings(text))
    result = []
    for n, start in enumerate(weeks):
        end = at_local(start + timedelta(days=7), parse_time("00:00"), group.timezone)
        seated = sum(1 for t in tenures if t.started < end and (t.ended is None or t.ended >= end))
        result.append(Week(start, seated, len(active[n]), **counts[n]))
    return result


def _responses(
    group: Group, entries: list[Any], replies: list[Any], since: datetime, now: datetime
) -> ResponseTimes:
    """Median hours to answer and promises kept, over the weeks shown."""
    messages: dict[int, list[datetime]] = defaultdict(list)
    for member_id, _kind, created_at, _prompt, _text, chat_id, message_id in entries:
        if chat_id > 0 and message_id is not None and created_at >= since:
            messages[member_id].append(created_at)
    answers: dict[int, list[datetime]] = defaultdict(list)
    for member_id, created_at in replies:
        answers[member_id].append(created_at)
    reply_days, reply_by = parse_days(group.reply_days), parse_time(group.reply_by)

    def promised_by(start: datetime) -> datetime:
        return answer_by(start, zone=group.timezone, days=reply_days, by=reply_by)

    per_member = [
        figures.response_times(sent, answers.get(member_id, []), promised_by=promised_by, now=now)
        for member_id, sent in messages.items()
    ]
    hours = [
        hour
        for member_id, sent in messages.items()
        for hour in figures.wait_hours(sent, answers.get(member_id, []))
    ]
    return figures.combine(per_member, hours)


async def _money(
    session: AsyncSession,
    group: Group,
    rows: list[MemberRow],
    tenures: list[Tenure],
    today: date,
    now: datetime,
    price: Price,
) -> Money:
    offers = (
        await session.exec(
            select(func.count())
            .select_from(WaitlistEntry)
            .where(col(WaitlistEntry.group_id) == group.id)
            .where(col(WaitlistEntry.status) == WaitlistStatus.OFFERED)
        )
    ).one()
    months = [
        (
            first,
            at_local(first, parse_time("00:00"), group.timezone),
            at_local(_next_month(first), parse_time("00:00"), group.timezone),
        )
        for first in figures.month_firsts(today, MONTHS)
    ]
    income = await what_seats_pay(session, group, price, now)
    by_seat = {paid.seat.id: paid for paid in income.seats}
    for row in rows:
        row.pays = by_seat.get(row.seat.id)
    return Money(
        seats=await count_seats(session, group, now),
        offers=int(offers),
        # Paying: an active subscription (also while it runs to a cancellation at period end).
        paying=sum(
            1
            for paid in income.seats
            if paid.seat.status == SeatStatus.ACTIVE and paid.method == Method.STRIPE
        ),
        comped=sum(1 for row in rows if row.seat.status == SeatStatus.COMPED),
        past_due=sum(1 for row in rows if row.seat.status == SeatStatus.PAST_DUE),
        cancelling=sum(1 for row in rows if row.seat.cancel_at_period_end),
        income=income,
        churn=figures.monthly_churn(tenures, months),
    )


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


async def _all(session: AsyncSession, query: Any) -> list[Any]:
    return list((await session.exec(query)).all())


# --- one member -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Said:
    when: datetime
    who: str  # the member's name, or "you" (the coach)
    kind: str
    text: str | None
    seconds: int | None
    where: str  # "private" or "group"


@dataclass
class MemberPage:
    member: Member
    seat: Seat | None
    thread: list[Said]
    notes: list[MemberNote]
    summaries: list[Summary]
    alerts: list[SafetyAlert]


THREAD_LENGTH = 60


async def member_page(session: AsyncSession, group: Group, member_id: int) -> MemberPage | None:
    """A member of this group: their thread (check-ins and the coach's replies), the coach's
    notes, their summaries and safety alerts. None when they never had a seat here."""
    seat = (
        await session.exec(
            select(Seat)
            .where(col(Seat.group_id) == group.id)
            .where(col(Seat.member_id) == member_id)
            .order_by(col(Seat.id).desc())
        )
    ).first()
    member = await session.get(Member, member_id)
    if seat is None or member is None:
        return None
    entries = await _all(
        session,
        select(Entry)
        .where(col(Entry.member_id) == member_id)
        .order_by(col(Entry.created_at).desc())
        .limit(THREAD_LENGTH),
    )
    replies = await _all(
        session,
        select(CoachReply)
        .where(col(CoachReply.member_id) == member_id)
        .order_by(col(CoachReply.created_at).desc())
        .limit(THREAD_LENGTH),
    )
    thread = [
        Said(
            e.created_at,
            member.first_name,
            str(e.kind),
            e.text,
            e.duration_seconds,
            "private" if e.chat_id > 0 else "group",
        )
        for e in entries
    ] + [
        Said(r.created_at, "you", str(r.kind), r.text, r.duration_seconds, "private")
        for r in replies
    ]
    return MemberPage(
        member=member,
        seat=seat,
        thread=sorted(thread, key=lambda said: said.when)[-THREAD_LENGTH:],
        notes=await _all(
            session,
            select(MemberNote)
            .where(col(MemberNote.member_id) == member_id)
            .order_by(col(MemberNote.created_at).desc()),
        ),
        summaries=await _all(
            session,
            select(Summary)
            .where(col(Summary.member_id) == member_id)
            .where(col(Summary.group_id) == group.id)
            .order_by(col(Summary.week_start).desc())
            .limit(8),
        ),
        alerts=await _all(
            session,
            select(SafetyAlert)
            .where(col(SafetyAlert.member_id) == member_id)
            .order_by(col(SafetyAlert.created_at).desc()),
        ),
    )


NOTE_LIMIT = 4000


async def add_note(
    session: AsyncSession, *, member_id: int, coach_id: int, text: str, now: datetime
) -> MemberNote | None:
    """Keep a note of the coach's about a member; None when there is nothing to keep."""
    words = text.strip()[:NOTE_LIMIT]
    if not words:
        return None
    note = MemberNote(member_id=member_id, coach_id=coach_id, text=words, created_at=now)
    session.add(note)
    await session.flush()
    return note


async def delete_note(session: AsyncSession, *, member_id: int, note_id: int) -> bool:
    note = await session.get(MemberNote, note_id)
    if note is None or note.member_id != member_id:
        return False
    await session.delete(note)
    return True
