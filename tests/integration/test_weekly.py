"""The weekly rhythm end to end: the Zoom Q&A, questions, summaries, coach review, the recap."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from core.flood import TELEGRAM_LIMITS
from core.groups import register_group
from core.models import Meeting, Summary, SummaryState
from core.outbox import OutboxSender
from sandbox.zoom import ZoomSandbox
from scheduling import jobs, qa
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 4001
NOA = 4002
MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # the group's week starts here (UTC zone)


async def in_the_group(world: World, user_id: int, name: str) -> None:
    seat = await world.join_and_pay(user_id, name)
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


async def run(world: World, job: str) -> int:
    done: int = await getattr(jobs, job)({"services": world.runtime})
    await world.deliver()
    return done


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """That day of the week of 16 November (0 = Monday), in UTC."""
    return MONDAY.replace(hour=hour, minute=minute) + timedelta(days=day)


async def test_the_weeks_qa_is_created_once_announced_reminded_and_asked_about(
    world: World, zoom_sandbox: ZoomSandbox
) -> None:
    await in_the_group(world, MAYA, "Maya")
    assert await run(world, "schedule_live_qa") == 1  # Wednesday 18:00 is under 3 days away
    assert await run(world, "schedule_live_qa") == 0
    assert len(zoom_sandbox.meetings) == 1

    [announcement] = [m for m in world.telegram.sent_by_bot(GROUP) if m.kind == "document"]
    assert announcement.file_name == "between-live-qa.ics"
    assert "Live Q&A: Wednesday 18 November, 18:00 (UTC)" in (announcement.text or "")
    assert zoom_sandbox.meetings[0]["join_url"] in (announcement.text or "")

    await world.telegram.user_sends(MAYA, text="/zoom")
    assert zoom_sandbox.meetings[0]["join_url"] in world.texts(MAYA)[-1]
    await world.telegram.user_sends(MAYA, text="/ask How do I stop replaying conversations?")

    world.clock.set(at(1, 18))  # Tuesday 18:00: a day before
    await world.deliver()
    reminder = world.telegram.sent_by_bot(GROUP)[-1]
    assert "Live Q&A tomorrow" in (reminder.text or "") and reminder.pinned
    world.clock.set(at(2, 16))  # two hours before: the questions
    await run(world, "schedule_live_qa")
    assert "1. Maya: How do I stop replaying conversations?" in world.texts(COACH_ID)[-1]
    world.clock.set(at(2, 17))
    await world.deliver()
    assert "Live Q&A in one hour" in (world.telegram.sent_by_bot(GROUP)[-1].text or "")


async def test_an_expired_zoom_token_is_refreshed(world: World, zoom_sandbox: ZoomSandbox) -> None:
    assert await run(world, "schedule_live_qa") == 1
    zoom_sandbox.expire_tokens()
    world.clock.set(at(7, 9))  # a week later
    assert await run(world, "schedule_live_qa") == 1
    assert len(zoom_sandbox.meetings) == 2 and zoom_sandbox.tokens_issued == 2


async def test_a_zoom_outage_uses_the_standing_link_and_tells_the_coach(
    world: World, zoom_sandbox: ZoomSandbox
) -> None:
    zoom_sandbox.go_down(503)
    [meeting] = await qa.ensure_meetings(
        world.sessions,
        zoom=world.runtime.zoom,
        standing_url="https://zoom.us/j/555000111",
        templates=world.runtime.templates,
        coach_ids=(COACH_ID,),
        now=world.clock.now(),
    )
    await world.deliver()
    assert meeting.fallback and meeting.join_url == "https://zoom.us/j/555000111"
    assert "https://zoom.us/j/555000111" in (world.telegram.sent_by_bot(GROUP)[-1].text or "")
    told = world.texts(COACH_ID)[-1]
    assert "couldn't create this week's Zoom meeting" in told and "503" in told
    assert "zoom-secret" not in told


async def a_known_week(world: World) -> None:
    """Maya's week: four check-ins on four days, a voice note, a win, feelings, a next step."""
    telegram = world.telegram
    world.clock.set(at(0, 10))
    await telegram.user_sends(
        MAYA, GROUP, text="Monday: named it. Anxious before the meeting at work."
    )
    world.clock.set(at(1, 12))
    await telegram.user_sends(MAYA, voice_seconds=90)
    world.clock.set(at(2, 20))
    await telegram.user_sends(MAYA, GROUP, text="#win <b>said no</b> to my boss & <script>")
    await telegram.user_sends(MAYA, text="/next call my sister on Sunday")
    world.clock.set(at(3, 21))
    thursday = await telegram.user_sends(
        MAYA, GROUP, text="Felt lonely tonight but I stayed with it."
    )
    await telegram.user_sends(
        COACH_ID,
        GROUP,
        text="/highlight insight",
        reply_to_message_id=thursday["message"]["message_id"],
    )
    await telegram.user_sends(MAYA, text="/ask How do I stop replaying conversations?")


