"""One outbox sender among several workers: a lease in Redis, held by one worker at a time.

Telegram's flood limits are the bot's (30 messages a second, one a second to a chat), not a
process's: each sender keeps them by itself, so two senders would together send twice what
Telegram takes. The worker that holds the lease sends; the others stand by and take over
within `LEASE_SECONDS` (plus one look) of it stopping, at once when it stops gracefully.

While Redis cannot be reached the holder keeps sending until its lease would have run out
(nobody else can have taken it before then), then stops until Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

OUTBOX_LEASE = "between:outbox:sender"
LEASE_SECONDS = 15.0
RENEW_SECONDS = 5.0

# Renew or give back the lease only if it is still ours (another may hold it after expiry).
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end"
)


class Lease:
    """Runs `work` only while this process holds the lease at `key`."""

    def __init__(
        self,
        redis: Any,
        key: str,
        *,
        holder: str,
        seconds: float = LEASE_SECONDS,
        renew_every: float = RENEW_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._key = key
        self._token = f"{holder}:{uuid.uuid4().hex[:8]}"
        self._seconds = seconds
        self._every = renew_every
        self._monotonic = monotonic
        self.holding = False

    async def run(self, work: Callable[[], Awaitable[None]]) -> None:
        """Stand by, hold and work, until cancelled; Redis's errors while standing by end it
        (the supervisor starts it again)."""
        while True:
            if not await self._redis.set(
                self._key, self._token, nx=True, px=int(self._seconds * 1000)
            ):
                await asyncio.sleep(self._every)
                continue
            log.info("%s: this worker holds it now", self._key)
            await self._work_while_held(work)

    async def _work_while_held(self, work: Callable[[], Awaitable[None]]) -> None:
        held_until = self._monotonic() + self._seconds
        self.holding = True
        task = asyncio.ensure_future(work())
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self._every)
                if done:
                    task.result()  # a failure goes to the supervisor
                    return
                try:
                    renewed = await self._redis.eval(
                        _RENEW, 1, self._key, self._token, int(self._seconds * 1000)
                    )
                except RedisError:
                    # Nobody can have it before it runs out: go on until just before then.
                    if self._monotonic() + self._every < held_until:
                        continue
                    log.warning("%s: Redis unreachable; stopping as the lease ends", self._key)
                    return
                if not renewed:
                    log.warning("%s: lost to another worker", self._key)
                    return
                held_until = self._monotonic() + self._seconds
        finally:
            self.holding = False
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            # Given back at once, so a standby need not wait for it to run out.
            with contextlib.suppress(RedisError, OSError):
                await self._redis.eval(_RELEASE, 1, self._key, self._token)
