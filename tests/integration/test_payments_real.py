"""No paid member lost to a redeploy, a retry or a setting: the billing paths against a Stripe
sandbox that answers as the real API does (endive shapes, 404 on cancelling an ended
subscription, idempotency keys compared by parameters, Checkout's limits on Stripe's clock,
the events API)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlmodel import col, select

from app.runtime import Runtime
from app.serve import Part, running
from app.web import create_app
from app.worker import create_worker, stop_gracefully
from billing.stripe_gateway import StripeGateway
from core.clock import SimulatedClock
from core.db import SessionFactory
from core.groups import register_group
from core.models import EventStatus, ExternalEvent, SeatStatus
from core.settings import Settings
from sandbox.stripe import StripeSandbox
from sandbox.telegram import TelegramSandbox
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World, world_with_settings

MAYA, NOA = 4001, 4002
WELCOME = "Welcome to Between circle"
SUBSCRIPTION = r"/v1/subscriptions/.+"

WorldWith = Callable[..., contextlib.AbstractAsyncContextManager[World]]


@pytest.fixture
def world_with(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
) -> WorldWith:
    """A world whose settings differ from the default ones (a coach's .env)."""
    return functools.partial(
        world_with_settings, settings, sessions, redis, clock, telegram, stripe_sandbox
    )


async def stored_events(world: World) -> list[ExternalEvent]:
    async with world.sessions() as session:
        found = await session.exec(
            select(ExternalEvent)
            .where(col(ExternalEvent.source) == "stripe")
            .order_by(col(ExternalEvent.id))
        )
        return list(found.all())


async def holding(world: World, user_id: int, name: str) -> str:
    """The person holds a seat and has a Checkout Session; its id."""
    world.person(user_id, name)
    answer = await world.ask_to_join(user_id)
    assert "held for you" in (answer.text or "")
    seat = await world.seat(user_id)
    assert seat is not None and seat.checkout_session_id is not None
    return seat.checkout_session_id


async def sweep_later(world: World, minutes: float) -> None:
    """`minutes` on: the worker's once-a-minute sweep of stored events, then the worker."""
    world.clock.advance(timedelta(minutes=minutes))
    await jobs.retry_stripe_events({"services": world.runtime})
    await world.settle()


# --- 1. an event interrupted mid-processing is never lost ---------------------------------


async def test_an_event_cut_short_by_the_worker_closing_is_applied_afterwards(
    world: World,
) -> None:
    checkout = await holding(world, MAYA, "Maya")
    world.stripe.stall("GET", SUBSCRIPTION)  # Stripe is slow: the worker is mid-event
    await world.stripe.complete_checkout(checkout)
    assert world.settings.redis_url is not None
    worker = create_worker(
        world.settings, redis_url=world.settings.redis_url, runtime=world.runtime, cron=False
    )
    loop = asyncio.create_task(worker.async_run())
    await asyncio.wait_for(world.stripe.wait_for_stalled(), 20)  # an event waits on Stripe
    # The stop's grace runs out at once: the running job is cut short, as by a hard redeploy.
    await stop_gracefully(worker, grace=0)
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    world.stripe.release_stalls()

    await sweep_later(world, 2)

    seat = await world.seat(MAYA)
    assert seat is not None and seat.status == SeatStatus.ACTIVE
    assert world.told(MAYA, WELCOME) == 1
    statuses = {e.status for e in await stored_events(world)}
    assert statuses <= {EventStatus.PROCESSED, EventStatus.IGNORED}


async def test_a_graceful_stop_lets_the_event_being_applied_finish(world: World) -> None:
    checkout = await holding(world, MAYA, "Maya")
    world.stripe.stall("GET", SUBSCRIPTION)
    await world.stripe.complete_checkout(checkout)
    parts = running(world.settings, {Part.WORKER}, clock=world.clock, cron=False)
    await parts.__aenter__()
    await asyncio.wait_for(world.stripe.wait_for_stalled(), 20)  # an event waits on Stripe
    stopping = asyncio.create_task(parts.__aexit__(None, None, None))
    await asyncio.sleep(0.2)  # the stop has begun; Stripe answers now
    world.stripe.release_stalls()
    await stopping

    # Nothing was left half done: what had started finished, the rest waits in the queue.
    events = await stored_events(world)
    assert EventStatus.PROCESSING not in {e.status for e in events}
    assert any(e.status == EventStatus.PROCESSED for e in events)
    await world.settle()
    assert world.told(MAYA, WELCOME) == 1
    assert {e.status for e in await stored_events(world)} <= {
        EventStatus.PROCESSED,
        EventStatus.IGNORED,
    }


async def test_reconcile_lets_in_a_member_who_paid_after_their_hold_ran_out(
    world: World,
) -> None:
    checkout = await holding(world, MAYA, "Maya")
    world.stripe.lose_webhooks()  # or the event is stranded: nothing tells us she paid
    await world.stripe.complete_checkout(checkout)
    world.clock.advance(timedelta(minutes=61))
    await world.sweep()
    lapsed = await world.seat(MAYA)
    assert lapsed is not None and (lapsed.status, lapsed.end_reason) == (
        SeatStatus.ENDED,
        "hold_expired",
    )

    await jobs.reconcile_billing({"services": world.runtime})
    await world.deliver()

    seat = await world.seat(MAYA)
    assert seat is not None and seat.status == SeatStatus.ACTIVE
    assert world.told(MAYA, WELCOME) == 1
    report = world.texts(COACH_ID)[-1]
    assert "Billing check" in report and "Maya" in report and "let them in" in report


async def test_reconcile_tells_the_coach_when_a_payer_cannot_be_let_in(world: World) -> None:
    async with world.sessions() as session:
        await register_group(
            session, chat_id=GROUP, title="Between circle", capacity=1, now=world.clock.now()
        )
        await session.commit()
    checkout = await holding(world, MAYA, "Maya")
    world.stripe.lose_webhooks()
    await world.stripe.complete_checkout(checkout)
    world.stripe.lose_webhooks(False)
    world.clock.advance(timedelta(minutes=61))
    await world.sweep()
    await world.join_and_pay(NOA, "Noa")  # the freed seat went to someone else

    await jobs.reconcile_billing({"services": world.runtime})
    await world.deliver()

    report = world.texts(COACH_ID)[-1]
    assert "Maya" in report and "needs a look" in report and "is full" in report
    assert world.told(MAYA, WELCOME) == 0


# --- 2. failures back off over days, and the coach hears when they stop ------------------


async def attempts_of(world: World, event_type: str) -> int:
    return next(e.attempts for e in await stored_events(world) if e.type == event_type)


async def test_a_failing_event_is_retried_for_days_then_the_coach_is_told(world: World) -> None:
    checkout = await holding(world, MAYA, "Maya")
    world.stripe.go_down(503, should_retry=False)  # Stripe's API fails; webhooks still come
    await world.stripe.complete_checkout(checkout)
    await world.settle()
    tries: list[tuple[timedelta, int]] = []
    started = world.clock.now()
    while world.clock.now() - started < timedelta(days=6):
        step = (
            timedelta(minutes=1)
            if world.clock.now() - started < timedelta(hours=1)
            else (timedelta(hours=1))
        )
        world.clock.advance(step)
        if await jobs.retry_stripe_events({"services": world.runtime}):
            await world.settle()
        tries.append(
            (world.clock.now() - started, await attempts_of(world, "checkout.session.completed"))
        )

    def by(elapsed: timedelta) -> int:
        return max(n for at, n in tries if at <= elapsed)

    assert by(timedelta(minutes=10)) <= 3  # not five tries in five minutes
    assert by(timedelta(days=2)) < by(timedelta(days=4))  # still trying after Stripe's 3 days
    assert by(timedelta(days=6)) == by(timedelta(days=5))  # and then it stops
    coach = [text for text in world.texts(COACH_ID) if "didn't go through" in text]
    assert len(coach) == 1  # once, however many of Maya's events gave up
    assert "Maya" in coach[0] and "between billing reconcile" in coach[0]


async def test_a_failing_event_is_applied_once_stripe_is_back(world: World) -> None:
    checkout = await holding(world, MAYA, "Maya")
    world.stripe.go_down(503, should_retry=False)
    await world.stripe.complete_checkout(checkout)
    await world.settle()
    for _ in range(10):
        await sweep_later(world, 1)
    world.clock.advance(timedelta(hours=3))
    world.stripe.come_back()
    for _ in range(12):
        await sweep_later(world, 30)

    seat = await world.seat(MAYA)
    assert seat is not None and seat.status == SeatStatus.ACTIVE
    assert world.told(MAYA, WELCOME) == 1


# --- 3. cancelling a subscription Stripe has ended already --------------------------------


async def test_the_sweep_goes_on_when_stripe_ended_the_subscription_already(
    world: World,
) -> None:
    maya = await world.join_and_pay(MAYA, "Maya")
    assert maya.stripe_subscription_id is not None
    await world.stripe.fail_renewal(maya.stripe_subscription_id)
    await world.settle()
    # Stripe's dunning cancels it; that webhook never arrives.
    world.stripe.lose_webhooks()
    await world.stripe.end_subscription(maya.stripe_subscription_id)
    world.stripe.lose_webhooks(False)
    await holding(world, NOA, "Noa")
    world.clock.advance(timedelta(days=3, minutes=1))

    done = await jobs.sweep_seats({"services": world.runtime})
    await world.deliver()

    assert done["removed_unpaid"] == 1 and done["holds_released"] == 1
    ended = await world.seat(MAYA)
    assert ended is not None and (ended.status, ended.end_reason) == (SeatStatus.ENDED, "unpaid")
    assert world.told(NOA, "was released") == 1


async def test_remove_works_for_a_subscription_stripe_ended_already(world: World) -> None:
    maya = await world.join_and_pay(MAYA, "Maya")
    assert maya.stripe_subscription_id is not None
    world.stripe.lose_webhooks()
    await world.stripe.end_subscription(maya.stripe_subscription_id)
    world.stripe.lose_webhooks(False)

    await world.telegram.user_sends(COACH_ID, text="/remove @maya")

    assert "Maya is out" in world.texts(COACH_ID)[-1]
    ended = await world.seat(MAYA)
    assert ended is not None and ended.status == SeatStatus.ENDED


# --- 4. idempotency keys per attempt ------------------------------------------------------


async def offer_to_noa(world: World) -> None:
    """A group of one seat: Maya pays, Noa waits, Maya's subscription ends: Noa is offered it."""
    async with world.sessions() as session:
        await register_group(
            session, chat_id=GROUP, title="Between circle", capacity=1, now=world.clock.now()
        )
        await session.commit()
    maya = await world.join_and_pay(MAYA, "Maya")
    world.person(NOA, "Noa")
    assert "number 1" in ((await world.ask_to_join(NOA)).text or "")
    assert maya.stripe_subscription_id is not None
    await world.stripe.end_subscription(maya.stripe_subscription_id)
    await world.settle()
    assert world.told(NOA, "a seat opened") == 1


async def noa_presses_join(world: World) -> str:
    """Noa presses "Join" under the offer; the Checkout link she gets."""
    offer = next(m for m in world.telegram.sent_by_bot(NOA) if "a seat opened" in (m.text or ""))
    await world.telegram.user_presses(NOA, offer, "join")
    answer = world.last(NOA)
    assert "held for you" in (answer.text or ""), answer.text
    assert answer.reply_markup is not None
    url: str = answer.reply_markup["inline_keyboard"][0][0]["url"]
    return url


async def let_noas_checkout_expire(world: World) -> None:
    seat = await world.seat(NOA)
    assert seat is not None and seat.checkout_session_id is not None
    session = world.stripe.checkout_sessions[seat.checkout_session_id]
    world.clock.set(datetime.fromtimestamp(session["expires_at"], UTC))
    await world.stripe.expire_checkout(seat.checkout_session_id)  # Stripe's own expiry
    await world.settle()


async def test_an_offer_longer_than_a_day_gets_a_second_checkout(world_with: WorldWith) -> None:
    async with world_with(waitlist_offer_hours=48) as world:
        await offer_to_noa(world)
        world.clock.advance(timedelta(minutes=1))
        first = await noa_presses_join(world)
        await let_noas_checkout_expire(world)  # 23 h 55 later; the offer runs another day

        second = await noa_presses_join(world)

        assert second != first
        await world.pay(NOA)
        assert (await world.seat(NOA)).status == SeatStatus.ACTIVE  # type: ignore[union-attr]


async def test_joining_again_at_the_end_of_an_offer_gets_a_checkout_stripe_accepts(
    world: World,
) -> None:
    await offer_to_noa(world)
    world.clock.advance(timedelta(minutes=1))
    first = await noa_presses_join(world)
    await let_noas_checkout_expire(world)  # a few minutes of the offer are left
    world.clock.advance(timedelta(minutes=1))

    second = await noa_presses_join(world)

    assert second != first
    seat = await world.seat(NOA)
    assert seat is not None and seat.hold_expires_at is not None
    assert seat.hold_expires_at >= world.clock.now() + timedelta(minutes=30)
    await world.pay(NOA)
    assert world.told(NOA, WELCOME) == 1


async def test_seat_ids_seen_before_a_database_reset_get_sessions_of_their_own(
    stripe_sandbox: StripeSandbox, clock: SimulatedClock
) -> None:
    from sandbox.harness import create_price

    price_id = await create_price(stripe_sandbox)
    gateway = StripeGateway(stripe_sandbox.api_key, stripe_sandbox.base_url)

    async def checkout(member_id: int, telegram_id: int) -> str:
        made = await gateway.create_checkout(
            price_id=price_id,
            seat_id=1,
            member_id=member_id,
            group_id=1,
            telegram_id=telegram_id,
            success_url="https://t.me/between_bot?start=paid",
            cancel_url="https://t.me/between_bot?start=join",
            expires_at=clock.now() + timedelta(hours=1),
        )
        return made.id

    try:
        before_reset = await checkout(1, 5001)
        clock.advance(timedelta(minutes=10))
        after_reset = await checkout(1, 6001)  # the same seat id, someone else
        again = await checkout(1, 6001)  # a retry of the very same request
    finally:
        await gateway.close()
    assert before_reset != after_reset == again
    assert len(stripe_sandbox.checkout_sessions) == 2


# --- 5. Checkout's 30-minute minimum, on Stripe's clock -----------------------------------


async def test_a_thirty_minute_hold_opens_a_checkout_stripe_accepts(
    world_with: WorldWith,
) -> None:
    async with world_with(checkout_hold_minutes=30) as world:
        world.stripe.clock_skew = timedelta(seconds=90)  # as measured against real Stripe
        await holding(world, MAYA, "Maya")
        seat = await world.seat(MAYA)
        assert seat is not None and seat.hold_expires_at is not None
        assert seat.hold_expires_at - world.clock.now() >= timedelta(minutes=30)
        await world.pay(MAYA)
        assert world.told(MAYA, WELCOME) == 1


# --- 6. older shapes, where the code keeps a fallback for them ----------------------------


async def test_events_in_an_older_accounts_version_are_followed_too(world: World) -> None:
    # Webhooks follow the account's API version, not ours: an account still on acacia sends
    # invoices that name their subscription at the top, with no `parent`.
    world.stripe.api_version = "2025-02-24.acacia"
    maya = await world.join_and_pay(MAYA, "Maya")
    assert maya.stripe_subscription_id is not None
    failed = await world.stripe.fail_renewal(maya.stripe_subscription_id)
    invoice = failed[0]["data"]["object"]
    assert "parent" not in invoice and invoice["subscription"] == maya.stripe_subscription_id
    await world.settle()
    seat = await world.seat(MAYA)
    assert seat is not None and seat.status == SeatStatus.PAST_DUE
    assert world.told(MAYA, "didn't go through") == 1


async def test_a_signature_header_that_is_not_ascii_is_a_400(runtime: Runtime) -> None:
    # stripe-python compares with hmac.compare_digest, which raises TypeError on non-ASCII.
    async with TestClient(TestServer(create_app(runtime))) as client:
        answer = await client.post(
            "/stripe/webhook",
            data=json.dumps({"id": "evt_1", "object": "event"}),
            headers={"Stripe-Signature": "t=1,v1=\u00e9"},
        )
        assert answer.status == 400


# --- 9. no public URL: payments read from Stripe's events API ------------------------------


async def test_without_a_public_url_payments_come_from_the_events_api(world: World) -> None:
    assert not world.settings.webhook_mode
    checkout = await holding(world, MAYA, "Maya")
    world.stripe.lose_webhooks()  # no webhook can reach a laptop
    await world.stripe.complete_checkout(checkout)
    await world.settle()
    assert world.told(MAYA, WELCOME) == 0

    read = await jobs.read_stripe_events({"services": world.runtime})
    await world.settle()

    assert read == 3  # the checkout, the subscription, the invoice (the types it handles)
    assert world.told(MAYA, WELCOME) == 1
    # Read again, and with the webhook delivering the same events after all: applied once.
    assert await jobs.read_stripe_events({"services": world.runtime}) == 0
    for event in world.stripe.events:
        assert await world.stripe.send_event(event) == 200
    await world.settle()
    assert world.told(MAYA, WELCOME) == 1


async def test_with_a_public_url_the_webhook_is_enough(world_with: WorldWith) -> None:
    async with world_with(public_url="https://between.example.org") as world:
        checkout = await holding(world, MAYA, "Maya")
        await world.stripe.complete_checkout(checkout)
        assert await jobs.read_stripe_events({"services": world.runtime}) == 0
        await world.settle()
        assert world.told(MAYA, WELCOME) == 1
