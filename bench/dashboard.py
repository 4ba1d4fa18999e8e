"""The coach's dashboard for a big group: 200 members with a year of entries, one request.

    python -m bench.dashboard [--postgres URL]

`between web` runs as its own process; the group's history is written straight into the
database (sandbox.harness.seed_practice); the coach logs in with the link /dashboard sends and
loads the group's page. The page reports how many SQL statements it ran (its Server-Timing
header): the figure must not grow with the members. The same page is loaded for 20 members
too, to show that. Times are printed, never judged.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from sqlalchemy import func
from sqlmodel import select

from bench.harness import Latencies, Target, require, run_part, stage, table
from core.models import Entry
from sandbox.harness import COACH_ID, seed_practice

SIZES = (20, 200)
DAYS = 365
LOADS = 5


@dataclass(frozen=True)
class Render:
    database: str
    members: int
    entries: int
    statements: int
    latencies: Latencies
    kilobytes: float


async def render(target: Target, redis_url: str, members: int) -> Render:
    async with (
        target.database("bench_dashboard") as database_url,
        stage(database_url, redis_url, capacity=members) as app,
    ):
        await seed_practice(
            app.sessions, app.group, members=members, days=DAYS, now=datetime.now(UTC)
        )
        async with app.sessions() as session:
            entries = int((await session.exec(select(func.count()).select_from(Entry))).one())
        await app.telegram.user_sends(COACH_ID, text="/dashboard")
        answer = app.telegram.sent_by_bot(COACH_ID)[-1].text or ""
        found = re.search(r"/dashboard/login\?t=([\w-]+)", answer)
        assert found is not None
        token = found.group(1)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.post(
                f"{app.web_url}/dashboard/login", data={"t": token}, allow_redirects=False
            ) as login:
                require(login.status == 303, f"login answered {login.status}")
            times, statements, size = [], set(), 0
            for _ in range(LOADS):
                started = time.perf_counter()
                async with http.get(f"{app.web_url}/dashboard/groups/{app.group.id}") as page:
                    body = await page.read()
                    times.append(time.perf_counter() - started)
                    require(page.status == 200, f"the page answered {page.status}")
                    found = re.search(r'"(\d+) SQL statements"', page.headers["Server-Timing"])
                    assert found is not None
                    statements.add(int(found.group(1)))
                    size = len(body)
        require(len(statements) == 1, f"the statement count varied: {statements}")
        return Render(
            target.name, members, entries, statements.pop(), Latencies(times), size / 1024
        )


async def measure(targets: list[Target], redis_url: str) -> None:
    print("## 7. The coach's dashboard\n")
    results = [await render(target, redis_url, members) for target in targets for members in SIZES]
    print(
        table(
            [
                "database",
                "members",
                "entries",
                "SQL statements",
                "median ms",
                "slowest ms",
                "page KB",
            ],
            [
                [
                    r.database,
                    r.members,
                    r.entries,
                    r.statements,
                    r.latencies.median_ms,
                    1000 * max(r.latencies.seconds),
                    r.kilobytes,
                ]
                for r in results
            ],
        )
    )
    print()
    for target in targets:
        counts = {r.members: r.statements for r in results if r.database == target.name}
        same = len(set(counts.values())) == 1
        print(
            f"- {target.name}: {counts[SIZES[-1]]} statements for {SIZES[-1]} members, "
            f"{counts[SIZES[0]]} for {SIZES[0]} ({'bounded' if same else 'GROWS with members'})"
        )
        require(same, f"{target.name}: statements grow with members: {counts}")
    print()


if __name__ == "__main__":
    run_part(measure, __doc__.splitlines()[0])
