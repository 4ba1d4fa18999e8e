"""Weekly summaries at scale: time per member to gather, count and render a week.

    python -m bench.summaries [--postgres URL]

100, 1,000 and 5,000 members, each with 200 entries in the measured week (and a few the week
before). Prints seconds in all, milliseconds per member, and how that grows.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bench.harness import Target, run_part, table
from core.db import create_engine, create_session_factory
from core.models import Entry, EntryKind, Group, Member, Seat, SeatStatus
from practice.words import Vocabulary
from prompts.loader import load_library
from prompts.render import Templates
from scheduling.summaries import figures_for, render_summary

WEEK = date(2026, 11, 16)
ENTRIES = 200
MEMBERS = (100, 1000, 5000)
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


async def time_summaries(database_url: str, label: str, members: int) -> Result:
    vocabulary, templates = Vocabulary(load_library()), Templates()
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        group = await session.get(Group, 1)
        assert group is not None
        people = [await session.get(Member, i) for i in range(1, members + 1)]
        started = time.perf_counter()
        for member in people:
            assert member is not None
            figures = await figures_for(session, member, group, WEEK, vocabulary)
            render_summary(templates, member, group, WEEK, figures)
        seconds = time.perf_counter() - started
    await engine.dispose()
    return Result(label, members, seconds)


async def measure_on(target: Target, members: int) -> Result:
    async with target.database("bench_summaries") as database_url:
        await seed(database_url, members)
        return await time_summaries(database_url, target.name, members)


async def measure(targets: list[Target], redis_url: str) -> None:
    print("## 5. Weekly summaries\n")
    results = [await measure_on(target, n) for n in MEMBERS for target in targets]
    smallest = {r.database: r.per_member_ms for r in results if r.members == MEMBERS[0]}
    print(
        table(
            ["database", "members", "entries", "seconds", "ms per member", f"vs {MEMBERS[0]}"],
            [
                [
                    r.database,
                    r.members,
                    r.members * ENTRIES,
                    r.seconds,
                    r.per_member_ms,
                    f"{r.per_member_ms / smallest[r.database]:.2f}×",
                ]
                for r in results
            ],
        )
    )
    print()


if __name__ == "__main__":
    run_part(measure, __doc__.splitlines()[0])
