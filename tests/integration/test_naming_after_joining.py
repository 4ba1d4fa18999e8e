"""A member who came in by a join request can still be named by their @username, in any case
(Telegram's usernames are case-insensitive: @Maya_K and @maya_k are one person)."""

from __future__ import annotations

from sqlmodel import col, select

from core.models import Member
from tests.integration.world import COACH_ID, World

MAYA, NOA = 4001, 4002


async def username_of(world: World, telegram_id: int) -> str | None:
    async with world.sessions() as session:
        member = (
            await session.exec(select(Member).where(col(Member.telegram_id) == telegram_id))
        ).one()
    return member.username


async def test_thread_remove_and_comp_find_a_member_who_joined_by_request(world: World) -> None:
    world.telegram.add_user(MAYA, "Maya", username="Maya_K")
    answer = await world.ask_to_join(MAYA)
    assert answer.text is not None and "held for you" in answer.text
    await world.pay(MAYA)
    seat = await world.seat(MAYA)
    assert seat is not None
    await world.telegram.join_request(MAYA, world.group_chat_id, invite_link=seat.invite_link)
    await world.telegram.settle()
    assert await username_of(world, MAYA) == "Maya_K"  # the join request kept it

    await world.telegram.user_sends(COACH_ID, text="/thread @maya_k")
    assert "Maya (@Maya_K): recent thread" in (world.last(COACH_ID).text or "")

    world.telegram.add_user(NOA, "Noa", username="NoaR")
    await world.telegram.user_sends(NOA, text="/start")
    await world.telegram.user_sends(COACH_ID, text="/comp @noar")
    assert "Noa has a free seat" in (world.last(COACH_ID).text or "")

    await world.telegram.user_sends(COACH_ID, text="/remove @MAYA_K")
    assert "Maya is out" in (world.last(COACH_ID).text or "")
