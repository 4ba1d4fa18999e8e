"""The weekly live Q&A: one Zoom meeting per group and week, announced with a calendar file,
reminded 24 h and 1 h before, the members' questions handed to the coach beforehand, and the
coach's own host link an hour before.

Zoom is asked outside any database transaction. A try is claimed first (a row per group and
week, with its count and when the next may happen), so two workers never both ask, and a
refused one waits (from two minutes to four hours, or until Zoom's own Retry-After) rather
than asking every minute. Zoom has no idempotency key: a create that timed out on our side may
have been carried out, so each try first looks for the meeting by the marker in its agenda.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import SessionFactory
from core.localtime import format_local, monday_of, parse_time
from core.models import Group, Meeting, MeetingAttempt, Member, Question
from core.outbox import enqueue
from prompts.buttons import keyboard, link_button
from prompts.render import Templates
from scheduling.ics import weekly_session_ics
from scheduling.weekly import (
    CREATE_AHEAD,
    HOST_LINK_BEFORE,
    QUESTIONS_BEFORE,
    REMINDERS,
    next_session,
    next_zoom_try,
)
from scheduling.zoom import Meeting as ZoomMeeting
from scheduling.zoom import ZoomError, ZoomGateway

log = logging.getLogger(__name__)

# A claimed try keeps others off this long (the gateway's calls are bounded far below it).
TRY_LEASE = timedelta(minutes=2)
AGENDA = "The weekly live Q&A of your Between group. Bring a question, or just listen."


@dataclass(frozen=True)
class _Due:
    group: Group
    start: datetime
    week_start: date
    attempts: int


def zoom_marker(group_id: int, week_start: date) -> str:
    """What our meeting carries in its agenda, to be found again (Zoom has no idempotency)."""
    return f"between:qa:{group_id}:{week_start.isoformat()}"


async def ensure_meetings(
    sessions: SessionFactory,
    *,
    zoom: ZoomGateway | None,
    standing_url: str | None,
    templates: Templates,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> list[Meeting]:
    """Create each group's next session a few days ahead, once per group and week."""
    async with sessions() as session:
        groups = list((await session.exec(select(Group).order_by(col(Group.id)))).all())
    created = []
    for group in groups:
        start = next_session(
            now, zone=group.timezone, weekday=group.qa_weekday, at=parse_time(group.qa_time)
        )
        if start - now > CREATE_AHEAD:
            continue
        due = await _claim_try(sessions, group, start, now)
        if due is None:
            continue
        made, problem = await _ask_zoom(zoom, due)
        async with sessions() as session:
            meeting = await _record(
                session, due, made, problem, standing_url, templates, coach_ids, now
            )
            await session.commit()
        if meeting is not None:
            created.append(meeting)
    return created


async def _claim_try(
    sessions: SessionFactory, group: Group, start: datetime, now: datetime
) -> _Due | None:
    """Take this week's next try for the group, unless it has its meeting or must wait."""
    assert group.id is not None
    week_start = monday_of(start.date())
    async with sessions() as session:
        # Locked, so two workers can't both take the try.
        await session.exec(select(Group.id).where(col(Group.id) == group.id).with_for_update())
        if await _meeting(session, group, week_start) is not None:
            return None
        attempt = await _attempt(session, group.id, week_start)
        if attempt is None:
            attempt = MeetingAttempt(group_id=group.id, week_start=week_start, next_attempt_at=now)
        elif attempt.next_attempt_at > now:
            return None
        attempt.attempts += 1
        attempt.next_attempt_at = now + TRY_LEASE
        session.add(attempt)
        await session.commit()
        return _Due(group, start, week_start, attempt.attempts)


async def _ask_zoom(
    zoom: ZoomGateway | None, due: _Due
) -> tuple[ZoomMeeting | None, ZoomError | None]:
    if zoom is None:
        return None, ZoomError("no Zoom app is configured")
    assert due.group.id is not None
    marker = zoom_marker(due.group.id, due.week_start)
    topic = f"{due.group.title}: live Q&A"
    try:
        # An earlier try may have made it although we never heard back.
        found = await zoom.find_meeting(marker=marker, topic=topic, start=due.start)
        if found is not None:
            log.info("zoom meeting for group %s found from an earlier try", due.group.id)
            return found, None
        made = await zoom.create_meeting(
            topic=topic,
            start=due.start,
            duration_minutes=due.group.qa_minutes,
            timezone=due.group.timezone,
            agenda=f"{AGENDA}\n\n{marker}",
        )
    except ZoomError as error:
        log.warning("zoom meeting for group %s failed: %s", due.group.id, error)
        return None, error
    return made, None


