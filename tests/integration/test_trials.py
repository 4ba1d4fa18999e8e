"""A group's free trial and the coach's promotion codes, end to end through the Stripe
sandbox: the trial starts with no card and its end named, the member is reminded three days
before (once), and it ends kindly without a card or carries on silently with one."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
import stripe
from sqlmodel import select

from core import privacy
from core.groups import Schedule, change_schedule
from core.localtime import format_local_day
from core.models import Group, Member, SeatStatus
from tests.integration.world import COACH_ID, GROUP, World

SAM = 4401
REMINDER = "your free days in"


async def coach_sets(world: World, schedule: Schedule) -> None:
    """`between group set --trial-days 7 ...`, as the CLI saves it."""
    async with world.sessions() as session:
        group = (await session.exec(select(Group).where(Group.chat_id == GROUP))).one()
        change_schedule(group, schedule)
        session.add(group)
        await session.commit()


async def starts_a_trial(world: World) -> None:
    await coach_sets(world, Schedule(trial_days=7, timezone="Europe/London"))
    await world.join_and_pay(SAM, "Sam")


def checkout_of(world: World, session_id: str | None) -> dict[str, object]:
    assert session_id is not None
    return world.stripe.checkout_sessions[session_id]


async def test_a_trial_starts_without_a_card_and_the_welcome_says_when_it_ends(
    world: World,
) -> None:
    await starts_a_trial(world)

    offer = next(m for m in world.telegram.sent_by_bot(SAM) if "held for you" in (m.text or ""))
    assert "Start with a free week, on the house: no card" in (offer.text or "")
    buttons = [b["text"] for row in (offer.reply_markup or {})["inline_keyboard"] for b in row]
    assert buttons == ["Start my free week"]
    seat = await world.seat(SAM)
    assert seat is not None and seat.status == SeatStatus.ACTIVE
    assert checkout_of(world, seat.checkout_session_id)["payment_method_collection"] == (
        "if_required"
    )
    subscription = world.stripe.subscriptions[seat.stripe_subscription_id or ""]
    assert subscription["status"] == "trialing"
    assert subscription["default_payment_method"] is None  # nothing due: no card asked
    ends = world.clock.now() + timedelta(days=7)
    assert subscription["trial_end"] == int(ends.timestamp())
    assert seat.trial_ends_at == ends
    day = format_local_day(ends, "Europe/London")
    assert world.told(SAM, f"Your free week ends on {day}") == 1
    first_invoice = world.stripe.invoices[subscription["latest_invoice"]]
    assert first_invoice["amount_paid"] == 0


async def test_the_reminder_comes_three_days_before_once_and_then_the_seat_ends_kindly(
    world: World,
) -> None:
    await starts_a_trial(world)
    seat = await world.seat(SAM)
    assert seat is not None
    await world.telegram.join_request(SAM, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()

    world.clock.advance(timedelta(days=3, hours=23))
    await world.stripe.pass_time()
    await world.settle()
    assert world.told(SAM, REMINDER) == 0

    world.clock.advance(timedelta(hours=2))
    await world.stripe.pass_time()
    await world.settle()
    await world.stripe.pass_time()  # Stripe's clock again: the notice was sent already
    await world.settle()
    assert world.told(SAM, REMINDER) == 1
    reminder = next(t for t in world.texts(SAM) if REMINDER in t)
    assert "save a card in /billing" in reminder

    world.clock.advance(timedelta(days=3))
    await world.stripe.pass_time()
    await world.settle()
    ended = await world.seat(SAM)
    assert ended is not None and ended.status == SeatStatus.ENDED
    assert world.told(SAM, "Your membership has ended") == 1
    assert world.telegram.members(GROUP).get(SAM) != "member"
    assert not [i for i in world.stripe.invoices.values() if i["amount_paid"] > 0]


async def test_a_card_saved_in_the_trial_carries_the_membership_on_silently(
    world: World,
) -> None:
    await starts_a_trial(world)
    # /billing, then "Save a card" in Stripe's portal.
    await world.telegram.user_sends(SAM, text="/billing")
    markup = world.last(SAM).reply_markup or {}
    portal = next(str(b["url"]) for row in markup["inline_keyboard"] for b in row if "url" in b)
    async with aiohttp.ClientSession() as browser:
        async with browser.get(portal) as page:
            assert "Save a card" in await page.text()
        async with browser.post(f"{portal}/card") as saved:
            assert "Card saved." in await saved.text()
    await world.settle()

    world.clock.advance(timedelta(days=4, hours=1))
    await world.stripe.pass_time()
    await world.settle()
    reminder = next(t for t in world.texts(SAM) if REMINDER in t)
    assert "with the card you saved" in reminder
    told_before = len(world.texts(SAM))

    world.clock.advance(timedelta(days=3))
    await world.stripe.pass_time()
    await world.settle()
    after = await world.seat(SAM)
    assert after is not None and after.status == SeatStatus.ACTIVE
    subscription = world.stripe.subscriptions[after.stripe_subscription_id or ""]
    assert subscription["status"] == "active"
    assert world.stripe.invoices[subscription["latest_invoice"]]["amount_paid"] == 3100
    assert len(world.texts(SAM)) == told_before  # converted: nothing to say


async def test_one_trial_per_member_a_second_join_pays_from_the_start(world: World) -> None:
    await starts_a_trial(world)
    world.clock.advance(timedelta(days=7, hours=1))
    await world.stripe.pass_time()
    await world.settle()
    assert (await world.seat(SAM)).status == SeatStatus.ENDED  # type: ignore[union-attr]

    await world.telegram.user_sends(SAM, text="/join")  # the crisis note was accepted before
    assert "held for you" in (world.last(SAM).text or "")
    await world.pay(SAM)
    again = await world.seat(SAM)
    assert again is not None and again.status == SeatStatus.ACTIVE and again.trial_ends_at is None
    subscription = world.stripe.subscriptions[again.stripe_subscription_id or ""]
    assert subscription["status"] == "active" and subscription["trial_end"] is None
    assert world.told(SAM, "Your free week ends") == 1  # the first welcome only
    assert world.told(SAM, "Start with a free week") == 1  # the second /join: pay from today


async def test_a_promotion_code_typed_on_the_checkout_page_takes_its_discount(
    world: World,
) -> None:
    await coach_sets(world, Schedule(promotion_codes=True))
    # The coach makes the code in Stripe (their dashboard, here the API).
    http = stripe.AIOHTTPClient()
    client = stripe.StripeClient(
        world.stripe.api_key, base_addresses={"api": world.stripe.base_url}, http_client=http
    )
    coupon = await client.v1.coupons.create_async(
        params={"percent_off": 50, "duration": "once", "name": "Friends"}
    )
    await client.v1.promotion_codes.create_async(
        params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "FRIENDS"}
    )
    world.person(SAM, "Sam")
    await world.ask_to_join(SAM)
    seat = await world.seat(SAM)
    assert seat is not None and seat.checkout_url is not None
    assert checkout_of(world, seat.checkout_session_id)["allow_promotion_codes"] is True

    async with aiohttp.ClientSession() as browser:
        async with browser.get(seat.checkout_url) as page:
            assert 'name="promotion_code"' in await page.text()
        async with browser.post(
            seat.checkout_url, data={"promotion_code": "NOPE"}, allow_redirects=False
        ) as refused:
            assert refused.status == 400
        async with browser.post(
            seat.checkout_url, data={"promotion_code": "friends"}, allow_redirects=False
        ) as paid:
            assert paid.status == 302
    await world.settle()

    checkout = checkout_of(world, seat.checkout_session_id)
    assert checkout["amount_total"] == 1550
    after = await world.seat(SAM)
    assert after is not None and after.status == SeatStatus.ACTIVE
    assert world.told(SAM, "Welcome to") == 1
    await http.close_async()  # type: ignore[no-untyped-call]


async def test_a_trial_group_offers_the_trial_not_the_code_field(world: World) -> None:
    await coach_sets(world, Schedule(trial_days=7, promotion_codes=True))
    world.person(SAM, "Sam")
    await world.ask_to_join(SAM)
    seat = await world.seat(SAM)
    assert seat is not None
    checkout = checkout_of(world, seat.checkout_session_id)
    assert checkout["allow_promotion_codes"] is None
    assert checkout["payment_method_collection"] == "if_required"


@pytest.mark.parametrize(
    ("params", "refusal"),
    [
        ({"subscription_data": {"trial_period_days": 0}}, "greater than or equal to 1"),
        (
            {"subscription_data": {"trial_period_days": 7, "trial_end": 4102444800}},
            "only specify one of these parameters: trial_end, trial_period_days",
        ),
        (
            {"mode": "payment", "subscription_data": {"trial_period_days": 7}},
            "subscription_data in subscription mode",
        ),
        (
            {"allow_promotion_codes": True, "discounts": [{"coupon": "between_first_month_free"}]},
            "allow_promotion_codes, discounts",
        ),
    ],
)
async def test_the_sandbox_refuses_what_stripe_refuses(
    world: World, params: dict[str, object], refusal: str
) -> None:
    http = stripe.AIOHTTPClient()
    client = stripe.StripeClient(
        world.stripe.api_key, base_addresses={"api": world.stripe.base_url}, http_client=http
    )
    await world.runtime.membership.payments.first_month_coupon()
    price = world.settings.stripe_price_id
    if params.get("mode") == "payment":  # a one-time price, so only subscription_data is wrong
        recurring = await client.v1.prices.retrieve_async(str(price))
        one_time = await client.v1.prices.create_async(
            params={"product": str(recurring.product), "currency": "usd", "unit_amount": 3100}
        )
        price = one_time.id
    sent = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": "https://t.me/bot",
        **params,
    }
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.checkout.sessions.create_async(params=sent)  # type: ignore[arg-type]
    await http.close_async()  # type: ignore[no-untyped-call]
    assert refusal in str(refused.value)


async def test_mydata_says_when_the_free_trial_ends(world: World) -> None:
    await starts_a_trial(world)
    async with world.sessions() as session:
        member = (await session.exec(select(Member).where(Member.telegram_id == SAM))).one()
        exported = await privacy.export_member(session, member)
    [seat] = exported["membership"]
    assert seat["free_trial_until"] is not None


async def test_a_trial_cancelled_in_the_portal_gets_no_reminder_and_ends_with_the_goodbye(
    world: World,
) -> None:
    await starts_a_trial(world)
    seat = await world.seat(SAM)
    assert seat is not None and seat.stripe_subscription_id is not None
    await world.stripe.cancel_at_period_end(seat.stripe_subscription_id)
    await world.settle()
    assert world.told(SAM, "Your membership is set to end") == 1

    world.clock.advance(timedelta(days=4, hours=1))
    await world.stripe.pass_time()
    await world.settle()
    assert world.told(SAM, REMINDER) == 0  # they have said already; no second word about it
    world.clock.advance(timedelta(days=3))
    await world.stripe.pass_time()
    await world.settle()
    assert world.told(SAM, "Your membership has ended") == 1


async def test_the_coachs_seats_show_a_seat_on_its_free_trial(world: World) -> None:
    await starts_a_trial(world)

    await world.telegram.user_sends(COACH_ID, text="/seats")

    seats = world.last(COACH_ID).text or ""
    assert "• Sam: trial, nothing" in seats
    assert "Brings in nothing yet." in seats
