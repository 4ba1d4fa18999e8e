"""`between doctor` checks Stripe and Zoom with the services themselves: the key, the price
/join sells, how payments reach us, the Zoom app and its host."""

from __future__ import annotations

from typing import Any

import stripe
from pydantic import SecretStr

from app.doctor import Check, run_checks
from core.settings import Settings
from sandbox.harness import STRIPE_WEBHOOK_SECRET, create_price
from sandbox.stripe import StripeSandbox
from sandbox.zoom import HOST_EMAIL, ZoomSandbox

PUBLIC = "https://between.example.org"


async def checked(settings: Settings, **changes: Any) -> dict[str, Check]:
    checks = await run_checks(settings.model_copy(update=changes))
    return {check.name: check for check in checks}


async def test_a_good_setup_passes_every_stripe_and_zoom_check(
    settings: Settings, stripe_sandbox: StripeSandbox
) -> None:
    price_id = await create_price(stripe_sandbox)
    stripe_sandbox.add_webhook_endpoint(f"{PUBLIC}/stripe/webhook", STRIPE_WEBHOOK_SECRET)
    checks = await checked(settings, stripe_price_id=price_id, public_url=PUBLIC)
    assert checks["stripe key"].ok and "test mode" in checks["stripe key"].detail
    assert checks["STRIPE_PRICE_ID"] == Check("STRIPE_PRICE_ID", True, f"{price_id}: $31 a month")
    assert checks["stripe webhook"].ok, checks["stripe webhook"].detail
    assert checks["zoom"] == Check("zoom", True, f"meetings are made for {HOST_EMAIL}")
    assert any(request.path == "/v1/balance" for request in stripe_sandbox.requests)


async def test_a_wrong_key_is_named_without_showing_it(
    settings: Settings, stripe_sandbox: StripeSandbox
) -> None:
    checks = await checked(
        settings, stripe_secret_key=SecretStr("sk_test_51Hwrongwrongwrongwrong1234")
    )
    key = checks["stripe key"]
    assert not key.ok and "Invalid API Key provided: sk_test_" in key.detail
    assert "wrongwrongwrong" not in key.detail and key.detail.endswith("1234")
    assert "STRIPE_PRICE_ID" not in checks  # nothing more can be asked with that key


async def test_a_price_that_is_not_31_a_month_is_caught(
    settings: Settings, stripe_sandbox: StripeSandbox
) -> None:
    client = stripe.StripeClient(
        stripe_sandbox.api_key,
        base_addresses={"api": stripe_sandbox.base_url},
        http_client=(http := stripe.AIOHTTPClient()),
    )
    try:
        weekly = await client.v1.prices.create_async(
            params={
                "currency": "usd",
                "unit_amount": 2900,
                "recurring": {"interval": "week"},
                "product_data": {"name": "Between"},
            }
        )
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
    wrong = (await checked(settings, stripe_price_id=weekly.id))["STRIPE_PRICE_ID"]
    assert not wrong.ok and "29.00 USD every 1 week" in wrong.detail
    missing = (await checked(settings, stripe_price_id="price_nope"))["STRIPE_PRICE_ID"]
    assert not missing.ok and "No such price: 'price_nope'" in missing.detail
    unset = (await checked(settings, stripe_price_id=None))["STRIPE_PRICE_ID"]
    assert not unset.ok and "between stripe setup" in unset.detail


async def test_the_webhook_endpoint_must_exist_with_a_public_url(
    settings: Settings, stripe_sandbox: StripeSandbox
) -> None:
    missing = (await checked(settings, public_url=PUBLIC))["stripe webhook"]
    assert not missing.ok and f"no enabled endpoint for {PUBLIC}/stripe/webhook" in missing.detail
    stripe_sandbox.add_webhook_endpoint(
        f"{PUBLIC}/stripe/webhook", STRIPE_WEBHOOK_SECRET, ["checkout.session.completed"]
    )
    partial = (await checked(settings, public_url=PUBLIC))["stripe webhook"]
    assert not partial.ok and "invoice.payment_failed" in partial.detail
    laptop = await checked(settings, public_url=None, stripe_webhook_secret=None)
    assert laptop["stripe webhook"].ok and "events API" in laptop["stripe webhook"].detail
    assert "STRIPE_WEBHOOK_SECRET" not in laptop  # not required without a public URL


async def test_zoom_credentials_and_the_host_are_checked_with_zoom(
    settings: Settings, zoom_sandbox: ZoomSandbox
) -> None:
    wrong = (await checked(settings, zoom_client_secret=SecretStr("not-the-secret")))["zoom"]
    assert not wrong.ok and "Invalid client_id or client_secret" in wrong.detail
    assert "not-the-secret" not in wrong.detail
    nobody = (await checked(settings, zoom_host_user="nobody@example.org"))["zoom"]
    assert not nobody.ok and "User does not exist: nobody@example.org" in nobody.detail
    half = (await checked(settings, zoom_client_id=None))["zoom"]
    assert not half.ok and "ZOOM_CLIENT_ID not set" in half.detail
    none = await checked(
        settings, zoom_account_id=None, zoom_client_id=None, zoom_client_secret=None
    )
    assert not none["zoom"].ok and "ZOOM_STANDING_URL" in none["zoom"].detail
