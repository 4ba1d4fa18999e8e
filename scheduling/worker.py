"""The arq worker: shared clients in `ctx`, the job table, the cron table, the outbox sender."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import Worker

from core.clock import Clock
from core.outbox import OutboxSender
from core.runtime import Runtime
from core.settings import Settings, get_settings
from scheduling import jobs

log = logging.getLogger(__name__)


async def startup(ctx: dict[str, Any]) -> None:
    """Build the clients once and start delivering the outbox."""
    settings: Settings = ctx.get("settings") or get_settings()
    runtime = ctx.get("runtime") or await Runtime.open(
        settings, redis_url=ctx["redis_url"], clock=ctx.get("clock")
    )
    ctx["runtime"] = runtime
    sender = OutboxSender(runtime.sessions, runtime.telegram, runtime.clock)
    ctx["outbox"] = sender
    ctx["outbox_task"] = asyncio.create_task(sender.run(), name="outbox")


async def shutdown(ctx: dict[str, Any]) -> None:
    """Let messages in flight finish, then close the clients this worker opened."""
    task: asyncio.Task[None] | None = ctx.get("outbox_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if ctx.get("owns_runtime", True) and "runtime" in ctx:
        await ctx["runtime"].close()


class WorkerSettings:
    """arq's worker description (also usable as `arq scheduling.worker.WorkerSettings`)."""

    functions = [func(jobs.apply_stripe_event, name="process_stripe_event", max_tries=1)]
    cron_jobs = [
        cron(jobs.retry_stripe_events, second=0, run_at_startup=True),
        cron(jobs.sweep_seats, second=30, run_at_startup=True),
        cron(jobs.send_daily_prompts, second=5, run_at_startup=True),
        cron(jobs.send_digests, second=15),
        cron(jobs.send_gentle_checkins, second=45),
        cron(jobs.schedule_live_qa, second=20),
        cron(jobs.weekly_summaries, second=50),
        cron(jobs.reconcile_billing, hour=3, minute=0),
        cron(jobs.forget_old_update_ids, hour=3, minute=30),
        cron(jobs.purge_old_words, hour=4, minute=0),
    ]
    on_startup = startup
    on_shutdown = shutdown


def create_worker(
    settings: Settings,
    *,
    redis_url: str,
    clock: Clock | None = None,
    runtime: Runtime | None = None,
    burst: bool = False,
    cron: bool = True,
) -> Worker:
    """A worker for `between worker` and `between run` (which shares its runtime).

    `cron=False` leaves the clock-driven jobs to the caller (the demo runs them itself, on
    its simulated clock).
    """
    ctx: dict[str, Any] = {"settings": settings, "redis_url": redis_url, "clock": clock}
    if runtime is not None:
        ctx.update(runtime=runtime, owns_runtime=False)
    return Worker(
        functions=WorkerSettings.functions,
        cron_jobs=WorkerSettings.cron_jobs if cron else [],
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        redis_settings=RedisSettings.from_dsn(redis_url),
        ctx=ctx,
        handle_signals=False,
        burst=burst,
        poll_delay=0.2,
    )
