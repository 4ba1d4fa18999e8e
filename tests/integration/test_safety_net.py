"""The safety net at its two levels, end to end: what the member gets, what the coach gets and
when, the repeated alert until someone reaches out, /sos and the safety plan, voice notes."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlmodel import select

from core.clock import SimulatedClock
from core.db import SessionFactory
from core.models import SafetyAlert
from core.settings import Settings
from sandbox.stripe import StripeSandbox
from sandbox.telegram import ChatMessage, TelegramSandbox
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World, world_with_settings

MAYA = 4001
NOA = 4002
SECOND_COACH = 5002
WorldWith = Callable[..., contextlib.AbstractAsyncContextManager[World]]
TUESDAY_AFTERNOON = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)  # the group's zone is UTC


@pytest.fixture
def world_with(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
) -> WorldWith:
    return functools.partial(
        world_with_settings, settings, sessions, redis, clock, telegram, stripe_sandbox
    )


async def in_the_group(world: World, user_id: int, name: str) -> None:
    seat = await world.join_and_pay(user_id, name)
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


def alerts_to(world: World, coach_id: int = COACH_ID) -> list[ChatMessage]:
    """The urgent alerts and their repeats, as the coach's chat shows them now."""
    return [
        m
        for m in world.telegram.sent_by_bot(coach_id)
        if (m.text or "").startswith(("🚨 Urgent: the safety net fired", "🚨 Still urgent"))
    ]


def reached_out_data(message: ChatMessage) -> str:
    [[only]] = (message.reply_markup or {})["inline_keyboard"]
    assert only["text"] == "I've reached out"
    return str(only["callback_data"])


async def repeats(world: World) -> int:
    sent = await jobs.repeat_safety_alerts({"services": world.runtime})
    await world.deliver()
    return sent


async def round_text(world: World, day: datetime) -> str:
    world.clock.set(day)
    await jobs.send_digests({"services": world.runtime})
    await world.deliver()
    return next(
        m.text or ""
        for m in reversed(world.telegram.sent_by_bot(COACH_ID))
        if "Your round for" in (m.text or "")
    )


