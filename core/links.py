"""t.me links: to the bot's private chat (with a start payload), and to a message in a group."""

from __future__ import annotations

from typing import Protocol


class BotLinks(Protocol):
    """Links that open the private chat with the bot (the bot's username is Telegram's)."""

    async def to_bot(self, start: str | None = None) -> str:
        """https://t.me/<bot>, with `?start=<start>` when given."""
        ...


def message_link(chat_id: int, message_id: int) -> str | None:
    """A t.me link to a message in a supergroup (basic groups and private chats have none)."""
    text = str(chat_id)
    if not text.startswith("-100"):
        return None
    return f"https://t.me/c/{text.removeprefix('-100')}/{message_id}"
