"""The buttons that come with messages: what a press means (typed callback data) and the
keyboards. Services put them on the messages they queue; the bot's routers filter on them.

Callback data reach Telegram as `prefix:field:...` strings of at most 64 bytes. The prefixes
of the buttons without fields are the strings older messages carry, so their buttons still work.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup


class ShowHelp(CallbackData, prefix="help"):
    """What a member can do."""


class Join(CallbackData, prefix="join"):
    """Start joining (or take an offered seat, or join again)."""


class AcceptNote(CallbackData, prefix="accept-note"):
    """ "I understand": Between is not a crisis service."""


class OpenBilling(CallbackData, prefix="billing"):
    """A fresh link to the customer portal."""


class OpenThread(CallbackData, prefix="thread"):
    """The coach opens a member's thread (from the digest)."""

    member_id: int


class ApproveSummaries(CallbackData, prefix="approve-summaries"):
    """The coach approves every draft of a group's week."""

    group_id: int
    week_start: str  # ISO date of the week's Monday


class PickFeeling(CallbackData, prefix="feel-core"):
    """A core feeling on the wheel (index), or back to the cores (-1)."""

    index: int


class NameFeeling(CallbackData, prefix="feel-word"):
    """The word under a core feeling that fits best."""

    index: int
    word: str


class Forget(CallbackData, prefix="forget"):
    """Delete everything (`confirm`), or keep it."""

    confirm: bool


BACK = -1


def button(text: str, data: CallbackData) -> dict[str, str]:
    """One inline button, as the outbox stores it."""
    return {"text": text, "callback_data": data.pack()}


def link_button(text: str, url: str) -> dict[str, str]:
    return {"text": text, "url": url}


def keyboard(*rows: list[dict[str, str]]) -> dict[str, Any]:
    """An inline keyboard, one list of buttons a row, as the outbox stores it."""
    return {"inline_keyboard": [row for row in rows if row]}


UPDATE_CARD = keyboard([button("Update my card", OpenBilling())])
JOIN_AGAIN = keyboard([button("Join again", Join())])
TAKE_MY_SEAT = keyboard([button("Take my seat", Join())])


def markup(*rows: list[dict[str, str]]) -> InlineKeyboardMarkup:
    """The same keyboard as aiogram's type, for an answer sent straight from a handler."""
    return InlineKeyboardMarkup.model_validate(keyboard(*rows))
