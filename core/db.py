"""The database: engine and sessions, the embedded SQLite default, small portable helpers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

SessionFactory = async_sessionmaker[AsyncSession]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; SQLite, which keeps no zone, gives it back aware too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} would be stored without its zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create_engine(database_url: str) -> AsyncEngine:
    """An engine for SQLite (the embedded default) or PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
        )
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: a failing statement must not print a member's words into the log.
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
    event.listen(engine.sync_engine, "connect", _tune_sqlite)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def _tune_sqlite(connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer writes; busy_timeout makes writers queue instead
    # of failing at once. The driver's own BEGIN is switched off for _begin_immediate's.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives the
    # process crashing; a power cut may lose the last few (the database stays intact).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # A deferred transaction that reads and then writes fails at once ("database is locked")
    # when another writer got in between; taking the write lock at BEGIN makes writers queue,
    # and makes read-count-then-insert (holding a seat) safe.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


# --- one update's work: a unit, committed before any network call -----------------------------


class Unit:
    """One update's database work in its own session, its commit awaited before the answer.

    A network call made inside it (`outside_transaction`) first commits what was done so far
    and waits until that is durable: no transaction, and on SQLite no write lock, is held
    while another service answers. Later statements run in a new transaction.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Something of this unit was committed before it finished (a network call came).
        self.committed_early = False

    async def pause(self) -> None:
        """Commit what was done so far, durably; the network may be used now."""
        await self.session.commit()
        self.committed_early = True

    async def resume(self) -> None:
        """The network call is over (or failed): the session may be used again."""

    async def finish(self) -> None:
        """Commit; return once the commit is durable."""
        await self.session.commit()


class Units:
    """Units on the session factory: a session, so a connection and a commit, per update."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        async with self._sessions() as session:
            unit = Unit(session)
            token = CURRENT_UNIT.set(unit)
            try:
                yield unit
            finally:
                CURRENT_UNIT.reset(token)

    async def close(self) -> None:
        """Nothing of its own to close."""


class _SharedUnit(Unit):
    """A unit of a group commit: its session is a savepoint in the writer's transaction,
    used only while the unit holds the writer."""

    def __init__(self, writer: GroupCommit, session: AsyncSession) -> None:
        super().__init__(session)
        self._writer = writer
        self.batch: asyncio.Future[None] | None = None
        self.holding = False

    async def pause(self) -> None:
        await self.resume()
        await self.session.commit()  # releases the savepoint
        self.committed_early = True
        await self._writer.release(self)
        await self.durable()

    async def resume(self) -> None:
        if not self.holding:
            await self._writer.hold(self)

    async def finish(self) -> None:
        await self.resume()
        await self.session.commit()
        await self._writer.release(self)
        await self.durable()

    async def durable(self) -> None:
        if self.batch is not None:
            await asyncio.shield(self.batch)


class GroupCommit:
    """SQLite's writer: one connection, one update at a time on it, and updates that come
    together share one commit (a batch closes when nobody is waiting, or after `window`).

    Each update runs in a savepoint of the open transaction, so a failing update is rolled
    back alone; nobody is answered before the commit that holds their update. Waiting on an
    asyncio lock, not on SQLite's busy timeout (which sleeps in steps of up to 100 ms), is
    also what keeps latency low when many write at once.
    """

    def __init__(self, engine: AsyncEngine, *, window: float = 0.005) -> None:
        self._engine = engine
        self._window = window
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._connection: AsyncConnection | None = None
        self._batch: asyncio.Future[None] | None = None
        self._opened = 0.0

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        unit = _SharedUnit(self, AsyncSession(expire_on_commit=False))
        await self.hold(unit)
        token = CURRENT_UNIT.set(unit)
        try:
            yield unit
        finally:
            CURRENT_UNIT.reset(token)
            if unit.holding:  # it failed: its savepoint is rolled back, the batch goes on
                try:
                    await unit.session.rollback()
                finally:
                    await self.release(unit)

    async def hold(self, unit: _SharedUnit) -> None:
        """Take the writer for `unit`, in a transaction (a new batch if none is open)."""
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            if self._connection is None:
                self._connection = await self._engine.connect()
            if not self._connection.in_transaction():
                await self._connection.begin()
                self._batch = asyncio.get_running_loop().create_future()
                self._opened = time.monotonic()
        except BaseException:
            self._lock.release()
            raise
        # The session joins the open transaction with a savepoint of its own.
        unit.session.sync_session.bind = self._connection.sync_connection
        unit.session.sync_session.join_transaction_mode = "create_savepoint"
        unit.batch = self._batch
        unit.holding = True

    async def release(self, unit: _SharedUnit) -> None:
        """Give the writer back; commit the batch unless others are waiting to join it."""
        unit.holding = False
        try:
            if self._waiting == 0 or time.monotonic() - self._opened >= self._window:
                await self._commit()
        finally:
            self._lock.release()

    async def _commit(self) -> None:
        connection, batch = self._connection, self._batch
        assert connection is not None and batch is not None
        self._batch = None
        try:
            await connection.commit()
        except Exception as error:
            self._connection = None
            with contextlib.suppress(Exception):
                await connection.close()
            batch.set_exception(error)
            batch.exception()  # a unit no longer waiting must not leave it unretrieved
            raise
        batch.set_result(None)

    async def close(self) -> None:
        async with self._lock:
            if self._connection is not None:
                if self._connection.in_transaction():
                    await self._commit()
                await self._connection.close()
                self._connection = None


CURRENT_UNIT: ContextVar[Unit | None] = ContextVar("current_unit", default=None)


@contextlib.asynccontextmanager
async def outside_transaction() -> AsyncIterator[None]:
    """Around a network call: the update's work so far is committed first (and the writer
    given back), the call made with no transaction open, and the update goes on after."""
    unit = CURRENT_UNIT.get()
    if unit is None:
        yield
        return
    CURRENT_UNIT.set(None)  # a call made by this call needs nothing more
    await unit.pause()
    try:
        yield
    finally:
        await unit.resume()
        CURRENT_UNIT.set(unit)


def update_units(engine: AsyncEngine, sessions: SessionFactory) -> Units | GroupCommit:
    """How updates get their session: a group commit on SQLite, else a session each."""
    if engine.dialect.name == "sqlite":
        return GroupCommit(engine)
    return Units(sessions)


async def insert_if_new(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any], unique: list[str]
) -> bool:
    """Insert a row unless one with the same unique columns exists; tell whether it was new."""
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = builder(table).values(**values).on_conflict_do_nothing(index_elements=unique)
    result = await session.exec(statement)
    return bool(result.rowcount)


async def upgrade_database(database_url: str) -> None:
    """Run every Alembic migration up to head (`between db upgrade`)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_with)
    finally:
        await engine.dispose()


def _upgrade_with(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class SchemaError(RuntimeError):
    """The database is not at the schema this code needs."""


async def check_schema_current(database_url: str) -> None:
    """Refuse to start on a database whose migrations are behind the code's."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    import migrations

    head = ScriptDirectory(str(Path(migrations.__file__).parent)).get_current_head()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
    if current != head:
        raise SchemaError(
            f"the database is at migration {current or 'none'}, the code needs {head}: "
            "run `between db upgrade`"
        )
