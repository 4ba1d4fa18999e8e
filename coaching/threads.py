"""Private threads: a member's messages reach the coach; the coach's reply reaches the member."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from coaching import profiles, promises
from coaching.rules import waited
from core.localtime import describe_days, format_local, local_date, parse_days
from core.models import (
    SEATED,
    CoachReply,
    Entry,
    EntryKind,
    Group,
    Highlight,
    Member,
    Relay,
    SafetyAlert,
    Seat,
)
from core.outbox import enqueue
from practice.checkins import Said, streak
from prompts.render import Templates

log = logging.getLogger(__name__)

# Outbox keys of relays to the coaches: "relay:<member id>:<message id>:<coach id>:header|copy".
RELAY_KEY = "relay:"


class NotDelivered(Exception):
    """Telegram would not take the message (blocked, refused, or failing for now);
    `voice_refused`: the person's privacy settings refuse voice and video notes."""

    def __init__(self, reason: str, *, voice_refused: bool = False) -> None:
        super().__init__(reason)
        self.voice_refused = voice_refused


class Messenger(Protocol):
    """Sends on the spot (TelegramGateway); each call returns the new message's id.

    `reply_to` makes the message a reply (to a member's post in the group); `caption` gives a
    copied voice note or photo a new caption (Telegram keeps the old one otherwise).
    """

    async def send_text(
        self, chat_id: int, text: str, *, silent: bool = False, reply_to: int | None = None
    ) -> int: ...

    async def copy(
        self,
        chat_id: int,
        from_chat_id: int,
        message_id: int,
        *,
        silent: bool = False,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> int: ...


# What the label says the coach sent; media that can carry a caption carry the label in it.
_SAID_AS = {
    EntryKind.VOICE: "voice note",
    EntryKind.VIDEO_NOTE: "video note",
    EntryKind.PHOTO: "photo",
}
_CAPTIONED = (EntryKind.VOICE, EntryKind.PHOTO)
# Telegram's limits (4096 for a text, 1024 for a caption), with room for the label.
_MAX_LABELLED_TEXT = 4000
_MAX_LABELLED_CAPTION = 1000


async def send_as_coach(
    messenger: Messenger,
    templates: Templates,
    *,
    chat_id: int,
    said: Said,
    speaker: str,
    reply_to: int | None = None,
) -> int:
    """What the coach said, sent on by the bot and labelled as theirs ("Rivka · voice note"),
    so nobody takes the coach's words for the bot's, or the bot's for the coach's.

    Words go as one message under the coach's name; a voice note or a photo is copied with the
    label as its caption; anything that can't carry a caption (a video note, a sticker) comes
    after a one-line label.
    """
    kind = _SAID_AS.get(said.kind)
    if said.kind == EntryKind.TEXT and said.text:
        words = templates.render(
            "coach_words", name=speaker, html=said.html or html.escape(said.text, quote=False)
        )
        if len(words) <= _MAX_LABELLED_TEXT:
            return await messenger.send_text(chat_id, words, reply_to=reply_to)
    label = templates.render("coach_label", name=speaker, kind=kind, caption=said.html)
    if said.kind in _CAPTIONED and len(label) <= _MAX_LABELLED_CAPTION:
        return await messenger.copy(
            chat_id, said.chat_id, said.message_id, caption=label, reply_to=reply_to
        )
    header = templates.render("coach_label", name=speaker, kind=kind, caption=None)
    first = await messenger.send_text(chat_id, header, reply_to=reply_to)
    await messenger.copy(chat_id, said.chat_id, said.message_id)
    return first


async def reach_coaches(
    session: AsyncSession,
    templates: Templates,
    *,
    said: Said,
    member: Member,
    group: Group,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> None:
    """A private check-in: copied to each coach under a header saying who and since when, and
    acknowledged to the member (at most once a day).

    Through the outbox, so a 429 or a failing moment delays the relay instead of losing it;
    the coach's reply finds the member through the Relay rows written as each arrives.
    """
    assert member.id is not None
    since = await waiting_since(session, member.id) or now
    header = templates.render(
        "thread_header",
        member=member,
        streak=await streak(session, member, group, now),
        waited=waited(since, now),
    )
    entry = (
        await session.exec(
            select(Entry)
            .where(col(Entry.chat_id) == said.chat_id)
            .where(col(Entry.message_id) == said.message_id)
        )
    ).first()
    relay = {"relay": {"member_id": member.id, "entry_id": entry.id if entry else None}}
    for coach_id in coach_ids:
        key = f"{RELAY_KEY}{member.id}:{said.message_id}:{coach_id}"
        # Silent: the coach reads once a day, not at every ping.
        await enqueue(
            session, key=f"{key}:header", chat_id=coach_id, text=header, silent=True,
            context=relay, now=now,
        )  # fmt: skip
        await enqueue(
            session, key=f"{key}:copy", chat_id=coach_id, text="", silent=True, context=relay,
            copy_of=(said.chat_id, said.message_id), now=now,
        )  # fmt: skip
    await acknowledge(
        session,
        templates,
        member=member,
        group=group,
        coach_name=await profiles.coach_name(session, coach_ids),
        now=now,
    )


async def waiting_since(session: AsyncSession, member_id: int) -> datetime | None:
    """The member's oldest private message the coach hasn't answered yet."""
    last_reply = (
        await session.exec(
            select(func.max(CoachReply.created_at)).where(col(CoachReply.member_id) == member_id)
        )
    ).one()
    query = (
        select(func.min(Entry.created_at))
        .where(col(Entry.member_id) == member_id)
        .where(col(Entry.chat_id) > 0)
        .where(col(Entry.message_id).is_not(None))
    )
    if last_reply is not None:
        query = query.where(col(Entry.created_at) > last_reply)
    return (await session.exec(query)).one()


@dataclass(frozen=True)
class Delivery:
    """What became of a coach's reply."""

    member: Member | None
    delivered: bool
    reason: str = ""


async def deliver_reply(
    session: AsyncSession,
    messenger: Messenger,
    templates: Templates,
    *,
    reply: Said,
    answers: int,
    coach_id: int,
    speaker: str,
    now: datetime,
) -> Delivery:
    """Send the coach's reply (text, voice, anything) to the member it answers, labelled as
    the coach's, and keep it; the member's reply promise is kept with it.

    `answers` is the message in the coach's chat that the coach replied to. A reply to one of
    the member's posts in the group (from the round) is answered in the group, under the post.
    """
    relay = (
        await session.exec(
            select(Relay)
            .where(col(Relay.coach_chat_id) == reply.chat_id)
            .where(col(Relay.coach_message_id) == answers)
        )
    ).first()
    if relay is None:
        return Delivery(None, False, "not_a_thread")
    member = await session.get(Member, relay.member_id)
    assert member is not None
    seated = (
        await session.exec(
            select(Seat.id)
            .where(col(Seat.member_id) == member.id)
            .where(col(Seat.status).in_(SEATED))
        )
    ).first()
    if seated is None:
        return Delivery(member, False, "left")
    entry = await session.get(Entry, relay.entry_id) if relay.entry_id else None
    if entry is not None and entry.chat_id < 0:
        return await _answer_in_group(
            session, messenger, templates, reply, entry, member, coach_id, speaker, now
        )
    try:
        await send_as_coach(
            messenger, templates, chat_id=member.telegram_id, said=reply, speaker=speaker
        )
    except NotDelivered as error:
        log.warning("coach reply to member %s failed: %s", member.id, error)
        return Delivery(member, False, "voice_refused" if error.voice_refused else "unreachable")
    await record_reply(
        session, reply, coach_id=coach_id, member_id=member.id, entry_id=relay.entry_id, now=now
    )
    await promises.keep_promise(session, relay.member_id, now)
    await session.exec(
        update(SafetyAlert)
        .where(col(SafetyAlert.member_id) == member.id)
        .where(col(SafetyAlert.handled_at).is_(None))
        .values(handled_at=now)
    )
    return Delivery(member, True)


async def _answer_in_group(
    session: AsyncSession,
    messenger: Messenger,
    templates: Templates,
    reply: Said,
    entry: Entry,
    member: Member,
    coach_id: int,
    speaker: str,
    now: datetime,
) -> Delivery:
    """The coach's answer to a member's post goes to the group, as a reply under that post."""
    try:
        await send_as_coach(
            messenger,
            templates,
            chat_id=entry.chat_id,
            said=reply,
            speaker=speaker,
            reply_to=entry.message_id,
        )
    except NotDelivered as error:
        log.warning("coach reply in group %s failed: %s", entry.group_id, error)
        return Delivery(member, False, "group_refused")
    await record_reply(
        session,
        reply,
        coach_id=coach_id,
        member_id=member.id,
        group_id=entry.group_id,
        entry_id=entry.id,
        now=now,
    )
    return Delivery(member, True, "in_group")


async def record_reply(
    session: AsyncSession,
    said: Said,
    *,
    coach_id: int,
    now: datetime,
    member_id: int | None = None,
    group_id: int | None = None,
    entry_id: int | None = None,
) -> None:
    """Keep what the coach said (a reply to a member, or feedback in the group)."""
    spoken = said.kind in (EntryKind.VOICE, EntryKind.VIDEO_NOTE)
    session.add(
        CoachReply(
            coach_id=coach_id,
            member_id=member_id,
            group_id=group_id,
            chat_id=said.chat_id,
            message_id=said.message_id,
            kind=said.kind if spoken else EntryKind.TEXT,
            text=said.text,
            file_id=said.file_id if spoken else None,
            duration_seconds=said.duration_seconds if spoken else None,
            entry_id=entry_id,
            created_at=now,
        )
    )
    await session.flush()


@dataclass(frozen=True)
class ThreadLine:
    when: datetime
    who: str
    kind: str
    text: str | None
    seconds: int | None


async def thread(session: AsyncSession, member: Member, *, limit: int = 12) -> list[ThreadLine]:
    """The member's recent check-ins and the coach's replies, oldest first."""
    entries = await session.exec(
        select(Entry)
        .where(col(Entry.member_id) == member.id)
        .order_by(col(Entry.created_at).desc())
        .limit(limit)
    )
    replies = await session.exec(
        select(CoachReply)
        .where(col(CoachReply.member_id) == member.id)
        .order_by(col(CoachReply.created_at).desc())
        .limit(limit)
    )
    lines = [
        ThreadLine(e.created_at, member.first_name, str(e.kind), e.text, e.duration_seconds)
        for e in entries.all()
    ] + [
        ThreadLine(r.created_at, "you", str(r.kind), r.text, r.duration_seconds)
        for r in replies.all()
    ]
    return sorted(lines, key=lambda line: line.when)[-limit:]


async def acknowledge(
    session: AsyncSession,
    templates: Templates,
    *,
    member: Member,
    group: Group,
    coach_name: str | None,
    now: datetime,
) -> bool:
    """At most once a local day: "got it, your coach answers by ..." (nobody waits in silence).

    The time is the member's reply promise. When that time has passed unanswered, the member
    is told so instead, honestly and once, with the new time.
    """
    promised = await promises.promise_for(session, member=member, group=group, now=now)
    if promised.late:
        return await enqueue(
            session,
            key=f"promise-late:{promised.promise.id}",
            chat_id=member.telegram_id,
            text=promises.render_late(templates, member, group, promised.by, coach_name),
            now=now,
        )
    return await enqueue(
        session,
        key=f"ack:{member.id}:{local_date(now, group.timezone).isoformat()}",
        chat_id=member.telegram_id,
        text=templates.render(
            "ack",
            first_name=member.first_name,
            coach=coach_name,
            by=format_local(promised.by, group.timezone),
            today=local_date(promised.by, group.timezone) == local_date(now, group.timezone),
            days=describe_days(parse_days(group.reply_days)),
        ),
        now=now,
    )


async def remember_relay(
    session: AsyncSession,
    *,
    coach_chat_id: int,
    message_id: int,
    member: Member,
    now: datetime,
    entry_id: int | None = None,
) -> None:
    """A message in the coach's chat stands for this member (or for one of their check-ins):
    replying to it answers them."""
    assert member.id is not None
    session.add(
        Relay(
            coach_chat_id=coach_chat_id,
            coach_message_id=message_id,
            member_id=member.id,
            entry_id=entry_id,
            created_at=now,
        )
    )


async def highlight(
    session: AsyncSession,
    *,
    chat_id: int,
    via_relay: bool,
    message_id: int,
    kind: str,
    coach_id: int,
    now: datetime,
) -> Highlight | None:
    """Mark a member's message as a win or an insight for their weekly summary.

    `message_id` is the message the coach replied to: the member's own in the group, or
    (`via_relay`) its copy in the coach's private chat. None when it is no member's check-in.
    """
    entry = await _relayed_entry(session, chat_id, message_id) if via_relay else None
    if not via_relay:
        entry = (
            await session.exec(
                select(Entry)
                .where(col(Entry.chat_id) == chat_id)
                .where(col(Entry.message_id) == message_id)
            )
        ).first()
    if entry is None or entry.id is None:
        return None
    return await mark(session, entry, kind=kind, coach_id=coach_id, now=now)


async def mark(
    session: AsyncSession, entry: Entry, *, kind: str, coach_id: int, now: datetime
) -> Highlight:
    """A check-in becomes a win or an insight in the member's weekly summary (once; marking it
    again changes which)."""
    assert entry.id is not None
    marked = (
        await session.exec(select(Highlight).where(col(Highlight.entry_id) == entry.id))
    ).first() or Highlight(entry_id=entry.id, kind=kind, coach_id=coach_id, created_at=now)
    marked.kind = kind
    session.add(marked)
    await session.flush()
    return marked


async def _relayed_entry(session: AsyncSession, chat_id: int, message_id: int) -> Entry | None:
    relay = (
        await session.exec(
            select(Relay)
            .where(col(Relay.coach_chat_id) == chat_id)
            .where(col(Relay.coach_message_id) == message_id)
        )
    ).first()
    return await session.get(Entry, relay.entry_id) if relay and relay.entry_id else None


async def broadcast(
    session: AsyncSession,
    templates: Templates,
    *,
    text: str,
    key: str,
    speaker: str,
    now: datetime,
    group_id: int | None = None,
) -> int:
    """The coach's words to every seated member (of one group, or of all), privately, through
    the outbox, under the coach's name; how many."""
    query = (
        select(Member)
        .join(Seat, col(Seat.member_id) == col(Member.id))
        .where(col(Seat.status).in_(SEATED))
        .distinct()
    )
    if group_id is not None:
        query = query.where(col(Seat.group_id) == group_id)
    seated = await session.exec(query)
    body = templates.render("broadcast", text=text, speaker=speaker)
    count = 0
    for member in seated.all():
        count += await enqueue(
            session, key=f"{key}:{member.id}", chat_id=member.telegram_id, text=body, now=now
        )
    return count
