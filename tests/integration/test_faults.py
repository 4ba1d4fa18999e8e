"""A real `between worker` process through real faults: its Redis stopped for about ten
seconds and started again. The worker logs the fault once, heals by itself, and what people
do afterwards is done: every payment applied, every payer invited. While a loop is down the
worker's health says so."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.supervise import read_heartbeats, summary
from core.groups import register_group
from core.models import SeatStatus
from tests.integration.faults import OwnRedis
from tests.integration.test_worker_stops import (
    PEOPLE,
    WorkerProcess,
    all_applied,
    eventually,
    welcomed,
)
from tests.integration.world import GROUP, World

pytestmark = pytest.mark.slow

REDIS_DOWN_SECONDS = 10.0


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def redis_url(own_redis: OwnRedis) -> Iterator[str]:
    """The app's Redis is this test's own, so it can be stopped."""
    yield own_redis.url


@pytest.fixture
async def worker(world: World) -> AsyncIterator[WorkerProcess]:
    with tempfile.TemporaryFile() as log:
        process = WorkerProcess(world.settings, log)
        yield process
        if process.process is not None and process.process.returncode is None:
            process.process.kill()
            await process.process.wait()


async def heartbeat(redis: Redis) -> str:
    try:
        return summary(await read_heartbeats(redis))
    except Exception:
        return "unreadable"


async def pay(world: World, people: dict[int, str]) -> None:
    for user_id, name in people.items():
        world.person(user_id, name)
        assert "held for you" in ((await world.ask_to_join(user_id)).text or "")
        seat = await world.seat(user_id)
        assert seat is not None and seat.checkout_session_id is not None
        await world.stripe.complete_checkout(seat.checkout_session_id)


async def test_the_worker_heals_after_redis_was_down(
    world: World, worker: WorkerProcess, own_redis: OwnRedis, redis: Redis
) -> None:
    async with world.sessions() as session:
        await register_group(
            session, chat_id=GROUP, title="Between circle", capacity=10, now=world.clock.now()
        )
        await session.commit()
    await worker.start()
    await eventually(lambda: _is(heartbeat(redis), "ok"), "a healthy heartbeat", worker)

    await own_redis.stop()
    await asyncio.sleep(REDIS_DOWN_SECONDS)  # the fault's length, not a wait for an outcome
    await own_redis.start()

    # Payments made after Redis is back are applied and the payers invited.
    await pay(world, PEOPLE)
    await eventually(lambda: all_applied(world), "every event applied", worker)
    await eventually(
        lambda: all(count >= 1 for count in welcomed(world).values()), "every welcome", worker
    )
    await eventually(lambda: _is(heartbeat(redis), "ok"), "a healthy heartbeat again", worker)
    reports = await read_heartbeats(redis)
    (report,) = reports.values()
    assert report["loops"]["jobs"]["restarts"] >= 1
    assert report["loops"]["jobs"]["error"] == "ConnectionError"

    assert await worker.stop(signal.SIGTERM) == 0
    await world.telegram.settle()
    assert welcomed(world) == dict.fromkeys(PEOPLE, 1)
    for user_id in PEOPLE:
        seat = await world.seat(user_id)
        assert seat is not None and seat.status == SeatStatus.ACTIVE
    # The fault was logged once, however many tries it took; no traceback per try.
    assert worker.output().count("jobs stopped (ConnectionError)") == 1
    # A stopped worker takes its heartbeat with it.
    assert await heartbeat(redis) == "none"


async def _is(value: object, expected: object) -> bool:
    if asyncio.iscoroutine(value):
        value = await value
    return value == expected
