"""Shared fixtures: a real database (SQLite, or PostgreSQL when DATABASE_URL says so), a real
Redis (REDIS_URL, or an embedded server), the sandbox Telegram/Stripe, a simulated clock."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis
from sqlalchemy import func
from sqlalchemy import table as sa_table
from sqlmodel import SQLModel, select

from app.runtime import Runtime
from core.clock import SimulatedClock
from core.db import SessionFactory, create_engine, create_session_factory, upgrade_database
from core.redis import redis_url_for
from core.settings import Settings
from sandbox.databases import create_postgres_database, drop_postgres_database
from sandbox.harness import COACH_ID, Sandboxes
from sandbox.stripe import StripeSandbox
from sandbox.telegram import TelegramSandbox
from sandbox.zoom import ZoomSandbox
from tests.integration.processes import WorkerProcess
from tests.integration.world import World, open_world

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for the run: PostgreSQL if DATABASE_URL names one."""
    import asyncio

    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith("postgresql"):
        test_url = asyncio.run(create_postgres_database(configured, "between_test"))
        asyncio.run(upgrade_database(test_url))
        yield test_url
        asyncio.run(drop_postgres_database(test_url))
    else:
        path = tmp_path_factory.mktemp("db") / "between.db"
        test_url = f"sqlite+aiosqlite:///{path}"
        asyncio.run(upgrade_database(test_url))
        yield test_url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_URL when set (a database of its own for each pytest-xdist
    worker, since every test empties it), else one embedded for the run."""
    with redis_url_for(
        _per_worker(os.environ.get("REDIS_URL")), tmp_path_factory.mktemp("redis")
    ) as url:
        yield url


def _per_worker(redis_url: str | None) -> str | None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if not redis_url or worker == "gw0":
        return redis_url
    url = urlsplit(redis_url)
    database = int(url.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    return urlunsplit(url._replace(path=f"/{database}"))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on the test database, emptied before each test."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await connection.execute(table.delete())
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


# The sandbox Bot API's flood limits run this many times faster than Telegram's, so tests stay
# quick; the app's clock waits (a 429's retry_after) as much faster.
PACE = 20


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START, pace=PACE)


@pytest.fixture
async def telegram(
    clock: SimulatedClock, request: pytest.FixtureRequest
) -> AsyncIterator[TelegramSandbox]:
    """The sandbox Bot API, its flood limits PACE times Telegram's; with the `at_once` mark,
    updates of different chats delivered at once, as Telegram does (40 connections)."""
    connections = 40 if request.node.get_closest_marker("at_once") else 1
    sandbox = TelegramSandbox(rate_scale=PACE, now=clock.now, webhook_connections=connections)
    await sandbox.start()
    sandbox.add_user(COACH_ID, "Coach", username="coach")
    yield sandbox
    await sandbox.stop()


@pytest.fixture
async def stripe_sandbox(clock: SimulatedClock) -> AsyncIterator[StripeSandbox]:
    sandbox = StripeSandbox(now=clock.now)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
async def zoom_sandbox(clock: SimulatedClock) -> AsyncIterator[ZoomSandbox]:
    sandbox = ZoomSandbox(now=clock.now)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
def settings(
    database_url: str,
    redis_url: str,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
    zoom_sandbox: ZoomSandbox,
    tmp_path: Path,
) -> Settings:
    sandboxes = Sandboxes(telegram, stripe_sandbox, zoom_sandbox)
    return sandboxes.settings(database_url=database_url, redis_url=redis_url, data_dir=tmp_path)


@pytest.fixture
async def runtime(
    settings: Settings, sessions: SessionFactory, redis: Redis, clock: SimulatedClock
) -> AsyncIterator[Runtime]:
    """The app's shared clients, wired to the sandbox and the test database."""
    assert settings.redis_url is not None
    opened = await Runtime.open(settings, redis_url=settings.redis_url, clock=clock)
    yield opened
    await opened.close()


async def count(sessions: SessionFactory, name: str) -> int:
    async with sessions() as session:
        result = await session.exec(select(func.count()).select_from(sa_table(name)))
        return int(result.one())


async def feed(runtime: Runtime, update: dict[str, object]) -> None:
    """Hand one update (as the sandbox delivered it) to the dispatcher, as a webhook would."""
    await runtime.dispatcher.feed_raw_update(runtime.bot, update)


@pytest.fixture
async def world(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
) -> AsyncIterator[World]:
    """The whole app on the sandboxes, a group of 3 seats registered by the coach."""
    async for opened in open_world(settings, sessions, redis, clock, telegram, stripe_sandbox):
        yield opened


@pytest.fixture
async def worker(world: World) -> AsyncIterator[WorkerProcess]:
    """A `between worker` process on the world's settings, started by the test; killed at
    the end if it still runs."""
    with tempfile.TemporaryFile() as log:
        process = WorkerProcess(world.settings, log)
        yield process
        if process.process is not None and process.process.returncode is None:
            process.process.kill()
            await process.process.wait()
