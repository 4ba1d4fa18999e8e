"""The seat race: 200 people ask to join at the same moment for 5 free seats.

    python -m bench.seats [--postgres URL]

Each person has said /join and been shown the not-for-crisis note; all 200 then press
"I understand" together, which is when a seat is held (and Checkout opened) or a waitlist
place given. The sandbox delivers the 200 updates to `between web` at once, as Telegram does
with max_connections=200. Counted afterwards: seats held, waitlist places, what people read.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from bench.harness import Latencies, Target, require, run_part, stage, table
from core.models import Seat, SeatStatus, WaitlistEntry
from prompts.buttons import AcceptNote
from sandbox.telegram import TelegramSandbox

PEOPLE = 200
SEATS = 5
FIRST_ID = 30_001


@dataclass(frozen=True)
class Race:
    database: str
    seconds: float
    latencies: Latencies
    held: int
    waitlisted: int
    told_held: int
    told_waitlist: int


async def race(target: Target, redis_url: str) -> Race:
    people = range(FIRST_ID, FIRST_ID + PEOPLE)
    async with (
        target.database("bench_seats") as database_url,
        stage(database_url, redis_url, capacity=SEATS, webhook_connections=PEOPLE) as app,
    ):
        for user_id in people:
            app.telegram.add_user(user_id, f"Person {user_id}")
        await asyncio.gather(*(app.telegram.user_sends(uid, text="/join") for uid in people))
        notes = {uid: app.telegram.sent_by_bot(uid)[-1] for uid in people}

        async def accept(user_id: int) -> float:
            pressed = time.perf_counter()
            await app.telegram.user_presses(user_id, notes[user_id], AcceptNote().pack())
            return time.perf_counter() - pressed

        started = time.perf_counter()
        times = await asyncio.gather(*(accept(uid) for uid in people))
        seconds = time.perf_counter() - started
        async with app.sessions() as session:
            held = (
                await session.exec(
                    select(func.count())
                    .select_from(Seat)
                    .where(col(Seat.status) == SeatStatus.HELD)
                )
            ).one()
            waitlisted = (
                await session.exec(select(func.count()).select_from(WaitlistEntry))
            ).one()
        return Race(
            target.name,
            seconds,
            Latencies(times),
            held,
            waitlisted,
            _told(app.telegram, people, "held for you"),
            _told(app.telegram, people, "waitlist"),
        )


def _told(telegram: TelegramSandbox, people: range, words: str) -> int:
    return sum(words in (telegram.sent_by_bot(uid)[-1].text or "") for uid in people)


async def measure(targets: list[Target], redis_url: str) -> None:
    print("## 4. Seat race\n")
    results = [await race(target, redis_url) for target in targets]
    print(
        table(
            [
                "database",
                "people",
                "free seats",
                "seconds",
                "median ms",
                "p99 ms",
                "seats held",
                "waitlisted",
                "told 'held'",
                "told 'waitlist'",
            ],
            [
                [
                    r.database,
                    PEOPLE,
                    SEATS,
                    r.seconds,
                    r.latencies.median_ms,
                    r.latencies.p99_ms,
                    r.held,
                    r.waitlisted,
                    r.told_held,
                    r.told_waitlist,
                ]
                for r in results
            ],
        )
    )
    print()
    for r in results:
        exact = r.held == r.told_held == SEATS and r.waitlisted == PEOPLE - SEATS
        print(
            f"- {r.database}: {r.held} seats held for {SEATS} free, {r.waitlisted} on the "
            f"waitlist ({'exactly right' if exact else 'WRONG'})"
        )
        require(exact, f"{r.database}: {r.held} holds for {SEATS} seats")
    print()


if __name__ == "__main__":
    run_part(measure, __doc__.splitlines()[0])
