"""The command menus Telegram shows: the members' in every private chat, the coaches' in
theirs.

setMyCommands keeps one list per scope; in a private chat Telegram shows the first list set
of: that chat, all private chats, the default (the Bot API's "Determining list of
commands"). A list set for one chat replaces the wider ones there rather than adding to them,
so a coach's list carries the members' commands too. A chat scope needs a chat the bot knows:
a coach who has not started the bot yet gets theirs when they add it to a group.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat

log = logging.getLogger(__name__)

MEMBER_COMMANDS = (
    ("start", "What Between is, and joining"),
    ("help", "Everything you can do here"),
    ("sos", "Help right now: crisis lines, your plan, your coach"),
    ("plan", "Your safety plan, in three short steps"),
    ("feel", "The feelings wheel: find the word"),
    ("breathe", "Sixty seconds of slow breathing"),
    ("ground", "5-4-3-2-1, back to the room you're in"),
    ("boundary", "Build a short, kind boundary message"),
    ("innerkid", "A note to the kid in you"),
    ("win", "Keep a win, big or small"),
    ("next", "Keep your next small step"),
    ("streak", "Your days in a row"),
    ("summary", "Your week so far"),
    ("zoom", "When and where the next live Q&A is"),
    ("ask", "Send a question for the live Q&A"),
    ("join", "Take a seat, or a place on the waitlist"),
    ("status", "Your membership and seat"),
    ("invite", "A fresh invite link to the group"),
    ("billing", "Your card, invoices, or cancelling"),
    ("leave", "Leave the waitlist"),
    ("gift", "Give someone a month (or three)"),
    ("quiet", "Pause or resume gentle check-ins"),
    ("privacy", "What is kept, and who reads it"),
    ("mydata", "Everything kept about you"),
    ("forget", "Delete it all"),
)
COACH_COMMANDS = (
    ("members", "Every member: streak, last active, waiting"),
    ("thread", "A member's recent check-ins and your replies"),
    ("member", "The same, by another name"),
    ("highlight", "Reply to a message: a win for their summary"),
    ("post", "Words (or your voice note) to the group"),
    ("broadcast", "A private message to every member"),
    ("seats", "Seats taken, held, free; how each pays; the waitlist"),
    ("waitlist", "Who waits, in order"),
    ("capacity", "Resize a group"),
    ("comp", "A free seat for a member"),
    ("code", "Access codes: a free seat or a month off"),
    ("remove", "End a member's seat and take them out"),
    ("refund", "Give back a member's last payment in Stars"),
    ("prompt", "The next seven days of prompts"),
    ("quiethours", "Your night: when alert repeats wait"),
)


def _menu(commands: tuple[tuple[str, str], ...]) -> list[BotCommand]:
    return [BotCommand(command=name, description=words) for name, words in commands]


async def set_command_menus(bot: Bot, coach_ids: tuple[int, ...]) -> None:
    """At start-up: the members' menu for every private chat, and each coach's."""
    await bot.set_my_commands(_menu(MEMBER_COMMANDS), scope=BotCommandScopeAllPrivateChats())
    for coach_id in coach_ids:
        await set_coach_menu(bot, coach_id)


async def set_coach_menu(bot: Bot, coach_id: int) -> None:
    """The coach's commands, then the members', in the coach's own chat with the bot."""
    try:
        await bot.set_my_commands(
            _menu(COACH_COMMANDS + MEMBER_COMMANDS), scope=BotCommandScopeChat(chat_id=coach_id)
        )
    except TelegramAPIError as error:  # "chat not found": they haven't started the bot yet
        log.info("no command menu for coach %s yet: %s", coach_id, error.message)
