"""t.me links: to the bot's private chat (with a start payload), and to a message in a group."""

from __future__ import annotations

from typing import Protocol

# Telegram's Bot API numbers a supergroup -1000000000000 - id and a basic group -id, with ids up
# to 999999999999 (telegram-bot-api Client.cpp get_supergroup_chat_id, get_basic_group_chat_id):
# the chat id alone tells the kinds apart. A "-100" string prefix does not (-1001234 is basic).
SUPERGROUP_ID_BASE = -1_000_000_000_000


class BotLinks(Protocol):
    """Links that open the private chat with the bot (the bot's username is Telegram's)."""

    async def to_bot(self, start: str | None = None) -> str:
        """https://t.me/<bot>, with `?start=<start>` when given."""
        ...


def is_supergroup(chat_id: int) -> bool:
    """A supergroup's id (-100…); a basic group's is -1 … -999999999999."""
    return chat_id < SUPERGROUP_ID_BASE


def message_link(chat_id: int, message_id: int) -> str | None:
    """A t.me link to a message in a supergroup (basic groups and private chats have none)."""
    if not is_supergroup(chat_id):
        return None
    return f"https://t.me/c/{SUPERGROUP_ID_BASE - chat_id}/{message_id}"
