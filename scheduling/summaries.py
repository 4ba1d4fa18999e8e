"""Weekly summaries: gathered from the week's entries, drafted for the coach, sent once."""

from __future__ import annotations

import html
import logging
from dataclasses import asdict
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from coaching.profiles import coach_name
from core.db import insert_if_new
from core.localtime import local_date, monday_of, parse_time
from core.models import (
    SEATED,
    CoachReply,
    Entry,
    Group,
    Highlight,
    Member,
    OutboxMessage,
    OutboxState,
    Question,
    SafetyAlert,
    Seat,
    Summary,
    SummaryState,
)
from core.outbox import enqueue
from practice.words import Vocabulary
from prompts.buttons import ApproveSummaries, ReplaceSummary, button, keyboard
from prompts.render import Templates
from scheduling.weekly import (
    DRAFT_AHEAD,
    MESSAGE_KINDS,
    SAFETY_FLAG,
    WeekFigures,
    summary_moment,
    week_bounds,
    week_figures,
)

log = logging.getLogger(__name__)

# Outbox keys of the drafts shown to the coach: "summary-draft:<summary id>:<coach id>".
DRAFT_KEY = "summary-draft:"
# Outbox keys of the coach's notes about a summary Telegram would not deliver.
UNDELIVERED_KEY = "summary-undelivered:"
# The anonymous recap shows numbers only when the group has at least this many members.
RECAP_MIN_PEOPLE = 5


async def figures_for(
    session: AsyncSession,
    member: Member,
    group: Group,
    week_start: date,
    vocabulary: Vocabulary,
    *,
    until: datetime | None = None,
) -> WeekFigures:
    """A member's week in numbers (up to `until`, for "the week so far")."""
    start, end = week_bounds(week_start, group.timezone)
    # "So far" includes what was said this very moment (the bounds are half-open).
    end = min(end, until + timedelta(microseconds=1)) if until else end
    entries = await _entries(session, member, start, end)
    highlights = await session.exec(
        select(Highlight.kind, Entry)
        .join(Entry, col(Entry.id) == col(Highlight.entry_id))
        .where(col(Entry.member_id) == member.id)
        .where(col(Entry.created_at) >= start)
        .where(col(Entry.created_at) < end)
    )
    questions = await session.exec(
        select(func.count())
        .select_from(Question)
        .where(col(Question.member_id) == member.id)
        .where(col(Question.created_at) >= start)
        .where(col(Question.created_at) < end)
    )
    previous = await _entries(session, member, start - timedelta(days=7), start)
    history = await session.exec(
        select(Entry.created_at)
        .where(col(Entry.member_id) == member.id)
        .where(col(Entry.created_at) < end)
        .where(col(Entry.created_at) >= end - timedelta(days=120))
    )
    replies = await session.exec(
        select(CoachReply, Entry)
        .outerjoin(Entry, col(Entry.id) == col(CoachReply.entry_id))
        .where(col(CoachReply.member_id) == member.id)
        .where(col(CoachReply.created_at) >= start)
        .where(col(CoachReply.created_at) < end)
        .order_by(col(CoachReply.created_at))
    )
    alerts = await session.exec(
        select(func.count())
        .select_from(SafetyAlert)
        .where(col(SafetyAlert.member_id) == member.id)
        .where(col(SafetyAlert.created_at) >= start)
        .where(col(SafetyAlert.created_at) < end)
    )
    return week_figures(
        entries,
        highlights=[(kind, entry) for kind, entry in highlights.all()],
        questions=int(questions.one()),
        previous_checkins=sum(1 for e in previous if e.message_id and e.kind in MESSAGE_KINDS),
        history=list(history.all()),
        vocabulary=vocabulary,
        zone=group.timezone,
        end=end,
        replies=[(reply, entry) for reply, entry in replies.all()],
        alerts=int(alerts.one()),
    )


def render_summary(
    templates: Templates,
    member: Member,
    group: Group,
    week_start: date,
    figures: WeekFigures,
    *,
    so_far: bool = False,
    coach: str | None = None,
) -> str:
    """The summary in the coach's template: a warm one, or a gentle one for a quiet week;
    `so_far` for the week still going (/summary)."""
    return templates.render(
        "weekly_summary",
        first_name=member.first_name,
        title=group.title,
        week_start=week_start,
        figures=figures,
        so_far=so_far,
        coach=coach,
    )


