"""The weekly live Q&A: one Zoom meeting per group and week, announced with a calendar file,
reminded 24 h and 1 h before, and the members' questions handed to the coach beforehand."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.localtime import format_local, monday_of, parse_time
from core.models import Group, Meeting, Member, Question
from core.outbox import enqueue
from prompts.render import Templates
from scheduling.ics import weekly_session_ics
from scheduling.weekly import CREATE_AHEAD, QUESTIONS_BEFORE, REMINDERS, next_session
from scheduling.zoom import ZoomError, ZoomGateway

log = logging.getLogger(__name__)


async def ensure_meetings(
    session: AsyncSession,
    *,
    zoom: ZoomGateway | None,
    standing_url: str | None,
    templates: Templates,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> list[Meeting]:
    """Create each group's next session a few days ahead, once per group and week."""
    created = []
    for group in (await session.exec(select(Group).order_by(col(Group.id)))).all():
        start = next_session(
            now, zone=group.timezone, weekday=group.qa_weekday, at=parse_time(group.qa_time)
        )
        if start - now > CREATE_AHEAD:
            continue
        week_start = monday_of(start.date())
        # Locked, so two workers can't both create this week's meeting.
        await session.exec(select(Group.id).where(col(Group.id) == group.id).with_for_update())
        if await _meeting(session, group, week_start) is not None:
            continue
        meeting = await _create(
            session, group, start, week_start, zoom, standing_url, templates, coach_ids, now
        )
        if meeting is not None:
            await _announce(session, group, meeting, templates, now)
            created.append(meeting)
    return created


async def _create(
    session: AsyncSession,
    group: Group,
    start: datetime,
    week_start: date,
    zoom: ZoomGateway | None,
    standing_url: str | None,
    templates: Templates,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> Meeting | None:
    assert group.id is not None
    meeting = Meeting(
        group_id=group.id,
        week_start=week_start,
        starts_at=start,
        duration_minutes=group.qa_minutes,
        join_url=standing_url or "",
        fallback=True,
        created_at=now,
    )
    problem = "no Zoom app is configured" if zoom is None else None
    if zoom is not None:
        try:
            made = await zoom.create_meeting(
                topic=f"{group.title}: live Q&A",
                start=start,
                duration_minutes=group.qa_minutes,
                timezone=group.timezone,
            )
            meeting.join_url, meeting.zoom_meeting_id, meeting.fallback = (
                made.join_url,
                made.id,
                False,
            )
        except ZoomError as error:
            problem = str(error)
            log.warning("zoom meeting for group %s failed: %s", group.id, problem)
    if meeting.fallback:
        for coach_id in coach_ids:
            await enqueue(
                session,
                key=f"qa:{group.id}:{week_start}:zoom-problem:{coach_id}",
                chat_id=coach_id,
                text=templates.render(
                    "qa_zoom_problem", group=group, problem=problem, standing_url=standing_url
                ),
                now=now,
            )
        if not standing_url:
            return None  # nothing to announce; the coach was told, the next run tries again
    session.add(meeting)
    await session.flush()
    return meeting


async def _announce(
    session: AsyncSession, group: Group, meeting: Meeting, templates: Templates, now: datetime
) -> None:
    when = format_local(meeting.starts_at, group.timezone)
    calendar = weekly_session_ics(
        uid=f"between-qa-{meeting.id}@between",
        title=f"{group.title}: live Q&A",
        start=meeting.starts_at,
        duration_minutes=meeting.duration_minutes,
        url=meeting.join_url,
        description="The weekly live Q&A of your Between group. Bring a question, or just listen.",
        now=now,
    )
    await enqueue(
        session,
        key=f"qa:{meeting.id}:announce",
        chat_id=group.chat_id,
        text=templates.render("qa_announce", meeting=meeting, when=when),
        attachment=("between-live-qa.ics", calendar),
        now=now,
    )
    for name, before in REMINDERS:
        moment = meeting.starts_at - before
        if moment <= now:  # created late: that reminder's moment has passed
            continue
        await enqueue(
            session,
            key=f"qa:{meeting.id}:reminder:{name}",
            chat_id=group.chat_id,
            text=templates.render("qa_reminder", meeting=meeting, when=when, before=name),
            pin=True,
            not_before=moment,
            now=now,
        )


async def send_questions(
    session: AsyncSession, templates: Templates, coach_ids: tuple[int, ...], now: datetime
) -> int:
    """Two hours before a session, the coach gets the questions members asked for it."""
    due = await session.exec(
        select(Meeting, Group)
        .join(Group, col(Group.id) == col(Meeting.group_id))
        .where(col(Meeting.questions_sent_at).is_(None))
        .where(col(Meeting.starts_at) > now)
        .where(col(Meeting.starts_at) <= now + QUESTIONS_BEFORE)
    )
    sent = 0
    for meeting, group in due.all():
        asked = await session.exec(
            select(Question, Member)
            .join(Member, col(Member.id) == col(Question.member_id))
            .where(col(Question.group_id) == group.id)
            .where(col(Question.created_at) >= meeting.starts_at - timedelta(days=7))
            .where(col(Question.created_at) < meeting.starts_at)
            .order_by(col(Question.created_at))
        )
        questions = list(asked.all())
        for coach_id in coach_ids:
            await enqueue(
                session,
                key=f"qa:{meeting.id}:questions:{coach_id}",
                chat_id=coach_id,
                text=templates.render(
                    "qa_questions",
                    group=group,
                    questions=questions,
                    when=format_local(meeting.starts_at, group.timezone),
                ),
                now=now,
            )
        meeting.questions_sent_at = now
        session.add(meeting)
        sent += 1
    return sent


async def next_meeting(session: AsyncSession, group: Group, now: datetime) -> Meeting | None:
    """The coming session (or the one on now), if it has been scheduled."""
    result = await session.exec(
        select(Meeting)
        .where(col(Meeting.group_id) == group.id)
        .where(col(Meeting.starts_at) > now - timedelta(minutes=group.qa_minutes))
        .order_by(col(Meeting.starts_at))
    )
    return result.first()


async def _meeting(session: AsyncSession, group: Group, week_start: date) -> Meeting | None:
    result = await session.exec(
        select(Meeting)
        .where(col(Meeting.group_id) == group.id)
        .where(col(Meeting.week_start) == week_start)
    )
    return result.first()
