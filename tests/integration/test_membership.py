"""The membership lifecycle end to end: Telegram and Stripe sandboxes, the web app, the worker."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlmodel import col, select

from billing.reconcile import reconcile
from billing.stripe_gateway import StripeGateway
from core.groups import register_group
from core.models import Seat, SeatStatus, WaitlistEntry, WaitlistStatus
from prompts.buttons import AcceptNote
from sandbox.stripe import StripeSandbox
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World

STRANGER = 7777


async def count_seats(world: World, status: SeatStatus) -> int:
    async with world.sessions() as session:
        return len((await session.exec(select(Seat).where(col(Seat.status) == status))).all())


async def test_fifty_people_pressing_join_at_once_for_three_seats_get_exactly_three_holds(
    world: World,
) -> None:
    people = list(range(3000, 3050))
    notes = []
    for user_id in people:
        world.person(user_id, f"P{user_id}")
        await world.telegram.user_sends(user_id, text="/join")
        notes.append(world.last(user_id))

    await asyncio.gather(
        *(
            world.telegram.user_presses(u, n, AcceptNote().pack())
            for u, n in zip(people, notes, strict=True)
        )
    )

    assert await count_seats(world, SeatStatus.HELD) == 3
    held = [u for u in people if "held for you" in (world.last(u).text or "")]
    waiting = [u for u in people if "waitlist" in (world.last(u).text or "")]
    assert (len(held), len(waiting)) == (3, 47)
    async with world.sessions() as session:
        entries = (await session.exec(select(WaitlistEntry))).all()
    assert len(entries) == 47
    positions = sorted(int(world.last(u).text.split("number ")[1].split(".")[0]) for u in waiting)  # type: ignore[union-attr]
    assert positions == list(range(1, 48))


async def test_paying_activates_the_seat_and_the_invite_lets_only_that_member_in(
    world: World,
) -> None:
    seat = await world.join_and_pay(4001, "Maya")
    assert world.told(4001, "Welcome to Between circle") == 1
    link = seat.invite_link
    assert link is not None and link in (world.last(4001).text or "")

    world.person(STRANGER, "Leaky")
    await world.telegram.join_request(STRANGER, GROUP, invite_link=link)
    assert world.telegram.members(GROUP).get(STRANGER) != "member"
    assert world.told(STRANGER, "This group is for members of Between") == 1

    await world.telegram.join_request(4001, GROUP, invite_link=link)
    await world.telegram.settle()
    assert world.telegram.members(GROUP)[4001] == "member"
    seat_now = await world.seat(4001)
    assert seat_now is not None and seat_now.joined_at == world.clock.now()
    assert seat_now.invite_link is None  # used once, then revoked


async def test_the_same_checkout_event_replayed_is_applied_once(world: World) -> None:
    await world.join_and_pay(4001, "Maya")
    completed = [e for e in world.stripe.events if e["type"] == "checkout.session.completed"]
    for _ in range(4):
        assert await world.stripe.send_event(completed[0]) == 200
    await world.settle()
    assert world.told(4001, "Welcome to Between circle") == 1
    assert await count_seats(world, SeatStatus.ACTIVE) == 1


async def test_a_forged_checkout_event_changes_nothing(world: World) -> None:
    world.person(4001, "Maya")
    await world.ask_to_join(4001)
    seat = await world.seat(4001)
    assert seat is not None
    forged = world.stripe.make_event(
        "checkout.session.completed",
        {
            "id": seat.checkout_session_id,
            "object": "checkout.session",
            "subscription": "sub_x",
            "customer": "cus_x",
            "metadata": {"seat_id": str(seat.id)},
        },
    )
    assert await world.stripe.send_event(forged, secret="whsec_forged") == 400
    await world.settle()
    after = await world.seat(4001)
    assert after is not None and after.status == SeatStatus.HELD
    assert world.told(4001, "Welcome") == 0


async def test_payment_failure_grace_and_removal_then_the_seat_goes_to_the_waitlist(
    world: World,
) -> None:
    seat = await world.join_and_pay(4001, "Maya")
    await world.join_and_pay(4002, "Noa")
    await world.join_and_pay(4003, "Ori")
    await world.telegram.join_request(4001, GROUP, invite_link=seat.invite_link)
    world.person(4004, "Tal")
    assert "number 1" in ((await world.ask_to_join(4004)).text or "")

    assert seat.stripe_subscription_id is not None
    await world.stripe.fail_renewal(seat.stripe_subscription_id)
    await world.settle()
    past_due = await world.seat(4001)
    assert past_due is not None and past_due.status == SeatStatus.PAST_DUE
    assert world.told(4001, "your last payment for Between didn't go through") == 1
    assert world.last(4001).reply_markup is not None  # "Update my card"

    world.clock.advance(timedelta(days=2))
    await world.sweep()
    assert (await world.seat(4001)).status == SeatStatus.PAST_DUE  # type: ignore[union-attr]

    world.clock.advance(timedelta(days=1, minutes=1))
    await world.sweep()
    ended = await world.seat(4001)
    assert ended is not None and (ended.status, ended.end_reason) == (SeatStatus.ENDED, "unpaid")
    assert world.telegram.members(GROUP)[4001] == "left"  # banned and unbanned: may come back
    assert world.stripe.subscriptions[seat.stripe_subscription_id]["status"] == "canceled"
    assert world.told(4001, "the seat has been released") == 1
    assert world.told(4004, "a seat opened in Between circle") == 1
    offered = await world.seat(4004)
    assert offered is not None and offered.status == SeatStatus.HELD


async def in_the_group(world: World, user_id: int, name: str) -> Seat:
    """Pay, then come in through the personal invite link."""
    seat = await world.join_and_pay(user_id, name)
    assert seat.invite_link is not None
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.settle()
    assert world.telegram.members(GROUP)[user_id] == "member"
    return seat


async def test_a_subscription_ended_in_stripe_takes_the_member_out_of_the_group(
    world: World,
) -> None:
    seat = await in_the_group(world, 4001, "Maya")
    assert seat.stripe_subscription_id is not None

    await world.stripe.end_subscription(
        seat.stripe_subscription_id
    )  # customer.subscription.deleted
    await world.settle()

    ended = await world.seat(4001)
    assert ended is not None and (ended.status, ended.end_reason) == (SeatStatus.ENDED, "canceled")
    assert world.telegram.members(GROUP)[4001] == "left"  # banned and unbanned: may come back
    assert world.told(4001, "Your membership has ended") == 1


async def test_lifecycle_events_arriving_late_and_reordered_end_in_the_right_state(
    world: World,
) -> None:
    seat = await in_the_group(world, 4001, "Maya")
    subscription_id = seat.stripe_subscription_id
    assert subscription_id is not None
    before = world.texts(4001)
    seen = len(world.stripe.events)
    # The endpoint is down while the subscription lives on: cancelling, a failed renewal, the end.
    world.stripe.lose_webhooks()
    await world.stripe.cancel_at_period_end(subscription_id)
    await world.stripe.fail_renewal(subscription_id)
    await world.stripe.end_subscription(subscription_id)
    world.stripe.lose_webhooks(False)
    late = world.stripe.events[seen:]
    assert {"customer.subscription.updated", "invoice.payment_failed"} <= {
        e["type"] for e in late
    } and "customer.subscription.deleted" in {e["type"] for e in late}

    # Stripe's retries bring them for the first time, shuffled: deleted before updated, ...
    random.Random(7).shuffle(late)
    for event in late:
        assert await world.stripe.send_event(event) == 200
    await world.settle()

    final = await world.seat(4001)
    assert final is not None and final.status == SeatStatus.ENDED
    assert world.telegram.members(GROUP)[4001] == "left"
    # The state Stripe has now decides: one goodbye, no stale "payment failed" or "set to end".
    told = world.texts(4001)[len(before) :]
    assert len(told) == 1 and "Your membership has ended" in told[0]

    # And everything once more, as Stripe does when it is unsure: nothing changes.
    everything = world.texts(4001)
    for event in world.stripe.events:
        assert await world.stripe.send_event(event) == 200
    await world.settle()
    assert world.texts(4001) == everything


async def test_a_hold_that_expires_gives_the_seat_back(world: World) -> None:
    world.person(4001, "Maya")
    answer = await world.ask_to_join(4001)
    assert answer.reply_markup is not None  # the "Pay" button
    world.clock.advance(timedelta(minutes=61))
    await world.sweep()
    seat = await world.seat(4001)
    assert seat is not None and (seat.status, seat.end_reason) == (
        SeatStatus.ENDED,
        "hold_expired",
    )
    assert world.told(4001, "was released") == 1
    assert await count_seats(world, SeatStatus.HELD) == 0


async def test_checkout_expired_frees_the_hold(world: World) -> None:
    world.person(4001, "Maya")
    await world.ask_to_join(4001)
    seat = await world.seat(4001)
    assert seat is not None and seat.checkout_session_id is not None
    await world.stripe.expire_checkout(seat.checkout_session_id)
    await world.settle()
    assert (await world.seat(4001)).status == SeatStatus.ENDED  # type: ignore[union-attr]


async def test_a_waitlist_offer_not_taken_passes_to_the_next_person(world: World) -> None:
    async with world.sessions() as session:
        await register_group(
            session, chat_id=GROUP, title="Between circle", capacity=1, now=world.clock.now()
        )
        await session.commit()
    first = await world.join_and_pay(4001, "Maya")
    world.person(4002, "Noa")
    world.person(4003, "Ori")
    assert "number 1" in ((await world.ask_to_join(4002)).text or "")
    assert "number 2" in ((await world.ask_to_join(4003)).text or "")

    assert first.stripe_subscription_id is not None
    await world.stripe.end_subscription(first.stripe_subscription_id)
    await world.settle()
    assert world.told(4002, "a seat opened") == 1
    assert world.told(4003, "a seat opened") == 0

    world.clock.advance(timedelta(hours=24, minutes=1))
    await world.sweep()
    assert world.told(4002, "has gone to the next person") == 1
    assert world.told(4003, "a seat opened") == 1

    offer = world.last(4003)
    await world.telegram.user_presses(4003, offer, "join")
    assert "held for you" in (world.last(4003).text or "")
    await world.pay(4003)
    async with world.sessions() as session:
        entries = (await session.exec(select(WaitlistEntry).order_by(col(WaitlistEntry.id)))).all()
    assert [e.status for e in entries] == [WaitlistStatus.LAPSED, WaitlistStatus.SEATED]
    assert (await world.seat(4003)).status == SeatStatus.ACTIVE  # type: ignore[union-attr]


async def test_an_intruder_is_removed_and_the_coach_never_is(world: World) -> None:
    world.person(STRANGER, "Sneaky")
    await world.telegram.user_sends(STRANGER, text="/start")
    await world.telegram.user_joins(STRANGER, GROUP)
    await world.deliver()  # taken out after the arrival's commit, by the outbox
    assert world.telegram.members(GROUP)[STRANGER] == "left"
    assert world.told(STRANGER, "I had to take you out of it") == 1

    # The coach left and comes back, as coaches do: Telegram says so with a chat_member update.
    coach = {"id": COACH_ID, "is_bot": False, "first_name": "Coach"}
    status = await world.telegram.deliver(
        {
            "chat_member": {
                "chat": {"id": GROUP, "type": "supergroup", "title": "Between circle"},
                "from": coach,
                "date": int(world.clock.now().timestamp()),
                "old_chat_member": {"status": "left", "user": coach},
                "new_chat_member": {"status": "member", "user": coach},
            }
        }
    )
    assert status == 200
    bans = [c.params["user_id"] for c in world.telegram.calls if c.method == "banChatMember"]
    assert bans == [STRANGER]


async def test_reconcile_heals_what_lost_webhooks_missed(world: World) -> None:
    world.person(4001, "Maya")
    await world.ask_to_join(4001)
    seat = await world.seat(4001)
    assert seat is not None and seat.checkout_session_id is not None
    world.stripe.lose_webhooks()
    await world.stripe.complete_checkout(seat.checkout_session_id)
    await world.settle()
    assert (await world.seat(4001)).status == SeatStatus.HELD  # type: ignore[union-attr]

    async with world.sessions() as session:
        dry = await reconcile(session, world.runtime.membership, world.clock.now(), apply=False)
        await session.rollback()
    assert [(d.ours, d.stripes, d.fixed) for d in dry] == [("held", "active", False)]
    assert (await world.seat(4001)).status == SeatStatus.HELD  # type: ignore[union-attr]

    await jobs.reconcile_billing({"services": world.runtime})
    await world.deliver()
    healed = await world.seat(4001)
    assert healed is not None and healed.status == SeatStatus.ACTIVE
    assert world.told(4001, "Welcome to Between circle") == 1
    assert world.told(COACH_ID, "Billing check") == 1
    assert "Maya" in world.texts(COACH_ID)[-1] and "fixed" in world.texts(COACH_ID)[-1]


async def test_status_billing_and_a_fresh_invite(world: World) -> None:
    seat = await world.join_and_pay(4001, "Maya")
    await world.telegram.user_sends(4001, text="/status")
    assert "Renews" in (world.last(4001).text or "")
    await world.telegram.user_sends(4001, text="/billing")
    portal = world.last(4001).reply_markup
    assert portal is not None and "url" in portal["inline_keyboard"][0][0]
    await world.telegram.user_sends(4001, text="/invite")
    await world.deliver()  # the link is made as the message bringing it is sent
    fresh = (await world.seat(4001)).invite_link  # type: ignore[union-attr]
    assert fresh is not None and fresh != seat.invite_link
    assert fresh in (world.last(4001).text or "")
    with pytest.raises(Exception, match="revoked|expired|invalid"):
        await world.telegram.join_request(4001, GROUP, invite_link=seat.invite_link)


async def test_coach_tools_and_a_polite_no_for_everyone_else(world: World) -> None:
    await world.join_and_pay(4001, "Maya")
    world.person(4002, "Noa")
    await world.telegram.user_sends(4002, text="/start")

    await world.telegram.user_sends(4002, text="/seats")
    assert "for the coach" in (world.last(4002).text or "")

    await world.telegram.user_sends(COACH_ID, text="/comp @noa")
    assert "Noa has a free seat" in (world.last(COACH_ID).text or "")
    await world.deliver()
    assert world.told(4002, "Your coach has given you a seat") == 1

    await world.telegram.user_sends(COACH_ID, text="/seats")
    assert "taken 2" in (world.last(COACH_ID).text or "")

    await world.telegram.user_sends(COACH_ID, text="/capacity 2")
    assert "now has 2 seats" in (world.last(COACH_ID).text or "")
    world.person(4003, "Ori")
    await world.ask_to_join(4003)
    await world.telegram.user_sends(COACH_ID, text="/waitlist")
    assert "1. Ori (@ori)" in (world.last(COACH_ID).text or "")

    await world.telegram.user_sends(COACH_ID, text="/remove @maya")
    assert "Maya is out" in (world.last(COACH_ID).text or "")
    await world.deliver()
    assert world.told(4001, "Your coach has ended your seat") == 1
    assert world.told(4003, "a seat opened") == 1


async def test_stripe_setup_creates_the_price_once(stripe_sandbox: StripeSandbox) -> None:
    gateway = StripeGateway(stripe_sandbox.api_key, stripe_sandbox.base_url)
    try:
        first = await gateway.ensure_price()
        again = await gateway.ensure_price()
    finally:
        await gateway.close()
    assert first[1] is True and again == (first[0], False)
    [price] = stripe_sandbox.prices.values()
    assert (price["unit_amount"], price["recurring"]["interval"]) == (3100, "month")


async def test_a_payment_after_the_hold_ended_never_overfills_a_full_group(world: World) -> None:
    """Paid in the last second of a hold whose seat has gone to someone else meanwhile: the
    group stays at its size, the payer is told kindly, and the coach is told how to settle it."""
    async with world.sessions() as session:
        await register_group(
            session, chat_id=GROUP, title="Between circle", capacity=1, now=world.clock.now()
        )
        await session.commit()
    world.person(4001, "Maya")
    await world.ask_to_join(4001)
    late = await world.seat(4001)
    assert late is not None and late.checkout_session_id is not None
    # Paid in time, but Stripe's webhooks reach us only after the hold ran out and the seat
    # went to the next person.
    world.stripe.lose_webhooks()
    await world.stripe.complete_checkout(late.checkout_session_id)
    held_back = list(world.stripe.events)
    world.stripe.lose_webhooks(False)
    world.clock.advance(timedelta(minutes=61))
    await world.sweep()
    await world.join_and_pay(4002, "Noa")

    for event in held_back:
        assert await world.stripe.send_event(event) == 200
    await world.settle()

    assert await count_seats(world, SeatStatus.ACTIVE) == 1
    maya = await world.seat(4001)
    assert maya is not None and maya.status == SeatStatus.ENDED
    assert world.told(4001, "came just after your hold ended") == 1
    assert world.told(COACH_ID, "paid just after their hold ended") == 1
