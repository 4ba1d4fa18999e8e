"""One database session per update, and each Telegram update handled once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from sqlmodel import col, select

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
        async with self._sessions() as session:
            if await self._seen(session, update_id):
                log.info("update %s was handled before; ignored", update_id)
                return None
            data["session"] = session
            result = await handler(event, data)
            values = {
                "source": "telegram",
                "event_id": update_id,
                "type": event.event_type,
                "received_at": self._clock.now(),
                "status": EventStatus.PROCESSED,
            }
            if await insert_if_new(session, ExternalEvent, values, ["source", "event_id"]):
                await session.commit()
            else:
                await session.rollback()
            return result

    @staticmethod
    async def _seen(session: Any, update_id: str) -> bool:
        result = await session.exec(
            select(ExternalEvent.id)
            .where(col(ExternalEvent.source) == "telegram")
            .where(col(ExternalEvent.event_id) == update_id)
        )
        return result.first() is not None
