"""The Stripe sandbox, driven by the real stripe-python client and verified by its webhook code."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp import web
from stripe.params.checkout import SessionCreateParams

from sandbox.stripe import StripeSandbox, add_interval

WEBHOOK_SECRET = "whsec_sandbox_test"
MONTHLY = "between_monthly"


class WebhookReceiver:
    """An app-like webhook endpoint that verifies every delivery the way the app will."""

    def __init__(self) -> None:
        self.events: list[stripe.Event] = []
        self.rejected: list[str] = []
        self.raw_bodies: list[bytes] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/stripe/webhook", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/stripe/webhook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.raw_bodies.append(body)
        try:
            event = stripe.Webhook.construct_event(
                body, request.headers.get("Stripe-Signature"), WEBHOOK_SECRET
            )
        except stripe.SignatureVerificationError as error:
            self.rejected.append(str(error))
            return web.Response(status=400)
        self.events.append(event)
        return web.Response(status=200)

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]


@pytest.fixture
async def sandbox() -> AsyncIterator[StripeSandbox]:
    stripe_sandbox = StripeSandbox()
    await stripe_sandbox.start()
    yield stripe_sandbox
    await stripe_sandbox.stop()


@pytest.fixture
async def receiver(sandbox: StripeSandbox) -> AsyncIterator[WebhookReceiver]:
    webhook_receiver = WebhookReceiver()
    await webhook_receiver.start()
    sandbox.add_webhook_endpoint(webhook_receiver.url, WEBHOOK_SECRET)
    yield webhook_receiver
    await sandbox.settle()
    await webhook_receiver.stop()


@pytest.fixture
async def client(sandbox: StripeSandbox) -> AsyncIterator[stripe.StripeClient]:
    http_client = stripe.AIOHTTPClient()
    yield stripe.StripeClient(
        sandbox.api_key, base_addresses={"api": sandbox.base_url}, http_client=http_client
    )
    # The aiohttp session the client opened lazily is only closed when asked to.
    await http_client.close_async()  # type: ignore[no-untyped-call]  # untyped in stripe


async def create_monthly_price(client: stripe.StripeClient) -> stripe.Price:
    product = await client.v1.products.create_async(params={"name": "Between membership"})
    return await client.v1.prices.create_async(
        params={
            "product": product.id,
            "unit_amount": 3100,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": MONTHLY,
        }
    )


def checkout_params(
    price_id: str,
    member_id: int = 7,
    *,
    expires_at: int | None = None,
    customer_email: str | None = None,
) -> SessionCreateParams:
    params: SessionCreateParams = {
        "mode": "subscription",
        "line_items": [{"price": price_id, "quantity": 1}],
        "client_reference_id": str(member_id),
        "metadata": {"member_id": str(member_id)},
        "subscription_data": {"metadata": {"member_id": str(member_id)}},
        "success_url": "https://t.me/between_bot?start=paid",
        "cancel_url": "https://t.me/between_bot?start=cancelled",
    }
    if expires_at is not None:
        params["expires_at"] = expires_at
    if customer_email is not None:
        params["customer_email"] = customer_email
    return params


def period_of(subscription: Any) -> tuple[int, int]:
    """A subscription's billing period, which endive keeps on its items."""
    item = subscription["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


def product_id(price: stripe.Price) -> str:
    return price.product if isinstance(price.product, str) else price.product.id


async def paid_subscription(
    sandbox: StripeSandbox, client: stripe.StripeClient, price_id: str, member_id: int = 7
) -> str:
    session = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price_id, member_id)
    )
    await sandbox.complete_checkout(session.id)
    subscription_id = sandbox.checkout_sessions[session.id]["subscription"]
    assert isinstance(subscription_id, str)
    return subscription_id


