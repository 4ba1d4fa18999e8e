"""The coach's day: threads and replies, acknowledgements, the digest, gentle check-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from core.models import CoachReply, EntryKind, Highlight
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 4001
NOA = 4002


async def in_the_group(world: World, user_id: int, name: str) -> None:
    seat = await world.join_and_pay(user_id, name)
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


def coach_sees(world: World) -> list[str]:
    return world.texts(COACH_ID)


async def test_a_private_message_reaches_the_coach_and_a_voice_reply_reaches_that_member(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    await world.telegram.user_sends(MAYA, text="I felt dismissed at work today.")
    world.clock.advance(timedelta(hours=3))
    await world.telegram.user_sends(NOA, text="Small win: I asked for help.")
    await world.deliver()  # relays go through the outbox

    relayed = world.telegram.sent_by_bot(COACH_ID)
    maya_header = next(m for m in relayed if "💬 Maya" in (m.text or ""))
    assert "streak 1" in (maya_header.text or "") and "waiting" in (maya_header.text or "")
    maya_copy = next(m for m in relayed if m.text == "I felt dismissed at work today.")

    await world.telegram.user_sends(
        COACH_ID, voice_seconds=35, reply_to_message_id=maya_copy.message_id
    )

    voice = world.telegram.sent_by_bot(MAYA)[-1]
    # The coach's voice reaches Maya labelled as the coach's, not as the bot's.
    assert (voice.kind, voice.text) == ("voice", "Coach · voice note")
    assert all(m.kind != "voice" for m in world.telegram.sent_by_bot(NOA))
    assert "Sent to Maya ✓" in coach_sees(world)[-1]
    async with world.sessions() as session:
        [reply] = (await session.exec(select(CoachReply))).all()
    assert (reply.kind, reply.duration_seconds) == (EntryKind.VOICE, 35)

    noa_copy = next(
        m for m in world.telegram.sent_by_bot(COACH_ID) if m.text == "Small win: I asked for help."
    )
    await world.telegram.user_sends(
        COACH_ID, text="That's huge, Noa.", reply_to_message_id=noa_copy.message_id
    )
    assert world.telegram.sent_by_bot(NOA)[-1].text == "Coach\nThat's huge, Noa."
    assert "That's huge, Noa." not in world.texts(MAYA)


async def test_a_reply_to_a_member_who_has_left_is_refused_with_a_reason(world: World) -> None:
    seat = await world.join_and_pay(MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="Thinking of leaving, honestly.")
    await world.deliver()
    copy = next(
        m
        for m in world.telegram.sent_by_bot(COACH_ID)
        if m.text == "Thinking of leaving, honestly."
    )
    assert seat.stripe_subscription_id is not None
    await world.stripe.end_subscription(seat.stripe_subscription_id)
    await world.settle()
    before = world.texts(MAYA)

    await world.telegram.user_sends(
        COACH_ID, text="Come back any time.", reply_to_message_id=copy.message_id
    )

    assert "no longer has a seat" in coach_sees(world)[-1]
    assert world.texts(MAYA) == before


async def test_a_member_is_acknowledged_at_most_once_a_day_with_the_next_window(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    for words in ("one", "two", "three"):
        await world.telegram.user_sends(MAYA, text=words)
    await world.deliver()
    acks = [t for t in world.texts(MAYA) if t.startswith("Got it, Maya")]
    assert len(acks) == 1  # Monday 16 November, a reply day, before 20:00
    assert "by Monday 16 November, 20:00 (UTC)" in acks[0]

    # Answered by Monday evening, they write again on Friday: a new day, a new promise.
    copy = next(m for m in world.telegram.sent_by_bot(COACH_ID) if m.text == "three")
    await world.telegram.user_sends(COACH_ID, text="Heard.", reply_to_message_id=copy.message_id)
    world.clock.set(datetime(2026, 11, 20, 21, 0, tzinfo=UTC))  # Friday evening
    await world.telegram.user_sends(MAYA, text="four")
    await world.deliver()
    acks = [t for t in world.texts(MAYA) if t.startswith("Got it, Maya")]
    assert len(acks) == 2 and "by Sunday 22 November, 20:00 (UTC)" in acks[1]
    assert all(text.endswith("Sent automatically by Between.") for text in acks)


async def test_the_digest_puts_urgent_first_then_who_waits_longest(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    await world.telegram.user_sends(MAYA, text="Long week. Still here.")
    world.clock.advance(timedelta(hours=2))
    await world.telegram.user_sends(NOA, text="I don't want to be here anymore")
    await world.deliver()

    world.clock.set(datetime(2026, 11, 17, 8, 0, tzinfo=UTC))  # Tuesday, the digest hour
    assert await jobs.send_digests({"services": world.runtime}) == 1
    assert await jobs.send_digests({"services": world.runtime}) == 0
    await world.deliver()
    digest = next(
        m for m in world.telegram.sent_by_bot(COACH_ID) if "Your round for" in (m.text or "")
    )
    text = digest.text or ""
    assert text.index("Urgent") < text.index("Waiting for you")
    assert "Noa: the safety net fired" in text
    assert text.index("• Maya: 1 unanswered") < text.index(
        "• Noa: 1 unanswered"
    )  # Maya waited longer
    buttons = [row[0]["text"] for row in (digest.reply_markup or {})["inline_keyboard"]]
    assert buttons == ["Open Noa", "Open Maya"]

    await world.telegram.user_presses(
        COACH_ID, digest, (digest.reply_markup or {})["inline_keyboard"][0][0]["callback_data"]
    )
    assert (
        "Noa" in coach_sees(world)[-1]
        and "I don't want to be here anymore" in coach_sees(world)[-1]
    )

    world.clock.set(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))  # Friday: not a reply day
    assert await jobs.send_digests({"services": world.runtime}) == 0


async def test_a_quiet_member_gets_one_gentle_check_in_per_quiet_spell_unless_paused(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    await world.telegram.user_sends(NOA, text="/quiet")
    assert "I won't send gentle check-ins" in world.texts(NOA)[-1]

    async def nudges() -> int:
        await jobs.send_gentle_checkins({"services": world.runtime})
        await world.deliver()
        return sum("just checking in" in t for t in world.texts(MAYA))

    world.clock.set(datetime(2026, 11, 20, 3, 0, tzinfo=UTC))  # 4 days on, but 03:00
    assert await nudges() == 0
    world.clock.set(datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    assert await nudges() == 1
    world.clock.set(datetime(2026, 11, 21, 11, 0, tzinfo=UTC))
    assert await nudges() == 1  # once per quiet spell
    assert not any("just checking in" in t for t in world.texts(NOA))  # paused

    await world.telegram.user_sends(MAYA, text="back. rough week.")
    world.clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    assert await nudges() == 2  # a new spell, a new note

    world.clock.set(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))  # Thursday, long silence
    assert await nudges() == 2  # no more messages: the coach's digest says it instead
    await jobs.send_digests({"services": world.runtime})
    await world.deliver()
    digest = coach_sees(world)[-1]
    assert "Gone quiet" in digest and "Maya: 11 days (got a gentle check-in)" in digest


async def test_coach_tools_and_refusals(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    said = await world.telegram.user_sends(
        MAYA, GROUP, text="I didn't explain myself today. I just said no."
    )

    await world.telegram.user_sends(
        COACH_ID, GROUP, text="/highlight", reply_to_message_id=said["message"]["message_id"]
    )
    await world.telegram.user_sends(COACH_ID, GROUP, text="Beautiful, Maya.")
    async with world.sessions() as session:
        [marked] = (await session.exec(select(Highlight))).all()
        feedback = (
            await session.exec(select(CoachReply).where(col(CoachReply.group_id).is_not(None)))
        ).all()
    assert marked.kind == "win"
    assert [f.text for f in feedback] == ["Beautiful, Maya."]

    await world.telegram.user_sends(COACH_ID, text="/members")
    assert "Maya" in coach_sees(world)[-1] and "Noa" in coach_sees(world)[-1]
    await world.telegram.user_sends(COACH_ID, text="/thread @maya")
    assert "I just said no." in coach_sees(world)[-1]
    await world.telegram.user_sends(
        COACH_ID, text="/post Tonight: one minute of /breathe before bed."
    )
    posted = world.telegram.sent_by_bot(GROUP)[-1]  # under the coach's name, not the bot's
    assert posted.text == "Coach\nTonight: one minute of /breathe before bed."
    await world.telegram.user_sends(COACH_ID, text="/broadcast Zoom moves to Thursday this week.")
    await world.deliver()
    for member in (MAYA, NOA):
        assert "Zoom moves to Thursday this week." in world.texts(member)[-1]

    for command in ("/members", "/broadcast hi", "/thread @maya", "/post hi"):
        await world.telegram.user_sends(NOA, text=command)
        assert "That command is for the coach" in world.texts(NOA)[-1]
