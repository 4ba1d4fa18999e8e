"""The safety net, at two levels. Nothing about it is ever said in the group.

Urgent (intent, a plan or means, self-harm, a goodbye, or a member asking through /sos): the
member gets the crisis lines for the group's country in private, at once, and every coach an
alert that notifies, with a link to the words (or the words, where there is no link) and an
"I've reached out" button. Until a coach presses it (or answers the member), the alert is said
again after 1 hour and 4 hours (safety/rules.py) and stays first in every round.

Concerning (hopelessness, being done with everything): the member gets a gentle note with the
lines, in the coach's voice, and the coach a flagged line at the top of the next round; no
alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import insert_if_new
from core.links import message_link
from core.localtime import parse_time, zone
from core.longtext import cap
from core.models import CoachProfile, Group, Member, OutboxMessage, SafetyAlert
from core.outbox import enqueue
from prompts.buttons import ReachedOut, button, keyboard
from prompts.catalog import Library
from prompts.render import Templates
from safety.matcher import Finding, Level, RiskMatcher
from safety.rules import REPEATS, QuietHours, repeat_due, said_delay

# The coach's alert quotes the words when there is no link to them (a private chat, a basic
# group); a long message is cut so the alert always fits one Telegram message.
QUOTE_LIMIT = 1000
SOS = "sos"
# Past the last repeat an open alert is the round's to keep in view, not the repeats'.
REPEATS_LOOK_BACK = REPEATS[-1] + timedelta(days=1)
DEFAULT_QUIET = QuietHours(parse_time("22:00"), parse_time("07:00"))


@dataclass(frozen=True)
class Reached:
    """A coach pressed "I've reached out": the alert, and whether someone had already."""

    alert: SafetyAlert
    member: Member | None
    group: Group | None
    already: bool


class SafetyNet:
    """Checks every message with words; built once (the lexicon is compiled once)."""

    def __init__(
        self, *, library: Library, templates: Templates, coach_ids: tuple[int, ...]
    ) -> None:
        self._matcher = RiskMatcher(library)
        self._library = library
        self._templates = templates
        self._coach_ids = coach_ids

    def assess(self, text: str | None) -> Finding | None:
        """What the matcher makes of `text` (None: nothing worrying)."""
        return self._matcher.assess(text or "")

    async def check(
        self,
        session: AsyncSession,
        *,
        text: str | None,
        member: Member,
        group: Group | None,
        chat_id: int,
        message_id: int,
        now: datetime,
        coach: str | None = None,
    ) -> Finding | None:
        """Act on a message that worries the net, at its level; once per message."""
        finding = self.assess(text)
        if finding is None or member.id is None:
            return None
        alert = await _record(session, finding, member, group, chat_id, message_id, now)
        if alert is None:
            return None  # seen before (an edit, a resend)
        resources = self._library.resources_for(group.country if group else None)
        if finding.level == Level.CONCERNING:
            await enqueue(
                session,
                key=f"safety:{chat_id}:{message_id}:gentle",
                chat_id=member.telegram_id,
                text=self._templates.render(
                    "safety_concerning",
                    first_name=member.first_name,
                    resources=resources,
                    coach=coach,
                ),
                now=now,
            )
            return finding
        await enqueue(
            session,
            key=f"safety:{chat_id}:{message_id}:member",
            chat_id=member.telegram_id,
            text=self._templates.render(
                "safety_resources", first_name=member.first_name, resources=resources
            ),
            now=now,
        )
        link = message_link(chat_id, message_id)
        # Without a link to follow (a private chat, a basic group), the words come along.
        await self._alert_coaches(
            session, alert, member, group, link=link, quoted=_quoted(text) if not link else None
        )
        return finding

    async def tell_coach_now(
        self,
        session: AsyncSession,
        *,
        member: Member,
        group: Group | None,
        chat_id: int,
        message_id: int,
        now: datetime,
    ) -> bool:
        """The member pressed "tell my coach now" (/sos): an urgent alert, once per press."""
        finding = Finding(Level.URGENT, SOS, "asked for you through /sos")
        alert = await _record(session, finding, member, group, chat_id, message_id, now)
        if alert is None:
            return False
        await self._alert_coaches(session, alert, member, group, link=None, quoted=None)
        return True

    async def _alert_coaches(
        self,
        session: AsyncSession,
        alert: SafetyAlert,
        member: Member,
        group: Group | None,
        *,
        link: str | None,
        quoted: str | None,
    ) -> None:
        text = self._templates.render(
            "safety_alert",
            member=member,
            alert=alert,
            phrase=alert.phrase,
            link=link,
            group=group,
            quoted=quoted,
            repeat=None,
        )
        for coach_id in self._coach_ids:
            # Not silent: this is the one message from the bot that should make a sound.
            await enqueue(
                session,
                key=f"safety:{alert.chat_id}:{alert.message_id}:coach:{coach_id}",
                chat_id=coach_id,
                text=text,
                reply_markup=reached_out_button(alert),
                now=alert.created_at,
                silent=False,
            )

    async def repeat_open_alerts(self, session: AsyncSession, now: datetime) -> int:
        """Say again every urgent alert nobody has reached out about, when a repeat is due
        for a coach (their quiet hours respected); each repeat once."""
        alerts = (
            await session.exec(
                select(SafetyAlert, Member)
                .join(Member, col(Member.id) == col(SafetyAlert.member_id))
                .where(col(SafetyAlert.level) == Level.URGENT.value)
                .where(col(SafetyAlert.handled_at).is_(None))
                .where(col(SafetyAlert.created_at) >= now - REPEATS_LOOK_BACK)
                .order_by(col(SafetyAlert.created_at))
            )
        ).all()
        quiet = await _quiet_hours(session, self._coach_ids)
        sent = 0
        for alert, member in alerts:
            group = await session.get(Group, alert.group_id) if alert.group_id else None
            zone_name = group.timezone if group else "UTC"
            for coach_id in self._coach_ids:
                number = repeat_due(
                    alert.created_at, now, quiet=quiet[coach_id], zone_name=zone_name
                )
                if number is None:
                    continue
                text = self._templates.render(
                    "safety_alert",
                    member=member,
                    alert=alert,
                    phrase=alert.phrase,
                    link=message_link(alert.chat_id, alert.message_id),
                    group=group,
                    quoted=None,
                    repeat=said_delay(now - alert.created_at),
                )
                sent += await enqueue(
                    session,
                    key=f"safety:{alert.chat_id}:{alert.message_id}:repeat{number}:coach:{coach_id}",
                    chat_id=coach_id,
                    text=text,
                    reply_markup=reached_out_button(alert),
                    now=now,
                )
        return sent

    async def reached_out(
        self, session: AsyncSession, *, alert_id: int, coach_id: int, name: str, now: datetime
    ) -> Reached | None:
        """A coach reached out: the alert is closed (no more repeats, out of the round's
        urgent part) and the other coaches are told who and when. None: no such alert."""
        alert = await session.get(SafetyAlert, alert_id)
        if alert is None:
            return None
        member = await session.get(Member, alert.member_id)
        group = await session.get(Group, alert.group_id) if alert.group_id else None
        # One statement, so two coaches pressing at once can't both be first.
        closed = await session.exec(
            update(SafetyAlert)
            .where(col(SafetyAlert.id) == alert_id)
            .where(col(SafetyAlert.handled_at).is_(None))
            .values(handled_at=now, handled_by=coach_id)
        )
        await session.refresh(alert)
        if not closed.rowcount:
            return Reached(alert, member, group, already=True)
        for other in self._coach_ids:
            if other == coach_id:
                continue
            await enqueue(
                session,
                key=f"safety:{alert.chat_id}:{alert.message_id}:reached:{other}",
                chat_id=other,
                text=self._templates.render(
                    "safety_reached_out",
                    name=name,
                    member=member,
                    when=self.when_reached(alert, group),
                ),
                now=now,
                silent=True,
            )
        return Reached(alert, member, group, already=False)

    @staticmethod
    def when_reached(alert: SafetyAlert, group: Group | None) -> str:
        """When the alert was answered, in the group's zone: "Tuesday 17 November, 14:05"."""
        assert alert.handled_at is not None
        moment = alert.handled_at.astimezone(zone(group.timezone if group else "UTC"))
        return f"{moment:%A %-d %B, %H:%M}"

    async def check_unnamed(
        self,
        session: AsyncSession,
        *,
        text: str | None,
        sender: str,
        anonymous_admin: bool,
        signature: str | None,
        group: Group | None,
        chat_id: int,
        message_id: int,
        now: datetime,
    ) -> bool:
        """A message sent as a chat (an anonymous admin, a channel): no person to send the
        crisis lines to, so the coach alone is alerted, with who it seems to be; once. Only
        urgent words: a concerning note has nobody to go to."""
        finding = self.assess(text)
        if finding is None or finding.level != Level.URGENT:
            return False
        link = message_link(chat_id, message_id)
        alert = self._templates.render(
            "safety_alert_unnamed",
            phrase=finding.words,
            sender=sender,
            anonymous_admin=anonymous_admin,
            signature=signature,
            group=group,
            link=link,
            quoted=_quoted(text) if link is None else None,
        )
        sent = False
        for coach_id in self._coach_ids:
            sent |= await enqueue(
                session,
                key=f"safety:{chat_id}:{message_id}:coach:{coach_id}",
                chat_id=coach_id,
                text=alert,
                now=now,
            )
        return sent


