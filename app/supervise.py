"""Supervision of the worker's long-running loops, and the heartbeat that tells their state.

A loop that fails (Redis or the database gone for a while) is logged once, waits (doubling,
capped) and starts again by itself; when it has run well again the wait starts over. Every
few seconds the worker writes the state of each loop to Redis; `/healthz` and `between
doctor` read it, and a worker whose heartbeat is old, or one of whose loops is not running,
is unhealthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from core.redis import redis_url_for

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0
HEARTBEAT_SECONDS = 5.0
HEARTBEAT_STALE = 30.0
HEARTBEAT_PREFIX = "between:worker:heartbeat:"

RUNNING = "running"
BACKING_OFF = "backing off"
STOPPED = "stopped"


@dataclass
class LoopState:
    state: str = RUNNING
    restarts: int = 0
    error: str | None = None


@dataclass
class Supervisor:
    """Runs named loops, restarting each after a failure with capped exponential backoff."""

    first_backoff: float = FIRST_BACKOFF
    max_backoff: float = MAX_BACKOFF
    loops: dict[str, LoopState] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def start(self, name: str, loop: Callable[[], Awaitable[object]]) -> asyncio.Task[None]:
        """Start `loop` under supervision (again and again until cancelled)."""
        self.loops[name] = LoopState()
        task = asyncio.create_task(self._supervise(name, loop), name=name)
        self.tasks[name] = task
        return task

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[object]]) -> None:
        state = self.loops[name]
        backoff = self.first_backoff
        try:
            while True:
                state.state = RUNNING
                started = time.monotonic()
                try:
                    await loop()
                    return  # a loop that ends by itself is done (arq's burst mode)
                except Exception as error:  # the loop's failure, not ours: wait, then again
                    if time.monotonic() - started > self.max_backoff:
                        backoff = self.first_backoff  # it had run well: this is a new fault
                    if backoff == self.first_backoff:  # once a fault, not once a retry
                        log.error(
                            "%s stopped (%s); restarting, waiting up to %.0f s between tries",
                            name,
                            type(error).__name__,
                            self.max_backoff,
                        )
                    state.state, state.error = BACKING_OFF, type(error).__name__
                    state.restarts += 1
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
        finally:
            state.state = STOPPED

    def healthy(self) -> bool:
        return all(loop.state == RUNNING for loop in self.loops.values())

    def report(self, now: float) -> dict[str, Any]:
        return {
            "at": now,
            "healthy": self.healthy(),
            "loops": {
                name: {"state": loop.state, "restarts": loop.restarts, "error": loop.error}
                for name, loop in self.loops.items()
            },
        }


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def beat(
    redis: Any,
    supervisor: Supervisor,
    *,
    name: str,
    wall: Callable[[], float] = time.time,
    every: float = HEARTBEAT_SECONDS,
) -> None:
    """Write the supervisor's report to Redis every `every` seconds until cancelled."""
    key = HEARTBEAT_PREFIX + name
    try:
        while True:
            with contextlib.suppress(Exception):  # Redis down: the loops report it themselves
                await redis.set(key, json.dumps(supervisor.report(wall())), ex=24 * 3600)
            await asyncio.sleep(every)
    finally:
        with contextlib.suppress(Exception):
            await redis.delete(key)


async def read_heartbeats(
    redis: Any, *, wall: Callable[[], float] = time.time
) -> dict[str, dict[str, Any]]:
    """Each worker's last report, with `healthy` false for a heartbeat older than allowed."""
    workers: dict[str, dict[str, Any]] = {}
    async for key in redis.scan_iter(match=HEARTBEAT_PREFIX + "*"):
        raw = await redis.get(key)
        if raw is None:
            continue
        name = (key.decode() if isinstance(key, bytes) else key)[len(HEARTBEAT_PREFIX) :]
        report = json.loads(raw)
        if wall() - float(report.get("at", 0)) > HEARTBEAT_STALE:
            report["healthy"] = False
            report["stale"] = True
        workers[name] = report
    return workers


def summary(workers: dict[str, dict[str, Any]]) -> str:
    """ "ok", "down" (a worker reports a loop not running, or went silent) or "none"."""
    if not workers:
        return "none"
    return "ok" if all(report.get("healthy") for report in workers.values()) else "down"


async def host_report(redis_url: str | None, data_dir: Path) -> tuple[bool, str]:
    """Whether the worker(s) on this host report every loop running, and what they say."""
    host = socket.gethostname() + ":"
    try:
        with redis_url_for(redis_url, data_dir) as url:
            client = Redis.from_url(url)
            try:
                async with asyncio.timeout(5):
                    workers = await read_heartbeats(client)
            finally:
                await client.aclose()
    except Exception as error:
        return False, f"cannot read the heartbeat: {type(error).__name__}"
    mine = {name: report for name, report in workers.items() if name.startswith(host)}
    if not mine:
        return False, f"no heartbeat from a worker on {host[:-1]}"
    return summary(mine) == "ok", json.dumps(mine)
