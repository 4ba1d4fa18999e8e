"""Long polling (`between run` without PUBLIC_URL) that never skips an update it failed on.

getUpdates hands out updates until the bot confirms them: the next call's `offset` forgets
every update below it (telegram-bot-api process_get_updates_query; unconfirmed ones come
again, until they expire: 24 hours, 150 s for a button press). aiogram's own polling moves
the offset past each update as soon as it has read it, and runs them as concurrent tasks
whose failures are only logged, so an update that failed for a moment is gone. Here updates
are handled one after the other, in order, and the offset moves past an update only once it
is handled: what Telegram refused and bugs count as handled (bot/errors.py), a failure that
may pass stops the batch, waits (1, 2, 4 ... 60 s) and fetches again from that update.
Each update id is handled once (DatabaseSessionMiddleware), so one fetched again after a
restart is not handled twice.

Stopping waits for the update being handled, then ends the wait for the next batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update

from core.clock import Clock

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_SECONDS = 30  # Telegram holds a getUpdates this long at most (50) when nothing comes
MAX_BACK_OFF = 60.0


class UpdatePoller:
    """Fetches updates by long polling and hands each to the dispatcher, in order."""

    def __init__(
        self,
        bot: Bot,
        dispatcher: Dispatcher,
        *,
        allowed_updates: list[str],
        clock: Clock,
        poll_seconds: int = POLL_SECONDS,
    ) -> None:
        self._bot = bot
        self._dispatcher = dispatcher
        self._allowed_updates = allowed_updates
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._offset: int | None = None
        self._failures = 0
        self._stopping = False
        self._waiting: asyncio.Task[object] | None = None

    async def run(self) -> None:
        """Poll until stop()."""
        while not self._stopping:
            try:
                updates = await self._interruptible(self._fetch())
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except Exception as error:  # Telegram away for a moment, a 409, the network
                log.warning("could not fetch updates: %s: %s", type(error).__name__, error)
                await self._back_off()
                continue
            for update in updates:
                if self._stopping or not await self._handle(update):
                    break

    def stop(self) -> None:
        """Finish the update in hand, then stop; a wait (for updates, or a back-off) ends now."""
        self._stopping = True
        if self._waiting is not None and not self._waiting.done():
            self._waiting.cancel()

    async def _interruptible(self, work: Coroutine[Any, Any, T]) -> T:
        task = asyncio.create_task(work)
        self._waiting = task
        try:
            return await task
        finally:
            self._waiting = None

    async def _fetch(self) -> list[Update]:
        request = GetUpdates(
            offset=self._offset, timeout=self._poll_seconds, allowed_updates=self._allowed_updates
        )
        # Longer than the long poll itself, or every quiet poll would time out.
        timeout = int((self._bot.session.timeout or 0) + self._poll_seconds)
        return await self._bot(request, request_timeout=timeout)

    async def _handle(self, update: Update) -> bool:
        """Handle one update; False when it failed for now and must be fetched again."""
        try:
            result = await self._dispatcher.feed_update(self._bot, update)
            if isinstance(result, TelegramMethod):  # a handler's answer, as a webhook gives
                await self._bot(result)
        except Exception as error:
            log.warning(
                "update %s failed for now (%s); it will be fetched again",
                update.update_id,
                type(error).__name__,
            )
            await self._back_off()
            return False
        self._failures = 0
        self._offset = update.update_id + 1
        return True

    async def _back_off(self) -> None:
        self._failures += 1
        delay = min(2.0 ** (self._failures - 1), MAX_BACK_OFF)
        try:
            await self._interruptible(self._clock.sleep(delay))
        except asyncio.CancelledError:
            if not self._stopping:
                raise
