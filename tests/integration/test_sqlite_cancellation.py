"""A task cancelled in the middle of a statement leaves no SQLite write lock behind.

SQLAlchemy closes such a connection. Its statement's cursor, kept alive by the cancelled
task's traceback, once made sqlite3's close leave the connection open with its transaction:
every writer of the process then waited for a lock nobody would give back (the worker's
sweep after a stop that cut jobs short, an outbox sender stopped and started again).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from core.db import create_engine, create_session_factory


async def test_a_task_cancelled_mid_statement_gives_the_write_lock_back(tmp_path: Path) -> None:
    path = tmp_path / "between.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    started, release = threading.Event(), threading.Event()

    def held() -> int:  # a statement that runs until the test lets it go
        started.set()
        release.wait(10)
        return 1

    @event.listens_for(engine.sync_engine, "connect")
    def _add_held(connection: Any, _record: Any) -> None:
        connection.create_function("held", 0, held)

    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (body TEXT)"))

        async def write_then_read() -> None:
            async with create_session_factory(engine)() as session:
                connection = await session.connection()
                await connection.execute(text("INSERT INTO notes VALUES ('mine')"))
                # Two rows: the statement is left part-way through, its cursor still open.
                await connection.execute(text("SELECT held() UNION ALL SELECT held()"))

        task = asyncio.create_task(write_then_read())
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        release.set()
        outcome = await asyncio.gather(task, return_exceptions=True)  # the traceback is kept
        assert isinstance(outcome[0], asyncio.CancelledError)

        other = sqlite3.connect(path, timeout=2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" when the lock was kept
            assert other.execute("SELECT count(*) FROM notes").fetchone() == (0,)
            other.execute("ROLLBACK")
        finally:
            other.close()
    finally:
        await engine.dispose()
