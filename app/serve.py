"""Running the processes: web, worker and bot, alone or all in one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from enum import StrEnum

from aiogram.exceptions import TelegramAPIError
from aiohttp import web

from app.runtime import Runtime
from app.web import TELEGRAM_WEBHOOK_PATH, create_app
from app.worker import create_worker, run_supervised, stop_gracefully
from bot.commands import set_command_menus
from bot.dispatcher import ALLOWED_UPDATES
from bot.polling import UpdatePoller
from bot.routers.dashboard import show_dashboard_in_menu
from core.clock import Clock
from core.redis import redis_url_for
from core.settings import Settings

log = logging.getLogger(__name__)


class Part(StrEnum):
    WEB = "web"
    WORKER = "worker"
    POLLING = "polling"


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    parts: set[Part],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    clock: Clock | None = None,
    cron: bool = True,
) -> AsyncIterator[Runtime]:
    """Start the given parts on one runtime; stop them cleanly on exit."""
    with redis_url_for(settings.redis_url, settings.data_dir) as redis_url:
        runtime = await Runtime.open(settings, redis_url=redis_url, clock=clock)
        runner: web.AppRunner | None = None
        worker = None
        worker_task: asyncio.Task[None] | None = None
        poller: UpdatePoller | None = None
        poller_task: asyncio.Task[None] | None = None
        try:
            if Part.WEB in parts:
                runner = web.AppRunner(create_app(runtime), access_log=None)
                await runner.setup()
                await web.TCPSite(runner, host, port).start()
                log.info("web listening on http://%s:%s", host, port)
                await _point_telegram_at_us(runtime)
                await show_dashboard_in_menu(runtime.bot, runtime.settings)
            if Part.WORKER in parts:
                worker = create_worker(settings, redis_url=redis_url, runtime=runtime, cron=cron)
                worker_task = run_supervised(worker)
            if Part.POLLING in parts and not settings.webhook_mode:
                await runtime.bot.delete_webhook()
                poller = UpdatePoller(
                    runtime.bot,
                    runtime.dispatcher,
                    allowed_updates=ALLOWED_UPDATES,
                    clock=runtime.clock,
                )
                poller_task = asyncio.create_task(poller.run(), name="polling")
                log.info("receiving Telegram updates by long polling")
            if parts & {Part.WEB, Part.POLLING}:
                await _set_command_menus(runtime)
            yield runtime
        finally:
            # Updates stop coming in first; then the worker lets its running jobs and the
            # messages in flight finish; only then is the bot's session closed (in
            # runtime.close()), so nothing Telegram already took is sent again after a restart.
            if poller is not None and poller_task is not None:
                poller.stop()
                await asyncio.gather(poller_task, return_exceptions=True)
            if runner is not None:
                await runner.cleanup()
            if worker is not None:
                await stop_gracefully(worker)
            if worker_task is not None:
                worker_task.cancel()
                await asyncio.gather(worker_task, return_exceptions=True)
            await runtime.close()


async def _set_command_menus(runtime: Runtime) -> None:
    try:
        await set_command_menus(runtime.bot, runtime.settings.coach_telegram_ids)
    except TelegramAPIError as error:  # the menus are a comfort; starting matters more
        log.warning("could not set the command menus: %s", error.message)


async def _point_telegram_at_us(runtime: Runtime) -> None:
    settings = runtime.settings
    if not settings.webhook_mode:
        return
    assert settings.public_url is not None and settings.telegram_webhook_secret is not None
    await runtime.bot.set_webhook(
        url=settings.public_url + TELEGRAM_WEBHOOK_PATH,
        secret_token=settings.telegram_webhook_secret.get_secret_value(),
        allowed_updates=ALLOWED_UPDATES,
    )
    log.info("Telegram webhook set to %s%s", settings.public_url, TELEGRAM_WEBHOOK_PATH)


async def serve_until_stopped(
    settings: Settings, parts: set[Part], *, host: str, port: int
) -> None:
    """Run until SIGINT or SIGTERM (the processes `between run|web|worker`)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(settings, parts, host=host, port=port):
        await stop.wait()
        log.info("stopping")