async def test_price_is_found_by_lookup_key(client: stripe.StripeClient) -> None:
    price = await create_monthly_price(client)
    await client.v1.prices.create_async(
        params={"product": product_id(price), "unit_amount": 9900, "currency": "usd"}
    )

    found = await client.v1.prices.list_async(
        params={"lookup_keys": [MONTHLY], "active": True, "expand": ["data.product"]}
    )

    assert [p.id for p in found.data] == [price.id]
    assert found.data[0].unit_amount == 3100
    assert found.data[0].recurring is not None
    assert found.data[0].recurring.interval == "month"
    assert isinstance(found.data[0].product, stripe.Product)
    assert found.data[0].product.name == "Between membership"


async def test_a_lookup_key_belongs_to_one_price(client: stripe.StripeClient) -> None:
    price = await create_monthly_price(client)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.prices.create_async(
            params={
                "product": product_id(price),
                "unit_amount": 3500,
                "currency": "usd",
                "recurring": {"interval": "month"},
                "lookup_key": MONTHLY,
            }
        )
    assert raised.value.param == "lookup_key"


async def test_prices_are_refused_where_stripe_refuses_them(client: stripe.StripeClient) -> None:
    price = await create_monthly_price(client)
    product = product_id(price)
    monthly = {"interval": "month"}
    refused: list[tuple[dict[str, Any], str, str]] = [
        ({"currency": "xyz", "unit_amount": 100}, "currency", "Invalid currency: xyz."),
        ({"currency": "gbp", "unit_amount": 100_000_000}, "unit_amount", "less than or equal"),
        (
            {"currency": "gbp", "unit_amount": 100, "recurring": monthly | {"interval_count": 37}},
            "recurring[interval_count]",
            "three years",
        ),
        (
            {
                "currency": "gbp",
                "unit_amount": 100,
                "recurring": monthly | {"usage_type": "metered"},
            },
            "recurring[meter]",
            "Missing required param",
        ),
        (
            {"currency": "gbp", "billing_scheme": "tiered", "tiers_mode": "volume"},
            "tiers",
            "tiers",
        ),
    ]
    call = client.v1.prices.create_async
    for params, param, says in refused:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            await call(params={"product": product, **params})  # type: ignore[typeddict-item]
        assert (raised.value.param, raised.value.http_status) == (param, 400)
        assert says in str(raised.value.user_message)
    yearly = await client.v1.prices.create_async(
        params={
            "product": product,
            "currency": "gbp",
            "unit_amount": 31000,
            "recurring": {"interval": "year"},
        }
    )
    assert yearly.recurring is not None and yearly.recurring.interval_count == 1


async def test_an_archived_price_stays_readable_and_is_sold_no_more(
    client: stripe.StripeClient,
) -> None:
    price = await create_monthly_price(client)
    archived = await client.v1.prices.update_async(price.id, params={"active": False})
    assert archived.active is False and archived.unit_amount == 3100
    assert (await client.v1.prices.retrieve_async(price.id)).active is False
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.checkout.sessions.create_async(params=checkout_params(price.id))
    assert raised.value.param == "line_items[0][price]"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        changed: Any = {"unit_amount": 3500}  # Stripe keeps a price's amount for good
        await client.v1.prices.update_async(price.id, params=changed)
    assert "unit_amount" in str(raised.value.user_message)

    one_time = await client.v1.prices.create_async(
        params={"product": product_id(price), "currency": "usd", "unit_amount": 3100}
    )
    recurring = await client.v1.prices.create_async(
        params={
            "product": product_id(price),
            "currency": "usd",
            "unit_amount": 3100,
            "recurring": {"interval": "month"},
        }
    )
    for mode, price_id in (("payment", recurring.id), ("subscription", one_time.id)):
        params = checkout_params(price_id)
        params["mode"] = mode
        params.pop("subscription_data")
        with pytest.raises(stripe.InvalidRequestError) as raised:
            await client.v1.checkout.sessions.create_async(params=params)
        assert raised.value.param == "line_items[0][price]"