def final_text(templates: Templates, summary: Summary, coach: str | None) -> str:
    """What the member gets: the coach's line at the top (if they added one), the summary, and
    a footer saying honestly whether a person looked at it."""
    return templates.render(
        "summary_final",
        body=summary.text,
        note=summary.coach_note,
        coach=coach,
        reviewed=summary.state == SummaryState.APPROVED,
    )


async def draft_due_summaries(
    session: AsyncSession,
    templates: Templates,
    vocabulary: Vocabulary,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> int:
    """Some hours before they go out, draft each member's summary and show the coach."""
    drafted = 0
    coach = await coach_name(session, coach_ids)
    for group, week_start, moment in await _weeks_due(session, now, ahead=DRAFT_AHEAD):
        if moment - now > DRAFT_AHEAD:
            continue
        for member in await _seated(session, group):
            figures = await figures_for(session, member, group, week_start, vocabulary)
            values = {
                "member_id": member.id,
                "group_id": group.id,
                "week_start": week_start,
                "text": render_summary(templates, member, group, week_start, figures, coach=coach),
                "figures": _jsonable(figures),
                "state": SummaryState.DRAFT,
                "created_at": now,
            }
            drafted += await insert_if_new(
                session, Summary, values, ["member_id", "group_id", "week_start"]
            )
        await _preview_to_coaches(session, templates, group, week_start, coach_ids, now)
    return drafted


async def send_due_summaries(
    session: AsyncSession, templates: Templates, coach_ids: tuple[int, ...], now: datetime
) -> int:
    """At the set time: every draft (approved, unless approval isn't required) to its member,
    once; the anonymous recap to the group; the coach hears who can't be reached."""
    sent = 0
    coach = await coach_name(session, coach_ids)
    for group, week_start, moment in await _weeks_due(session, now, ahead=timedelta(0)):
        if now < moment:
            continue
        unreachable: list[str] = []
        drafts = await session.exec(
            select(Summary, Member)
            .join(Member, col(Member.id) == col(Summary.member_id))
            .where(col(Summary.group_id) == group.id)
            .where(col(Summary.week_start) == week_start)
            .where(col(Summary.state).not_in([SummaryState.SENT, SummaryState.UNDELIVERED]))
        )
        for summary, member in drafts.all():
            if group.summary_needs_approval and summary.state != SummaryState.APPROVED:
                continue
            if member.unreachable_since is not None:
                unreachable.append(member.first_name)
            await enqueue(
                session,
                key=f"summary:{summary.id}",
                chat_id=member.telegram_id,
                text=final_text(templates, summary, coach),
                now=now,
                # If Telegram won't deliver it, the outbox marks it undelivered (not sent).
                context={"summary_id": summary.id},
            )
            summary.state, summary.sent_at = SummaryState.SENT, now
            session.add(summary)
            sent += 1
        await _recap_to_group(session, templates, group, week_start, now)
        await _report_undelivered(session, templates, group, week_start, coach_ids, now)
        if unreachable:
            for coach_id in coach_ids:
                await enqueue(
                    session,
                    key=f"summary-unreachable:{group.id}:{week_start}:{coach_id}",
                    chat_id=coach_id,
                    text=templates.render("summaries_unreachable", names=unreachable),
                    now=now,
                )
    return sent


async def approve_all(session: AsyncSession, group_id: int, week_start: date) -> int:
    """The coach approves every draft of a group's week as it is; how many."""
    drafts = await session.exec(
        select(Summary)
        .where(col(Summary.group_id) == group_id)
        .where(col(Summary.week_start) == week_start)
        .where(col(Summary.state) == SummaryState.DRAFT)
    )
    count = 0
    for summary in drafts.all():
        summary.state = SummaryState.APPROVED
        session.add(summary)
        count += 1
    return count


async def draft_answered(
    session: AsyncSession, *, chat_id: int, preview_message_id: int
) -> Summary | None:
    """The draft (not sent yet) whose preview the coach replied to, if it is one."""
    preview = (
        await session.exec(
            select(OutboxMessage.key)
            .where(col(OutboxMessage.chat_id) == chat_id)
            .where(col(OutboxMessage.telegram_message_id) == preview_message_id)
            .where(col(OutboxMessage.key).startswith(DRAFT_KEY))
        )
    ).first()
    if preview is None:
        return None
    summary = await session.get(Summary, int(preview.split(":")[1]))
    if summary is None or summary.state == SummaryState.SENT:
        return None
    return summary


async def add_note(
    session: AsyncSession, summary: Summary, text: str, now: datetime
) -> Member | None:
    """The coach's personal line, at the top of the summary (a new reply replaces the line)."""
    summary.coach_note = " ".join(text.split())
    summary.state = SummaryState.APPROVED
    summary.edited_at = now
    session.add(summary)
    return await session.get(Member, summary.member_id)


async def replace_text(
    session: AsyncSession, summary_id: int, text: str, now: datetime
) -> Member | None:
    """The coach wrote the whole summary anew: their words are the summary."""
    summary = await session.get(Summary, summary_id)
    if summary is None or summary.state == SummaryState.SENT:
        return None
    # The coach typed plain words; the summary is sent as HTML.
    summary.text, summary.state = html.escape(text, quote=False), SummaryState.APPROVED
    summary.edited_at = now
    session.add(summary)
    return await session.get(Member, summary.member_id)


async def weeks_so_far(
    session: AsyncSession, vocabulary: Vocabulary, now: datetime
) -> list[dict[str, object]]:
    """Every seated member's week so far, in figures (the coach's /summary)."""
    rows: list[dict[str, object]] = []
    for group in (await session.exec(select(Group).order_by(col(Group.id)))).all():
        week_start = monday_of(local_date(now, group.timezone))
        for member in await _seated(session, group):
            figures = await figures_for(session, member, group, week_start, vocabulary, until=now)
            rows.append(
                {"member": member, "group": group, "figures": figures, "flag": figures.flag}
            )
    return rows


async def groups_of(session: AsyncSession, member: Member) -> list[Group]:
    """The groups the member has a seat in."""
    result = await session.exec(
        select(Group)
        .join(Seat, col(Seat.group_id) == col(Group.id))
        .where(col(Seat.member_id) == member.id)
        .where(col(Seat.status).in_(SEATED))
        .order_by(col(Group.id))
    )
    return list(result.all())


async def _preview_to_coaches(
    session: AsyncSession,
    templates: Templates,
    group: Group,
    week_start: date,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> None:
    """Each draft as a message the coach can reply to with new words, then the list."""
    drafts = sorted(
        (
            await session.exec(
                select(Summary, Member)
                .join(Member, col(Member.id) == col(Summary.member_id))
                .where(col(Summary.group_id) == group.id)
                .where(col(Summary.week_start) == week_start)
                .order_by(col(Member.first_name))
            )
        ).all(),
        # Flagged drafts come first (the safety net's before a hard week's): read them first.
        key=lambda pair: _reading_order(pair[0].figures.get("flag")),
    )
    assert group.id is not None
    approve = button(
        "Approve all", ApproveSummaries(group_id=group.id, week_start=week_start.isoformat())
    )
    for coach_id in coach_ids:
        for summary, member in drafts:
            assert summary.id is not None
            await enqueue(
                session,
                key=f"{DRAFT_KEY}{summary.id}:{coach_id}",
                chat_id=coach_id,
                text=templates.render(
                    "summary_draft",
                    member=member,
                    text=summary.text,
                    flag=summary.figures.get("flag"),
                ),
                reply_markup=keyboard(
                    [button("Replace the whole text", ReplaceSummary(summary_id=summary.id))]
                ),
                now=now,
            )
        await enqueue(
            session,
            key=f"summaries:preview:{group.id}:{week_start}:{coach_id}",
            chat_id=coach_id,
            text=templates.render(
                "summaries_preview",
                group=group,
                drafts=drafts,
                needs_approval=group.summary_needs_approval,
            ),
            reply_markup=keyboard([approve]),
            now=now,
        )


async def _report_undelivered(
    session: AsyncSession,
    templates: Templates,
    group: Group,
    week_start: date,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> None:
    """The coach hears of each summary Telegram refused or couldn't deliver, once."""
    undelivered = (
        await session.exec(
            select(Summary, Member)
            .join(Member, col(Member.id) == col(Summary.member_id))
            .where(col(Summary.group_id) == group.id)
            .where(col(Summary.week_start) == week_start)
            .where(col(Summary.state) == SummaryState.UNDELIVERED)
        )
    ).all()
    if not undelivered:
        return
    rows = await session.exec(
        select(OutboxMessage).where(
            col(OutboxMessage.key).in_([f"summary:{summary.id}" for summary, _ in undelivered])
        )
    )
    refused = {row.key: row for row in rows.all()}
    for summary, member in undelivered:
        row = refused.get(f"summary:{summary.id}")
        for coach_id in coach_ids:
            await enqueue(
                session,
                key=f"{UNDELIVERED_KEY}{summary.id}:{coach_id}",
                chat_id=coach_id,
                text=templates.render(
                    "summary_undelivered",
                    member=member,
                    unreachable=row is not None and row.state == OutboxState.UNREACHABLE,
                    reason=(row.last_error if row else None) or "",
                ),
                now=now,
            )


async def _recap_to_group(
    session: AsyncSession, templates: Templates, group: Group, week_start: date, now: datetime
) -> None:
    """Anonymous totals for the whole group: never a name."""
    start, end = week_bounds(week_start, group.timezone)
    entries = (
        await session.exec(
            select(Entry)
            .where(col(Entry.group_id) == group.id)
            .where(col(Entry.created_at) >= start)
            .where(col(Entry.created_at) < end)
        )
    ).all()
    summaries = (
        await session.exec(
            select(Summary.figures)
            .where(col(Summary.group_id) == group.id)
            .where(col(Summary.week_start) == week_start)
        )
    ).all()
    recap = {
        "checkins": sum(1 for e in entries if e.message_id and e.kind in MESSAGE_KINDS),
        "feelings": sum(len(figures.get("feelings", [])) for figures in summaries),
        "wins": sum(len(figures.get("wins", [])) for figures in summaries),
        "people": len({e.member_id for e in entries}),
    }
    # In a group this small, "3 check-ins from 1 person" would point at someone.
    counted = len(await _seated(session, group)) >= RECAP_MIN_PEOPLE
    await enqueue(
        session,
        key=f"recap:{group.id}:{week_start}",
        chat_id=group.chat_id,
        text=templates.render("group_recap", recap=recap, counted=counted),
        now=now,
    )


async def _weeks_due(
    session: AsyncSession, now: datetime, *, ahead: timedelta
) -> list[tuple[Group, date, datetime]]:
    """Each group's current week and the moment its summaries go out."""
    due = []
    for group in (await session.exec(select(Group).order_by(col(Group.id)))).all():
        week_start = monday_of(local_date(now, group.timezone))
        moment = summary_moment(
            week_start,
            zone=group.timezone,
            weekday=group.summary_weekday,
            at=parse_time(group.summary_time),
        )
        if now + ahead >= moment:
            due.append((group, week_start, moment))
    return due


async def _seated(session: AsyncSession, group: Group) -> list[Member]:
    result = await session.exec(
        select(Member)
        .join(Seat, col(Seat.member_id) == col(Member.id))
        .where(col(Seat.group_id) == group.id)
        .where(col(Seat.status).in_(SEATED))
        .order_by(col(Member.id))
    )
    return list(result.all())


async def _entries(
    session: AsyncSession, member: Member, start: datetime, end: datetime
) -> list[Entry]:
    result = await session.exec(
        select(Entry)
        .where(col(Entry.member_id) == member.id)
        .where(col(Entry.created_at) >= start)
        .where(col(Entry.created_at) < end)
        .order_by(col(Entry.created_at))
    )
    return list(result.all())


def _reading_order(flag: str | None) -> int:
    if flag == SAFETY_FLAG:
        return 0
    return 1 if flag else 2


def _jsonable(figures: WeekFigures) -> dict[str, object]:
    return asdict(figures)
