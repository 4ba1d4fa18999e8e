"""Time, injected: real in production, simulated in tests and the demo."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time as an aware UTC datetime, and waits."""

    # How much faster than real time this clock's waits pass (1 for the wall clock).
    pace: float

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (an order from outside, such as Telegram's retry_after)."""
        ...


class SystemClock:
    """The wall clock."""

    pace = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SimulatedClock:
    """A clock that moves only when told to (tests and `between demo`).

    `pace`: how much faster than real time its waits pass, to match sandboxes whose own time
    runs faster (a sandbox at rate_scale 20 asks to wait 1 of its seconds, 50 ms of ours).
    """

    def __init__(self, start: datetime, *, pace: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware datetime")
        if pace <= 0:
            raise ValueError("pace must be positive")
        self._now = start.astimezone(UTC)
        self.pace = pace

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.pace)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> datetime:
        self._now = moment.astimezone(UTC)
        return self._now
