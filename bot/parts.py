"""Answering with a text that may be longer than one Telegram message takes."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup, Message

from core.longtext import split_message


async def answer_in_parts(
    message: Message, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
) -> list[Message]:
    """Answer in the message's chat: one message, or several when the text is over Telegram's
    4,096 characters (split at line breaks, each part balanced HTML); buttons come with the
    last part. The sent messages, in order."""
    parts = split_message(text)
    sent = []
    for number, part in enumerate(parts, start=1):
        markup = reply_markup if number == len(parts) else None
        sent.append(await message.answer(part, reply_markup=markup))
    return sent
