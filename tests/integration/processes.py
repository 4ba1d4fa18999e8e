"""`between worker` as a real process, started and stopped as docker would (the fault tests)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import IO

from core.settings import Settings

ROOT = Path(__file__).parents[2]


def environment(settings: Settings) -> dict[str, str]:
    """The settings as the environment `between` reads, as in production."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, tuple):
            value = ",".join(str(item) for item in value)
        elif hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[name.upper()] = str(value)
    return env


class WorkerProcess:
    """`between worker`, started and stopped as docker would."""

    def __init__(self, settings: Settings, log: IO[bytes]) -> None:
        self._env = environment(settings)
        self._log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "worker",
            env=self._env,
            cwd=ROOT,
            stdout=self._log,
            stderr=self._log,
        )

    async def stop(self, signum: signal.Signals) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), 60)

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")
