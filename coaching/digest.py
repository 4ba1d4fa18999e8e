"""The coach's daily digest, the ten-minute round; and the gentle check-ins it relies on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from coaching import promises
from coaching.rules import (
    PromiseFigures,
    gone_quiet,
    nudge_due,
    quiet_since,
    said_duration,
    waited,
)
from coaching.threads import waiting_since
from core.links import message_link
from core.localtime import day_due, parse_days, parse_time, zone
from core.models import (
    SEATED,
    Entry,
    EntryKind,
    Group,
    Highlight,
    Member,
    OutboxMessage,
    SafetyAlert,
    Seat,
    SeatStatus,
)
from core.outbox import enqueue
from practice.checkins import streak
from prompts.buttons import GroupPost, OpenThread, button, keyboard
from prompts.render import Templates
from safety.matcher import Level
from safety.net import SOS
from safety.rules import VOICE_AFTER_RISK

# The first round covers at most this much of what came before it.
FIRST_ROUND_LOOKS_BACK = timedelta(days=7)
# The group section shows this many posts (the newest), and says how many more there were.
MAX_POSTS = 10
EXCERPT = 90
POST_KINDS = (
    EntryKind.TEXT,
    EntryKind.VOICE,
    EntryKind.VIDEO_NOTE,
    EntryKind.PHOTO,
    EntryKind.WIN,
)
# Seats that ended this way were members leaving; a lapsed hold never was one.
DEPARTURES = {
    "canceled": "their membership ended",
    "unpaid": "the payment didn't go through",
    "removed_by_coach": "you removed them",
}


@dataclass(frozen=True)
class Post:
    """A member's post in the group, as the round shows it."""

    number: int
    entry: Entry
    member: Member
    excerpt: str | None
    link: str | None
    marked: str | None  # "win" or "insight" when the coach has marked it already


@dataclass(frozen=True)
class Departure:
    member: Member
    why: str


@dataclass(frozen=True)
class Waiting:
    member: Member
    since: datetime
    unanswered: int
    waited: str


@dataclass(frozen=True)
class VoiceAfterRisk:
    member: Member
    notes: int
    alert: SafetyAlert


@dataclass
class Digest:
    """What the coach should look at today, most urgent first."""

    group: Group
    since: datetime | None = None  # the last round (None: this is the first)
    urgent: list[tuple[Member, SafetyAlert]] = field(default_factory=list)
    # Concerning words since the last round (hopelessness): a gentle word is worth it.
    concerning: list[tuple[Member, SafetyAlert]] = field(default_factory=list)
    # Voice notes (which the bot can't read) from someone whose words worried the net lately.
    voice_after_risk: list[VoiceAfterRisk] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    more_posts: int = 0
    new_members: list[Member] = field(default_factory=list)
    departures: list[Departure] = field(default_factory=list)
    payment_trouble: list[Member] = field(default_factory=list)
    quiet: list[tuple[Member, str, bool]] = field(default_factory=list)  # who, how long, nudged
    promises: PromiseFigures | None = None

    def local(self, moment: datetime) -> str:
        """A moment in the group's zone, short: "Tue 17 Nov, 21:50"."""
        return f"{moment.astimezone(zone(self.group.timezone)):%a %-d %b, %H:%M}"

    @property
    def median_answer(self) -> str | None:
        median = self.promises.median_answer if self.promises else None
        return said_duration(median) if median is not None else None

    @property
    def members(self) -> list[Member]:
        """Everyone named, once, in the digest's order (for the thread buttons)."""
        seen: dict[int | None, Member] = {}
        for member in [
            *(m for m, _ in self.urgent),
            *(m for m, _ in self.concerning),
            *(v.member for v in self.voice_after_risk),
            *(w.member for w in self.waiting),
            *self.new_members,
            *self.payment_trouble,
            *(m for m, _, _ in self.quiet),
        ]:
            seen.setdefault(member.id, member)
        return list(seen.values())


def round_start(group: Group, now: datetime) -> datetime:
    """Where this round starts: the last round, or (the first time) a week back at most."""
    if group.last_round_at is not None:
        return group.last_round_at
    return max(group.created_at, now - FIRST_ROUND_LOOKS_BACK)


async def build_digest(session: AsyncSession, group: Group, now: datetime) -> Digest:
    """Urgent alerts, who waits longest, the group since the last round, who came and went,
    payment trouble, who has gone quiet, and how the reply promise is kept."""
    start = round_start(group, now)
    digest = Digest(group, since=group.last_round_at)
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
        for alert in await _concerning_since(session, member.id, start):
            digest.concerning.append((member, alert))
        voice = await _voice_after_risk(session, member, start, now)
        if voice is not None:
            digest.voice_after_risk.append(voice)
        since = await waiting_since(session, member.id)
        if since is not None:
            unanswered = await _count_since(session, member.id, since)
            digest.waiting.append(Waiting(member, since, unanswered, waited(since, now)))
        if (seat.joined_at or seat.created_at) >= start:
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
    digest.posts, digest.more_posts = await group_posts(session, group, start)
    digest.departures = await _departures(session, group, start)
    digest.promises = await promises.figures(session, now, group_id=group.id)
    return digest