async def test_checkout_session_carries_reference_metadata_and_expiry(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    price = await create_monthly_price(client)
    before = int(time.time())

    session = await client.v1.checkout.sessions.create_async(params=checkout_params(price.id))

    assert session.status == "open"
    assert session.client_reference_id == "7"
    assert session.metadata is not None
    assert session.metadata.to_dict() == {"member_id": "7"}
    assert session.url == f"{sandbox.base_url}/pay/{session.id}"
    assert session.id.startswith("cs_test_")
    # Stripe's default lifetime is 24 hours.
    assert before + 24 * 3600 <= session.expires_at <= int(time.time()) + 24 * 3600
    sent = sandbox.requests[-1]
    assert sent.path == "/v1/checkout/sessions"
    assert sent.params["line_items"] == [{"price": price.id, "quantity": "1"}]
    assert sent.params["subscription_data"] == {"metadata": {"member_id": "7"}}

    async with aiohttp.ClientSession() as browser, browser.get(session.url) as page:
        assert page.status == 200
        assert "31.00 USD / month" in await page.text()


async def test_checkout_expiry_must_be_between_30_minutes_and_24_hours(
    client: stripe.StripeClient,
) -> None:
    price = await create_monthly_price(client)
    now = int(time.time())

    for too_soon_or_late in (now + 10 * 60, now + 25 * 3600):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            await client.v1.checkout.sessions.create_async(
                params=checkout_params(price.id, expires_at=too_soon_or_late)
            )
        assert raised.value.param == "expires_at"

    session = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id, expires_at=now + 3600)
    )
    assert session.expires_at == now + 3600


async def test_same_idempotency_key_returns_the_same_session(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    price = await create_monthly_price(client)
    options: stripe.RequestOptions = {"idempotency_key": "checkout-member-7-week-1"}

    first = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id), options=options
    )
    again = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id), options=options
    )

    assert again.id == first.id
    assert len(sandbox.checkout_sessions) == 1
    assert sandbox.requests[-1].idempotency_key == "checkout-member-7-week-1"
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.checkout.sessions.create_async(
            params=checkout_params(price.id, member_id=8), options=options
        )


