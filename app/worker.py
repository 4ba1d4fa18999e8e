"""The arq worker: the runtime in `ctx`, the job and cron tables, the outbox sender, and a
graceful stop (arq's own `close()` cancels the jobs that are running)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker
from redis.exceptions import RedisError

from app.runtime import Runtime
from app.supervise import Supervisor, beat, worker_name
from core.clock import Clock
from core.outbox import OutboxSender
from core.settings import Settings, get_settings
from scheduling.jobs import CRON_JOBS, FUNCTIONS

log = logging.getLogger(__name__)

# How long a stopping worker waits for its running jobs before cutting them short: inside the
# 30 s docker-compose.yml gives the worker to stop. A job cut short is applied again later
# (billing.events gives its claim back).
STOP_GRACE_SECONDS = 20.0
# How long arq's close() may talk to Redis before the worker closes without it.
CLOSE_SECONDS = 5.0


async def startup(ctx: dict[str, Any]) -> None:
    """Build the clients once, start delivering the outbox and the heartbeat.

    arq runs this again each time its job loop is restarted after a fault: the second time
    finds everything running and does nothing.
    """
    if "outbox" in ctx:
        return
    settings: Settings = ctx.get("settings") or get_settings()
    runtime = ctx.get("services") or await Runtime.open(
        settings, redis_url=ctx["redis_url"], clock=ctx.get("clock")
    )
    ctx["services"] = runtime
    sender = OutboxSender(runtime.sessions, runtime.telegram, runtime.clock)
    ctx["outbox"] = sender
    supervisor: Supervisor = ctx.setdefault("supervisor", Supervisor())
    # With several workers, one sends at a time (the sender's lease in the database):
    # Telegram's limits are the bot's.
    ctx["outbox_task"] = supervisor.start("outbox", sender.run)
    ctx["heartbeat_task"] = asyncio.create_task(
        beat(runtime.redis, supervisor, name=worker_name()), name="heartbeat"
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    """Let messages in flight finish, then close the clients this worker opened."""
    for name in ("outbox_task", "heartbeat_task"):
        task: asyncio.Task[None] | None = ctx.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    ctx.pop("outbox", None)
    runtime: Runtime | None = ctx.get("services")
    if ctx.get("owns_runtime", True) and runtime is not None and not runtime.closed:
        await runtime.close()


class WorkerSettings:
    """arq's worker description (also usable as `arq app.worker.WorkerSettings`)."""

    functions = FUNCTIONS
    cron_jobs = CRON_JOBS
    on_startup = startup
    on_shutdown = shutdown
    timezone = UTC


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
    ctx: dict[str, Any] = {
        "settings": settings,
        "redis_url": redis_url,
        "clock": clock,
        "supervisor": Supervisor(),
    }
    if runtime is not None:
        ctx.update(services=runtime, owns_runtime=False)
    return Worker(
        functions=FUNCTIONS,
        cron_jobs=CRON_JOBS if cron else [],
        on_startup=startup,
        on_shutdown=shutdown,
        redis_settings=RedisSettings.from_dsn(redis_url),
        ctx=ctx,
        handle_signals=False,
        burst=burst,
        poll_delay=0.2,
        # Cron times ("03:00") mean UTC, whatever the machine's zone.
        timezone=UTC,
    )


def run_supervised(worker: Worker) -> asyncio.Task[None]:
    """arq's job loop, started again after a fault (arq lets Redis's ConnectionError end it)."""
    supervisor: Supervisor = worker.ctx.setdefault("supervisor", Supervisor())
    return supervisor.start("jobs", worker.async_run)


async def stop_gracefully(worker: Worker, *, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop picking up jobs, let the running ones finish (up to `grace` seconds), then close.

    arq's `close()` (with its signal handling off, as ours is) cancels every running job at
    once, and raises the CancelledError of a job cut short; neither may stop the shutdown.
    """
    worker.allow_pick_jobs = False
    deadline = asyncio.get_running_loop().time() + grace
    # Again until none runs: a job arq had already fetched may start after the first look.
    while running := [task for task in worker.tasks.values() if not task.done()]:
        left = deadline - asyncio.get_running_loop().time()
        if left > 0:
            log.info("worker stopping: waiting for %d running job(s)", len(running))
            await asyncio.wait(running, timeout=left)
            continue
        log.warning("worker stopping: %d job(s) cut short after %.0f s", len(running), grace)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    # Done tasks, cancelled ones included, must not make close()'s gather raise.
    for job_id, task in list(worker.tasks.items()):
        if task.done():
            del worker.tasks[job_id]
    try:
        async with asyncio.timeout(CLOSE_SECONDS):
            await worker.close()
        return
    except (RedisError, OSError, TimeoutError) as error:
        # close() deletes arq's health key first: with Redis gone it stops there, before our
        # shutdown and before its own pool is closed. Do both without Redis.
        log.warning("worker stopping without Redis (%s)", type(error).__name__)
    await shutdown(worker.ctx)
    with contextlib.suppress(RedisError, OSError):
        await worker.pool.aclose()