async def group_posts(
    session: AsyncSession, group: Group, since: datetime
) -> tuple[list[Post], int]:
    """Members' posts in the group since `since` (the newest MAX_POSTS), and how many more.

    A post the safety net fired on is left out: it is in the urgent part, and a win button
    has no place under it.
    """
    alerted = and_(
        col(SafetyAlert.chat_id) == col(Entry.chat_id),
        col(SafetyAlert.message_id) == col(Entry.message_id),
    )
    rows = (
        await session.exec(
            select(Entry, Member, Highlight.kind)
            .join(Member, col(Member.id) == col(Entry.member_id))
            .outerjoin(Highlight, col(Highlight.entry_id) == col(Entry.id))
            .outerjoin(SafetyAlert, alerted)
            .where(col(Entry.group_id) == group.id)
            .where(col(Entry.chat_id) == group.chat_id)
            .where(col(Entry.message_id).is_not(None))
            .where(col(Entry.kind).in_(POST_KINDS))
            .where(col(Entry.created_at) >= since)
            .where(col(SafetyAlert.id).is_(None))
            .order_by(col(Entry.created_at))
        )
    ).all()
    shown = rows[-MAX_POSTS:]
    posts = [
        Post(
            number=number,
            entry=entry,
            member=member,
            excerpt=excerpt(entry.text),
            link=message_link(entry.chat_id, entry.message_id) if entry.message_id else None,
            marked=marked,
        )
        for number, (entry, member, marked) in enumerate(shown, start=1)
    ]
    return posts, len(rows) - len(shown)


def excerpt(text: str | None, length: int = EXCERPT) -> str | None:
    """The first words of a post, cut at a word with "…"."""
    if not text:
        return None
    flat = " ".join(text.split())
    if len(flat) <= length:
        return flat
    return flat[:length].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


async def _departures(session: AsyncSession, group: Group, since: datetime) -> list[Departure]:
    rows = (
        await session.exec(
            select(Seat, Member)
            .join(Member, col(Member.id) == col(Seat.member_id))
            .where(col(Seat.group_id) == group.id)
            .where(col(Seat.status) == SeatStatus.ENDED)
            .where(col(Seat.ended_at) >= since)
            .where(col(Seat.end_reason).in_(list(DEPARTURES)))
            .order_by(col(Seat.ended_at))
        )
    ).all()
    return [Departure(member, DEPARTURES[seat.end_reason or ""]) for seat, member in rows]


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
        keys = [f"digest:{group.id}:{day.isoformat()}:{coach_id}" for coach_id in coach_ids]
        if await _all_queued(session, keys):
            continue  # today's round went out already (the job looks every minute)
        digest = await build_digest(session, group, now)
        text = templates.render("digest", digest=digest, day=day)
        buttons = digest_buttons(digest)
        queued = 0
        for key, coach_id in zip(keys, coach_ids, strict=True):
            queued += await enqueue(
                session,
                key=key,
                chat_id=coach_id,
                text=text,
                reply_markup=buttons if buttons["inline_keyboard"] else None,
                now=now,
            )
        if queued:
            group.last_round_at = now
            session.add(group)
        sent += queued
    return sent


def digest_buttons(digest: Digest) -> dict[str, Any]:
    """Under each group post: mark it a win or an insight, or answer it in the group; then a
    button per member named, to open their thread."""
    post_rows = [
        [
            button(f"{post.number}. ✨ Win", GroupPost(entry_id=post.entry.id, action="win")),
            button(
                f"{post.number}. 💡 Insight", GroupPost(entry_id=post.entry.id, action="insight")
            ),
            button(f"{post.number}. ↩ Reply", GroupPost(entry_id=post.entry.id, action="reply")),
        ]
        for post in digest.posts
        if post.entry.id is not None
    ]
    member_rows = [
        [button(f"Open {member.first_name}", OpenThread(member_id=member.id))]
        for member in digest.members[:20]
        if member.id is not None
    ]
    return keyboard(*post_rows, *member_rows)


async def _all_queued(session: AsyncSession, keys: list[str]) -> bool:
    found = await session.exec(
        select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.key).in_(keys))
    )
    return bool(keys) and int(found.one()) == len(keys)


async def send_gentle_checkins(
    session: AsyncSession, templates: Templates, now: datetime, coach: str | None = None
) -> int:
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
            text=templates.render("gentle_checkin", first_name=member.first_name, coach=coach),
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
        .where(col(SafetyAlert.level) == Level.URGENT.value)
        .where(col(SafetyAlert.handled_at).is_(None))
    )
    return list(result.all())


async def _concerning_since(
    session: AsyncSession, member_id: int, since: datetime
) -> list[SafetyAlert]:
    result = await session.exec(
        select(SafetyAlert)
        .where(col(SafetyAlert.member_id) == member_id)
        .where(col(SafetyAlert.level) == Level.CONCERNING.value)
        .where(col(SafetyAlert.created_at) >= since)
        .order_by(col(SafetyAlert.created_at))
    )
    return list(result.all())


async def _voice_after_risk(
    session: AsyncSession, member: Member, since: datetime, now: datetime
) -> VoiceAfterRisk | None:
    """Voice and video notes since the round started from a member whose typed words
    worried the net in the last VOICE_AFTER_RISK: the bot can't hear what they say."""
    alert = (
        await session.exec(
            select(SafetyAlert)
            .where(col(SafetyAlert.member_id) == member.id)
            .where(col(SafetyAlert.category) != SOS)
            .where(col(SafetyAlert.created_at) >= now - VOICE_AFTER_RISK)
            .order_by(col(SafetyAlert.created_at).desc())
        )
    ).first()
    if alert is None:
        return None
    notes = await session.exec(
        select(func.count())
        .select_from(Entry)
        .where(col(Entry.member_id) == member.id)
        .where(col(Entry.kind).in_([EntryKind.VOICE, EntryKind.VIDEO_NOTE]))
        .where(col(Entry.created_at) > alert.created_at)
        .where(col(Entry.created_at) >= since)
    )
    count = int(notes.one())
    return VoiceAfterRisk(member, count, alert) if count else None


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
