"""Paying in Telegram Stars end to end, through the Telegram sandbox's invoices, pre-checkout
queries, payments and 30-day renewals: the same seats, waitlist and goodbyes as Stripe's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlmodel import select

from billing.reconcile import reconcile
from core import privacy
from core.clock import SimulatedClock
from core.db import SessionFactory
from core.models import Member, SeatStatus, StarsSubscription
from core.settings import Settings
from sandbox.stripe import StripeSandbox
from sandbox.telegram import TelegramSandbox
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World, world_with_settings

STARS = 2400
MAYA = 4201


@pytest.fixture
async def world(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
) -> AsyncIterator[World]:
    async with world_with_settings(
        settings, sessions, redis, clock, telegram, stripe_sandbox, stars_per_month=STARS
    ) as opened:
        yield opened


def stars_link(world: World, user_id: int) -> str:
    """The "Pay in Stars" button under the bot's answer to /join."""
    markup = world.last(user_id).reply_markup or {}
    urls = [str(b.get("url", "")) for row in markup["inline_keyboard"] for b in row]
    return next(url for url in urls if url.startswith("https://t.me/$"))


async def pays_in_stars(world: World, user_id: int, name: str) -> str:
    world.person(user_id, name)
    answer = await world.ask_to_join(user_id)
    assert "held for you" in (answer.text or "")
    charge = await world.telegram.user_pays_invoice(user_id, stars_link(world, user_id))
    assert charge is not None
    await world.deliver()
    return charge


