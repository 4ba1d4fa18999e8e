"""A real `between worker` process through real faults: its Redis stopped for about ten
seconds and started again. The worker logs the fault once, heals by itself, and what people
do afterwards is done: every payment applied, every payer invited. While a loop is down the
worker's health says so."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from app.serve import Part, running
from app.supervise import read_heartbeats, summary
from app.worker import create_worker, run_supervised, stop_gracefully
from core.groups import register_group
from core.models import SeatStatus
from core.outbox import enqueue
from tests.integration.faults import CuttableProxy, OwnRedis
from tests.integration.processes import WorkerProcess
from tests.integration.test_worker_stops import (
    PEOPLE,
    all_applied,
    eventually,
    welcomed,
)
from tests.integration.world import GROUP, World

pytestmark = pytest.mark.slow

REDIS_DOWN_SECONDS = 10.0
DATABASE_DOWN_SECONDS = 10.0


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


async def test_the_outbox_resumes_after_the_database_was_down(
    world: World, redis: Redis, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the database goes down through a proxy: PostgreSQL only")
    target = make_url(database_url)
    proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    proxied = world.settings.model_copy(
        update={
            "database_url": target.set(host="127.0.0.1", port=proxy.port).render_as_string(
                hide_password=False
            )
        }
    )
    people = {6001 + n: f"Reader{n}" for n in range(10)}
    async with world.sessions() as session:
        await register_group(
            session, chat_id=GROUP, title="Between circle", capacity=20, now=world.clock.now()
        )
        await session.commit()
    for user_id, name in people.items():  # each has written to the bot, so it may answer
        world.person(user_id, name)
        await world.ask_to_join(user_id)
    try:
        async with running(proxied, {Part.WORKER}, clock=world.clock, cron=False):
            await eventually_ok(lambda: _is(heartbeat(redis), "ok"), "a healthy worker")
            proxy.cut()
            async with world.sessions() as session:  # written by the web, which has its own way
                for user_id in people:
                    await enqueue(
                        session,
                        key=f"fault-{user_id}",
                        chat_id=user_id,
                        text="A note while the database is away",
                        now=world.clock.now(),
                    )
                await session.commit()
            await eventually_ok(lambda: _is(heartbeat(redis), "down"), "the outbox seen down")
            await asyncio.sleep(DATABASE_DOWN_SECONDS)  # the fault's length
            proxy.restore()
            await eventually_ok(
                lambda: all(world.told(u, "A note while") >= 1 for u in people), "every note"
            )
            await eventually_ok(lambda: _is(heartbeat(redis), "ok"), "healthy again")
        await world.telegram.settle()
        assert {u: world.told(u, "A note while") for u in people} == dict.fromkeys(people, 1)
    finally:
        await proxy.stop()


async def eventually_ok(check: Callable[[], object], what: str) -> None:
    for _ in range(600):
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def _is(value: object, expected: object) -> bool:
    if asyncio.iscoroutine(value):
        value = await value
    return value == expected


async def test_a_worker_stops_cleanly_while_redis_is_down(
    world: World, own_redis: OwnRedis, redis: Redis
) -> None:
    """arq's close() writes to Redis first; with Redis gone the stop must still end, and
    close what the worker opened (its outbox sender, its heartbeat, its connections)."""
    assert world.settings.redis_url is not None
    worker = create_worker(world.settings, redis_url=world.settings.redis_url, cron=False)
    running_loop = run_supervised(worker)
    await eventually_ok(lambda: _is(heartbeat(redis), "ok"), "a healthy worker")
    sender = worker.ctx["outbox_task"]
    runtime = worker.ctx["services"]

    await own_redis.stop()
    try:
        async with asyncio.timeout(60):  # bounded: a hang fails here, not the suite
            await stop_gracefully(worker)
    finally:
        running_loop.cancel()
        await asyncio.gather(running_loop, return_exceptions=True)
        await own_redis.start()
    assert sender.done()  # the outbox sender and the heartbeat are stopped
    assert "heartbeat_task" not in worker.ctx
    assert runtime.closed  # the database engine, the bot's session and Redis are closed
