"""A real `between worker` process, stopped in the middle of applying payments: killed
outright (SIGKILL, as a crash or an OOM kill) and stopped gracefully (SIGTERM, as a redeploy).
After a restart every payment is applied exactly once: each member is welcomed once."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from billing.events import CLAIM_LEASE
from core.clock import SimulatedClock
from core.groups import register_group
from core.models import EventStatus, ExternalEvent, SeatStatus
from scheduling import jobs
from tests.integration.conftest import PACE
from tests.integration.processes import WorkerProcess
from tests.integration.world import GROUP, World

PEOPLE = {5001 + n: f"Member{n}" for n in range(5)}
WELCOME = "Welcome to Between circle"
DONE = {EventStatus.PROCESSED, EventStatus.IGNORED}


@pytest.fixture
def clock() -> SimulatedClock:
    # The worker process keeps the real time; the test's clock starts there too, so the
    # claims it leaves can be judged by the sweep the test runs "later".
    return SimulatedClock(datetime.now(UTC).replace(microsecond=0), pace=PACE)


async def events(world: World) -> list[ExternalEvent]:
    async with world.sessions() as session:
        found = await session.exec(
            select(ExternalEvent).where(col(ExternalEvent.source) == "stripe")
        )
        return list(found.all())


async def eventually(check: Callable[[], object], what: str, worker: WorkerProcess) -> None:
    """Wait for the worker process to get somewhere (bounded; nothing asserted on time)."""
    for _ in range(600):
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}\n{worker.output()}")


async def everyone_pays(world: World) -> None:
    """Five people hold seats and pay while Stripe is slow to answer the worker."""
    async with world.sessions() as session:
        await register_group(
            session, chat_id=GROUP, title="Between circle", capacity=10, now=world.clock.now()
        )
        await session.commit()
    checkouts = []
    for user_id, name in PEOPLE.items():
        world.person(user_id, name)
        assert "held for you" in ((await world.ask_to_join(user_id)).text or "")
        seat = await world.seat(user_id)
        assert seat is not None and seat.checkout_session_id is not None
        checkouts.append(seat.checkout_session_id)
    world.stripe.stall("GET", r"/v1/subscriptions/.+")
    for checkout in checkouts:
        await world.stripe.complete_checkout(checkout)  # stored and queued by the webhook


async def all_applied(world: World) -> bool:
    found = await events(world)
    return bool(found) and {event.status for event in found} <= DONE


def welcomed(world: World) -> dict[int, int]:
    return {user_id: world.told(user_id, WELCOME) for user_id in PEOPLE}


async def then_everyone_is_in_once(world: World, worker: WorkerProcess) -> None:
    await eventually(lambda: all_applied(world), "every event applied", worker)
    await eventually(
        lambda: all(count >= 1 for count in welcomed(world).values()), "every welcome", worker
    )
    assert await worker.stop(signal.SIGTERM) == 0
    await world.telegram.settle()
    assert welcomed(world) == dict.fromkeys(PEOPLE, 1)
    for user_id in PEOPLE:
        seat = await world.seat(user_id)
        assert seat is not None and seat.status == SeatStatus.ACTIVE


async def test_a_worker_killed_mid_payment_loses_and_repeats_nothing(
    world: World, worker: WorkerProcess
) -> None:
    await everyone_pays(world)
    await worker.start()
    await asyncio.wait_for(world.stripe.wait_for_stalled(), 60)

    assert await worker.stop(signal.SIGKILL) == -signal.SIGKILL
    world.stripe.release_stalls()
    cut_short = [e for e in await events(world) if e.status == EventStatus.PROCESSING]
    assert cut_short  # the kill did land in the middle of applying one

    await worker.start()
    # The lease of the dead worker's claims runs out; the once-a-minute sweep finds them.
    world.clock.advance(CLAIM_LEASE + timedelta(minutes=2))
    await eventually(
        lambda: jobs.retry_stripe_events({"services": world.runtime}), "a reclaim", worker
    )

    await then_everyone_is_in_once(world, worker)
    retried = {e.event_id: e.attempts for e in await events(world)}
    assert all(retried[e.event_id] >= 2 for e in cut_short)


async def test_a_worker_killed_mid_payment_and_restarted_at_once_applies_it_within_seconds(
    world: World, worker: WorkerProcess
) -> None:
    """As a Docker restart policy does: the claim the dead worker left is taken back when it
    has gone unrenewed for the lease (seconds), by the new worker's own sweep."""
    await everyone_pays(world)
    await worker.start()
    await asyncio.wait_for(world.stripe.wait_for_stalled(), 60)

    assert await worker.stop(signal.SIGKILL) == -signal.SIGKILL
    world.stripe.release_stalls()
    cut_short = [e for e in await events(world) if e.status == EventStatus.PROCESSING]
    assert cut_short
    restarted = time.monotonic()
    await worker.start()  # at once; the test's clock does not move: the worker's real one does

    await eventually(lambda: all_applied(world), "every event applied", worker)
    took = time.monotonic() - restarted
    print(f"applied {took:.1f} s after the restart (the lease is {CLAIM_LEASE.seconds} s)")
    await then_everyone_is_in_once(world, worker)
    retried = {e.event_id: e.attempts for e in await events(world)}
    assert all(retried[e.event_id] >= 2 for e in cut_short)


async def test_a_worker_stopped_mid_payment_finishes_what_it_started(
    world: World, worker: WorkerProcess
) -> None:
    await everyone_pays(world)
    await worker.start()
    await asyncio.wait_for(world.stripe.wait_for_stalled(), 60)
    # (The database is not read now: on SQLite the job waiting on Stripe holds its lock.)

    stopping = asyncio.create_task(worker.stop(signal.SIGTERM))
    await asyncio.sleep(0.5)  # the stop has begun: Stripe answers the job it waits on now
    world.stripe.release_stalls()
    assert await stopping == 0

    # Every event the worker took up was finished, none cut short and given back; what it
    # never started waits in the queue for the next worker.
    taken = [e for e in await events(world) if e.attempts > 0]
    assert taken and all(e.status in DONE and e.attempts == 1 for e in taken)
    await worker.start()
    await then_everyone_is_in_once(world, worker)