async def test_a_stars_payment_makes_the_seat_active_for_thirty_days_with_the_invite(
    world: World,
) -> None:
    await pays_in_stars(world, MAYA, "Maya")

    assert world.told(MAYA, "Welcome to Between circle") == 1
    seat = await world.seat(MAYA)
    assert seat is not None and seat.status == SeatStatus.ACTIVE
    assert seat.current_period_end == world.clock.now() + timedelta(days=30)
    await world.telegram.join_request(MAYA, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()
    assert world.telegram.members(GROUP)[MAYA] == "member"
    invoice = next(c for c in world.telegram.calls if c.method == "createInvoiceLink")
    assert invoice.params["currency"] == "XTR"
    assert invoice.params["subscription_period"] == 2592000
    assert invoice.params["prices"] == [{"label": "A month", "amount": STARS}]

    await world.telegram.user_sends(MAYA, text="/billing")
    billing = world.last(MAYA).text or ""
    assert "My Stars" in billing and "Cancel subscription" in billing


async def test_a_renewal_moves_the_end_on_and_nobody_is_told_goodbye(world: World) -> None:
    await pays_in_stars(world, MAYA, "Maya")
    world.clock.advance(timedelta(days=30))
    assert len(await world.telegram.renew_star_subscriptions()) == 1
    await world.telegram.settle()
    world.clock.advance(timedelta(hours=2))
    await world.sweep()

    seat = await world.seat(MAYA)
    assert seat is not None and seat.status == SeatStatus.ACTIVE
    async with world.sessions() as session:
        subscription = (await session.exec(select(StarsSubscription))).one()
    assert subscription.payments == 2
    assert seat.current_period_end == subscription.expires_at
    assert world.told(MAYA, "Your membership has ended") == 0


async def test_a_renewal_cancelled_in_telegram_ends_the_seat_with_the_goodbye_and_frees_it(
    world: World,
) -> None:
    await pays_in_stars(world, MAYA, "Maya")
    seat = await world.seat(MAYA)
    assert seat is not None
    await world.telegram.join_request(MAYA, GROUP, invite_link=seat.invite_link)
    await world.join_and_pay(4002, "Noa")
    await world.join_and_pay(4003, "Ori")
    world.person(4004, "Tal")
    assert "number 1" in ((await world.ask_to_join(4004)).text or "")

    world.telegram.user_cancels_star_subscription(MAYA)
    world.clock.advance(timedelta(days=30))
    assert await world.telegram.renew_star_subscriptions() == []
    await world.sweep()
    still = await world.seat(MAYA)
    assert still is not None and still.status == SeatStatus.ACTIVE  # the renewal may be late
    world.clock.advance(timedelta(hours=1))
    await world.sweep()

    ended = await world.seat(MAYA)
    assert ended is not None and ended.status == SeatStatus.ENDED
    assert ended.end_reason == "stars_expired"
    assert world.told(MAYA, "Your membership has ended") == 1
    assert world.telegram.members(GROUP).get(MAYA) != "member"
    assert any("seat" in text for text in world.texts(4004)[-1:])
    offered = await world.seat(4004)
    assert offered is not None and offered.status == SeatStatus.HELD


async def test_the_coach_refunds_the_last_payment_and_the_seat_ends_kindly(world: World) -> None:
    charge = await pays_in_stars(world, MAYA, "Maya")
    await world.telegram.user_sends(COACH_ID, text="/refund Maya")
    assert "refunded" in (world.last(COACH_ID).text or "")
    await world.deliver()

    assert world.telegram.refunded_charges == {charge}
    subscription = world.telegram.star_subscription(MAYA)
    assert subscription is not None and subscription.bot_canceled
    seat = await world.seat(MAYA)
    assert seat is not None and seat.status == SeatStatus.ENDED
    assert world.told(MAYA, "refunded your last payment in Stars") == 1

    await world.telegram.user_sends(COACH_ID, text="/refund Maya")
    assert "doesn't pay in Telegram Stars" in (world.last(COACH_ID).text or "")


async def test_telegram_asks_first_and_a_seat_gone_meanwhile_takes_no_stars(world: World) -> None:
    world.person(MAYA, "Maya")
    await world.ask_to_join(MAYA)
    link = stars_link(world, MAYA)
    world.clock.advance(timedelta(minutes=61))
    await world.sweep()
    for user_id, name in ((4002, "Noa"), (4003, "Ori"), (4004, "Tal")):
        await world.join_and_pay(user_id, name)

    assert await world.telegram.user_pays_invoice(MAYA, link) is None
    answers = [c for c in world.telegram.calls if c.method == "answerPreCheckoutQuery"]
    assert answers[-1].params["ok"] is False
    assert "gone" in answers[-1].params["error_message"]
    seat = await world.seat(MAYA)
    assert seat is not None and seat.status == SeatStatus.ENDED


async def test_the_nightly_reconcile_applies_a_payment_whose_update_was_lost(world: World) -> None:
    await pays_in_stars(world, MAYA, "Maya")
    world.telegram.loses_payment_updates(1)
    world.clock.advance(timedelta(days=30))
    await world.telegram.renew_star_subscriptions()
    await world.telegram.settle()

    async with world.sessions() as session:
        dry = await reconcile(session, world.runtime.membership, world.clock.now(), apply=False)
    # The member's number is the database's (PostgreSQL's ids don't restart between tests).
    assert len(dry) == 1 and re.match(r"Maya \(#\d+\): a payment we missed \(stx", str(dry[0]))
    assert str(dry[0]).endswith("Telegram Stars, needs a look)")
    await jobs.reconcile_billing({"services": world.runtime})
    world.clock.advance(timedelta(hours=2))
    await world.sweep()
    seat = await world.seat(MAYA)
    assert seat is not None and seat.status == SeatStatus.ACTIVE
    assert seat.current_period_end is not None and seat.current_period_end > world.clock.now()
    assert world.told(COACH_ID, "a payment we missed") == 1


async def test_mydata_says_how_the_seat_is_paid_in_stars(world: World) -> None:
    await pays_in_stars(world, MAYA, "Maya")
    async with world.sessions() as session:
        member = (await session.exec(select(Member).where(Member.telegram_id == MAYA))).one()
        exported = await privacy.export_member(session, member)
    [stars] = exported["stars_subscriptions"]
    assert (stars["stars_a_month"], stars["payments"], stars["refunded"]) == (STARS, 1, None)
    assert stars["paid_until"] is not None


async def test_cancel_from_a_stars_seat_says_how_to_cancel_in_telegram(world: World) -> None:
    await pays_in_stars(world, MAYA, "Maya")

    await world.telegram.user_sends(MAYA, text="/cancel")
    answer = world.last(MAYA)
    text = answer.text or ""
    assert "My Stars" in text and "Cancel subscription" in text
    assert "Cancel plan" not in text  # Stripe's portal has nothing to cancel here
    assert answer.reply_markup is None  # no "Open billing" button to a portal that isn't theirs
