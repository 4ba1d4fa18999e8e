"""The coach's round (the digest): the group since the last round, with buttons that keep a
post for the member's summary or answer it in the group; who came since the last round."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from core.models import CoachReply, Highlight
from sandbox.telegram import ChatMessage
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 4201
NOA = 4202


async def in_the_group(world: World, user_id: int, name: str) -> None:
    seat = await world.join_and_pay(user_id, name)
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


async def the_round(world: World, at: datetime) -> ChatMessage:
    world.clock.set(at)
    await jobs.send_digests({"services": world.runtime})
    await world.deliver()
    return next(
        m
        for m in reversed(world.telegram.sent_by_bot(COACH_ID))
        if "Your round for" in (m.text or "")
    )


def buttons(message: ChatMessage) -> list[list[dict[str, str]]]:
    rows: list[list[dict[str, str]]] = (message.reply_markup or {})["inline_keyboard"]
    return rows


async def test_the_round_shows_the_group_since_the_last_round_with_buttons(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    world.clock.set(datetime(2026, 11, 16, 10, 0, tzinfo=UTC))
    await world.telegram.user_sends(
        MAYA, GROUP, text="I didn't explain myself today. I just said no, and the sky stayed up."
    )
    await world.telegram.user_sends(NOA, GROUP, voice_seconds=48)
    await world.telegram.user_sends(NOA, GROUP, text="this traffic is killing me but fine")

    first = await the_round(world, datetime(2026, 11, 17, 8, 0, tzinfo=UTC))
    text = first.text or ""
    assert "In the group this past week" in text  # the first round looks back a week
    assert (
        "1. Maya: “I didn't explain myself today. I just said no, and the sky stayed up.”" in text
    )
    assert "2. Noa: a voice note, 48 s" in text
    assert "New this past week: Maya, Noa" in text
    rows = buttons(first)
    assert [b["text"] for b in rows[0]] == ["1. ✨ Win", "1. 💡 Insight", "1. ↩ Reply"]

    # ✨ under Maya's post: a win for her summary, said quietly in the coach's chat.
    await world.telegram.user_presses(COACH_ID, first, rows[0][0]["callback_data"])
    kept = world.last(COACH_ID)
    assert kept.text is not None and kept.text.startswith("✨ Kept as a win for Maya's weekly")
    assert kept.silent
    async with world.sessions() as session:
        [marked] = (await session.exec(select(Highlight))).all()
    assert marked.kind == "win"

    # ↩ under Noa's voice note: the coach answers by voice, in the group, under the post.
    await world.telegram.user_presses(COACH_ID, first, rows[1][2]["callback_data"])
    asked = world.last(COACH_ID)
    assert "Your answer to Noa in the group" in (asked.text or "")
    await world.telegram.user_sends(
        COACH_ID, voice_seconds=30, reply_to_message_id=asked.message_id
    )
    answer = world.telegram.sent_by_bot(GROUP)[-1]
    assert (answer.kind, answer.text) == ("voice", "Coach · voice note")
    noa_post = next(
        m for m in world.telegram.messages(GROUP) if m.kind == "voice" and m.sender_id == NOA
    )
    assert answer.raw["reply_to_message"]["message_id"] == noa_post.message_id
    assert "Posted in the group for Noa ✓" in world.texts(COACH_ID)[-1]
    async with world.sessions() as session:
        [reply] = (await session.exec(select(CoachReply))).all()
    assert reply.group_id is not None and reply.member_id is not None

    # The next round covers only what came since this one.
    world.clock.set(datetime(2026, 11, 17, 12, 0, tzinfo=UTC))
    await world.telegram.user_sends(MAYA, GROUP, text="Named it: lonely, then less so.")
    second = await the_round(world, datetime(2026, 11, 18, 8, 0, tzinfo=UTC))
    text = second.text or ""
    assert "In the group since your last round" in text
    assert "Named it: lonely" in text and "sky stayed up" not in text
    assert "New since your last round" not in text  # nobody new since Tuesday's round


async def test_a_highlight_in_the_group_is_taken_out_of_sight(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    said = await world.telegram.user_sends(MAYA, GROUP, text="I asked for help today.")
    command = await world.telegram.user_sends(
        COACH_ID, GROUP, text="/highlight", reply_to_message_id=said["message"]["message_id"]
    )
    in_group = [m.message_id for m in world.telegram.messages(GROUP)]
    assert command["message"]["message_id"] not in in_group  # deleted with Delete messages
    await world.deliver()
    said_in_group = [m.text or "" for m in world.telegram.sent_by_bot(GROUP)]
    assert not any("highlight" in text.lower() or "win" in text.lower() for text in said_in_group)
    assert world.told(COACH_ID, "Marked as a win") == 1


async def test_without_the_delete_right_the_coach_is_told_and_asked_for_it(
    world: World,
) -> None:
    await world.telegram.bot_added_to_group(GROUP, by_user_id=COACH_ID, can_delete_messages=False)
    setup = world.texts(COACH_ID)[-1]
    assert "It also helps if I may delete messages" in setup
    await in_the_group(world, MAYA, "Maya")
    said = await world.telegram.user_sends(MAYA, GROUP, text="I rested without guilt.")
    command = await world.telegram.user_sends(
        COACH_ID, GROUP, text="/highlight", reply_to_message_id=said["message"]["message_id"]
    )
    in_group = [m.message_id for m in world.telegram.messages(GROUP)]
    assert command["message"]["message_id"] in in_group  # Telegram refused: it stays
    assert world.told(COACH_ID, "give me the Delete messages right") == 1
