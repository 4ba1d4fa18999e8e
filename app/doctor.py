"""`between doctor`: each setting and service checked, with what to do when one fails."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import stripe
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberAdministrator
from redis.asyncio import Redis
from sqlalchemy import text

from app.runtime import zoom_gateway as runtime_zoom
from app.supervise import HEARTBEAT_STALE, RUNNING, read_heartbeats
from app.web import TELEGRAM_WEBHOOK_PATH
from billing.events import STRIPE_HANDLERS
from billing.prices import price_drift
from billing.stripe_gateway import StripeGateway
from bot.gateway import create_bot
from core.db import SchemaError, check_schema_current, create_engine, create_session_factory
from core.groups import BotRights, list_groups, missing_rights
from core.pricing import Price, price_of
from core.redis import redis_url_for
from core.settings import ConfigError, Settings
from scheduling.zoom import ZoomError

REQUIRED = (
    "TELEGRAM_BOT_TOKEN",
    "COACH_TELEGRAM_IDS",
    "STRIPE_SECRET_KEY",
)
TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a coach would fix them."""
    checks = [_setting(settings, name) for name in REQUIRED]
    checks.append(await _database(settings))
    checks.append(await _redis(settings))
    checks.append(await _worker(settings))
    if settings.telegram_bot_token is not None:
        checks.extend(await _telegram(settings))
    checks.extend(await _stripe(settings))
    checks.append(await _zoom(settings))
    return checks


def _setting(settings: Settings, name: str) -> Check:
    try:
        settings.require(name)
    except ConfigError as error:
        return Check(name, False, str(error))
    return Check(name, True, "set")


