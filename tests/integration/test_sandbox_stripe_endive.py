"""The Stripe sandbox answers as the real API does under 2026-10-28.endive (the version
stripe-python 16 pins): ended subscriptions, idempotency, Checkout's shapes and its clock, the
events API, and older API versions rendered on request. Each case cites what it follows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import stripe

from sandbox.stripe import StripeSandbox
from tests.integration.test_sandbox_stripe import (
    WebhookReceiver,
    checkout_params,
    create_monthly_price,
    paid_subscription,
)

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sandbox(clock: Clock) -> AsyncIterator[StripeSandbox]:
    stripe_sandbox = StripeSandbox(now=clock)
    await stripe_sandbox.start()
    yield stripe_sandbox
    await stripe_sandbox.stop()


@pytest.fixture
async def client(sandbox: StripeSandbox) -> AsyncIterator[stripe.StripeClient]:
    http_client = stripe.AIOHTTPClient()
    yield stripe.StripeClient(
        sandbox.api_key,
        base_addresses={"api": sandbox.base_url},
        http_client=http_client,
        max_network_retries=0,
    )
    await http_client.close_async()  # type: ignore[no-untyped-call]


def at(clock: Clock, minutes: float) -> int:
    return int((clock.now + timedelta(minutes=minutes)).timestamp())


async def test_cancelling_an_ended_subscription_is_404_resource_missing_but_get_finds_it(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    # stripe/stripe-go#1887 (a Stripe engineer: "akin to being deleted already"),
    # santiment/sanbase2#2350 (the raw body), dj-stripe #502.
    price = await create_monthly_price(client)
    subscription_id = await paid_subscription(sandbox, client, price.id)
    await client.v1.subscriptions.cancel_async(subscription_id)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.subscriptions.cancel_async(subscription_id)
    error = raised.value
    assert (error.http_status, error.code, error.param) == (404, "resource_missing", "id")
    assert error.user_message == f"No such subscription: '{subscription_id}'"
    found = await client.v1.subscriptions.retrieve_async(subscription_id)
    assert found.status == "canceled"


async def test_a_reused_key_with_other_parameters_is_an_idempotency_error(
    client: stripe.StripeClient, clock: Clock
) -> None:
    # docs.stripe.com/api/idempotent_requests; the message as real test suites record it.
    price = await create_monthly_price(client)
    options: stripe.RequestOptions = {"idempotency_key": "seat-1"}
    await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id, expires_at=at(clock, 60)), options=options
    )
    with pytest.raises(stripe.IdempotencyError) as raised:
        await client.v1.checkout.sessions.create_async(
            params=checkout_params(price.id, expires_at=at(clock, 61)), options=options
        )
    assert raised.value.http_status == 400
    assert not isinstance(raised.value, stripe.InvalidRequestError)  # nothing catches it so
    assert raised.value.user_message == (
        "Keys for idempotent requests can only be used with the same parameters they were "
        "first used with. Try using a key other than 'seat-1' if you meant to execute a "
        "different request."
    )
    with pytest.raises(stripe.IdempotencyError, match=r"\('/v1/checkout/sessions' vs"):
        await client.v1.products.create_async(params={"name": "x"}, options=options)


async def test_a_key_is_forgotten_after_24_hours_by_stripes_clock(
    sandbox: StripeSandbox, client: stripe.StripeClient, clock: Clock
) -> None:
    price = await create_monthly_price(client)
    options: stripe.RequestOptions = {"idempotency_key": "seat-1"}
    first = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id), options=options
    )
    clock.now += timedelta(hours=23, minutes=59)
    replayed = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id), options=options
    )
    assert replayed.id == first.id
    clock.now += timedelta(minutes=1)
    fresh = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id, member_id=8), options=options
    )
    assert fresh.id != first.id and len(sandbox.checkout_sessions) == 2


async def test_a_500_after_execution_is_replayed_to_retries_and_validation_is_not_saved(
    sandbox: StripeSandbox, client: stripe.StripeClient, clock: Clock
) -> None:
    # "Stripe saves the status code and body of the first request ... regardless of whether
    # it succeeds or fails, including 500 errors"; "Results are only saved if an API endpoint
    # began executing": a request that failed validation runs again.
    price = await create_monthly_price(client)
    options: stripe.RequestOptions = {"idempotency_key": "seat-2"}
    sandbox.fail_after_execution(500)
    with pytest.raises(stripe.APIError):
        await client.v1.checkout.sessions.create_async(
            params=checkout_params(price.id), options=options
        )
    assert len(sandbox.checkout_sessions) == 1  # it was made, all the same
    with pytest.raises(stripe.APIError):
        await client.v1.checkout.sessions.create_async(
            params=checkout_params(price.id), options=options
        )
    assert len(sandbox.checkout_sessions) == 1

    too_soon: stripe.RequestOptions = {"idempotency_key": "seat-3"}
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.create_async(
            params=checkout_params(price.id, expires_at=at(clock, 10)), options=too_soon
        )
    # Not saved: the same key with corrected parameters runs, rather than an idempotency_error.
    made = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id, expires_at=at(clock, 40)), options=too_soon
    )
    assert made.status == "open"


async def test_the_same_key_while_its_first_request_runs_is_409(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    price = await create_monthly_price(client)
    sandbox.stall("POST", "/v1/checkout/sessions")
    options: stripe.RequestOptions = {"idempotency_key": "seat-4"}
    first = asyncio.create_task(
        client.v1.checkout.sessions.create_async(params=checkout_params(price.id), options=options)
    )
    try:
        await sandbox.wait_for_stalled()
        with pytest.raises(stripe.APIError) as raised:
            await client.v1.checkout.sessions.create_async(
                params=checkout_params(price.id), options=options
            )
    finally:
        sandbox.release_stalls()
    assert raised.value.http_status == 409 and raised.value.error is not None
    assert raised.value.error.code == "idempotency_key_in_use"
    assert (await first).status == "open"


async def test_expires_at_is_measured_from_stripes_own_clock(
    sandbox: StripeSandbox, client: stripe.StripeClient, clock: Clock
) -> None:
    # "at least 30 minutes from Checkout Session creation", on Stripe's clock: integrations
    # measured Stripe 86 s ahead of theirs, so exactly 30 minutes by ours is refused.
    price = await create_monthly_price(client)
    sandbox.clock_skew = timedelta(seconds=90)
    with pytest.raises(stripe.InvalidRequestError, match="at least 30 minutes"):
        await client.v1.checkout.sessions.create_async(
            params=checkout_params(price.id, expires_at=at(clock, 30))
        )
    session = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id, expires_at=at(clock, 35))
    )
    assert session.created == int((clock.now + timedelta(seconds=90)).timestamp())
    sandbox.clock_skew = timedelta(seconds=-90)
    with pytest.raises(stripe.InvalidRequestError, match="less than 24 hours"):
        await client.v1.checkout.sessions.create_async(
            params=checkout_params(price.id, expires_at=at(clock, 24 * 60 - 1))
        )


async def test_checkout_is_endive_shaped(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    # checkout/_session.py: ui_mode Literal[elements, embedded_page, form, hosted_page],
    # "Defaults to `hosted_page`"; dahlia's renamed modes fail; endive removed
    # payment_method_types from create; customer_creation is for payment mode only.
    price = await create_monthly_price(client)
    session = await client.v1.checkout.sessions.create_async(params=checkout_params(price.id))
    assert session.ui_mode == "hosted_page" and session.url is not None
    for old in ("hosted", "embedded", "custom"):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            await client.v1.checkout.sessions.create_async(
                params={**checkout_params(price.id), "ui_mode": old}
            )
        assert raised.value.param == "ui_mode"
    with pytest.raises(stripe.InvalidRequestError, match="payment_method_types"):
        await client.v1.checkout.sessions.create_async(
            params=cast(Any, {**checkout_params(price.id), "payment_method_types": ["card"]})
        )
    with pytest.raises(stripe.InvalidRequestError, match="can only be used in `payment` mode"):
        await client.v1.checkout.sessions.create_async(
            params={**checkout_params(price.id), "customer_creation": "always"}
        )
    embedded = await client.v1.checkout.sessions.create_async(
        params={
            **checkout_params(price.id),
            "ui_mode": "embedded_page",
            "allowed_payment_method_types": ["card"],
        }
    )
    assert embedded.url is None


async def test_an_older_api_version_sees_the_older_shapes(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    # Basil moved the period onto items and the invoice's subscription under parent; a request
    # naming an older Stripe-Version gets the old shape, as Stripe renders by version.
    price = await create_monthly_price(client)
    subscription_id = await paid_subscription(sandbox, client, price.id)
    acacia: stripe.RequestOptions = {"stripe_version": "2025-02-24.acacia"}
    old = await client.v1.subscriptions.retrieve_async(subscription_id, options=acacia)
    new = await client.v1.subscriptions.retrieve_async(subscription_id)
    item = new["items"]["data"][0]
    assert old["current_period_end"] == item["current_period_end"]
    assert "current_period_end" not in new
    [invoice] = (await client.v1.invoices.list_async(options=acacia)).data
    assert invoice["subscription"] == subscription_id and "parent" not in invoice


async def test_events_are_listed_as_stripe_lists_them(
    sandbox: StripeSandbox, client: stripe.StripeClient, clock: Clock
) -> None:
    # stripe/params/_event_list_params.py and docs.stripe.com/api/events/list.
    price = await create_monthly_price(client)
    first = await paid_subscription(sandbox, client, price.id, 1)
    clock.now += timedelta(days=20)
    await paid_subscription(sandbox, client, price.id, 2)
    made = sandbox.events

    page = await client.v1.events.list_async(params={"limit": 3})
    assert [e.id for e in page.data] == [e["id"] for e in reversed(made)][:3]  # newest first
    assert page.has_more
    invoices = await client.v1.events.list_async(params={"type": "invoice.*"})
    assert [e.type for e in invoices.data] == ["invoice.paid", "invoice.paid"]
    chosen = await client.v1.events.list_async(
        params={"types": ["checkout.session.completed", "invoice.paid"]}
    )
    assert len(chosen.data) == 4
    with pytest.raises(stripe.InvalidRequestError, match="only specify one"):
        await client.v1.events.list_async(params={"type": "invoice.paid", "types": ["x"]})
    recent = await client.v1.events.list_async(
        params={"created": {"gte": int((clock.now - timedelta(days=1)).timestamp())}}
    )
    assert len(recent.data) == len(made) // 2
    everything = [e.id async for e in (await client.v1.events.list_async()).auto_paging_iter()]
    assert sorted(everything) == sorted(e["id"] for e in made)

    # Kept 30 days: the first customer's events are gone from the list and by id.
    clock.now += timedelta(days=11)
    kept = await client.v1.events.list_async(params={"limit": 100})
    assert len(kept.data) == len(made) // 2
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.events.retrieve_async(made[0]["id"])
    assert raised.value.http_status == 404
    assert first  # its subscription lives on; only its events aged out


async def test_delivery_success_tells_delivered_events_from_lost_ones(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    price = await create_monthly_price(client)
    await paid_subscription(sandbox, client, price.id, 1)
    sandbox.lose_webhooks()
    await paid_subscription(sandbox, client, price.id, 2)
    lost = await client.v1.events.list_async(params={"delivery_success": False})
    delivered = await client.v1.events.list_async(params={"delivery_success": True})
    assert len(lost.data) == len(delivered.data) == 4
    assert {e.id for e in delivered.data} == {e.id for e in receiver.events}


@pytest.fixture
async def receiver(sandbox: StripeSandbox) -> AsyncIterator[WebhookReceiver]:
    from tests.integration.test_sandbox_stripe import WEBHOOK_SECRET

    webhook_receiver = WebhookReceiver()
    await webhook_receiver.start()
    sandbox.add_webhook_endpoint(webhook_receiver.url, WEBHOOK_SECRET)
    yield webhook_receiver
    await sandbox.settle()
    await webhook_receiver.stop()


async def test_balance_and_webhook_endpoints_for_the_doctor(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    balance = await client.v1.balance.retrieve_async()
    assert balance.object == "balance"
    sandbox.add_webhook_endpoint(
        "https://between.example.org/stripe/webhook", "whsec_x", ["checkout.session.completed"]
    )
    [endpoint] = (await client.v1.webhook_endpoints.list_async()).data
    assert endpoint.url == "https://between.example.org/stripe/webhook"
    assert endpoint.enabled_events == ["checkout.session.completed"]
    assert endpoint.status == "enabled"
