"""A supervised loop that fails is logged once, waits longer each time (up to a cap), starts
again by itself, and reports its state while it waits."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.supervise import BACKING_OFF, RUNNING, STOPPED, Supervisor, summary


async def test_a_failing_loop_is_logged_once_backs_off_and_resumes(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr("app.supervise.asyncio.sleep", sleep)
    tries = 0
    resumed = asyncio.Event()
    supervisor = Supervisor(first_backoff=1.0, max_backoff=8.0)

    async def loop() -> None:
        nonlocal tries
        tries += 1
        if tries <= 6:
            raise ConnectionError("gone")
        resumed.set()
        await asyncio.Event().wait()  # runs until cancelled

    with caplog.at_level(logging.ERROR, logger="app.supervise"):
        task = supervisor.start("jobs", loop)
        await asyncio.wait_for(resumed.wait(), 5)
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # doubling, capped
    assert [r.getMessage() for r in caplog.records] == [
        "jobs stopped (ConnectionError); restarting, waiting up to 8 s between tries"
    ]
    assert supervisor.loops["jobs"].state == RUNNING and supervisor.loops["jobs"].restarts == 6
    assert supervisor.healthy()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert supervisor.loops["jobs"].state == STOPPED and not supervisor.healthy()


async def test_a_loop_waiting_to_restart_makes_the_worker_unhealthy() -> None:
    supervisor = Supervisor(first_backoff=60.0)
    failed = asyncio.Event()

    async def loop() -> None:
        failed.set()
        raise OSError("database gone")

    task = supervisor.start("outbox", loop)
    await failed.wait()
    await asyncio.sleep(0)
    report = supervisor.report(now=0.0)
    assert report["loops"]["outbox"] == {"state": BACKING_OFF, "restarts": 1, "error": "OSError"}
    assert summary({"w": report}) == "down"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
