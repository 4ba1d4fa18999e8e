"""A container for the group: the agreement accepted at /join and pinned in the group, a
welcome for each new member (unless they'd rather come in quietly)."""

from __future__ import annotations

from sqlmodel import col, select

from core.models import Member
from prompts.buttons import QuietArrival
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 4401
NOA = 4402


async def test_joining_asks_to_agree_to_the_group_agreement(world: World) -> None:
    world.person(MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="/join")
    note = world.last(MAYA)
    text = note.text or ""
    assert "not a crisis service" in text
    assert "Our group agreement" in text and "What is shared here stays here." in text
    assert "answers once a day, Sunday to Thursday" in text  # the group's reply days
    [[accept]] = (note.reply_markup or {})["inline_keyboard"]
    assert accept["text"] == "I agree, continue"
    await world.telegram.user_presses(MAYA, note, accept["callback_data"])
    assert "held for you" in (world.last(MAYA).text or "")
    async with world.sessions() as session:
        member = (await session.exec(select(Member).where(col(Member.telegram_id) == MAYA))).one()
    assert member.agreement_accepted_at is not None and member.crisis_note_accepted_at is not None


async def test_the_agreement_is_pinned_in_the_group_when_the_coach_sets_it_up(
    world: World,
) -> None:
    await world.deliver()
    pinned = [m for m in world.telegram.messages(GROUP) if m.pinned]
    assert [m.text.splitlines()[0] for m in pinned if m.text] == ["Our group agreement"]
    assert "Sent automatically by Between." in (pinned[0].text or "")
    # The coach sets the bot up again (a right fixed): the same agreement isn't posted twice.
    await world.telegram.bot_added_to_group(GROUP, by_user_id=COACH_ID)
    await world.deliver()
    assert (
        sum("Our group agreement" in (m.text or "") for m in world.telegram.messages(GROUP)) == 1
    )


async def test_a_new_member_is_welcomed_in_the_group_unless_they_come_in_quietly(
    world: World,
) -> None:
    seat = await world.join_and_pay(MAYA, "Maya")
    await world.telegram.join_request(MAYA, GROUP, invite_link=seat.invite_link)
    await world.deliver()
    welcomes = [
        m.text or "" for m in world.telegram.sent_by_bot(GROUP) if "Welcome" in (m.text or "")
    ]
    assert len(welcomes) == 1 and "Welcome, Maya" in welcomes[0]

    seat = await world.join_and_pay(NOA, "Noa")
    invite = next(
        m for m in world.telegram.sent_by_bot(NOA) if "Your personal invite" in (m.text or "")
    )
    await world.telegram.user_presses(NOA, invite, QuietArrival().pack())
    assert "you'll come in quietly" in (world.last(NOA).text or "")
    await world.telegram.join_request(NOA, GROUP, invite_link=seat.invite_link)
    await world.deliver()
    assert not any("Welcome, Noa" in (m.text or "") for m in world.telegram.sent_by_bot(GROUP))
