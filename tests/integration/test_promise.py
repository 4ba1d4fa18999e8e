"""The reply promise ("you'll hear back by ..."): the coach is reminded once before it, the
member is told honestly once after it, and the coach sees how many were kept."""

from __future__ import annotations

from datetime import UTC, datetime

from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 4101
NOA = 4102


async def in_the_group(world: World, user_id: int, name: str) -> None:
    seat = await world.join_and_pay(user_id, name)
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


async def keep_promises(world: World, at: datetime) -> int:
    world.clock.set(at)
    done = await jobs.keep_promises({"services": world.runtime})
    await world.deliver()
    return done


def monday(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 16, hour, minute, tzinfo=UTC)


def reminders(world: World) -> list[str]:
    return [t for t in world.texts(COACH_ID) if "still waiting for your reply" in t]


def late_notes(world: World, user_id: int) -> list[str]:
    return [t for t in world.texts(user_id) if "running late" in t]


async def test_the_coach_is_reminded_once_and_the_member_told_once_when_it_is_late(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    world.clock.set(monday(9))
    await world.telegram.user_sends(MAYA, text="Rough morning. The old knot again.")
    await world.deliver()
    assert "you'll hear back by Monday 16 November, 20:00 (UTC)" in world.texts(MAYA)[-1]

    assert await keep_promises(world, monday(17, 59)) == 0  # not yet
    await keep_promises(world, monday(18, 0))
    [reminder] = reminders(world)
    assert "1 person is still waiting" in reminder and "• Maya, waiting 9 h" in reminder
    assert "by Monday 16 November, 20:00 (UTC)" in reminder
    buttons = (world.last(COACH_ID).reply_markup or {})["inline_keyboard"]
    assert [row[0]["text"] for row in buttons] == ["Open Maya"]

    world.clock.set(monday(18, 40))
    await world.telegram.user_sends(NOA, text="Can I ask something about my sister?")
    await keep_promises(world, monday(19, 0))
    assert len(reminders(world)) == 1  # one message before this reply-by time, no more

    await keep_promises(world, monday(20, 1))
    for user_id in (MAYA, NOA):
        [late] = late_notes(world, user_id)
        assert "an honest note: your coach hasn't answered you yet" in late
        assert "You'll hear back by Tuesday 17 November, 20:00 (UTC)" in late
        assert late.endswith("Sent automatically by Between.")
    await keep_promises(world, monday(23, 0))
    world.clock.set(datetime(2026, 11, 17, 7, 0, tzinfo=UTC))
    await world.telegram.user_sends(MAYA, text="Still here.")
    await world.deliver()
    assert len(late_notes(world, MAYA)) == 1  # told once
    assert "by Tuesday 17 November, 20:00" in world.texts(MAYA)[-1]  # the new time holds

    # Tuesday 09:00 the coach answers both: neither promise was kept.
    world.clock.set(datetime(2026, 11, 17, 9, 0, tzinfo=UTC))
    for words in ("Rough morning. The old knot again.", "Can I ask something about my sister?"):
        copy = next(m for m in world.telegram.sent_by_bot(COACH_ID) if m.text == words)
        await world.telegram.user_sends(COACH_ID, text="Yes.", reply_to_message_id=copy.message_id)
    await world.telegram.user_sends(COACH_ID, text="/members")
    shown = world.texts(COACH_ID)[-1]
    # Maya waited 24 h, Noa 14 h 20 min: the median is 19 h.
    assert "Your reply promise: 0 of 2 answered on time this week · median answer 19 h" in shown


async def test_a_promise_kept_shows_in_the_round(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    world.clock.set(monday(9))
    await world.telegram.user_sends(MAYA, text="A small thing went well.")
    await world.deliver()  # the relay to the coach goes through the outbox
    world.clock.set(monday(12))
    copy = next(
        m for m in world.telegram.sent_by_bot(COACH_ID) if m.text == "A small thing went well."
    )
    await world.telegram.user_sends(COACH_ID, text="Tell me!", reply_to_message_id=copy.message_id)
    assert await keep_promises(world, monday(20, 30)) == 0  # answered: nothing to remind or tell
    assert late_notes(world, MAYA) == []

    world.clock.set(datetime(2026, 11, 17, 8, 0, tzinfo=UTC))  # Tuesday's round
    await jobs.send_digests({"services": world.runtime})
    await world.deliver()
    round_text = next(t for t in world.texts(COACH_ID) if "Your round for" in t)
    assert (
        "Your reply promise: 1 of 1 answered on time this week · median answer 3 h" in round_text
    )


async def test_the_new_time_of_a_late_note_is_reminded_too(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    world.clock.set(monday(9))
    await world.telegram.user_sends(MAYA, text="Writing before work.")
    await keep_promises(world, monday(18))
    await keep_promises(world, monday(20, 1))  # late: the new time is Tuesday 20:00
    await keep_promises(world, datetime(2026, 11, 17, 17, 0, tzinfo=UTC))
    assert len(reminders(world)) == 1
    await keep_promises(world, datetime(2026, 11, 17, 18, 0, tzinfo=UTC))
    assert len(reminders(world)) == 2
    assert "by Tuesday 17 November, 20:00 (UTC)" in reminders(world)[-1]
    await keep_promises(world, datetime(2026, 11, 17, 20, 1, tzinfo=UTC))
    assert len(late_notes(world, MAYA)) == 1  # the member is told once, not every day
