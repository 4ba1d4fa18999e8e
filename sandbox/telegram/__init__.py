"""A local stand-in for the Telegram Bot API, for tests and demos.

The real aiogram ``Bot`` talks to it unchanged; only the base URL differs::

    sandbox = TelegramSandbox()
    base_url = await sandbox.start()
    session = AiohttpSession(api=TelegramAPIServer.from_base(base_url))
    bot = Bot(SANDBOX_BOT_TOKEN, session=session)

It keeps a small world (people, supergroups, chats, invite links), answers the Bot API methods
the project uses with Telegram's own results and errors, enforces Telegram's flood limits, and
hands people's actions to the bot as updates, by webhook or through getUpdates.

What it does not simulate: inline mode, channels, forum topics, "@username" chat ids,
getFile, and group privacy mode (the bot sees every message in the groups it is in).

One module per thing it models: shapes (the Bot API's JSON objects), formatting (the HTML and
Markdown parse modes), errors (how refusals are worded), flood (sending limits), api (calls and
their parameters), delivery (webhook and getUpdates), chats (people, groups, members), messages,
links (invite links and join requests), profile (getMe and commands), mini_app (the menu
button and Mini App launches, signed as Telegram signs them), and sandbox, where
TelegramSandbox puts them together.
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
