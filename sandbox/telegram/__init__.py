"""A local stand-in for the Telegram Bot API, for tests and demos.

The real aiogram ``Bot`` talks to it unchanged; only the base URL differs::

    sandbox = TelegramSandbox()
    base_url = await sandbox.start()
    session = AiohttpSession(api=TelegramAPIServer.from_base(base_url))
    bot = Bot(SANDBOX_BOT_TOKEN, session=session)

It keeps a small world (people, basic groups and supergroups, chats, invite links), answers
the Bot API methods the project uses with Telegram's own results and errors, enforces
Telegram's flood limits, and hands people's actions to the bot as updates, by webhook (queued
per chat and resent on failure, as Telegram's Bot API server does) or through getUpdates.

What it does not simulate: inline mode, channel chats of its own (a channel appears only as
the sender of a message), forum topics, "@username" chat ids, getFile, and group privacy mode
(the bot sees every message in the groups it is in).

One module per thing it models: shapes (the Bot API's JSON objects), formatting (the HTML and
Markdown parse modes), errors (how refusals are worded), flood (sending limits), api (calls and
their parameters), queues (which update waits behind which, resends and lifetimes), delivery
(webhook and getUpdates), chats (people, the two kinds of group, members), messages, senders
(anonymous admins, channels, automatic forwards), links (invite links and join requests),
migration (a basic group upgraded to a supergroup), profile (getMe and commands), mini_app
(the menu button and Mini App launches, signed as Telegram signs them), and sandbox, where
TelegramSandbox puts them together. The docstring of each says what Telegram does and
where that was read (the Bot API reference, telegram-bot-api's Client.cpp and
WebhookActor.cpp, TDLib).
"""

from sandbox.telegram.api import RecordedCall
from sandbox.telegram.errors import ActionRefused
from sandbox.telegram.messages import ChatMessage
from sandbox.telegram.sandbox import BOT_USER_ID, SANDBOX_BOT_TOKEN, TelegramSandbox
from sandbox.telegram.shapes import SandboxUser

__all__ = [
    "BOT_USER_ID",
    "SANDBOX_BOT_TOKEN",
    "ActionRefused",
    "ChatMessage",
    "RecordedCall",
    "SandboxUser",
    "TelegramSandbox",
]
