"""The aiohttp application: Telegram's webhook, Stripe's webhook, health, the dashboard."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from sqlalchemy import text

from app.runtime import RUNTIME, Runtime
from app.supervise import read_heartbeats, summary
from billing.events import job_id as stripe_job_id
from billing.webhook import StripeWebhook
from dashboard.routes import Dashboard

log = logging.getLogger(__name__)

TELEGRAM_WEBHOOK_PATH = "/telegram/webhook"
STRIPE_WEBHOOK_PATH = "/stripe/webhook"
HEALTH_TIMEOUT = 2.0


def create_app(runtime: Runtime) -> web.Application:
    """The web app for one runtime; request bodies over the limit are refused with 413."""
    app = web.Application(client_max_size=runtime.settings.max_request_bytes)
    app[RUNTIME] = runtime
    secret = runtime.settings.telegram_webhook_secret
    # Without a configured secret nobody can be Telegram: a random one refuses every caller.
    TelegramUpdates(
        runtime.dispatcher,
        runtime.bot,
        handle_in_background=False,
        secret_token=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
    ).register(app, path=TELEGRAM_WEBHOOK_PATH)
    stripe_secret = runtime.settings.stripe_webhook_secret
    stripe_webhook = StripeWebhook(
        sessions=runtime.sessions,
        clock=runtime.clock,
        secret=stripe_secret.get_secret_value() if stripe_secret else None,
        enqueue=lambda event_id: runtime.redis.enqueue_job(
            "process_stripe_event", event_id, _job_id=stripe_job_id(event_id, 0)
        ),
    )
    app.router.add_post(STRIPE_WEBHOOK_PATH, stripe_webhook.receive)
    app.router.add_get("/healthz", health)
    Dashboard(
        settings=runtime.settings,
        sessions=runtime.sessions,
        clock=runtime.clock,
        vocabulary=runtime.vocabulary,
        membership=runtime.membership,
    ).register(app)
    return app


class TelegramUpdates(SimpleRequestHandler):
    """aiogram's webhook handler, but an update it can't read is answered 200: Telegram would
    resend it for a day, holding back its chat's later updates, and it would never read."""

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        # Compared as bytes: aiogram's str comparison raises TypeError on a non-ASCII header.
        given = telegram_secret_token.encode("utf-8", "surrogateescape")
        if secrets.compare_digest(given, (self.secret_token or "").encode()):
            return True
        log.warning("telegram webhook refused: wrong or missing secret token")
        return False

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            update = Update.model_validate(
                await request.json(loads=bot.session.json_loads), context={"bot": bot}
            )
        except ValueError as error:  # not JSON, or not an Update (pydantic's ValidationError)
            log.warning("an update that can't be read was ignored: %s", type(error).__name__)
            return web.json_response({})
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(
            bot, update, **self.data
        )
        return web.Response(body=self._build_response_writer(bot=bot, result=result))


async def health(request: web.Request) -> web.Response:
    """200 when the database and Redis answer, 503 when either does not, or when a worker's
    heartbeat says one of its loops is not running or has gone silent ("worker": "down").
    No worker heartbeat at all ("none") is not an error of this process."""
    runtime = request.app[RUNTIME]
    state = {
        "database": await _check(_ping_database(runtime)),
        "redis": await _check(runtime.redis.ping()),
    }
    if state["redis"] == "ok":
        state["worker"] = await _worker_state(runtime)
    healthy = all(value in ("ok", "none") for value in state.values())
    return web.json_response(
        {"status": "ok" if healthy else "down", **state}, status=200 if healthy else 503
    )


async def _ping_database(runtime: Runtime) -> None:
    async with runtime.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _worker_state(runtime: Runtime) -> str:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            return summary(await read_heartbeats(runtime.redis))
    except Exception as error:  # Redis went away between the two checks
        log.warning("worker health unknown: %s", type(error).__name__)
        return "down"


async def _check(probe: Awaitable[object]) -> str:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await probe
    except Exception as error:  # any failure means "down"; the reason goes to the log
        log.warning("health check failed: %s", type(error).__name__)
        return "down"
    return "ok"
