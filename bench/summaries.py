"""Weekly summaries at scale: time per member to gather, count and render a week.

    python -m bench.summaries                      # SQLite, 100 and 1,000 members
    python -m bench.summaries --postgres postgresql+asyncpg://postgres@127.0.0.1/postgres

Each member has 200 entries in the measured week (and a few the week before). Prints a table:
members, database, seconds in all, milliseconds per member. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from core.db import create_engine, create_session_factory, upgrade_database
from core.models import Entry, EntryKind, Group, Member, Seat, SeatStatus
from prompts.library import load_library
from prompts.render import Templates
from scheduling.summaries import figures_for, render_summary

WEEK = date(2026, 11, 16)
ENTRIES = 200
TEXTS = [
    "Named it: anxious before the meeting at work.",
    "Felt lonely tonight but I stayed with it.",
    "#win said no to my boss without explaining",
    "My mum called and I felt that old guilt, then calm.",
    "Slept badly. Tired and a bit hopeless, but here.",
]
KINDS = (
    [EntryKind.TEXT] * 12
    + [EntryKind.VOICE] * 4
    + [EntryKind.WIN, EntryKind.FEELING, EntryKind.NEXT_STEP]
)


@dataclass(frozen=True)
class Result:
    database: str
    members: int
    seconds: float

    @property
    def per_member_ms(self) -> float:
        return 1000 * self.seconds / self.members


async def seed(database_url: str, members: int) -> None:
    """One group, `members` seated members, ENTRIES entries each across the week."""
    engine = create_engine(database_url)
    rng = random.Random(7)
    start = datetime(2026, 11, 16, tzinfo=UTC)
    async with engine.begin() as connection:
        await connection.execute(
            Group.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "id": 1,
                    "chat_id": -100,
                    "title": "Bench",
                    "capacity": members,
                    "timezone": "UTC",
                    "prompt_time": "09:00",
                    "prompt_days": "mon,tue,wed,thu,fri,sat,sun",
                    "bot_can_invite": True,
                    "bot_can_restrict": True,
                    "created_at": start,
                    "reply_days": "sun,mon,tue,wed,thu",
                    "reply_by": "20:00",
                    "digest_time": "08:00",
                    "quiet_days": 4,
                    "qa_weekday": 2,
                    "qa_time": "18:00",
                    "qa_minutes": 60,
                    "summary_weekday": 6,
                    "summary_time": "18:00",
                    "summary_needs_approval": False,
                }
            ],
        )
        await connection.execute(
            Member.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "id": i,
                    "telegram_id": 10_000 + i,
                    "first_name": f"M{i}",
                    "created_at": start,
                    "checkins_paused": False,
                }
                for i in range(1, members + 1)
            ],
        )
        await connection.execute(
            Seat.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "member_id": i,
                    "group_id": 1,
                    "status": SeatStatus.ACTIVE,
                    "cancel_at_period_end": False,
                    "created_at": start,
                    "updated_at": start,
                }
                for i in range(1, members + 1)
            ],
        )
        rows = []
        message_id = 0
        for member in range(1, members + 1):
            for n in range(ENTRIES + 5):
                message_id += 1
                kind = rng.choice(KINDS)
                when = start + timedelta(seconds=rng.randrange(7 * 86400))
                if n >= ENTRIES:  # a few the week before, for the comparison
                    when -= timedelta(days=7)
                rows.append(
                    {
                        "member_id": member,
                        "group_id": 1,
                        "chat_id": -100,
                        "message_id": message_id,
                        "kind": kind,
                        "text": None if kind == EntryKind.VOICE else rng.choice(TEXTS),
                        "duration_seconds": rng.randrange(10, 120)
                        if kind == EntryKind.VOICE
                        else None,
                        "prompt_id": None,
                        "created_at": when,
                    }
                )
                if len(rows) == 5000:
                    await connection.execute(Entry.__table__.insert(), rows)  # type: ignore[attr-defined]
                    rows = []
        if rows:
            await connection.execute(Entry.__table__.insert(), rows)  # type: ignore[attr-defined]
    await engine.dispose()


async def measure(database_url: str, label: str, members: int) -> Result:
    library, templates = load_library(), Templates()
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        group = await session.get(Group, 1)
        assert group is not None
        people = [await session.get(Member, i) for i in range(1, members + 1)]
        started = time.perf_counter()
        for member in people:
            assert member is not None
            figures = await figures_for(session, member, group, WEEK, library)
            render_summary(templates, member, group, WEEK, figures)
        seconds = time.perf_counter() - started
    await engine.dispose()
    return Result(label, members, seconds)


async def on_sqlite(members: int) -> Result:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        await upgrade_database(url)
        await seed(url, members)
        return await measure(url, "SQLite", members)


async def on_postgres(server_url: str, members: int) -> Result:
    url = make_url(server_url)
    name = f"between_bench_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    test_url = url.set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_database(test_url)
        await seed(test_url, members)
        return await measure(test_url, "PostgreSQL", members)
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--postgres", help="a PostgreSQL server URL (a database is made and dropped)"
    )
    args = parser.parse_args()
    results = []
    for members in args.members:
        results.append(await on_sqlite(members))
        if args.postgres:
            results.append(await on_postgres(args.postgres, members))
    print(f"{'database':<11} {'members':>8} {'entries':>9} {'seconds':>8} {'ms/member':>10}")
    for result in results:
        print(
            f"{result.database:<11} {result.members:>8} {result.members * ENTRIES:>9} "
            f"{result.seconds:>8.2f} {result.per_member_ms:>10.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
