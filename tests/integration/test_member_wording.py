"""What members read: how to cancel and what happens, "so far" early in the week, the group's
own reply days, plurals that agree."""

from __future__ import annotations

from datetime import UTC, datetime

from core.groups import Schedule, change_schedule, find_group
from tests.integration.world import GROUP, World

MAYA = 4801
NOA = 4802


async def test_leave_and_cancel_from_a_paying_member_say_how_to_cancel(world: World) -> None:
    await world.join_and_pay(MAYA, "Maya")
    for command in ("/leave", "/cancel"):
        await world.telegram.user_sends(MAYA, text=command)
        said = world.texts(MAYA)[-1]
        assert "/billing" in said and "cancel" in said
        assert "until the end of the period you paid for" in said and "no further charge" in said
        assert "You're not on the waitlist" not in said


async def test_cancel_from_the_waitlist_leaves_it(world: World) -> None:
    for user_id, name in ((4811, "A"), (4812, "B"), (4813, "C")):
        await world.join_and_pay(user_id, name)
    world.person(NOA, "Noa")
    await world.ask_to_join(NOA)
    await world.telegram.user_sends(NOA, text="/cancel")
    assert "You're off the waitlist" in world.texts(NOA)[-1]


async def test_summary_early_in_the_week_says_so_far(world: World) -> None:
    await world.join_and_pay(MAYA, "Maya")
    world.clock.set(datetime(2026, 11, 16, 10, 0, tzinfo=UTC))  # Monday morning
    await world.telegram.user_sends(MAYA, text="/summary")
    so_far = world.texts(MAYA)[-1]
    assert so_far.startswith("Your week so far, Maya")
    assert "This was a quiet week" not in so_far and "the week is still young" in so_far
    await world.telegram.user_sends(MAYA, text="Small step: I asked for help.")
    await world.telegram.user_sends(MAYA, text="/summary")
    assert "1 check-in: 1 written" in "".join(world.texts(MAYA)[-1:])


async def test_the_join_note_gives_the_groups_own_reply_days(world: World) -> None:
    async with world.sessions() as session:
        group = await find_group(session, chat_id=GROUP)
        assert group is not None
        change_schedule(group, Schedule(reply_days="mon,wed"))
        session.add(group)
        await session.commit()
    world.person(MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="/join")
    assert "answers once a day, Monday, Wednesday" in world.texts(MAYA)[-1]
