"""Stripe bursts: 1,000 signed events, a fifth of them repeats, in shuffled order, all at once.

    python -m bench.stripe_events [--postgres URL]

Two hundred people hold seats and pay; the sandbox makes Stripe's real events for it
(customer.created, checkout.session.completed, customer.subscription.created, invoice.paid:
800 in all) without sending them. The benchmark adds 200 repeats, shuffles the lot (so an
invoice often arrives before its checkout) and POSTs them, signed, over 50 connections to
`between web`, a process of its own. The worker (arq on real Redis, in this process) applies
them as they come. Measured: the answers, the time until the worker has applied every event,
and that each was applied once: one welcome per member, every seat active.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass

from sqlmodel import col, select

from app.runtime import Runtime
from app.worker import create_worker
from bench.harness import (
    STRIPE_SECRET,
    Load,
    Request,
    Stage,
    Target,
    post_flat_out,
    require,
    run_part,
    stage,
    table,
)
from billing.lifecycle import Notice
from core.models import EventStatus, ExternalEvent, OutboxMessage, Seat, SeatStatus
from sandbox.harness import ask_to_join

PEOPLE = 200
REPEATS = 200
CONNECTIONS = 50
FIRST_ID = 40_001


@dataclass(frozen=True)
class Burst:
    database: str
    load: Load
    applied_after: float
    events: int
    applied_once: int
    active_seats: int
    welcomes: int
    repeated_welcomes: int


async def burst(target: Target, redis_url: str) -> Burst:
    async with (
        target.database("bench_stripe") as database_url,
        stage(database_url, redis_url, capacity=PEOPLE) as app,
    ):
        events = await _paid_seats(app)
        requests = _signed_in_shuffled_order(app, events)
        runtime = await Runtime.open(app.settings, redis_url=redis_url)
        worker = create_worker(app.settings, redis_url=redis_url, runtime=runtime, cron=False)
        working = asyncio.create_task(worker.async_run())
        try:
            started = time.perf_counter()
            load = await post_flat_out(f"{app.web_url}/stripe/webhook", requests, CONNECTIONS)
            await _all_applied(app, len(events))
            applied_after = time.perf_counter() - started
        finally:
            working.cancel()
            await asyncio.gather(working, return_exceptions=True)
            await worker.close()
            await runtime.close()
        return await _outcome(app, target, load, applied_after, len(events))


async def _paid_seats(app: Stage) -> list[dict[str, object]]:
    """Everyone holds a seat and pays; Stripe's events are made but not sent."""
    people = range(FIRST_ID, FIRST_ID + PEOPLE)
    for user_id in people:
        app.telegram.add_user(user_id, f"Person {user_id}")
    await asyncio.gather(*(ask_to_join(app.telegram, uid) for uid in people))
    async with app.sessions() as session:
        checkouts = (await session.exec(select(Seat.checkout_session_id))).all()
    app.stripe.lose_webhooks()
    events: list[dict[str, object]] = []
    for checkout in checkouts:
        assert checkout is not None
        events += await app.stripe.complete_checkout(checkout)
    return events


def _signed_in_shuffled_order(app: Stage, events: list[dict[str, object]]) -> list[Request]:
    shuffle = random.Random(31)
    burst = events + shuffle.sample(events, REPEATS)
    shuffle.shuffle(burst)
    requests = []
    for event in burst:
        body = json.dumps(event, indent=2).encode()  # as Stripe sends it
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": app.stripe.sign(body, STRIPE_SECRET),
        }
        requests.append(Request(body, headers))
    return requests


async def _all_applied(app: Stage, expected: int) -> None:
    done = [EventStatus.PROCESSED, EventStatus.IGNORED]
    async with asyncio.timeout(300):
        while True:
            async with app.sessions() as session:
                finished = (
                    await session.exec(
                        select(ExternalEvent.id)
                        .where(col(ExternalEvent.source) == "stripe")
                        .where(col(ExternalEvent.status).in_(done))
                    )
                ).all()
            if len(finished) >= expected:
                return
            await asyncio.sleep(0.05)


async def _outcome(
    app: Stage, target: Target, load: Load, applied_after: float, events: int
) -> Burst:
    async with app.sessions() as session:
        stored = (
            await session.exec(select(ExternalEvent).where(col(ExternalEvent.source) == "stripe"))
        ).all()
        seats = (await session.exec(select(Seat.status))).all()
        keys = (await session.exec(select(OutboxMessage.key))).all()
    # An outbox key is seat:<id>:<notice>:<moment>: the same notice twice is a repeat.
    welcomes = Counter(
        key.split(":")[1] for key in keys if key.split(":")[2:3] == [Notice.WELCOME.value]
    )
    return Burst(
        database=target.name,
        load=load,
        applied_after=applied_after,
        events=len(stored),
        applied_once=sum(event.attempts == 1 for event in stored),
        active_seats=sum(status == SeatStatus.ACTIVE for status in seats),
        welcomes=len(welcomes),
        repeated_welcomes=sum(count - 1 for count in welcomes.values()),
    )


async def measure(targets: list[Target], redis_url: str) -> None:
    print("## 3. Stripe bursts\n")
    results = [await burst(target, redis_url) for target in targets]
    print(
        table(
            [
                "database",
                "posted",
                "2xx",
                "posts/s",
                "median ms",
                "p99 ms",
                "all applied after s",
                "events stored",
                "applied once",
                "active seats",
                "welcomes",
                "repeated",
            ],
            [
                [
                    r.database,
                    len(r.load.statuses),
                    len(r.load.statuses) - r.load.failed,
                    r.load.per_second,
                    r.load.latencies.median_ms,
                    r.load.latencies.p99_ms,
                    r.applied_after,
                    r.events,
                    r.applied_once,
                    r.active_seats,
                    r.welcomes,
                    r.repeated_welcomes,
                ]
                for r in results
            ],
        )
    )
    print()
    for r in results:
        right = (
            r.load.failed == 0
            and r.events == r.applied_once == PEOPLE * 4
            and r.active_seats == r.welcomes == PEOPLE
            and r.repeated_welcomes == 0
        )
        print(
            f"- {r.database}: every post answered 2xx, {r.events} distinct events each "
            f"applied once, {r.welcomes} welcomes for {PEOPLE} members "
            f"({'all right' if right else 'WRONG'})"
        )
        require(right, f"{r.database}: an event was refused, lost or applied twice")
    print()


if __name__ == "__main__":
    run_part(measure, __doc__.splitlines()[0])
