"""Who may do what."""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, TelegramObject
from magic_filter import MagicFilter
from sqlmodel.ext.asyncio.session import AsyncSession

from coaching import asks
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


class AnswersCoachQuestion(Filter):
    """The message replies to a question the bot asked the coach (whose kind starts with
    `kind`); the handler gets it as `question`."""

    def __init__(self, kind: str) -> None:
        self._kind = kind

    async def __call__(self, message: Message, session: AsyncSession) -> bool | dict[str, Any]:
        if message.reply_to_message is None:
            return False
        found = await asks.question(
            session, coach_chat_id=message.chat.id, message_id=message.reply_to_message.message_id
        )
        if found is None or not found.kind.startswith(self._kind):
            return False
        return {"question": found}


PRIVATE = Magic(F.chat.type == ChatType.PRIVATE)
IN_A_GROUP = Magic(F.chat.type.in_({ChatType.GROUP, ChatType.SUPERGROUP}))