async def sent_copies(session: AsyncSession, alert: SafetyAlert) -> list[tuple[int, int]]:
    """Where the alert and its repeats were delivered (chat id, message id), to the coaches."""
    rows = await session.exec(
        select(OutboxMessage.chat_id, OutboxMessage.telegram_message_id)
        .where(col(OutboxMessage.key).startswith(f"safety:{alert.chat_id}:{alert.message_id}:"))
        .where(col(OutboxMessage.telegram_message_id).is_not(None))
        .where(col(OutboxMessage.key).contains(":coach:"))
    )
    return [(chat_id, message_id) for chat_id, message_id in rows.all() if message_id]


def reached_out_button(alert: SafetyAlert) -> dict[str, object]:
    assert alert.id is not None
    return keyboard([button("I've reached out", ReachedOut(alert_id=alert.id))])


async def _record(
    session: AsyncSession,
    finding: Finding,
    member: Member,
    group: Group | None,
    chat_id: int,
    message_id: int,
    now: datetime,
) -> SafetyAlert | None:
    """The alert, stored once per message; None when it was there already. A concerning
    message edited into an urgent one becomes urgent (and alerts the coach then)."""
    values = {
        "member_id": member.id,
        "chat_id": chat_id,
        "message_id": message_id,
        "phrase": finding.words[:255],
        "level": finding.level.value,
        "category": finding.category,
        "group_id": group.id if group else None,
        "created_at": now,
    }
    new = await insert_if_new(session, SafetyAlert, values, ["chat_id", "message_id"])
    alert = (
        await session.exec(
            select(SafetyAlert)
            .where(col(SafetyAlert.chat_id) == chat_id)
            .where(col(SafetyAlert.message_id) == message_id)
        )
    ).one()
    if new:
        return alert
    if alert.level == Level.CONCERNING.value and finding.level == Level.URGENT:
        alert.level, alert.category, alert.phrase = (
            Level.URGENT.value,
            finding.category,
            finding.words[:255],
        )
        alert.created_at = now  # the repeats count from the alarm
        session.add(alert)
        await session.flush()
        return alert
    return None


async def _quiet_hours(session: AsyncSession, coach_ids: tuple[int, ...]) -> dict[int, QuietHours]:
    found = (
        await session.exec(
            select(CoachProfile).where(col(CoachProfile.telegram_id).in_(list(coach_ids)))
        )
    ).all()
    quiet = dict.fromkeys(coach_ids, DEFAULT_QUIET)
    for profile in found:
        quiet[profile.telegram_id] = quiet_hours_of(profile)
    return quiet


def quiet_hours_of(profile: CoachProfile) -> QuietHours:
    """A coach's quiet hours, as their profile keeps them."""
    return QuietHours(
        parse_time(profile.quiet_from),
        parse_time(profile.quiet_until),
        at_night=profile.repeats_at_night,
    )


def _quoted(text: str | None) -> str | None:
    return cap(text, QUOTE_LIMIT) if text else None
