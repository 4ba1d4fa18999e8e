"""Throwaway databases for tests and benchmarks: a SQLite file, or a database made on a
PostgreSQL server and dropped afterwards."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from core.db import upgrade_database


async def create_postgres_database(server_url: str, prefix: str) -> str:
    """A new, empty database on the server of `server_url`; returns its URL (same driver)."""
    url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(database_url: str) -> None:
    name = make_url(database_url).database
    await _admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def scratch_database(postgres_url: str | None, prefix: str) -> AsyncIterator[str]:
    """A migrated database for the block: on PostgreSQL when a server URL is given."""
    if postgres_url is None:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / f'{prefix}.db'}"
            await upgrade_database(url)
            yield url
        return
    url = await create_postgres_database(postgres_url, prefix)
    try:
        await upgrade_database(url)
        yield url
    finally:
        await drop_postgres_database(url)


async def _admin(server_url: str, statement: str) -> None:
    admin = (
        make_url(server_url)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