async def test_a_known_week_adds_up_and_a_quiet_week_is_gentle(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    world.clock.set(at(-3, 10))  # one check-in the week before, to compare
    await world.telegram.user_sends(MAYA, text="Last week's one check-in.")
    await a_known_week(world)

    world.clock.set(at(6, 15))  # Sunday 15:00: drafts, three hours before
    await run(world, "weekly_summaries")
    async with world.sessions() as session:
        drafts = {s.member_id: s for s in (await session.exec(select(Summary))).all()}
    maya, noa = sorted(drafts.values(), key=lambda s: s.member_id)
    figures = maya.figures
    assert (figures["days_checked_in"], figures["checkins"], figures["voice_checkins"]) == (
        4,
        4,
        1,
    )
    assert figures["voice_minutes"] == 1.5 and figures["previous_checkins"] == 1
    assert figures["wins"] == ["<b>said no</b> to my boss & <script>"]
    assert {"anxious", "lonely"} <= set(figures["feelings"])
    assert "Work" in figures["topics"]
    assert figures["next_steps"] == ["call my sister on Sunday"]
    assert figures["insights"] == ["Felt lonely tonight but I stayed with it."]
    assert figures["questions"] == 1
    assert maya.state == SummaryState.DRAFT and "quiet week" in noa.text
    assert "Weekly summaries for Between circle" in world.texts(COACH_ID)[-1]

    world.clock.set(at(6, 18))
    assert await run(world, "weekly_summaries") == 2
    summary = world.texts(MAYA)[-1]
    assert "You checked in on 4 days" in summary
    assert "<b>said no</b> to my boss & <script>" in summary  # shown as typed, not as markup
    assert "That's 3 more than last week." in summary
    recap = world.telegram.sent_by_bot(GROUP)[-1].text or ""
    assert "Our week together" in recap and "Maya" not in recap and "Noa" not in recap


async def test_summaries_go_out_once_across_a_worker_restart(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    world.clock.set(at(6, 18))
    await jobs.weekly_summaries({"services": world.runtime})  # drafts and sends in one go

    sender = OutboxSender(
        world.sessions,
        world.runtime.telegram,
        world.clock,
        limits=TELEGRAM_LIMITS.scaled(world.clock.pace),
        idle_seconds=0.02,
    )
    first = asyncio.create_task(sender.run())
    for _ in range(500):
        if any("Your week" in t for t in world.texts(MAYA) + world.texts(NOA)):
            break
        await asyncio.sleep(0.01)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    await jobs.weekly_summaries({"services": world.runtime})  # the worker restarts
    await world.deliver()

    delivered = Counter(
        m.chat_id
        for member in (MAYA, NOA)
        for m in world.telegram.sent_by_bot(member)
        if "Your week" in (m.text or "")
    )
    assert delivered == Counter({MAYA: 1, NOA: 1})
    recaps = [
        m for m in world.telegram.sent_by_bot(GROUP) if "Our week together" in (m.text or "")
    ]
    assert len(recaps) == 1


async def test_the_coach_edits_one_and_approves_the_rest(world: World) -> None:
    async with world.sessions() as session:
        group = await register_group(
            session, chat_id=GROUP, title="Between circle", now=world.clock.now()
        )
        group.summary_needs_approval = True
        session.add(group)
        await session.commit()
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    world.clock.set(at(6, 15))
    await run(world, "weekly_summaries")
    drafts = [
        m
        for m in world.telegram.sent_by_bot(COACH_ID)
        if (m.text or "").startswith("Draft for Maya")
    ]
    # Replying to a draft puts the coach's own line at the top of it.
    await world.telegram.user_sends(
        COACH_ID,
        text="Maya, a quiet week and still you came back. Proud of you.",
        reply_to_message_id=drafts[0].message_id,
    )
    assert "Your line is at the top of Maya's summary" in world.texts(COACH_ID)[-1]

    world.clock.set(at(6, 18))
    assert await run(world, "weekly_summaries") == 1  # only the approved one
    maya_got = world.texts(MAYA)[-1]
    line = "💬 Your coach: Maya, a quiet week and still you came back. Proud of you."
    assert maya_got.startswith(f"{line}\n\nYour week, Maya")
    assert maya_got.endswith("read by your coach before it came to you.")
    preview = next(
        m for m in world.telegram.sent_by_bot(COACH_ID) if "Weekly summaries for" in (m.text or "")
    )
    approve = (preview.reply_markup or {})["inline_keyboard"][0][0]["callback_data"]
    await world.telegram.user_presses(COACH_ID, preview, approve)
    assert "Approved 1 summary" in world.texts(COACH_ID)[-1]
    assert await run(world, "weekly_summaries") == 1
    assert "quiet week" in world.texts(NOA)[-1]
    async with world.sessions() as session:
        meetings = (await session.exec(select(Meeting).where(col(Meeting.fallback)))).all()
    assert meetings == []
