"""Telegram's flood limits as a pure scheduler: when may the next message to a chat go out."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

BUSY = float("inf")


@dataclass(frozen=True)
class FloodLimits:
    """About 30 messages/s overall, 1/s to one chat, 20/min to one group (Telegram's FAQ)."""

    overall: int = 30
    window: float = 1.0
    chat_interval: float = 1.0
    per_group: int = 20
    group_window: float = 60.0

    def scaled(self, factor: float) -> FloodLimits:
        """The same limits `factor` times faster, as the sandbox makes them: every window
        and interval `factor` times shorter (for tests and benchmarks)."""
        return replace(
            self,
            window=self.window / factor,
            chat_interval=self.chat_interval / factor,
            group_window=self.group_window / factor,
        )


TELEGRAM_LIMITS = FloodLimits()


class FloodControl:
    """Tracks sends on a monotonic clock and says how long to wait before the next one.

    A send counts from the moment Telegram has answered it, never earlier: that moment is
    after Telegram counted it, so however the network delays requests, the server never
    sees more than the limits allow.
    """

    def __init__(self, limits: FloodLimits = TELEGRAM_LIMITS) -> None:
        self.limits = limits
        self._recent: deque[float] = deque()
        self._recent_in_group: dict[int, deque[float]] = {}
        self._last_to_chat: dict[int, float] = {}
        self._paused_until: dict[int, float] = {}
        self._in_flight: set[int] = set()

    def wait_for(self, chat_id: int, now: float) -> float:
        """Seconds until a message to `chat_id` may be sent (0 means now, BUSY means unknown)."""
        if chat_id in self._in_flight:
            return BUSY
        in_flight = len(self._in_flight)
        waits = [
            self._paused_until.get(chat_id, 0.0) - now,
            self._last_to_chat.get(chat_id, -BUSY) + self.limits.chat_interval - now,
            self._window_wait(
                self._recent, self.limits.overall, self.limits.window, now, in_flight
            ),
        ]
        if chat_id < 0:
            recent = self._recent_in_group.setdefault(chat_id, deque())
            waits.append(
                self._window_wait(recent, self.limits.per_group, self.limits.group_window, now, 0)
            )
        return max(0.0, *waits)

    def overall_wait(self, now: float) -> float:
        """Seconds until any message may be sent, whatever its chat (BUSY: an answer will tell)."""
        return self._window_wait(
            self._recent, self.limits.overall, self.limits.window, now, len(self._in_flight)
        )

    def begin(self, chat_id: int) -> None:
        """A message to `chat_id` is on its way."""
        self._in_flight.add(chat_id)

    def end(self, chat_id: int, now: float) -> None:
        """Telegram has answered the message to `chat_id` (whatever it said)."""
        self._in_flight.discard(chat_id)
        self._recent.append(now)
        self._last_to_chat[chat_id] = now
        if chat_id < 0:
            self._recent_in_group.setdefault(chat_id, deque()).append(now)

    def abandon(self, chat_id: int) -> None:
        """The message to `chat_id` was not sent after all (another sender had it)."""
        self._in_flight.discard(chat_id)

    def pause(self, chat_id: int, until: float) -> None:
        """Send nothing to `chat_id` before `until` (Telegram's retry_after, or a back-off)."""
        self._paused_until[chat_id] = max(until, self._paused_until.get(chat_id, 0.0))

    @staticmethod
    def _window_wait(
        recent: deque[float], limit: int, window: float, now: float, in_flight: int
    ) -> float:
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) + in_flight < limit:
            return 0.0
        # The send that must leave the window before there is room again; if it is still
        # in flight, only its answer will tell.
        index = len(recent) + in_flight - limit
        if index >= len(recent):
            return BUSY
        return recent[index] + window - now
