"""The weekly summary in the coach's voice: the coach's line at the top (or the whole text
anew), drafts that need reading flagged first, a voice-first member's notes counted by day,
and what the coach answered or marked feeding "experiences processed"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox.telegram import ChatMessage
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 4701
NOA = 4702
ORI = 4703
MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY.replace(hour=hour, minute=minute) + timedelta(days=day)


async def in_the_group(world: World, user_id: int, name: str) -> None:
    seat = await world.join_and_pay(user_id, name)
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


async def summaries_job(world: World, when: datetime) -> None:
    world.clock.set(when)
    await jobs.weekly_summaries({"services": world.runtime})
    await world.deliver()


def drafts(world: World) -> list[ChatMessage]:
    return [m for m in world.telegram.sent_by_bot(COACH_ID) if "Draft for" in (m.text or "")]


def copy_of(world: World, words: str) -> ChatMessage:
    return next(m for m in world.telegram.sent_by_bot(COACH_ID) if m.text == words)


async def test_a_voice_first_week_counted_by_day_with_what_the_coach_answered(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    world.clock.set(at(1, 8))
    await world.telegram.user_sends(MAYA, voice_seconds=90)
    world.clock.set(at(1, 21))
    await world.telegram.user_sends(MAYA, voice_seconds=60)
    world.clock.set(at(3, 7))
    await world.telegram.user_sends(MAYA, voice_seconds=45)
    await world.telegram.user_sends(MAYA, text="The knot in my chest loosened after the call.")
    await world.deliver()  # the relays to the coach go through the outbox
    world.clock.set(at(3, 12))
    voice_copy = next(m for m in world.telegram.sent_by_bot(COACH_ID) if m.kind == "voice")
    await world.telegram.user_sends(
        COACH_ID, voice_seconds=80, reply_to_message_id=voice_copy.message_id
    )
    words = copy_of(world, "The knot in my chest loosened after the call.")
    await world.telegram.user_sends(
        COACH_ID, text="/highlight insight", reply_to_message_id=words.message_id
    )

    await summaries_job(world, at(6, 15))
    [draft] = drafts(world)
    text = draft.text or ""
    assert "3 voice notes, 3.2 min in all, and 1 written" in text
    assert "Tuesday: 2 voice notes, 2.5 min · Thursday: 1 voice note, 0.8 min" in text
    assert "a voice note on" not in text
    assert "✨ Experiences you processed" in text
    assert "Tuesday: your voice note (1.5 min), and your coach answered by voice" in text
    assert (
        "Thursday: “The knot in my chest loosened after the call.”, which your coach marked as"
        " an insight" in text
    )


async def test_drafts_that_need_reading_come_first_and_the_coach_adds_a_line_or_rewrites(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    await in_the_group(world, ORI, "Ori")
    world.clock.set(at(2, 10))
    await world.telegram.user_sends(MAYA, GROUP, text="A lovely calm day, honestly.")
    await world.telegram.user_sends(NOA, GROUP, text="Hard week. Still reading everyone here.")
    await world.telegram.user_sends(
        ORI, text="Some nights I think everyone would be better off without me."
    )

    await summaries_job(world, at(6, 15))
    order = [(m.text or "").split("\n")[0] for m in drafts(world)]
    assert order == [
        "⚠️ Draft for Ori · the safety net fired: please read this one first",
        "⚠️ Draft for Noa · a hard week: please read this one first",
        "Draft for Maya",
    ]
    preview = world.texts(COACH_ID)[-1]
    assert "the ones to read first at the top" in preview and "⚠️ Noa" in preview

    _ori_draft, noa_draft, maya_draft = drafts(world)
    await world.telegram.user_sends(
        COACH_ID, text="Noa, thank you for staying with us this week.",
        reply_to_message_id=noa_draft.message_id,
    )  # fmt: skip
    replace = (maya_draft.reply_markup or {})["inline_keyboard"][0][0]
    assert replace["text"] == "Replace the whole text"
    await world.telegram.user_presses(COACH_ID, maya_draft, replace["callback_data"])
    asked = world.last(COACH_ID)
    assert "The whole summary, in your words." in (asked.text or "")
    await world.telegram.user_sends(
        COACH_ID, text="Maya, a calm week <3 Keep going.", reply_to_message_id=asked.message_id
    )
    assert "Replaced Maya's summary" in world.texts(COACH_ID)[-1]

    await summaries_job(world, at(6, 18))
    noa = world.texts(NOA)[-1]
    assert noa.startswith("💬 Your coach: Noa, thank you for staying with us this week.\n\n")
    assert "Your week, Noa" in noa
    maya = world.texts(MAYA)[-1]
    assert maya.startswith("Maya, a calm week <3 Keep going.")
    assert maya.endswith("read by your coach before it came to you.")
    ori = world.texts(ORI)[-1]
    assert ori.endswith("Put together automatically by Between from your week.")
