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


class GiftMonths(CallbackData, prefix="gift"):
    """Buy a gift of this many months for someone else."""

    months: int


class AcceptNote(CallbackData, prefix="accept-note"):
    """ "I understand": Between is not a crisis service (then the access code, if any)."""

    code: str = ""


class OpenBilling(CallbackData, prefix="billing"):
    """A fresh link to the customer portal."""


class OpenThread(CallbackData, prefix="thread"):
    """The coach opens a member's thread (from the digest)."""

    member_id: int


class ApproveSummaries(CallbackData, prefix="approve-summaries"):
    """The coach approves every draft of a group's week."""

    group_id: int
    week_start: str  # ISO date of the week's Monday


class GroupPost(CallbackData, prefix="post"):
    """Under a member's group post in the round: mark it a win or an insight for their
    summary, or answer it in the group (`action`: win, insight, reply)."""

    entry_id: int
    action: str


class PickMember(CallbackData, prefix="pick"):
    """The coach named several people by one name: this is the one (for `command`)."""

    command: str
    member_id: int
    chat_id: int = 0  # the group the command named, if any


class SendTo(CallbackData, prefix="send-to"):
    """A /post or /broadcast waiting for its group: this one (0: every group)."""

    pending_id: int
    group_id: int


class EditProfile(CallbackData, prefix="profile"):
    """The coach changes one part of their profile (name, bio, photo)."""

    part: str


class ReplaceSummary(CallbackData, prefix="replace-summary"):
    """The coach writes a draft's whole text anew instead of adding a line at the top."""

    summary_id: int


class QuietArrival(CallbackData, prefix="quiet-arrival"):
    """A new member asks to come into the group without a welcome there."""


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


class ReachedOut(CallbackData, prefix="reached-out"):
    """A coach has reached out about an urgent safety alert: no more repeats."""

    alert_id: int


class TellCoachNow(CallbackData, prefix="tell-coach"):
    """/sos: the member asks for the coach now (an urgent alert)."""


class WritePlan(CallbackData, prefix="plan"):
    """/plan: write (or rewrite) the safety plan, from its first part."""


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
OPEN_BILLING = keyboard([button("Open billing", OpenBilling())])
JOIN_AGAIN = keyboard([button("Join again", Join())])
TAKE_MY_SEAT = keyboard([button("Take my seat", Join())])
STAY_ON = keyboard([button("Stay on", Join())])
COME_IN_QUIETLY = keyboard([button("Come in quietly (no welcome in the group)", QuietArrival())])


def markup(*rows: list[dict[str, str]]) -> InlineKeyboardMarkup:
    """The same keyboard as aiogram's type, for an answer sent straight from a handler."""
    return InlineKeyboardMarkup.model_validate(keyboard(*rows))
