"""`between backup PATH`: a consistent copy of the database while the program runs."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The copy could not be made; the message says why in one line."""


async def backup_database(database_url: str, target: Path) -> Path:
    """SQLite: its online backup (consistent while others write). PostgreSQL: pg_dump."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        await asyncio.to_thread(_sqlite_backup, Path(url.database or ""), target)
        return target
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    process = await asyncio.create_subprocess_exec(
        "pg_dump",
        "--format=custom",
        "--no-owner",
        f"--file={target}",
        dsn,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        # pg_dump's message, without the connection string (it may hold a password).
        reason = err.decode(errors="replace").strip().splitlines()
        raise BackupError(f"pg_dump failed: {reason[-1] if reason else process.returncode}")
    return target


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"there is no SQLite database at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
