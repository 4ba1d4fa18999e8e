"""Update handling: members' group check-ins POSTed to /telegram/webhook, against bare aiogram.

    python -m bench.updates [--postgres URL]

Between runs as `between web` (aiohttp, aiogram, the middlewares, one database write per
update). The yardsticks, in the same run: `bench.bare`, an empty handler behind the same
request handler, and on each database the minimal durable handlers of `bench.durable` (the
update id claimed once, the member found, the entry inserted, committed). Each is its own
process; this one sends. Two loads each: flat out over 40 connections (Telegram's default
max_connections), and a steady 200 updates/s. BENCH_ROUNDS=3 interleaves three rounds.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import select

from bench.harness import (
    GROUP_CHAT,
    STARTED_AT,
    TELEGRAM_SECRET,
    Load,
    Request,
    Target,
    free_port,
    post_flat_out,
    post_paced,
    require,
    run_part,
    seat_members,
    serving,
    stage,
    table,
)
from core.db import create_engine, create_session_factory
from core.groups import register_group
from core.models import Entry

CONNECTIONS = 40
FLAT_OUT = int(os.environ.get("BENCH_FLAT_OUT", "3000"))
PACED_RATE = 200
PACED = int(os.environ.get("BENCH_PACED", "2000"))  # ten seconds at 200/s
WARM_UP = 200
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
CHECK_INS = [
    "Named it today: anxious before the team meeting, and I breathed through it.",
    "Felt the old guilt when my mum called. Noticed it, didn't act on it.",
    "Small win: I said no without a long explanation.",
    "Tired and a bit flat this morning, but I'm here.",
    "Used the grounding tool on the bus. Five things I could see. It helped.",
]


@dataclass(frozen=True)
class Measured:
    app: str
    database: str
    flat_out: Load
    paced: Load


class Updates:
    """Group text messages from seated members (or private ones), each with a new update id."""

    def __init__(self, members: list[int], *, private: bool = False) -> None:
        self._members = members
        self._private = private  # each member writing to the bot instead (a private check-in)
        self._random = random.Random(8)
        self._next_id = 1

    def take(self, count: int) -> list[Request]:
        return [self._one() for _ in range(count)]

    def _one(self) -> Request:
        number = self._next_id
        self._next_id += 1
        sender = self._random.choice(self._members)
        update = {
            "update_id": number,
            "message": {
                "message_id": number,
                "date": int(STARTED_AT.timestamp()) + number,
                "chat": (
                    {"id": sender, "type": "private", "first_name": f"Member {sender}"}
                    if self._private
                    else {"id": GROUP_CHAT, "type": "supergroup", "title": "Between circle"}
                ),
                "from": {"id": sender, "is_bot": False, "first_name": f"Member {sender}"},
                "text": self._random.choice(CHECK_INS),
            },
        }
        return Request(
            json.dumps(update).encode(),
            {
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            },
        )


async def load(url: str, updates: Updates) -> tuple[Load, Load]:
    await post_flat_out(url, updates.take(WARM_UP), CONNECTIONS)
    flat_out = await post_flat_out(url, updates.take(FLAT_OUT), CONNECTIONS)
    paced = await post_paced(url, updates.take(PACED), PACED_RATE)
    return flat_out, paced


async def measure_between(target: Target, redis_url: str) -> Measured:
    async with (
        target.database("bench_updates") as database_url,
        stage(database_url, redis_url, capacity=50) as app,
    ):
        updates = Updates(await seat_members(app.sessions, app.group, 50))
        flat_out, paced = await load(f"{app.web_url}/telegram/webhook", updates)
        async with app.sessions() as session:
            kept = (await session.exec(select(func.count()).select_from(Entry))).one()
        sent = WARM_UP + FLAT_OUT + PACED
        require(kept == sent, f"{sent} check-ins sent, {kept} kept")
    return Measured("Between", target.name, flat_out, paced)


async def measure_bare(target: Target) -> Measured:
    port = free_port()
    command = [sys.executable, "-m", "bench.bare", "--port", str(port)]
    async with serving([*command, "--secret", TELEGRAM_SECRET], port, {}):
        flat_out, paced = await load(f"http://127.0.0.1:{port}/telegram/webhook", Updates([7]))
    return Measured("bare aiogram, empty handler", target.name, flat_out, paced)


# The minimal durable handlers (bench.durable) that run on each database.
YARDSTICKS = {
    "SQLite": {
        "commit": "minimal durable, commit per update",
        "group": "minimal durable, group commit (3 ms)",
    },
    "PostgreSQL": {
        "core": "minimal durable, SQLAlchemy Core",
        "asyncpg": "minimal durable, one asyncpg statement",
    },
}


async def measure_yardstick(target: Target, way: str) -> Measured:
    """A minimal durable handler on a database of its own, seated like Between's."""
    async with target.database(f"bench_{way}") as database_url:
        engine = create_engine(database_url)
        sessions = create_session_factory(engine)
        try:
            async with sessions() as session:
                group = await register_group(
                    session, chat_id=GROUP_CHAT, title="Between circle", now=STARTED_AT
                )
                await session.commit()
            updates = Updates(await seat_members(sessions, group, 50))
            port = free_port()
            command = [sys.executable, "-m", "bench.durable", "--port", str(port)]
            options = ["--secret", TELEGRAM_SECRET, "--database", database_url, "--way", way]
            async with serving([*command, *options], port, {}):
                flat_out, paced = await load(f"http://127.0.0.1:{port}/telegram/webhook", updates)
            async with sessions() as session:
                kept = (await session.exec(select(func.count()).select_from(Entry))).one()
        finally:
            await engine.dispose()
    sent = WARM_UP + FLAT_OUT + PACED
    require(kept == sent, f"{way}: {sent} check-ins sent, {kept} kept")
    return Measured(YARDSTICKS[target.name][way], target.name, flat_out, paced)


