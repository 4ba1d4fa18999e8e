"""Telegram answering slowly (80 ms a call) with 30 people writing at once: every update is
handled once, none is left with an error. (A handler's answers go after its transaction has
committed: tests/integration/test_answers_after_commit.py.)"""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import func, select

from core.models import ExternalEvent
from tests.integration.world import World

SLOW = 80 / 1000  # Telegram answering in 80 ms, as in the fault report


pytestmark = pytest.mark.at_once


async def test_many_people_at_once_with_telegram_slow_are_each_answered_once(
    world: World,
) -> None:
    people = range(6001, 6031)
    for user_id in people:
        world.person(user_id, f"Person{user_id}")
    world.telegram.answer_late("sendMessage", SLOW, count=len(people))

    await asyncio.gather(*(world.telegram.user_sends(u, text="/help") for u in people))
    await world.telegram.settle()

    info = await world.runtime.bot.get_webhook_info()
    assert (info.pending_update_count, info.last_error_message) == (0, None)
    assert [len(world.texts(user_id)) for user_id in people] == [1] * len(people)
    async with world.sessions() as session:
        claimed = await session.exec(
            select(func.count())
            .select_from(ExternalEvent)
            .where(ExternalEvent.source == "telegram")
        )
        assert claimed.one() >= len(people)
