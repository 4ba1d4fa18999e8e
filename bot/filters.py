"""Who may do what."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from core.settings import Settings


class IsCoach(Filter):
    """The sender is one of COACH_TELEGRAM_IDS."""

    async def __call__(self, event: Message | CallbackQuery, settings: Settings) -> bool:
        return event.from_user is not None and event.from_user.id in settings.coach_telegram_ids