async def measure(targets: list[Target], redis_url: str) -> None:
    print("## 1. Update handling\n")
    print(
        f"Each app its own process, one after the other, {ROUNDS} round(s) interleaved; "
        f"{FLAT_OUT} updates over {CONNECTIONS} connections flat out, then {PACED} at "
        f"{PACED_RATE}/s (latency from each request's scheduled send).\n"
    )
    results: list[Measured] = []
    for _ in range(ROUNDS):
        for target in targets:
            results.append(await measure_bare(target))
            for way in YARDSTICKS[target.name]:
                results.append(await measure_yardstick(target, way))
            results.append(await measure_between(target, redis_url))
    print(
        table(
            [
                "app",
                "database",
                "updates/s",
                "median ms",
                "p99 ms",
                f"median ms at {PACED_RATE}/s",
                f"p99 ms at {PACED_RATE}/s",
                "errors",
            ],
            [
                [
                    r.app,
                    r.database,
                    r.flat_out.per_second,
                    r.flat_out.latencies.median_ms,
                    r.flat_out.latencies.p99_ms,
                    r.paced.latencies.median_ms,
                    r.paced.latencies.p99_ms,
                    r.flat_out.failed + r.paced.failed,
                ]
                for r in results
            ],
        )
    )
    print()
    for target in targets:
        mine = [r for r in results if r.database == target.name]
        yardsticks = [r for r in mine if r.app in YARDSTICKS[target.name].values()]
        between = [r for r in mine if r.app == "Between"]
        best = max(yardsticks, key=lambda r: r.flat_out.per_second)
        rate = statistics.median(r.flat_out.per_second for r in between)
        ratio = rate / best.flat_out.per_second
        p99 = max(r.paced.latencies.p99_ms for r in between)
        print(
            f"- {target.name}: Between handles {rate:,.0f} updates/s, {ratio:.2f}× the best "
            f"minimal durable handler ({best.app}, {best.flat_out.per_second:,.0f}/s; aim ≥ "
            f"0.50: {'met' if ratio >= 0.5 else 'missed'}); p99 at {PACED_RATE}/s is "
            f"{p99:.1f} ms (aim < 50: {'met' if p99 < 50 else 'missed'})"
        )
    print()


if __name__ == "__main__":
    run_part(measure, __doc__.splitlines()[0])
