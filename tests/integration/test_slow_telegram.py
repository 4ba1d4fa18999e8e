"""Telegram answering slowly holds nobody else up: no database transaction (on SQLite, no write
lock) is open while the bot waits for Telegram, and every update is still handled once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlmodel import col, func, select

from core.clock import SimulatedClock
from core.models import Entry, ExternalEvent
from sandbox.telegram import TelegramSandbox
from tests.integration.conftest import PACE
from tests.integration.world import COACH_ID, GROUP, World

ANA = 5001
BEA = 5002
SLOW = 80 / 1000  # Telegram answering in 80 ms, as in the fault report


@pytest.fixture
async def telegram(clock: SimulatedClock) -> AsyncIterator[TelegramSandbox]:
    """The sandbox Bot API delivering up to 40 updates at once, as Telegram does."""
    sandbox = TelegramSandbox(rate_scale=PACE, now=clock.now, webhook_connections=40)
    await sandbox.start()
    sandbox.add_user(COACH_ID, "Coach", username="coach")
    yield sandbox
    await sandbox.stop()


async def idle_in_transaction(world: World) -> int:
    """PostgreSQL's connections holding a transaction open while doing nothing (0 on SQLite,
    where the write lock shows as the other update waiting instead)."""
    async with world.sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            return 0
        result = await session.exec(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
            )  # type: ignore[call-overload]
        )
        return int(result.scalar_one())


async def test_an_answer_in_flight_holds_no_transaction_and_nobody_waits_behind_it(
    world: World,
) -> None:
    await world.join_the_group(BEA, "Bea")
    world.person(ANA, "Ana")
    world.telegram.answer_late("sendMessage", 10)  # carried out at once, answered in 10 s

    ana = asyncio.create_task(world.telegram.user_sends(ANA, text="/help"))
    # The answer is on its way: Telegram has it, the bot waits (the sandbox has no event).
    while not world.texts(ANA):  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    held = await idle_in_transaction(world)
    # Bea's check-in in the group is handled while Ana's answer is still in flight.
    await world.telegram.user_sends(BEA, GROUP, text="A long week, but I slept better.")
    handled_meanwhile = not ana.done()
    async with world.sessions() as session:
        kept = (await session.exec(select(Entry).where(col(Entry.chat_id) == GROUP))).all()
    await ana

    assert held == 0
    assert handled_meanwhile
    assert [entry.text for entry in kept] == ["A long week, but I slept better."]


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
