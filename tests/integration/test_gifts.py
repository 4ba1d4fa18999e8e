"""Gifts end to end: bought with a one-time Stripe Checkout, passed on as a link, redeemed for a
seat that ends after its months (with notice), unless the member subscribes meanwhile."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from core.models import AccessCode, SeatStatus
from prompts.buttons import AcceptNote, GiftMonths, Join
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World

BUYER = 4301
FRIEND = 4302


async def buys_a_gift(world: World, months: int) -> str:
    """The buyer presses /gift, pays; the code in the link they get to pass on."""
    world.person(BUYER, "Dana")
    await world.telegram.user_sends(BUYER, text="/gift")
    offer = world.last(BUYER)
    assert "Give someone a month" in (offer.text or "")
    await world.telegram.user_presses(BUYER, offer, GiftMonths(months=months).pack())
    session_id = next(
        s["id"] for s in world.stripe.checkout_sessions.values() if s["mode"] == "payment"
    )
    checkout = world.stripe.checkout_sessions[session_id]
    assert checkout["amount_total"] == 3100 * months
    await world.stripe.complete_checkout(session_id)
    await world.settle()
    paid = world.last(BUYER).text or ""
    assert f"Your gift of {months} month" in paid
    found = re.search(r"\?start=([A-Z0-9]{10})", paid)
    assert found is not None
    return found[1]


async def redeems(world: World, code: str) -> None:
    world.person(FRIEND, "Lior")
    await world.telegram.user_sends(FRIEND, text=f"/start {code}")
    await world.telegram.user_presses(FRIEND, world.last(FRIEND), AcceptNote(code=code).pack())
    await world.deliver()


async def test_a_gift_is_bought_redeemed_and_lets_them_in_until_its_end(world: World) -> None:
    code = await buys_a_gift(world, 3)
    await redeems(world, code)

    assert world.told(FRIEND, "Someone gave you a gift") == 1
    assert world.told(FRIEND, "Someone gave you this seat") == 1
    seat = await world.seat(FRIEND)
    assert seat is not None and seat.status == SeatStatus.COMPED
    assert seat.current_period_end == world.clock.now() + timedelta(days=90)
    await world.telegram.join_request(FRIEND, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()
    assert world.telegram.members(GROUP)[FRIEND] == "member"

    world.person(4303, "Other")
    await world.telegram.user_sends(4303, text=f"/join {code}")
    await world.telegram.user_presses(4303, world.last(4303), AcceptNote(code=code).pack())
    assert "used already" in (world.last(4303).text or "")


async def test_an_unpaid_gift_code_opens_nothing(world: World) -> None:
    world.person(BUYER, "Dana")
    await world.telegram.user_sends(BUYER, text="/gift")
    await world.telegram.user_presses(BUYER, world.last(BUYER), GiftMonths(months=1).pack())
    async with world.sessions() as session:
        code = (await session.exec(select(AccessCode))).one()
    await redeems(world, code.code)
    assert "I don't know that code" in (world.last(FRIEND).text or "")
    assert await world.seat(FRIEND) is None


async def test_a_gift_seat_is_told_three_days_before_and_then_ends_kindly(world: World) -> None:
    await redeems(world, await buys_a_gift(world, 1))
    seat = await world.seat(FRIEND)
    assert seat is not None
    await world.telegram.join_request(FRIEND, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()

    world.clock.advance(timedelta(days=26, hours=23))
    await world.sweep()
    assert world.told(FRIEND, "ends on") == 0
    world.clock.advance(timedelta(hours=2))
    await world.sweep()
    await world.sweep()
    assert world.told(FRIEND, "ends on") == 1

    world.clock.advance(timedelta(days=3))
    await world.sweep()
    ended = await world.seat(FRIEND)
    assert ended is not None and ended.status == SeatStatus.ENDED
    assert ended.end_reason == "gift_ended"
    assert world.told(FRIEND, "Your gift has run its course") == 1
    assert world.telegram.members(GROUP).get(FRIEND) != "member"


async def test_a_gift_member_who_subscribes_stays_on_and_pays_from_the_gift_s_end(
    world: World,
) -> None:
    await redeems(world, await buys_a_gift(world, 1))
    world.clock.advance(timedelta(days=27, hours=1))
    await world.sweep()
    notice = next(
        m for m in reversed(world.telegram.sent_by_bot(FRIEND)) if "ends on" in (m.text or "")
    )
    await world.telegram.user_presses(FRIEND, notice, Join().pack())
    seat = await world.seat(FRIEND)
    assert seat is not None and seat.checkout_session_id is not None
    checkout = world.stripe.checkout_sessions[seat.checkout_session_id]
    assert checkout["mode"] == "subscription"
    await world.pay(FRIEND)
    paying = await world.seat(FRIEND)
    assert paying is not None and paying.status == SeatStatus.COMPED  # the gift still runs
    subscription = world.stripe.subscriptions[paying.stripe_subscription_id or ""]
    assert subscription["status"] == "trialing"
    assert subscription["trial_end"] == int(seat.current_period_end.timestamp())  # type: ignore[union-attr]

    world.clock.advance(timedelta(days=3))
    await world.sweep()
    after = await world.seat(FRIEND)
    assert after is not None and after.status == SeatStatus.ACTIVE
    assert world.told(FRIEND, "your own membership has begun") == 1
    assert world.told(FRIEND, "Your gift has run its course") == 0


async def test_a_gift_paid_while_stripe_s_webhook_was_lost_is_found_by_the_reconcile(
    world: World,
) -> None:
    world.person(BUYER, "Dana")
    await world.telegram.user_sends(BUYER, text="/gift")
    offer = world.last(BUYER)
    await world.telegram.user_presses(BUYER, offer, GiftMonths(months=1).pack())
    session_id = next(
        s["id"] for s in world.stripe.checkout_sessions.values() if s["mode"] == "payment"
    )
    world.stripe.lose_webhooks()
    await world.stripe.complete_checkout(session_id)
    await world.settle()
    assert world.told(BUYER, "is paid") == 0

    await jobs.reconcile_billing({"services": world.runtime})
    await world.deliver()

    assert world.told(BUYER, "Your gift of 1 month is paid") == 1
    assert "Dana" in world.texts(COACH_ID)[-1] and "gift" in world.texts(COACH_ID)[-1]
    found = re.search(r"\?start=([A-Z0-9]{10})", world.texts(BUYER)[-1])
    assert found is not None
    await redeems(world, found[1])
    seat = await world.seat(FRIEND)
    assert seat is not None and seat.status == SeatStatus.COMPED
