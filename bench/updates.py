"""Update handling: members' group check-ins POSTed to /telegram/webhook, against bare aiogram.

    python -m bench.updates [--postgres URL]

Between runs as `between web` (aiohttp, aiogram, the middlewares, one database write per
update); the yardstick is `bench.bare`, an empty handler behind the same request handler.
Each is its own process; this one sends. Two loads each: flat out over 40 connections
(Telegram's default max_connections), and a steady 200 updates/s.
"""

from __future__ import annotations

import json
import random
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
from core.models import Entry

CONNECTIONS = 40
FLAT_OUT = 3000
PACED_RATE = 200
PACED = 2000  # ten seconds at 200/s
WARM_UP = 200
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
    """Group text messages from seated members, each with a new update id."""

    def __init__(self, members: list[int]) -> None:
        self._members = members
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
                "chat": {"id": GROUP_CHAT, "type": "supergroup", "title": "Between circle"},
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
    return Measured("bare aiogram", target.name, flat_out, paced)


async def measure(targets: list[Target], redis_url: str) -> None:
    print("## 1. Update handling\n")
    results: list[Measured] = []
    for target in targets:
        results.append(await measure_bare(target))
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
    for bare, between in zip(results[::2], results[1::2], strict=True):
        ratio = between.flat_out.per_second / bare.flat_out.per_second
        p99 = between.paced.latencies.p99_ms
        print(
            f"- {between.database}: Between handles {ratio:.2f}× the bare framework's "
            f"throughput (aim ≥ 0.50: {'met' if ratio >= 0.5 else 'missed'}); p99 at "
            f"{PACED_RATE}/s is {p99:.1f} ms (aim < 50: {'met' if p99 < 50 else 'missed'})"
        )
    print()


if __name__ == "__main__":
    run_part(measure, __doc__.splitlines()[0])
