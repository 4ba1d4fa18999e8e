"""Who may do what."""

from __future__ import annotations

from aiogram import F
from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, TelegramObject
from magic_filter import MagicFilter

from core.settings import Settings


class IsCoach(Filter):
    """The sender is one of COACH_TELEGRAM_IDS."""

    async def __call__(
        self, event: Message | CallbackQuery | ChatMemberUpdated, settings: Settings
    ) -> bool:
        return event.from_user is not None and event.from_user.id in settings.coach_telegram_ids


class Magic(Filter):
    """A magic filter (`F.chat.type == ...`) checked on the event loop.

    aiogram runs a plain `F` filter through `asyncio.to_thread`, a thread hop per filter per
    update; a group check-in passes a dozen of them, which took a third of the dispatcher's
    time (bench/README.md has the profile).
    """

    def __init__(self, magic: MagicFilter) -> None:
        self._magic = magic

    async def __call__(self, event: TelegramObject) -> bool:
        return bool(self._magic.resolve(event))


PRIVATE = Magic(F.chat.type == ChatType.PRIVATE)
IN_A_GROUP = Magic(F.chat.type.in_({ChatType.GROUP, ChatType.SUPERGROUP}))
