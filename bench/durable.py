"""The yardsticks for a durable check-in: bare aiogram with a handler that does only what a
check-in must do before it answers, on one database, each in the cheapest way that database
allows.

    python -m bench.durable --port 8081 --secret S --database URL --way group

What each does, per update: the update id claimed once, the member found, the entry inserted,
committed; then it answers. The ways:

- `commit`: SQLite (WAL, synchronous=NORMAL), one connection, a commit per update;
- `group`: SQLite, one connection, updates wait 3 ms and share a commit (group commit), no
  answer before its batch is committed;
- `core`: PostgreSQL through SQLAlchemy Core (asyncpg), three statements and a commit;
- `asyncpg`: PostgreSQL, the whole check-in as one asyncpg statement (its own transaction).

The database is Between's own, migrated, with the bench's members in it: the difference
between a yardstick and Between is what Between costs beyond durability.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import asyncpg
from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message, Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from sandbox.telegram import SANDBOX_BOT_TOKEN

WAYS = ("commit", "group", "core", "asyncpg")
BATCH_SECONDS = 0.003

CLAIM = (
    "INSERT INTO external_events (source, event_id, type, received_at, status, attempts) "
    "VALUES ('telegram', :event_id, 'message', :now, 'processed', 0) "
    "ON CONFLICT (source, event_id) DO NOTHING"
)
MEMBER = "SELECT id FROM members WHERE telegram_id = :telegram_id"
ENTRY = (
    "INSERT INTO entries (member_id, chat_id, message_id, kind, text, created_at) "
    "VALUES (:member_id, :chat_id, :message_id, 'text', :text, :now)"
)
ONE_STATEMENT = (
    "WITH claimed AS ("
    " INSERT INTO external_events (source, event_id, type, received_at, status, attempts)"
    " VALUES ('telegram', $1, 'message', $2, 'processed', 0)"
    " ON CONFLICT (source, event_id) DO NOTHING RETURNING id)"
    " INSERT INTO entries (member_id, chat_id, message_id, kind, text, created_at)"
    " SELECT m.id, $4, $5, 'text', $6, $2 FROM members m, claimed WHERE m.telegram_id = $3"
)

CheckIn = Callable[[Update, Message], Awaitable[None]]


def _positional(statement: str) -> str:
    """The named parameters above as sqlite3's `?` (values passed in order)."""
    for name in (":event_id", ":now", ":telegram_id", ":member_id", ":chat_id"):
        statement = statement.replace(name, "?")
    return statement.replace(":message_id", "?").replace(":text", "?")


class SQLiteWriter:
    """One connection; with `group`, updates wait a few ms and share a commit."""

    def __init__(self, path: str, *, group: bool) -> None:
        self._path = path
        self._group = group
        self._connection: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._queue: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._connection = await aiosqlite.connect(self._path, isolation_level=None)
        await self._connection.execute("PRAGMA journal_mode=WAL")
        await self._connection.execute("PRAGMA synchronous=NORMAL")
        if self._group:
            self._task = asyncio.create_task(self._batches())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        if self._connection:
            await self._connection.close()

    async def check_in(self, update: Update, message: Message) -> None:
        values = _values(update, message)
        if not self._group:
            async with self._lock:
                await self._write([values])
            return
        done = asyncio.get_running_loop().create_future()
        self._queue.append((values, done))
        self._wake.set()
        await done

    async def _batches(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(BATCH_SECONDS)
            self._wake.clear()
            batch, self._queue = self._queue, []
            try:
                await self._write([values for values, _ in batch])
            except Exception as error:  # every update of a failed batch fails
                for _, done in batch:
                    done.set_exception(error)
                continue
            for _, done in batch:
                done.set_result(None)

    async def _write(self, batch: list[tuple[Any, ...]]) -> None:
        connection = self._connection
        assert connection is not None
        await connection.execute("BEGIN IMMEDIATE")
        try:
            for event_id, now, telegram_id, chat_id, message_id, words in batch:
                claimed = await connection.execute(_positional(CLAIM), (event_id, now))
                if not claimed.rowcount:
                    continue
                found = await connection.execute(_positional(MEMBER), (telegram_id,))
                row = await found.fetchone()
                if row is None:
                    continue
                await connection.execute(
                    _positional(ENTRY), (row[0], chat_id, message_id, words, now)
                )
            await connection.execute("COMMIT")
        except BaseException:
            await connection.execute("ROLLBACK")
            raise


def _values(update: Update, message: Message) -> tuple[Any, ...]:
    assert message.from_user is not None
    now = datetime.now(UTC)
    return (
        str(update.update_id),
        now.strftime("%Y-%m-%d %H:%M:%S.%f"),
        message.from_user.id,
        message.chat.id,
        message.message_id,
        message.text,
    )


async def build(way: str, database_url: str) -> tuple[CheckIn, Callable[[], Awaitable[None]]]:
    """The check-in for `way`, and how to close what it opened."""
    url = make_url(database_url)
    if way in ("commit", "group"):
        writer = SQLiteWriter(str(url.database), group=way == "group")
        await writer.open()
        return writer.check_in, writer.close
    if way == "core":
        engine = create_async_engine(url, pool_size=10, max_overflow=20)
        claim, member, entry = text(CLAIM), text(MEMBER), text(ENTRY)

        async def core(update: Update, message: Message) -> None:
            assert message.from_user is not None
            now = datetime.now(UTC)
            async with engine.begin() as connection:
                claimed = await connection.execute(
                    claim, {"event_id": str(update.update_id), "now": now}
                )
                if not claimed.rowcount:
                    return
                found = (
                    await connection.execute(member, {"telegram_id": message.from_user.id})
                ).scalar()
                if found is None:
                    return
                await connection.execute(
                    entry,
                    {
                        "member_id": found,
                        "chat_id": message.chat.id,
                        "message_id": message.message_id,
                        "text": message.text,
                        "now": now,
                    },
                )

        return core, engine.dispose
    pool = await asyncpg.create_pool(
        url.set(drivername="postgresql").render_as_string(hide_password=False),
        min_size=10,
        max_size=30,
    )

    async def one_statement(update: Update, message: Message) -> None:
        assert message.from_user is not None
        await pool.execute(
            ONE_STATEMENT,
            str(update.update_id),
            datetime.now(UTC),
            message.from_user.id,
            message.chat.id,
            message.message_id,
            message.text,
        )

    return one_statement, pool.close


def create_app(secret: str, check_in: CheckIn) -> web.Application:
    router = Router()

    async def handle(message: Message, event_update: Update) -> None:
        await check_in(event_update, message)

    router.message.register(handle)
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(
        dispatcher, Bot(SANDBOX_BOT_TOKEN), handle_in_background=False, secret_token=secret
    ).register(app, path="/telegram/webhook")

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/healthz", healthy)
    return app


async def serve(port: int, secret: str, database_url: str, way: str) -> None:
    check_in, close = await build(way, database_url)
    runner = web.AppRunner(create_app(secret, check_in), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--way", choices=WAYS, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.secret, args.database, args.way))


if __name__ == "__main__":
    main()
