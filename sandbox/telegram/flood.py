"""Telegram's flood limits on what a bot sends.

About 30 messages a second overall, one a second to any one chat and 20 a minute to any one
group; past that the Bot API answers 429 Too Many Requests, with the whole seconds to wait in
retry_after. The windows slide: what counts is the last second (or minute), not a clock tick.
"""

from __future__ import annotations

import math
import time
from collections import deque


class _SlidingWindow:
    """At most ``limit`` events in any ``seconds`` long stretch."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        while self._events and self._events[0] <= now - self.seconds:
            self._events.popleft()
        if len(self._events) < self.limit:
            return 0.0
        return self._events[0] + self.seconds - now

    def add(self, now: float) -> None:
        self._events.append(now)


class FloodControl:
    """Telegram's sending limits: 30 messages/s overall, 1/s per chat, 20/min per group.

    ``rate_scale`` multiplies every rate by shortening the windows, so a test at
    rate_scale=50 sees the same refusals as production, fifty times sooner.
    """

    def __init__(self, rate_scale: float) -> None:
        if rate_scale <= 0:
            raise ValueError("rate_scale must be positive")
        self._scale = rate_scale
        self._overall = _SlidingWindow(30, 1.0 / rate_scale)
        self._per_chat: dict[int, _SlidingWindow] = {}
        self._per_group: dict[int, _SlidingWindow] = {}

    def _windows(self, chat_id: int) -> list[_SlidingWindow]:
        windows = [self._overall]
        windows.append(self._per_chat.setdefault(chat_id, _SlidingWindow(1, 1.0 / self._scale)))
        if chat_id < 0:
            group = self._per_group.setdefault(chat_id, _SlidingWindow(20, 60.0 / self._scale))
            windows.append(group)
        return windows

    def take(self, chat_id: int) -> int | None:
        """Count one message to ``chat_id``, or refuse: the retry_after in whole seconds.

        The seconds are the sandbox's own: at rate_scale 20 its clock runs twenty times fast,
        so "1" is 50 ms of real time, and a client whose waits run at that pace (the tests'
        SimulatedClock) waits exactly what Telegram would make it wait.
        """
        now = time.monotonic()
        windows = self._windows(chat_id)
        wait = max(window.wait(now) for window in windows)
        if wait > 0:
            return max(1, math.ceil(wait * self._scale))
        for window in windows:
            window.add(now)
        return None
