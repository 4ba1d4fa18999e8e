"""One database session per update, and each Telegram update handled once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from core.clock import Clock
from core.db import SessionFactory, insert_if_new
from core.models import EventStatus, ExternalEvent

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseSessionMiddleware(BaseMiddleware):
    """Opens the update's session, skips an update already handled, commits at the end.

    The update id is written in the same transaction as the handler's own changes, so an
    update that failed half-way is handled again when Telegram resends it, and one that
    succeeded is never handled twice.
    """

    def __init__(self, sessions: SessionFactory, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        update_id = str(event.update_id)
        values = {
            "source": "telegram",
            "event_id": update_id,
            "type": event.event_type,
            "received_at": self._clock.now(),
            "status": EventStatus.PROCESSED,
        }
        async with self._sessions() as session:
            # Written first, kept only if the handler succeeds: a failure rolls both back.
            if not await insert_if_new(session, ExternalEvent, values, ["source", "event_id"]):
                log.info("update %s was handled before; ignored", update_id)
                return None
            data["session"] = session
            result = await handler(event, data)
            await session.commit()
            return result