async def _database(settings: Settings) -> Check:
    engine = create_engine(settings.database_url)
    try:
        async with asyncio.timeout(TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        await check_schema_current(settings.database_url)
    except SchemaError as error:
        return Check("database", False, str(error))
    except Exception as error:
        return Check("database", False, f"cannot connect: {type(error).__name__}")
    finally:
        await engine.dispose()
    return Check("database", True, engine.url.render_as_string(hide_password=True))


async def _redis(settings: Settings) -> Check:
    try:
        with redis_url_for(settings.redis_url, settings.data_dir) as url:
            client = Redis.from_url(url)
            try:
                async with asyncio.timeout(TIMEOUT):
                    await client.ping()
            finally:
                await client.aclose()
    except Exception as error:
        return Check("redis", False, f"cannot connect: {type(error).__name__}")
    return Check("redis", True, "embedded" if settings.uses_embedded_redis else "reachable")


async def _worker(settings: Settings) -> Check:
    """The workers' heartbeats: each loop running, each heard from lately."""
    try:
        with redis_url_for(settings.redis_url, settings.data_dir) as url:
            client = Redis.from_url(url)
            try:
                async with asyncio.timeout(TIMEOUT):
                    workers = await read_heartbeats(client)
            finally:
                await client.aclose()
    except Exception as error:
        return Check("worker", False, f"cannot read its heartbeat: {type(error).__name__}")
    return worker_check(workers)


def worker_check(workers: dict[str, dict[str, Any]]) -> Check:
    if not workers:
        return Check("worker", False, "no worker has reported: is `between worker` running?")
    problems = []
    for name, report in sorted(workers.items()):
        if report.get("stale"):
            problems.append(f"{name}: silent for over {HEARTBEAT_STALE:.0f} s")
        for loop, state in sorted(report.get("loops", {}).items()):
            if state["state"] != RUNNING:
                problems.append(f"{name}: {loop} {state['state']} ({state['error']})")
    if problems:
        return Check("worker", False, "; ".join(problems))
    return Check("worker", True, f"{len(workers)} running, every loop running")


async def _telegram(settings: Settings) -> list[Check]:
    assert settings.telegram_bot_token is not None
    bot = create_bot(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base)
    try:
        try:
            me = await bot.get_me()
        except TelegramAPIError as error:
            return [Check("telegram", False, error.message)]
        checks = [Check("telegram", True, f"@{me.username}"), await _webhook(bot, settings)]
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                groups = await list_groups(session)
        except Exception:
            groups = []
        finally:
            await engine.dispose()
        for group in groups:
            checks.append(await _group_rights(bot, group.chat_id, group.title, me.id))
        return checks
    finally:
        await bot.session.close()


async def _webhook(bot: Bot, settings: Settings) -> Check:
    """What Telegram says about delivering updates to us (getWebhookInfo): where to, how many
    wait, and the last failure, which Telegram keeps even after later successes."""
    try:
        info = await bot.get_webhook_info()
    except TelegramAPIError as error:
        return Check("telegram webhook", False, error.message)
    expected = (settings.public_url or "") + TELEGRAM_WEBHOOK_PATH if settings.webhook_mode else ""
    waiting = info.pending_update_count
    parts = [
        info.url or "none (long polling)",
        f"{waiting} update{'' if waiting == 1 else 's'} waiting",
    ]
    if info.last_error_message:
        when = f" at {info.last_error_date:%Y-%m-%d %H:%M} UTC" if info.last_error_date else ""
        parts.append(f"last error{when}: {info.last_error_message}")
    if info.url != expected:
        parts.append(f"expected {expected or 'none (long polling)'}: it is set at start-up")
    # Updates waiting while the last attempt failed: Telegram can't reach us right now.
    stuck = bool(info.url and waiting and info.last_error_message)
    return Check("telegram webhook", info.url == expected and not stuck, "; ".join(parts))


async def _group_rights(bot: Bot, chat_id: int, title: str, bot_id: int) -> Check:
    try:
        member = await bot.get_chat_member(chat_id, bot_id)
    except TelegramAPIError as error:
        return Check(f"group {title}", False, error.message)
    if isinstance(member, ChatMemberAdministrator):
        rights = BotRights(True, member.can_invite_users, member.can_restrict_members)
    else:
        rights = BotRights(False)
    missing = missing_rights(rights)
    return Check(
        f"group {title}",
        not missing,
        "missing: " + ", ".join(missing) if missing else "admin rights ok",
    )


# --- Stripe and Zoom ---------------------------------------------------------------------


async def _stripe(settings: Settings) -> list[Check]:
    """The key (the cheapest authenticated call), the price /join sells, and how payments
    reach us: the webhook endpoint with PUBLIC_URL, Stripe's events API without."""
    if settings.stripe_secret_key is None:
        return []
    key = settings.stripe_secret_key.get_secret_value()
    gateway = StripeGateway(key, settings.stripe_api_base)
    try:
        try:
            await gateway.check_key()
        except stripe.StripeError as error:
            return [Check("stripe key", False, _stripe_says(error))]
        mode = "live" if key.startswith(("sk_live_", "rk_live_")) else "test"
        checks = [Check("stripe key", True, f"accepted ({mode} mode)")]
        checks.append(await _stripe_price(gateway, settings))
        checks.extend(await _group_prices(gateway, settings))
        checks.append(await _stripe_webhook(gateway, settings))
        return checks
    finally:
        await gateway.close()


async def _stripe_price(gateway: StripeGateway, settings: Settings) -> Check:
    """The default price (groups without one of their own) against PRICE_CENTS and
    PRICE_CURRENCY, which the texts name."""
    price_id = settings.stripe_price_id
    told = Price(settings.price_cents, settings.price_currency.lower())
    if price_id is None:
        return Check("STRIPE_PRICE_ID", False, "not set: run `between stripe setup`")
    try:
        price = await gateway.price(price_id)
    except stripe.StripeError as error:
        return Check("STRIPE_PRICE_ID", False, _stripe_says(error))
    recurring = price.get("recurring") or {}
    amount = price.get("unit_amount")
    shown = f"{amount / 100:.2f}" if isinstance(amount, int) else "?"
    what = f"{shown} {str(price.get('currency', '')).upper()}"
    if recurring:
        every = recurring.get("interval_count", 1)
        what += f" every {every} {recurring.get('interval')}" + ("s" if every != 1 else "")
    else:
        what += " once"
    right = (
        price.get("active") is True
        and price.get("type") == "recurring"
        and recurring.get("interval") == "month"
        and recurring.get("interval_count") == 1
        and amount == told.cents
        and price.get("currency") == told.currency
    )
    if right:
        return Check("STRIPE_PRICE_ID", True, f"{price_id}: {told.recurring}")
    inactive = "" if price.get("active") else ", archived"
    return Check(
        "STRIPE_PRICE_ID",
        False,
        f"{price_id} is {what}{inactive}, not an active {told.recurring} (PRICE_CENTS, "
        "PRICE_CURRENCY): run `between stripe setup` for the right one",
    )


async def _group_prices(gateway: StripeGateway, settings: Settings) -> list[Check]:
    """Each group with a price of its own: still in Stripe, active, as the group says."""
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            groups = [g for g in await list_groups(session) if g.stripe_price_id]
    except Exception:
        return []  # the database check says what is wrong
    finally:
        await engine.dispose()
    checks = []
    for group in groups:
        assert group.stripe_price_id is not None
        name = f"price of {group.title}"
        try:
            found = await gateway.price(group.stripe_price_id)
        except stripe.StripeError as error:
            checks.append(Check(name, False, _stripe_says(error)))
            continue
        drift = price_drift(group, found)
        shown = price_of(group, Price()).recurring
        checks.append(Check(name, drift is None, drift or f"{group.stripe_price_id}: {shown}"))
    return checks


async def _stripe_webhook(gateway: StripeGateway, settings: Settings) -> Check:
    if not settings.webhook_mode:
        return Check(
            "stripe webhook",
            True,
            "not needed: no PUBLIC_URL, so `between run` reads payments from Stripe's events API",
        )
    if settings.stripe_webhook_secret is None:
        return Check("stripe webhook", False, "STRIPE_WEBHOOK_SECRET is not set: " + _WEBHOOK_HINT)
    url = f"{settings.public_url}/stripe/webhook"
    try:
        endpoints = await gateway.webhook_urls()
    except stripe.StripeError as error:
        return Check("stripe webhook", False, _stripe_says(error))
    if url not in endpoints:
        return Check("stripe webhook", False, f"no enabled endpoint for {url}: " + _WEBHOOK_HINT)
    enabled = endpoints[url]
    missing = [
        name for name in sorted(STRIPE_HANDLERS) if "*" not in enabled and name not in enabled
    ]
    if missing:
        return Check("stripe webhook", False, f"{url} does not get: " + ", ".join(missing))
    return Check("stripe webhook", True, f"{url} gets every event it needs")


_WEBHOOK_HINT = (
    "add it in Stripe (Developers → Webhooks) with the events `between stripe setup` lists, "
    "and copy its signing secret to STRIPE_WEBHOOK_SECRET"
)


def _stripe_says(error: stripe.StripeError) -> str:
    if isinstance(error, stripe.APIConnectionError):
        return "cannot reach Stripe"
    # Stripe's own sentence; an invalid key comes back masked (sk_test_****abcd).
    return " ".join(str(error.user_message or type(error).__name__).split())


async def _zoom(settings: Settings) -> Check:
    """The Server-to-Server app's credentials and the host user, checked with Zoom itself."""
    names = ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET")
    given = [name for name in names if getattr(settings, name.lower())]
    if not given:
        if settings.zoom_standing_url:
            return Check("zoom", True, "no app: the standing link is announced every week")
        return Check(
            "zoom",
            False,
            "no Zoom app and no ZOOM_STANDING_URL: the weekly Q&A has no link to announce",
        )
    if len(given) < len(names):
        missing = ", ".join(name for name in names if name not in given)
        return Check("zoom", False, f"{missing} not set (the app needs all three)")
    zoom = runtime_zoom(settings)
    assert zoom is not None
    try:
        host = await zoom.host()
    except ZoomError as error:
        return Check("zoom", False, str(error))
    finally:
        await zoom.close()
    return Check("zoom", True, f"meetings are made for {host}")
