"""No database transaction is held across a call to Stripe: while one person's Checkout is
being created (Stripe slow to answer), the group's seats are not locked, so another person's
/join goes on and holds a seat at the same time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from core.models import Member, Seat, SeatStatus
from prompts.buttons import GiftMonths
from sandbox import harness
from sandbox.stripe import StripeSandbox
from sandbox.telegram import TelegramSandbox
from scheduling import jobs
from tests.integration.world import COACH_ID, World

ANA, BEN, STRANGER = 8001, 8002, 8003


pytestmark = pytest.mark.at_once


async def held_seats(world: World) -> int:
    async with world.sessions() as session:
        found = await session.exec(
            select(Seat)
            .join(Member, col(Member.id) == col(Seat.member_id))
            .where(col(Member.telegram_id).in_([ANA, BEN]))
            .where(col(Seat.status) == SeatStatus.HELD)
        )
        return len(found.all())


async def test_a_slow_stripe_holds_no_seat_lock_while_two_people_join(world: World) -> None:
    world.person(ANA, "Ana")
    world.person(BEN, "Ben")
    world.stripe.stall("POST", r"/v1/checkout/sessions")
    joins = [asyncio.create_task(harness.ask_to_join(world.telegram, ANA))]
    await asyncio.wait_for(world.stripe.wait_for_stalled(1), 30)
    joins.append(asyncio.create_task(harness.ask_to_join(world.telegram, BEN)))
    try:
        # Ben's /join reaches Stripe while Ana's Checkout is still being made.
        await asyncio.wait_for(world.stripe.wait_for_stalled(2), 15)
        assert await held_seats(world) == 2
    finally:
        world.stripe.release_stalls()
        answers = await asyncio.gather(*joins, return_exceptions=True)
    for answer in answers:
        assert not isinstance(answer, BaseException), answer
        assert "held for you" in (answer.text or "")


async def test_a_payment_waiting_on_stripe_holds_no_transaction(world: World) -> None:
    """The worker asks Stripe for the subscription's state before it opens the transaction
    that applies the payment: while Stripe is slow, no connection sits in a transaction (on
    SQLite, the write lock is free: another person's /join goes on)."""
    world.person(ANA, "Ana")
    assert "held for you" in ((await world.ask_to_join(ANA)).text or "")
    seat = await world.seat(ANA)
    assert seat is not None and seat.checkout_session_id is not None
    world.stripe.stall("GET", r"/v1/subscriptions/.+")
    await world.stripe.complete_checkout(seat.checkout_session_id)
    await nothing_waits_while(world, world.stripe, world.settle())
    assert world.told(ANA, "Welcome to Between circle") == 1


async def test_a_new_members_invite_link_waiting_on_telegram_holds_no_transaction(
    world: World,
) -> None:
    """A payment's welcome carries a personal invite link, made by Telegram as the welcome is
    sent, after the payment's transaction committed: while Telegram is slow to make it, no
    connection sits in a transaction, and the welcome still comes with a link that works."""
    world.person(ANA, "Ana")
    assert "held for you" in ((await world.ask_to_join(ANA)).text or "")
    seat = await world.seat(ANA)
    assert seat is not None and seat.checkout_session_id is not None
    world.telegram.stall("createChatInviteLink")
    await world.stripe.complete_checkout(seat.checkout_session_id)
    await nothing_waits_while(world, world.telegram, world.settle())
    assert world.told(ANA, "Welcome to Between circle") == 1
    seat = await world.seat(ANA)
    assert seat is not None and seat.invite_link and seat.invite_link in world.texts(ANA)[-1]
    await world.telegram.join_request(ANA, world.group_chat_id, invite_link=seat.invite_link)
    await world.telegram.settle()
    assert world.telegram.members(world.group_chat_id)[ANA] == "member"


async def test_the_nightly_reconcile_waiting_on_stripe_holds_no_transaction(world: World) -> None:
    """The reconcile asks Stripe and Telegram everything it needs before its transaction opens:
    while Stripe is slow to say whether a gift was paid, another person's /join goes on."""
    world.person(ANA, "Ana")
    await world.telegram.user_sends(ANA, text="/gift")
    await world.telegram.user_presses(ANA, world.last(ANA), GiftMonths(months=1).pack())
    gift = next(s["id"] for s in world.stripe.checkout_sessions.values() if s["mode"] == "payment")
    world.stripe.lose_webhooks()
    await world.stripe.complete_checkout(gift)
    world.stripe.lose_webhooks(False)
    world.stripe.stall("GET", r"/v1/checkout/sessions/.+")
    await nothing_waits_while(
        world, world.stripe, jobs.reconcile_billing({"services": world.runtime})
    )
    await world.deliver()
    assert world.told(ANA, "Your gift of 1 month is paid") == 1


async def test_taking_a_stranger_out_of_the_group_holds_no_transaction(world: World) -> None:
    """Someone who came in without a seat is taken out by a call made after the arrival's
    transaction committed: while Telegram is slow to remove them, nothing waits on it, and
    they are out and told why once it answers."""
    world.person(STRANGER, "Sneaky")
    await world.telegram.user_sends(STRANGER, text="/start")
    world.telegram.stall("banChatMember")
    # The arrival is handled and its removal committed without waiting on Telegram.
    await asyncio.wait_for(world.telegram.user_joins(STRANGER, world.group_chat_id), 30)
    await asyncio.wait_for(world.telegram.settle(), 30)
    await nothing_waits_while(world, world.telegram, world.deliver())
    await world.telegram.settle()
    assert world.telegram.members(world.group_chat_id)[STRANGER] == "left"
    assert world.told(STRANGER, "I had to take you out of it") == 1


async def test_ending_an_unpaid_seat_waiting_on_telegram_holds_no_transaction(
    world: World,
) -> None:
    """The minute's sweep ends a seat past its grace period; the member is taken out of the
    group after its commit: while Telegram is slow to do it, nothing waits on it."""
    await past_its_grace_period(world, ANA, "Ana")
    world.telegram.stall("banChatMember")
    await nothing_waits_while(world, world.telegram, world.sweep())
    await world.telegram.settle()
    assert world.telegram.members(world.group_chat_id)[ANA] == "left"
    ended = await world.seat(ANA)
    assert ended is not None and (ended.status, ended.end_reason) == (SeatStatus.ENDED, "unpaid")
    assert world.told(ANA, "the seat has been released") == 1


async def test_cancelling_an_unpaid_subscription_waiting_on_stripe_holds_no_transaction(
    world: World,
) -> None:
    """The sweep asks Stripe to cancel a subscription past its grace period before it opens
    the transaction that ends the seat: while Stripe is slow, nothing waits on it."""
    subscription_id = await past_its_grace_period(world, ANA, "Ana")
    world.stripe.stall("DELETE", r"/v1/subscriptions/.+")
    await nothing_waits_while(world, world.stripe, world.sweep())
    assert world.stripe.subscriptions[subscription_id]["status"] == "canceled"
    ended = await world.seat(ANA)
    assert ended is not None and (ended.status, ended.end_reason) == (SeatStatus.ENDED, "unpaid")


async def test_the_coachs_remove_waiting_on_stripe_holds_no_transaction(world: World) -> None:
    """The coach's /remove ends the seat in its transaction and asks Stripe to stop charging
    once that has committed: while Stripe is slow, nothing waits on it, and the coach hears
    at once that the member is out."""
    await world.join_the_group(ANA, "Ana")
    seat = await world.seat(ANA)
    assert seat is not None and seat.stripe_subscription_id is not None
    world.stripe.stall("DELETE", r"/v1/subscriptions/.+")
    await nothing_waits_while(
        world,
        world.stripe,
        world.telegram.user_sends(COACH_ID, text="/remove @ana"),
        meanwhile=lambda: world.told(COACH_ID, "Ana is out") == 1,
    )
    await world.settle()
    assert world.stripe.subscriptions[seat.stripe_subscription_id]["status"] == "canceled"
    assert world.telegram.members(world.group_chat_id)[ANA] == "left"
    assert "ended your seat" in world.texts(ANA)[-1]


async def past_its_grace_period(world: World, user_id: int, name: str) -> str:
    """A member in the group whose renewal failed, the grace period now over; their
    subscription's id."""
    await world.join_the_group(user_id, name)
    seat = await world.seat(user_id)
    assert seat is not None and seat.stripe_subscription_id is not None
    await world.stripe.fail_renewal(seat.stripe_subscription_id)
    await world.settle()
    world.clock.advance(timedelta(days=3, minutes=1))
    return seat.stripe_subscription_id


async def nothing_waits_while(
    world: World,
    stalled: TelegramSandbox | StripeSandbox,
    *work: Coroutine[Any, Any, object],
    meanwhile: Callable[[], bool] = lambda: True,
) -> None:
    """Do the work while `stalled` holds the call it waits on: meanwhile nothing waits in a
    transaction (and `meanwhile` holds); then the call goes and the work finishes."""
    doing = [asyncio.create_task(each) for each in work]
    try:
        await asyncio.wait_for(stalled.wait_for_stalled(1), 30)
        await nothing_waits_in_a_transaction(world)
        assert meanwhile()
    finally:
        stalled.release_stalls()
        await asyncio.gather(*doing)


async def nothing_waits_in_a_transaction(world: World) -> None:
    """While Stripe or Telegram is still slow: on PostgreSQL no connection sits in a
    transaction; on SQLite the write lock is free, so another person's /join goes on."""
    if world.settings.database_url.startswith("postgresql"):
        await asyncio.sleep(2)  # what waits on the call waits on
        assert await idle_in_transaction(world) == 0
    else:
        world.person(BEN, "Ben")
        answer = await asyncio.wait_for(harness.ask_to_join(world.telegram, BEN), 15)
        assert "held for you" in (answer.text or "")


async def idle_in_transaction(world: World) -> int:
    """Connections that have sat in an open transaction for over a second (the outbox's own
    come and go in milliseconds)."""
    async with world.sessions() as session:
        connection = await session.connection()
        found = await connection.execute(
            text(
                "select count(*) from pg_stat_activity where datname = current_database()"
                " and state like 'idle in transaction%'"
                " and state_change < now() - interval '1 second'"
            )
        )
        return int(found.scalar_one())