async def test_completed_checkout_sends_signed_events_the_app_can_verify(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    price = await create_monthly_price(client)
    session = await client.v1.checkout.sessions.create_async(
        params=checkout_params(price.id, customer_email="ana@example.com")
    )

    events = await sandbox.complete_checkout(session.id)

    expected = [
        "customer.created",
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
    ]
    assert [event["type"] for event in events] == expected
    assert receiver.types == expected
    assert receiver.rejected == []
    assert [status for _, status in sandbox.deliveries] == [200] * 4
    # The body on the wire is exactly what was signed, byte for byte.
    assert json.loads(receiver.raw_bodies[1]) == events[1]

    completed = receiver.events[1].data.object
    assert completed["client_reference_id"] == "7"
    assert completed["metadata"].to_dict() == {"member_id": "7"}
    assert completed["payment_status"] == "paid"
    subscription = receiver.events[2].data.object
    assert subscription["id"] == completed["subscription"]
    assert subscription["status"] == "active"
    assert subscription["metadata"].to_dict() == {"member_id": "7"}
    assert subscription["customer"] == completed["customer"]
    assert subscription["items"]["data"][0]["price"]["id"] == price.id
    # Endive keeps the period on the items only, and the invoice's subscription under parent.
    item = subscription["items"]["data"][0]
    start = datetime.fromtimestamp(item["current_period_start"], UTC)
    assert item["current_period_end"] == int(add_interval(start, "month", 1).timestamp())
    assert "current_period_end" not in subscription
    invoice = receiver.events[3].data.object
    assert invoice["status"] == "paid"
    assert invoice["amount_paid"] == 3100
    assert invoice["parent"]["subscription_details"]["subscription"] == subscription["id"]
    assert "subscription" not in invoice

    retrieved = await client.v1.checkout.sessions.retrieve_async(
        session.id, params={"expand": ["subscription"]}
    )
    assert retrieved.status == "complete"
    assert isinstance(retrieved.subscription, stripe.Subscription)
    assert retrieved.subscription.status == "active"


async def test_forged_or_old_signatures_are_rejected(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    price = await create_monthly_price(client)
    session = await client.v1.checkout.sessions.create_async(params=checkout_params(price.id))
    paid = (await sandbox.complete_checkout(session.id))[-1]

    assert await sandbox.send_event(paid) == 200  # a replay, validly signed
    assert await sandbox.send_event(paid, secret="whsec_someone_else") == 400
    assert await sandbox.send_event(paid, timestamp=int(time.time()) - 3600) == 400
    assert await sandbox.send_event(paid, signature="t=1,v1=00") == 400
    forged = sandbox.make_event("invoice.paid", {**paid["data"]["object"], "amount_paid": 1})
    assert await sandbox.send_event(forged, signature=sandbox.sign(b"{}", WEBHOOK_SECRET)) == 400
    assert len(receiver.rejected) == 4

    body = json.dumps(paid).encode()
    header = sandbox.sign(body, WEBHOOK_SECRET)
    assert stripe.Webhook.construct_event(body, header, WEBHOOK_SECRET).id == paid["id"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body + b" ", header, WEBHOOK_SECRET)


async def test_subscriptions_page_with_a_cursor(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    price = await create_monthly_price(client)
    subscription_ids = [
        await paid_subscription(sandbox, client, price.id, member_id) for member_id in range(5)
    ]
    await sandbox.end_subscription(subscription_ids[0])

    first_page = await client.v1.subscriptions.list_async(params={"status": "all", "limit": 2})
    assert len(first_page.data) == 2
    assert first_page.has_more
    second_page = await client.v1.subscriptions.list_async(
        params={"status": "all", "limit": 2, "starting_after": first_page.data[-1].id}
    )
    assert {s.id for s in first_page.data}.isdisjoint(s.id for s in second_page.data)

    everything = [s.id async for s in first_page.auto_paging_iter()]
    assert sorted(everything) == sorted(subscription_ids)
    # Without a status filter Stripe leaves canceled subscriptions out.
    current = await client.v1.subscriptions.list_async(params={"limit": 100})
    assert sorted(s.id for s in current.data) == sorted(subscription_ids[1:])


async def test_billing_portal_session_has_a_url(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    price = await create_monthly_price(client)
    subscription_id = await paid_subscription(sandbox, client, price.id)
    customer_id = sandbox.subscriptions[subscription_id]["customer"]

    portal = await client.v1.billing_portal.sessions.create_async(
        params={"customer": customer_id, "return_url": "https://t.me/between_bot"}
    )

    assert portal.url == f"{sandbox.base_url}/portal/{portal.id}"
    assert portal.customer == customer_id
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.billing_portal.sessions.create_async(params={"customer": "cus_nobody"})
    assert raised.value.http_status == 404


async def test_failed_then_recovered_renewal(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    price = await create_monthly_price(client)
    subscription_id = await paid_subscription(sandbox, client, price.id)
    first_period_end = period_of(sandbox.subscriptions[subscription_id])[1]

    failed = await sandbox.fail_renewal(subscription_id)
    assert [event["type"] for event in failed] == [
        "invoice.payment_failed",
        "customer.subscription.updated",
    ]
    assert failed[1]["data"]["object"]["status"] == "past_due"
    assert failed[1]["data"]["previous_attributes"]["status"] == "active"
    invoice = await client.v1.invoices.retrieve_async(failed[0]["data"]["object"]["id"])
    assert invoice.status == "open"

    recovered = await sandbox.pay_renewal(subscription_id)
    assert [event["type"] for event in recovered] == [
        "invoice.paid",
        "customer.subscription.updated",
    ]
    subscription = await client.v1.subscriptions.retrieve_async(subscription_id)
    assert subscription.status == "active"
    start, end = period_of(subscription)
    assert start == first_period_end and end > first_period_end
    invoices = await client.v1.invoices.list_async(params={"subscription": subscription_id})
    assert [i.status for i in invoices.data] == ["paid", "paid"]
    assert receiver.rejected == []


async def test_cancellation_through_the_api_sends_its_webhooks(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    price = await create_monthly_price(client)
    subscription_id = await paid_subscription(sandbox, client, price.id)

    updated = await client.v1.subscriptions.update_async(
        subscription_id, params={"cancel_at_period_end": True}
    )
    assert updated.cancel_at_period_end
    assert updated.cancel_at == period_of(updated)[1]
    canceled = await client.v1.subscriptions.cancel_async(subscription_id)
    assert canceled.status == "canceled"
    await sandbox.settle()

    assert receiver.types[-2:] == [
        "customer.subscription.updated",
        "customer.subscription.deleted",
    ]
    assert receiver.events[-2].request is not None
    assert receiver.events[-2].request.id is not None
    with pytest.raises(ValueError, match="already canceled"):
        await sandbox.end_subscription(subscription_id)


async def test_wrong_key_missing_objects_and_outages_answer_like_stripe(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    http_client = stripe.AIOHTTPClient()
    stranger = stripe.StripeClient(
        "sk_test_wrong", base_addresses={"api": sandbox.base_url}, http_client=http_client
    )
    try:
        with pytest.raises(stripe.AuthenticationError):
            await stranger.v1.customers.retrieve_async("cus_anything")
    finally:
        await http_client.close_async()  # type: ignore[no-untyped-call]

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.subscriptions.retrieve_async("sub_missing")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: colour"):
        await client.v1.products.create_async(
            params={"name": "x", "colour": "red"}  # type: ignore[typeddict-unknown-key]
        )

    sandbox.go_down()
    with pytest.raises(stripe.APIError):
        await client.v1.products.list_async()
    sandbox.come_back()
    assert (await client.v1.products.list_async()).data == []


async def test_objects_follow_the_sandbox_clock() -> None:
    moment = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
    stripe_sandbox = StripeSandbox(now=lambda: moment)
    await stripe_sandbox.start()
    http_client = stripe.AIOHTTPClient()
    try:
        client = stripe.StripeClient(
            stripe_sandbox.api_key,
            base_addresses={"api": stripe_sandbox.base_url},
            http_client=http_client,
        )
        price = await create_monthly_price(client)
        session = await client.v1.checkout.sessions.create_async(params=checkout_params(price.id))
        assert session.expires_at == int((moment + timedelta(hours=24)).timestamp())
        subscription_id = await paid_subscription(stripe_sandbox, client, price.id)
        subscription = stripe_sandbox.subscriptions[subscription_id]
        # Started on January 31st: renews on the last day of February, then March 31st.
        assert period_of(subscription)[1] == int(
            datetime(2025, 2, 28, 9, 0, tzinfo=UTC).timestamp()
        )
        await stripe_sandbox.pay_renewal(subscription_id)
        assert period_of(subscription)[1] == int(
            datetime(2025, 3, 31, 9, 0, tzinfo=UTC).timestamp()
        )
    finally:
        await http_client.close_async()  # type: ignore[no-untyped-call]
        await stripe_sandbox.stop()


async def test_checkout_and_portal_pages_work_in_a_browser(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    price = await create_monthly_price(client)
    session = await client.v1.checkout.sessions.create_async(params=checkout_params(price.id))
    assert session.url is not None

    async with aiohttp.ClientSession() as browser:
        async with browser.post(session.url, allow_redirects=False) as paid:
            assert paid.status == 302
            assert paid.headers["Location"] == "https://t.me/between_bot?start=paid"
        subscription_id = sandbox.checkout_sessions[session.id]["subscription"]
        customer_id = sandbox.subscriptions[subscription_id]["customer"]
        portal = await client.v1.billing_portal.sessions.create_async(
            params={"customer": customer_id, "return_url": "https://t.me/between_bot"}
        )
        cancel_url = f"{portal.url}/cancel/{subscription_id}"
        async with browser.post(cancel_url, allow_redirects=False) as cancelled:
            assert cancelled.status == 302
        async with browser.get(portal.url) as page:
            assert "ends" in await page.text()

    assert sandbox.subscriptions[subscription_id]["cancel_at_period_end"] is True
    assert receiver.types[-1] == "customer.subscription.updated"
