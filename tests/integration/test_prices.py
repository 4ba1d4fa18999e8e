"""A group's own price, end to end: made and chosen from the command line against the Stripe
sandbox, named in each member's language in every text and button, sold at Checkout, checked by
the doctor; /seats says how each seat pays and what it brings in."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import stripe
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from app.doctor import run_checks
from app.web import create_app
from core.clock import SimulatedClock
from core.db import SessionFactory
from core.pricing import Price
from core.settings import Settings
from prompts.buttons import AcceptNote
from sandbox.harness import price_group
from sandbox.stripe import StripeSandbox
from sandbox.telegram import TelegramSandbox
from tests.integration.test_cli import bare_environment, between
from tests.integration.test_dashboard import group_id, log_in
from tests.integration.world import COACH_ID, GROUP, World, world_with_settings

NBSP = "\u00a0"
STARS = 2400
MAYA, NOA, ARI, LEA = 4301, 4302, 4303, 4304


async def stripe_client_call(sandbox: StripeSandbox, **params: object) -> stripe.Price:
    client = stripe.StripeClient(
        sandbox.api_key,
        base_addresses={"api": sandbox.base_url},
        http_client=(http := stripe.AIOHTTPClient()),
    )
    try:
        return await client.v1.prices.create_async(params=params)  # type: ignore[arg-type]
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]


async def archive(sandbox: StripeSandbox, price_id: str) -> None:
    client = stripe.StripeClient(
        sandbox.api_key,
        base_addresses={"api": sandbox.base_url},
        http_client=(http := stripe.AIOHTTPClient()),
    )
    try:
        await client.v1.prices.update_async(price_id, params={"active": False})
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]


async def price_the_group(world: World, price: Price) -> str:
    return await price_group(world.stripe, world.sessions, chat_id=GROUP, price=price)


def buttons(world: World, user_id: int) -> list[str]:
    markup = world.last(user_id).reply_markup or {}
    return [str(b.get("text")) for row in markup.get("inline_keyboard", []) for b in row]


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


async def test_the_coach_makes_a_price_in_pounds_and_gives_it_to_a_group(
    tmp_path: Path, stripe_sandbox: StripeSandbox
) -> None:
    env = bare_environment(tmp_path) | {
        "STRIPE_SECRET_KEY": stripe_sandbox.api_key,
        "STRIPE_API_BASE": stripe_sandbox.base_url,
    }
    setup = ("stripe", "setup", "--currency", "gbp", "--amount", "31")
    code, made, err = await between(*setup, env=env, cwd=tmp_path)
    assert code == 0, err
    assert "Created the £31 a month price: price_" in made
    (price_id,) = re.findall(r"price: (price_\w+)", made)
    price = stripe_sandbox.prices[price_id]
    assert (price["currency"], price["unit_amount"], price["recurring"]["interval"]) == (
        "gbp",
        3100,
        "month",
    )
    code, again, _ = await between(*setup, env=env, cwd=tmp_path)
    assert code == 0 and f"Found the £31 a month price: {price_id}" in again

    add = ("group", "add", "--chat-id", "-100555", "--title", "London circle")
    assert (await between(*add, env=env, cwd=tmp_path))[0] == 0
    chosen = ("group", "set", "--chat-id", "-100555", "--price-id")
    code, out, err = await between(*chosen, price_id, env=env, cwd=tmp_path)
    assert code == 0, err
    assert "London circle (-100555)" in out and "£31 a month" in out
    code, listed, _ = await between("group", "list", env=env, cwd=tmp_path)
    assert code == 0 and "£31 a month" in listed, listed

    # What Stripe would refuse, or a seat can't be sold at, is one line saying why.
    code, _, err = await between(*chosen, "price_nope", env=env, cwd=tmp_path)
    assert code == 2 and err.strip() == "error: Stripe has no price 'price_nope'"
    once = await stripe_client_call(
        stripe_sandbox, currency="gbp", unit_amount=3100, product=price["product"]
    )
    code, _, err = await between(*chosen, once.id, env=env, cwd=tmp_path)
    assert code == 2 and "is a one-time price: a seat needs a recurring one" in err
    await archive(stripe_sandbox, price_id)
    code, _, err = await between(*chosen, price_id, env=env, cwd=tmp_path)
    assert code == 2 and f"{price_id} is archived in Stripe" in err
    code, _, err = await between(
        "stripe", "setup", "--currency", "xyz", "--amount", "31", env=env, cwd=tmp_path
    )
    assert code == 2 and "Stripe refused the price: Invalid currency: xyz" in err
    code, _, err = await between(
        "stripe", "setup", "--currency", "gbp", "--amount", "31.505", env=env, cwd=tmp_path
    )
    assert code == 2 and "'31.505' is not an amount of GBP (at most 2 decimals)" in err


async def test_members_read_the_group_s_price_in_their_language_and_checkout_charges_it(
    world: World,
) -> None:
    price_id = await price_the_group(world, Price(3100, "gbp"))

    world.person(MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="/start")
    start = world.last(MAYA).text or ""
    assert "about £1 a day: £31 a month, cancel any time" in start and "$" not in start
    assert buttons(world, MAYA)[0] == "Join: £31 a month"
    answer = await world.ask_to_join(MAYA)
    assert "£31 a month, cancel any time" in (answer.text or "")
    assert buttons(world, MAYA)[0] == "Pay £31 a month"
    seat = await world.seat(MAYA)
    assert seat is not None and seat.checkout_session_id is not None
    checkout = world.stripe.checkout_sessions[seat.checkout_session_id]
    assert (checkout["currency"], checkout["amount_total"]) == ("gbp", 3100)
    assert world.stripe.prices[price_id]["currency"] == "gbp"

    world.telegram.add_user(NOA, "Noa", username="noa", language_code="es")
    await world.telegram.user_sends(NOA, text="/start")
    assert f"alrededor de 1{NBSP}£ al día: 31{NBSP}£ al mes" in (world.last(NOA).text or "")
    await world.ask_to_join(NOA)
    assert buttons(world, NOA)[0] == f"Pay 31{NBSP}£ al mes"

    # A gift is bought by the month, at the group's price.
    await world.telegram.user_sends(NOA, text="/gift")
    assert buttons(world, NOA) == [f"A month: 31{NBSP}£", f"Three months: 93{NBSP}£"]


async def test_seats_says_how_each_seat_pays_and_what_it_brings_in(world: World) -> None:
    await price_the_group(world, Price(3100, "gbp"))
    await world.telegram.user_sends(COACH_ID, text="/capacity 5")
    await world.join_and_pay(MAYA, "Maya")

    world.person(NOA, "Noa")
    await world.ask_to_join(NOA)
    markup = world.last(NOA).reply_markup or {}
    urls = [str(b.get("url", "")) for row in markup["inline_keyboard"] for b in row]
    stars_link = next(url for url in urls if url.startswith("https://t.me/$"))
    assert await world.telegram.user_pays_invoice(NOA, stars_link) is not None
    await world.deliver()

    await world.telegram.user_sends(COACH_ID, text="/code new 1")
    (code,) = re.findall(r"\?start=([A-Z0-9]{10})", world.last(COACH_ID).text or "")
    world.person(ARI, "Ari")
    await world.telegram.user_sends(ARI, text=f"/join {code}")
    await world.telegram.user_presses(ARI, world.last(ARI), AcceptNote(code=code).pack())

    world.person(LEA, "Lea")
    await world.telegram.user_sends(LEA, text="/start")
    await world.telegram.user_sends(COACH_ID, text="/comp @lea")

    await world.telegram.user_sends(COACH_ID, text="/seats")
    seats = world.last(COACH_ID).text or ""
    assert "Between circle · £31 a month" in seats
    assert "• Maya: Stripe, £31" in seats
    assert f"• Noa: Stars, ⭐ {STARS}" in seats
    assert "• Ari: code, nothing" in seats
    assert "• Lea: comped, nothing" in seats
    assert f"Brings in £31 and ⭐ {STARS} a month." in seats


async def test_the_doctor_checks_each_group_s_price_against_stripe(world: World) -> None:
    price_id = await price_the_group(world, Price(3100, "gbp"))
    checks = {check.name: check for check in await run_checks(world.settings)}
    assert checks["price of Between circle"].ok
    assert checks["price of Between circle"].detail == f"{price_id}: £31 a month"
    await archive(world.stripe, price_id)
    checks = {check.name: check for check in await run_checks(world.settings)}
    assert not checks["price of Between circle"].ok
    assert f"{price_id} is archived in Stripe" in checks["price of Between circle"].detail


async def test_the_dashboard_shows_what_each_seat_pays_in_the_group_s_currency(
    world: World,
) -> None:
    await price_the_group(world, Price(3100, "gbp"))
    await world.join_and_pay(MAYA, "Maya")
    world.person(LEA, "Lea")
    await world.telegram.user_sends(LEA, text="/start")
    await world.telegram.user_sends(COACH_ID, text="/comp @lea")
    async with TestClient(TestServer(create_app(world.runtime))) as client:
        await log_in(client, world)
        gid = await group_id(world)
        page = await (await client.get(f"/dashboard/groups/{gid}")).text()
        assert "Monthly revenue" in page and "1 paying × £31 a month" in page
        assert 'Stripe<br><span class="hint">£31 a month' in page
        assert 'comped<br><span class="hint">nothing</span>' in page
        members = await (await client.get(f"/dashboard/groups/{gid}/members.csv")).text()
    rows = {row[0]: row for row in csv.reader(io.StringIO(members))}
    assert rows["first name"][-2:] == ["pays by", "a month"]
    assert rows["Maya"][-2:] == ["Stripe", "£31"] and rows["Lea"][-2:] == ["comped", "nothing"]


async def test_a_new_price_is_for_new_seats_and_each_seat_counts_at_what_stripe_bills(
    world: World,
) -> None:
    await price_the_group(world, Price(3100, "gbp"))
    await world.join_and_pay(MAYA, "Maya")
    await price_the_group(world, Price(3500, "gbp"))
    await world.join_and_pay(NOA, "Noa")
    await price_the_group(world, Price(4000, "eur"))
    await world.join_and_pay(ARI, "Ari")
    seat = await world.seat(ARI)
    assert seat is not None and seat.checkout_session_id is not None
    assert world.stripe.checkout_sessions[seat.checkout_session_id]["currency"] == "eur"

    await world.telegram.user_sends(COACH_ID, text="/seats")
    seats = world.last(COACH_ID).text or ""
    assert "Between circle · €40 a month" in seats
    assert "• Maya: Stripe, £31" in seats and "• Noa: Stripe, £35" in seats
    assert "• Ari: Stripe, €40" in seats
    assert "Brings in €40 and £66 a month." in seats
