"""The database: engine and sessions, the embedded SQLite default, small portable helpers."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, bindparam, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

SessionFactory = async_sessionmaker[AsyncSession]

log = logging.getLogger(__name__)

Afterwards = list[Callable[[], Awaitable[None]]]
# The calls to other services that an update's handler decided on, made once its transaction
# has committed (bot.middlewares sets it around a handler): none is made inside it.
_afterwards: ContextVar[Afterwards | None] = ContextVar("afterwards", default=None)


def after_commit(call: Callable[[], Awaitable[None]]) -> bool:
    """Make `call` once the running handler's transaction has committed; False when no
    handler runs (the caller then makes it itself, outside its own transaction)."""
    pending = _afterwards.get()
    if pending is None:
        return False
    pending.append(call)
    return True


@contextlib.contextmanager
def collecting_afterwards() -> Iterator[Afterwards]:
    """What `after_commit` is given within the block, to be made by `make_afterwards`."""
    pending: Afterwards = []
    token = _afterwards.set(pending)
    try:
        yield pending
    finally:
        _afterwards.reset(token)


async def make_afterwards(pending: Afterwards) -> None:
    """Each in turn; one that fails is a log line (its owner finds it again: the nightly
    reconcile cancels what Stripe still charges for an ended seat)."""
    for call in pending:
        try:
            await call()
        except Exception:
            log.exception("a call after the commit failed")


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
        # No pre-ping: it cost every update a round trip. A connection the database dropped
        # fails its first statement; SQLAlchemy then discards every pooled connection older
        # than the failure, and the update (or the loop's pass) fails once and comes again.
        return create_async_engine(url, pool_size=10, max_overflow=20, hide_parameters=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: a failing statement must not print a member's words into the log.
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30, "factory": _SQLiteConnection},
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "connect", _tune_sqlite)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


class _SQLiteConnection(sqlite3.Connection):
    """Ends its transaction before it closes.

    SQLAlchemy closes a connection whose task was cancelled during a statement. A statement
    of that connection's still open (its cursor kept alive by the cancelled task's traceback)
    makes sqlite3's close leave the connection open as a zombie: its transaction, and the
    write lock with it, would be held until the cursor is freed, and every writer waited."""

    def close(self) -> None:
        if self.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.rollback()
        super().close()


def _tune_sqlite(connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer writes; busy_timeout makes writers queue instead
    # of failing at once. The driver's own BEGIN is switched off for _begin_immediate's.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs the log at checkpoints, not at every commit: a commit survives
    # the process crashing or being killed; a power cut may lose the last few commits (the
    # database stays intact). FULL's sync per commit cost a check-in more than all its
    # statements together.
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


async def insert_if_new(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any], unique: list[str]
) -> bool:
    """Insert a row unless one with the same unique columns exists; tell whether it was new.

    Runs on the session's connection, Core's path rather than the ORM's (the session's
    pending changes are flushed first, as the ORM would). A statement whose values are all
    plain is built once per table and set of columns, its values passed as parameters."""
    await session.flush()
    connection = await session.connection()
    dialect = connection.dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__  # type: ignore[attr-defined]
    if any(isinstance(value, ClauseElement) for value in values.values()):
        statement = builder(table).values(**values).on_conflict_do_nothing(index_elements=unique)
        return bool((await connection.execute(statement)).rowcount)
    key = (table.name, dialect, tuple(values), tuple(unique))
    cached = _INSERTS.get(key)
    if cached is None:
        cached = _INSERTS[key] = (
            builder(table)
            .values({name: bindparam(name) for name in values})
            .on_conflict_do_nothing(index_elements=unique)
        )
    return bool((await connection.execute(cached, values)).rowcount)


_INSERTS: dict[tuple[Any, ...], Any] = {}


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