async def test_urgent_words_bring_the_lines_and_an_alert_that_makes_a_sound(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    world.clock.set(TUESDAY_AFTERNOON)
    await world.telegram.user_sends(MAYA, GROUP, text="honestly i want to end it all")
    await world.deliver()

    [lines] = [t for t in world.texts(MAYA) if "so this comes to you right away" in t]
    assert "988" in lines and "findahelpline.com" in lines
    alert = world.last(COACH_ID)
    assert "Urgent: the safety net fired" in (alert.text or "") and not alert.silent
    assert "https://t.me/c/1009000000/" in (alert.text or "")  # the words, by a link
    reached_out_data(alert)
    async with world.sessions() as session:
        [stored] = (await session.exec(select(SafetyAlert))).all()
    assert (stored.level, stored.handled_at) == ("urgent", None)


async def test_concerning_words_bring_a_gentle_note_and_a_flag_at_the_top_of_the_round(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    await world.telegram.user_sends(NOA, text="Long day, but I'm here.")  # Noa waits
    world.clock.advance(timedelta(hours=1))
    await world.deliver()
    before = len(world.telegram.sent_by_bot(COACH_ID))
    await world.telegram.user_sends(MAYA, GROUP, text="Nothing ever gets better, honestly")
    await world.deliver()

    note = world.texts(MAYA)[-1]
    assert "your message sounds heavy" in note and "findahelpline.com" in note
    assert "/sos" in note and note.endswith("Sent automatically by Between.")
    assert len(world.telegram.sent_by_bot(COACH_ID)) == before  # no alarm now
    text = await round_text(world, datetime(2026, 11, 17, 8, 0, tzinfo=UTC))
    assert "Worth a gentle word" in text and '• Maya: "Nothing ever gets better"' in text
    assert text.index("Worth a gentle word") < text.index("Waiting for you")
    assert "Urgent" not in text
    async with world.sessions() as session:
        [stored] = (await session.exec(select(SafetyAlert))).all()
    assert stored.level == "concerning"


async def test_an_urgent_alert_is_repeated_until_a_coach_reaches_out_and_the_others_hear(
    world_with: WorldWith,
) -> None:
    async with world_with(coach_telegram_ids=(COACH_ID, SECOND_COACH)) as world:
        world.person(SECOND_COACH, "Dana")
        await world.telegram.user_sends(SECOND_COACH, text="/start")
        await in_the_group(world, MAYA, "Maya")
        world.clock.set(TUESDAY_AFTERNOON)
        await world.telegram.user_sends(MAYA, GROUP, text="I don't want to be here anymore")
        await world.deliver()
        assert len(alerts_to(world)) == 1 and len(alerts_to(world, SECOND_COACH)) == 1

        world.clock.set(TUESDAY_AFTERNOON + timedelta(minutes=59))
        assert await repeats(world) == 0
        world.clock.set(TUESDAY_AFTERNOON + timedelta(hours=1))
        assert await repeats(world) == 2  # one to each coach
        assert await repeats(world) == 0  # once
        repeat = world.last(COACH_ID)
        assert "Still urgent, 1 hour on: nobody has reached out yet" in (repeat.text or "")
        assert not repeat.silent

        world.clock.set(TUESDAY_AFTERNOON + timedelta(hours=4))
        assert await repeats(world) == 2
        second = world.last(COACH_ID)
        assert "4 hours on" in (second.text or "")

        world.clock.set(TUESDAY_AFTERNOON + timedelta(hours=4, minutes=5))
        await world.telegram.user_presses(COACH_ID, second, reached_out_data(second))
        await world.deliver()
        edited = world.telegram.sent_by_bot(COACH_ID)[-1]
        assert edited.message_id == second.message_id
        coach = world.telegram.user(COACH_ID).first_name
        assert f"✅ {coach} reached out, Tuesday 17 November, 18:05" in (edited.text or "")
        assert edited.reply_markup is None or not edited.reply_markup.get("inline_keyboard")
        told = world.last(SECOND_COACH).text or ""
        assert f"{coach} reached out to Maya" in told and "18:05" in told
        for message in alerts_to(world) + alerts_to(world, SECOND_COACH):
            assert not (message.reply_markup or {}).get("inline_keyboard")  # nothing to press

        world.clock.set(TUESDAY_AFTERNOON + timedelta(hours=8))
        assert await repeats(world) == 0  # closed: no more repeats
        async with world.sessions() as session:
            [stored] = (await session.exec(select(SafetyAlert))).all()
        assert stored.handled_by == COACH_ID


async def test_repeats_wait_for_the_end_of_the_coachs_night_unless_asked_for(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    world.clock.set(datetime(2026, 11, 17, 21, 30, tzinfo=UTC))
    await world.telegram.user_sends(MAYA, text="i want to die")
    await world.deliver()
    world.clock.set(datetime(2026, 11, 17, 22, 30, tzinfo=UTC))
    assert await repeats(world) == 0  # 1 hour on, but 22:30 is the coach's night
    world.clock.set(datetime(2026, 11, 18, 1, 30, tzinfo=UTC))
    assert await repeats(world) == 0
    world.clock.set(datetime(2026, 11, 18, 7, 0, tzinfo=UTC))
    assert await repeats(world) == 1  # both repeats came due in the night: said once
    assert "9 hours on" in (world.last(COACH_ID).text or "")
    assert await repeats(world) == 0

    await world.telegram.user_sends(COACH_ID, text="/quiethours night on")
    assert "come at night too" in (world.last(COACH_ID).text or "")
    world.clock.set(datetime(2026, 11, 18, 22, 0, tzinfo=UTC))
    await world.telegram.user_sends(MAYA, text="I'm going to kill myself")
    await world.deliver()
    world.clock.set(datetime(2026, 11, 18, 23, 0, tzinfo=UTC))
    assert await repeats(world) == 1  # at night, as asked
    await world.telegram.user_sends(COACH_ID, text="/quiethours 23:30 6:00")
    answer = world.last(COACH_ID).text or ""
    assert "23:30 to 06:00" in answer
    await world.telegram.user_sends(COACH_ID, text="/quiethours 25:00 6:00")
    assert "should look like 09:00" in (world.last(COACH_ID).text or "")


async def test_an_urgent_alert_stays_first_in_every_round_until_someone_reaches_out(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    await world.telegram.user_sends(MAYA, GROUP, text="I wrote my goodbye notes, i want to die")
    await world.telegram.user_sends(NOA, text="A hard morning.")
    await world.deliver()
    alert = alerts_to(world)[-1]

    first = await round_text(world, datetime(2026, 11, 17, 8, 0, tzinfo=UTC))
    second = await round_text(world, datetime(2026, 11, 18, 8, 0, tzinfo=UTC))
    for text in (first, second):
        assert text.index("Urgent") < text.index("Waiting for you")
        assert "• Maya: the safety net fired" in text
    world.clock.set(datetime(2026, 11, 18, 9, 0, tzinfo=UTC))
    await world.telegram.user_presses(COACH_ID, alert, reached_out_data(alert))
    third = await round_text(world, datetime(2026, 11, 19, 8, 0, tzinfo=UTC))
    assert "Urgent" not in third


async def test_sos_gives_the_lines_a_minute_and_tells_the_coach_once(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="/sos")
    sos = world.last(MAYA)
    text = sos.text or ""
    assert "988" in text and "findahelpline.com" in text
    assert "One minute, right where you are" in text and "Breathe out slowly" in text
    buttons = [b for row in (sos.reply_markup or {})["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["Tell my coach now", "Write my safety plan"]

    await world.telegram.user_presses(MAYA, sos, str(buttons[0]["callback_data"]))
    await world.deliver()
    assert "has been sent an urgent alert" in world.texts(MAYA)[-1]
    alert = world.last(COACH_ID)
    assert 'Maya (@maya) pressed "Tell my coach now" in /sos' in (alert.text or "")
    assert not alert.silent
    reached_out_data(alert)
    await world.telegram.user_presses(MAYA, sos, str(buttons[0]["callback_data"]))
    await world.deliver()
    assert len(alerts_to(world)) == 1  # once per /sos
    answers = list(world.telegram.callback_answers.values())
    assert answers[-1] == {"text": "Your coach has it already."}


async def test_a_safety_plan_written_in_three_steps_comes_back_with_sos(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await world.deliver()
    before = len(world.telegram.sent_by_bot(COACH_ID))
    await world.telegram.user_sends(MAYA, text="/plan")
    assert "Step 1 of 3" in world.texts(MAYA)[-1]
    await world.telegram.user_sends(MAYA, text="I stop answering texts and stay in bed")
    assert "Step 2 of 3" in world.texts(MAYA)[-1]
    await world.telegram.user_sends(MAYA, text="A walk with the dog, cold water")
    assert "Step 3 of 3" in world.texts(MAYA)[-1]
    await world.telegram.user_sends(MAYA, text="My sister Dana, 07700 900123")
    done = world.texts(MAYA)[-1]
    assert "Your safety plan is kept" in done and "My sister Dana" in done
    await world.deliver()
    assert len(world.telegram.sent_by_bot(COACH_ID)) == before  # the plan is hers alone

    await world.telegram.user_sends(MAYA, text="/sos")
    sos = world.last(MAYA)
    assert "My warning signs: I stop answering texts" in (sos.text or "")
    assert "People I can call: My sister Dana" in (sos.text or "")
    buttons = [b["text"] for row in (sos.reply_markup or {})["inline_keyboard"] for b in row]
    assert buttons == ["Tell my coach now"]
    await world.telegram.user_sends(MAYA, text="Back to normal things.")  # a check-in again
    await world.deliver()
    assert any(t == "Back to normal things." for t in world.texts(COACH_ID))


async def test_voice_notes_after_risk_words_are_named_in_the_round(world: World) -> None:
    world.person(NOA, "Noa")
    await world.telegram.user_sends(NOA, text="/join")
    assert "Voice notes are not read by the bot" in world.texts(NOA)[-1]
    await in_the_group(world, MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="/privacy")
    assert "Voice notes are not read by the bot" in world.texts(MAYA)[-1]
    await world.telegram.user_sends(MAYA, GROUP, text="what's the point of anything")
    world.clock.advance(timedelta(hours=2))
    await world.telegram.user_sends(MAYA, GROUP, voice_seconds=95)
    await world.telegram.user_sends(MAYA, voice_seconds=30)
    await world.deliver()
    text = await round_text(world, datetime(2026, 11, 17, 8, 0, tzinfo=UTC))
    assert "Listen first" in text and "the bot can't hear voice notes" in text
    assert "• Maya: 2 voice notes since the safety net fired on their words" in text


async def test_a_concerning_message_edited_into_an_urgent_one_raises_the_alarm(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    sent = await world.telegram.user_sends(MAYA, GROUP, text="i'm so done with everything")
    await world.deliver()
    assert "your message sounds heavy" in world.texts(MAYA)[-1] and alerts_to(world) == []
    message_id = sent["message"]["message_id"]
    await world.telegram.user_edits(MAYA, GROUP, message_id, "so done, i want to die tonight")
    await world.telegram.user_edits(MAYA, GROUP, message_id, "so done, i want to die. sorry")
    await world.deliver()
    assert world.told(MAYA, "so this comes to you right away") == 1
    assert len(alerts_to(world)) == 1  # once, however often it is edited