async def _record(
    session: AsyncSession,
    due: _Due,
    made: ZoomMeeting | None,
    problem: ZoomError | None,
    standing_url: str | None,
    templates: Templates,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> Meeting | None:
    group = due.group
    assert group.id is not None
    await session.exec(select(Group.id).where(col(Group.id) == group.id).with_for_update())
    if await _meeting(session, group, due.week_start) is not None:
        return None  # another worker recorded it meanwhile
    meeting = Meeting(
        group_id=group.id,
        week_start=due.week_start,
        starts_at=due.start,
        duration_minutes=group.qa_minutes,
        join_url=standing_url or "",
        fallback=True,
        created_at=now,
    )
    if made is not None:
        meeting.join_url, meeting.zoom_meeting_id, meeting.fallback = made.join_url, made.id, False
    else:
        attempt = await _attempt(session, group.id, due.week_start)
        assert attempt is not None and problem is not None
        attempt.next_attempt_at = next_zoom_try(due.attempts, now, problem.retry_at)
        attempt.last_error = str(problem)[:500]
        session.add(attempt)
        for coach_id in coach_ids:  # once a week, however many tries
            await enqueue(
                session,
                key=f"qa:{group.id}:{due.week_start}:zoom-problem:{coach_id}",
                chat_id=coach_id,
                text=templates.render(
                    "qa_zoom_problem",
                    group=group,
                    problem=str(problem),
                    standing_url=standing_url,
                    retry_at=format_local(attempt.next_attempt_at, group.timezone),
                ),
                now=now,
            )
        if not standing_url:
            return None  # nothing to announce; the coach was told, a later try may succeed
    session.add(meeting)
    await session.flush()
    await _announce(session, group, meeting, templates, now)
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
        description=AGENDA,
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


async def send_host_links(
    sessions: SessionFactory,
    *,
    zoom: ZoomGateway | None,
    templates: Templates,
    coach_ids: tuple[int, ...],
    now: datetime,
) -> int:
    """An hour before a session, each coach gets the meeting's host link, in private (Zoom's
    start_url lives two hours, so it is asked for then, not when the meeting is made)."""
    if zoom is None:
        return 0
    async with sessions() as session:
        due = (
            await session.exec(
                select(Meeting, Group)
                .join(Group, col(Group.id) == col(Meeting.group_id))
                .where(col(Meeting.zoom_meeting_id).is_not(None))
                .where(col(Meeting.host_link_sent_at).is_(None))
                .where(col(Meeting.starts_at) <= now + HOST_LINK_BEFORE)
                .where(col(Meeting.starts_at) > now - timedelta(minutes=30))
            )
        ).all()
    sent = 0
    for meeting, group in due:
        assert meeting.zoom_meeting_id is not None
        try:
            start_url = await zoom.host_link(meeting.zoom_meeting_id)
        except ZoomError as error:  # tried again next minute, while the session is near
            log.warning("no host link for meeting %s yet: %s", meeting.id, error)
            continue
        async with sessions() as session:
            when = format_local(meeting.starts_at, group.timezone)
            for coach_id in coach_ids:
                await enqueue(
                    session,
                    key=f"qa:{meeting.id}:host-link:{coach_id}",
                    chat_id=coach_id,
                    text=templates.render("qa_host_link", group=group, when=when),
                    reply_markup=keyboard([link_button("Start the meeting as host", start_url)]),
                    now=now,
                )
            meeting.host_link_sent_at = now
            session.add(meeting)
            await session.commit()
        sent += 1
    return sent


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


async def _attempt(
    session: AsyncSession, group_id: int, week_start: date
) -> MeetingAttempt | None:
    result = await session.exec(
        select(MeetingAttempt)
        .where(col(MeetingAttempt.group_id) == group_id)
        .where(col(MeetingAttempt.week_start) == week_start)
    )
    return result.first()


async def _meeting(session: AsyncSession, group: Group, week_start: date) -> Meeting | None:
    result = await session.exec(
        select(Meeting)
        .where(col(Meeting.group_id) == group.id)
        .where(col(Meeting.week_start) == week_start)
    )
    return result.first()
