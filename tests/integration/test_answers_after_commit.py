"""A handler's answers go to Telegram after its transaction has committed: while Telegram is
slow to answer one person, no transaction is open (on SQLite the write lock is free), so the
next person is answered meanwhile. An answer that then fails for a moment is not lost: the
outbox delivers it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.integration.test_calls_outside_transactions import idle_in_transaction
from tests.integration.world import World

ANA, BEN = 8101, 8102
SLOW = 80 / 1000  # Telegram answering in 80 ms, as in the fault report
STALLED = 10.0  # one answer that takes Telegram this long (real seconds)


pytestmark = pytest.mark.at_once


async def until(condition: Callable[[], bool], seconds: float = 30) -> None:
    async def wait() -> None:
        while not condition():  # noqa: ASYNC110 (the sandbox has no event for this)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), seconds)


async def pending_updates(world: World) -> int:
    info = await world.runtime.bot.get_webhook_info()
    return info.pending_update_count


async def test_a_slow_answer_to_one_person_holds_nobody_else_up(world: World) -> None:
    world.person(ANA, "Ana")
    world.person(BEN, "Ben")
    world.telegram.answer_late("sendMessage", STALLED)
    sending = asyncio.create_task(world.telegram.user_sends(ANA, text="/help"))
    await until(lambda: len(world.texts(ANA)) == 1)  # Telegram has it, and says so later
    if world.settings.database_url.startswith("postgresql"):
        await asyncio.sleep(1.5)
        assert await idle_in_transaction(world) == 0
    await world.telegram.user_sends(BEN, text="/help")
    await until(lambda: len(world.texts(BEN)) == 1)
    # Ben was answered while Ana's update still waits on Telegram's answer.
    assert await pending_updates(world) == 1
    await sending
    await world.telegram.settle()
    assert await pending_updates(world) == 0
    assert [len(world.texts(ANA)), len(world.texts(BEN))] == [1, 1]


async def test_thirty_updates_a_second_with_telegram_slow_are_all_answered_without_a_500(
    world: World,
) -> None:
    people = range(6101, 6161)
    for user_id in people:
        world.person(user_id, f"Person{user_id}")
    world.telegram.answer_late("sendMessage", SLOW, count=len(people))

    sends = []
    for user_id in people:  # 30 a second, for two seconds
        sends.append(asyncio.create_task(world.telegram.user_sends(user_id, text="/help")))
        await asyncio.sleep(1 / 30)
    await asyncio.gather(*sends)
    await world.telegram.settle()

    info = await world.runtime.bot.get_webhook_info()
    assert (info.pending_update_count, info.last_error_message) == (0, None)
    assert [len(world.texts(user_id)) for user_id in people] == [1] * len(people)


async def test_an_answer_telegram_fails_once_still_arrives(world: World) -> None:
    world.person(ANA, "Ana")
    world.telegram.fail_next("sendMessage", status=500)
    await world.telegram.user_sends(ANA, text="/help")
    await world.telegram.settle()
    await world.settle()  # the outbox delivers what the first try could not
    assert len(world.texts(ANA)) == 1
    info = await world.runtime.bot.get_webhook_info()
    assert info.pending_update_count == 0
