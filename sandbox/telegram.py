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
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import math
import mimetypes
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from aiohttp import (
    BodyPartReader,
    ClientError,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    MultipartReader,
    hdrs,
    web,
)

from sandbox.telegram_updates import (
    ADMIN_RIGHTS,
    JSON,
    EntityParseError,
    InviteLink,
    SandboxUser,
    StoredFile,
    UnsupportedParseMode,
    bot_json,
    callback_query_json,
    caption_content,
    chat_member_json,
    chat_member_updated_json,
    command_entities,
    document_json,
    full_info_json,
    join_request_json,
    parse_formatted_text,
    photo_json,
    private_chat_json,
    supergroup_json,
    text_content,
    unix_time,
    user_json,
    video_note_json,
    voice_json,
)

__all__ = [
    "BOT_USER_ID",
    "SANDBOX_BOT_TOKEN",
    "ActionRefused",
    "ChatMessage",
    "RecordedCall",
    "SandboxUser",
    "TelegramSandbox",
]

logger = logging.getLogger(__name__)

SANDBOX_BOT_TOKEN = "123456789:SANDBOX-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
BOT_USER_ID = 123456789
BOT_FIRST_NAME = "Between (sandbox)"
BOT_USERNAME = "between_sandbox_bot"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INVITE_LINK_NAME_LENGTH = 32
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Bots may delete messages for everyone only while they are younger than this.
DELETE_WINDOW = timedelta(hours=48)
# A join request lets the bot write to the applicant for this long, until it is handled.
JOIN_REQUEST_CONTACT_WINDOW = timedelta(minutes=5)
WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Update types Telegram leaves out unless allowed_updates names them explicitly.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Statuses of someone who is in the chat.
IN_CHAT = frozenset({"creator", "administrator", "member"})
# Service messages the sandbox writes into groups when people come and go.
SERVICE_KINDS = frozenset({"new_chat_members", "left_chat_member"})
# Envelope fields of a message; everything else is its content, which copies carry over.
_ENVELOPE_FIELDS = frozenset(
    {"message_id", "from", "chat", "date", "edit_date", "reply_to_message", "reply_markup",
     "forward_origin"}
)  # fmt: skip
# Form fields that are plain strings even when they look like JSON ("123", "true").
_TEXT_FIELDS = frozenset(
    {"text", "caption", "parse_mode", "name", "url", "secret_token", "invite_link",
     "callback_query_id", "inline_message_id", "language_code", "ip_address", "title",
     "description", "short_description", "custom_title", "emoji", "business_connection_id",
     "message_effect_id", "document", "voice", "photo", "video_note", "audio", "video",
     "animation", "sticker", "thumbnail", "method"}
)  # fmt: skip
_INLINE_BUTTON_ACTIONS = frozenset(
    {"url", "callback_data", "web_app", "login_url", "switch_inline_query",
     "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
     "callback_game", "pay"}
)  # fmt: skip
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_FILE_ID_PREFIXES = {"document": "BQAC", "voice": "AwAC", "photo": "AgAC", "video_note": "DQAC"}
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_INJECTED_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: injected failure",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RecordedCall:
    """One Bot API call the sandbox answered."""

    at: float  # time.monotonic() when it arrived
    method: str
    params: dict[str, Any]  # JSON fields decoded; uploads as {"file_name", "file_size"}
    status: int
    retry_after: int | None = None


@dataclass
class ChatMessage:
    """A message as the people in the chat see it (kept up to date by edits and pins)."""

    chat_id: int
    message_id: int
    date: datetime
    sender_id: int
    kind: str  # "text", "voice", "video_note", "photo", "document", or a service kind
    text: str | None  # text or caption
    reply_markup: dict[str, Any] | None = None
    file_name: str | None = None
    pinned: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


class ActionRefused(Exception):
    """Telegram would not let the person do this (a revoked link, a vanished button, a ban)."""


class _ApiError(Exception):
    """A Bot API error answer: HTTP status, Telegram's description, retry_after for 429."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        answer: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            answer["parameters"] = {"retry_after": self.retry_after}
        return answer


def _bad_request(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}")


def _forbidden(detail: str) -> _ApiError:
    return _ApiError(403, f"Forbidden: {detail}")


def _webhook_conflict() -> _ApiError:
    return _ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )


def _too_many_requests(retry_after: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


# Reading parameters


@dataclass(frozen=True)
class _Upload:
    """A file part of a multipart request."""

    file_name: str
    mime_type: str | None
    data: bytes


def _decode_field(name: str, value: object) -> object:
    """aiogram sends nested objects, numbers and booleans JSON-encoded in form fields."""
    if not isinstance(value, str) or name in _TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _decode_fields(fields: Mapping[str, object]) -> JSON:
    """Request fields as typed parameters, with "attach://name" replaced by the upload."""
    uploads = {name: value for name, value in fields.items() if isinstance(value, _Upload)}
    params: JSON = {
        name: _decode_field(name, value)
        for name, value in fields.items()
        if not isinstance(value, _Upload)
    }
    for name, value in params.items():
        if isinstance(value, str) and value.startswith("attach://"):
            params[name] = uploads.pop(value.removeprefix("attach://"), value)
    # A file posted straight under the parameter's name (curl -F document=@file) is valid too.
    params.update(uploads)
    return params


def _recordable(params: JSON) -> JSON:
    return {
        name: {"file_name": value.file_name, "file_size": len(value.data)}
        if isinstance(value, _Upload)
        else value
        for name, value in params.items()
    }


async def _read_request_fields(request: web.Request) -> dict[str, object]:
    fields: dict[str, object] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            fields.update(body)
        return fields
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge as error:
        raise _ApiError(413, "Request Entity Too Large") from error
    for name, value in form.items():
        if isinstance(value, web.FileField):
            with value.file:  # aiohttp spools uploads to temporary files
                fields[name] = _Upload(value.filename, value.content_type, value.file.read())
        else:
            fields[name] = value
    return fields


async def _read_webhook_reply(response: ClientResponse) -> dict[str, object] | None:
    """A method the webhook answered with (aiogram can reply to an update that way)."""
    if response.status != 200:
        return None
    if response.content_type == "application/json":
        body = await response.json()
        return body if isinstance(body, dict) and "method" in body else None
    if response.content_type != "multipart/form-data":
        return None
    fields: dict[str, object] = {}
    reader = MultipartReader(response.headers, response.content)
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        data = bytes(await part.read())
        if part.filename:
            fields[part.name] = _Upload(part.filename, part.headers.get(hdrs.CONTENT_TYPE), data)
        else:
            fields[part.name] = data.decode()
    return fields if "method" in fields else None


def _optional_int(params: JSON, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise _bad_request(f'field "{name}" must be of type Integer')


def _required_int(params: JSON, name: str) -> int:
    value = _optional_int(params, name)
    if value is None:
        raise _bad_request(f"{name} is empty")
    return value


def _chat_id_param(params: JSON, name: str = "chat_id") -> int:
    value = params.get(name)
    if value is None or value == "":
        raise _bad_request(f"{name} is empty")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _bad_request("chat not found")  # "@username" chats are not simulated


def _flag(params: JSON, name: str) -> bool:
    return params.get(name) in (True, "true", "True", 1, "1")


def _optional_text(params: JSON, name: str) -> str | None:
    value = params.get(name)
    return None if value is None else str(value)


def _mime_type(kind: str, file_name: str | None) -> str | None:
    """The MIME type Telegram reports: voices are OGG, documents go by their name."""
    if kind == "voice":
        return "audio/ogg"
    if kind == "document":
        return mimetypes.guess_type(file_name or "")[0] or "application/octet-stream"
    return None


def _file_name_from_url(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1] or "file"


# Flood control


class _SlidingWindow:
    """At most ``limit`` events in any ``seconds`` long stretch."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        while self._events and self._events[0] <= now - self.seconds:
            self._events.popleft()
        if len(self._events) < self.limit:
            return 0.0
        return self._events[0] + self.seconds - now

    def add(self, now: float) -> None:
        self._events.append(now)


class _FloodControl:
    """Telegram's sending limits: 30 messages/s overall, 1/s per chat, 20/min per group.

    ``rate_scale`` multiplies every rate by shortening the windows, so a test at
    rate_scale=50 sees the same refusals as production, fifty times sooner.
    """

    def __init__(self, rate_scale: float) -> None:
        if rate_scale <= 0:
            raise ValueError("rate_scale must be positive")
        self._scale = rate_scale
        self._overall = _SlidingWindow(30, 1.0 / rate_scale)
        self._per_chat: dict[int, _SlidingWindow] = {}
        self._per_group: dict[int, _SlidingWindow] = {}

    def _windows(self, chat_id: int) -> list[_SlidingWindow]:
        windows = [self._overall]
        windows.append(self._per_chat.setdefault(chat_id, _SlidingWindow(1, 1.0 / self._scale)))
        if chat_id < 0:
            group = self._per_group.setdefault(chat_id, _SlidingWindow(20, 60.0 / self._scale))
            windows.append(group)
        return windows

    def take(self, chat_id: int) -> int | None:
        """Count one message to ``chat_id``, or refuse: the retry_after in whole seconds."""
        now = time.monotonic()
        windows = self._windows(chat_id)
        wait = max(window.wait(now) for window in windows)
        if wait > 0:
            return max(1, math.ceil(wait))
        for window in windows:
            window.add(now)
        return None


# The world


@dataclass
class _Group:
    chat_id: int
    title: str
    statuses: dict[int, str] = field(default_factory=dict)  # user id (or the bot's) → status
    rights: dict[int, dict[str, bool]] = field(default_factory=dict)  # administrators only
    until_dates: dict[int, int] = field(default_factory=dict)  # banned ("kicked") users
    join_requests: dict[int, str | None] = field(default_factory=dict)  # applicant → link

    def status(self, user_id: int) -> str:
        return self.statuses.get(user_id, "left")


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(frozen=True)
class _InjectedFailure:
    status: int
    retry_after: int | None
    description: str | None


_Handler = Callable[[JSON], Awaitable[Any]]


class TelegramSandbox:
    """A fake Telegram: the Bot API over HTTP, plus people who act and a record of it all."""

    def __init__(
        self,
        *,
        token: str = SANDBOX_BOT_TOKEN,
        rate_scale: float = 1.0,
        webhook_connections: int = 1,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """`webhook_connections`: how many updates may be in flight to the webhook at once.

        Telegram allows up to setWebhook's max_connections (40 by default); the sandbox
        delivers one after the other unless asked, so tests see a fixed order.
        """
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.rate_scale = rate_scale
        self.base_url = ""
        self.calls: list[RecordedCall] = []
        # answerCallbackQuery answers by query id: text, show_alert, url, cache_time.
        self.callback_answers: dict[str, JSON] = {}
        self._now = now
        self._flood = _FloodControl(rate_scale)
        self._users: dict[int, SandboxUser] = {}
        self._open_private_chats: set[int] = set()
        self._blocked_by: set[int] = set()
        self._applicant_contact_until: dict[int, datetime] = {}
        self._groups: dict[int, _Group] = {}
        self._messages: dict[int, list[ChatMessage]] = {}
        self._timeline: list[ChatMessage] = []
        self._last_message_ids: dict[int, int] = {}
        self._invite_links: dict[str, InviteLink] = {}
        self._files: dict[str, StoredFile] = {}
        self._file_numbers = itertools.count(1)
        self._query_ids = itertools.count(4_000_000_000_001)
        self._open_callback_queries: set[str] = set()
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._injected: dict[str, deque[_InjectedFailure]] = {}
        self._rate_limited = 0
        self._update_ids = itertools.count(700_000_001)
        self._queued_updates: list[JSON] = []
        self._allowed_updates: frozenset[str] | None = None
        self._updates_changed = asyncio.Condition()
        self._poll_generation = 0
        self._webhook: _Webhook | None = None
        self._webhook_slots = asyncio.Semaphore(webhook_connections)
        self._background: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self._stopping = False
        self._handlers = self._method_table()

    # Lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the Bot API on host:port (0 picks a free port); returns the base URL."""
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api_request)
        # Long polls wake up on stop(), so a short shutdown timeout loses nothing.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        self._client = ClientSession(timeout=ClientTimeout(total=30))
        self._stopping = False
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def settle(self) -> None:
        """Wait until the updates that Bot API calls caused have been delivered."""
        while self._background:  # a delivery may cause further deliveries
            await asyncio.gather(*self._background, return_exceptions=True)

    async def stop(self) -> None:
        """Finish pending deliveries, end long polls and close the server."""
        self._stopping = True
        async with self._updates_changed:
            self._updates_changed.notify_all()
        await self.settle()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramSandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # The world

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
        started: bool = False,
    ) -> SandboxUser:
        """Create a person; they have no chat with the bot until they write to it, unless
        `started` (they pressed Start some time ago)."""
        if user_id <= 0 or user_id == self.bot_id:
            raise ValueError(f"user ids are positive and not the bot's: {user_id}")
        user = SandboxUser(user_id, first_name, last_name, username, language_code)
        self._users[user_id] = user
        if started:
            self._open_private_chats.add(user_id)
        return user

    def add_group(self, chat_id: int, title: str, *, admins: Iterable[int] = ()) -> None:
        """Create a supergroup; the first admin is its creator. The bot is not in it yet."""
        if chat_id >= 0:
            raise ValueError(f"group chat ids are negative: {chat_id}")
        group = _Group(chat_id, title)
        for position, admin_id in enumerate(admins):
            self.user(admin_id)
            group.statuses[admin_id] = "creator" if position == 0 else "administrator"
            group.rights[admin_id] = dict.fromkeys(ADMIN_RIGHTS, True)
        self._groups[chat_id] = group

    def block_bot(self, user_id: int) -> None:
        """The person blocks the bot: sends to them fail until they write again."""
        self.user(user_id)
        self._blocked_by.add(user_id)

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        count: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error, delivering nothing."""
        if status == 429 and retry_after is None:
            retry_after = 1
        failure = _InjectedFailure(status, retry_after, description)
        self._injected.setdefault(method.lower(), deque()).extend([failure] * count)

    def members(self, chat_id: int) -> dict[int, str]:
        """Everyone the group knows, the bot included: user id → status."""
        return dict(self._require_group(chat_id).statuses)

    # What happened

    def messages(self, chat_id: int) -> list[ChatMessage]:
        """Everything in the chat, people's messages and the bot's, oldest first."""
        return list(self._messages.get(chat_id, []))

    def sent_by_bot(self, chat_id: int | None = None) -> list[ChatMessage]:
        """Messages the bot sent (in one chat, or everywhere), oldest first."""
        return [
            message
            for message in self._timeline
            if message.sender_id == self.bot_id
            and message.kind not in SERVICE_KINDS
            and (chat_id is None or message.chat_id == chat_id)
        ]

    def chats(self) -> list[int]:
        """Ids of the chats that hold any message, in order of their first message."""
        return [chat_id for chat_id, messages in self._messages.items() if messages]

    def chat_title(self, chat_id: int) -> str:
        """A group's title, or the person's name for a private chat."""
        if chat_id in self._groups:
            return self._groups[chat_id].title
        return self.user(chat_id).full_name

    def user(self, user_id: int) -> SandboxUser:
        """The person with this id."""
        try:
            return self._users[user_id]
        except KeyError:
            raise KeyError(f"unknown user {user_id}; add_user() them first") from None

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The bot's command list for a scope (default scope when None) and language."""
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def rate_limited(self) -> int:
        """How many calls were answered 429 Too Many Requests."""
        return self._rate_limited

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued for getUpdates and not yet confirmed."""
        return list(self._queued_updates)

    # People act

    async def user_sends(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        text: str | None = None,
        voice_seconds: int | None = None,
        video_note_seconds: int | None = None,
        photo_caption: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """The person sends one message (pass exactly one kind; photo_caption="" for none)."""
        user = self.user(user_id)
        chat_id = user_id if chat_id is None else chat_id
        if chat_id == user_id:
            # Writing to the bot opens the chat, and unblocks it (Telegram's "Restart").
            self._open_private_chats.add(user_id)
            self._blocked_by.discard(user_id)
        else:
            self._require_person_in_group(user.id, chat_id)
        kind, content, shown_text = self._person_content(
            text, voice_seconds, video_note_seconds, photo_caption
        )
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = self._find_message(chat_id, reply_to_message_id)
            if reply_to is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
        message = self._store_message(
            chat_id, user_id, kind, content, text=shown_text, reply_to=reply_to
        )
        update = {"message": copy.deepcopy(message.raw)}
        if self._bot_sees_messages(chat_id):
            await self.deliver(update)
        return update

    async def user_edits(self, user_id: int, chat_id: int, message_id: int, text: str) -> JSON:
        """The person edits the text of a message of theirs."""
        message = self._find_message(chat_id, message_id)
        if message is None or message.sender_id != user_id or message.kind != "text":
            raise ValueError(f"user {user_id} has no text message {message_id} in {chat_id}")
        message.text = text
        message.raw["text"] = text
        message.raw.pop("entities", None)
        if entities := command_entities(text):
            message.raw["entities"] = entities
        message.raw["edit_date"] = unix_time(self._now())
        update = {"edited_message": copy.deepcopy(message.raw)}
        if self._bot_sees_messages(chat_id):
            await self.deliver(update)
        return update

    async def user_presses(self, user_id: int, message: ChatMessage, data: str) -> JSON:
        """The person presses the inline button with this callback_data on a bot message."""
        presser = self.user(user_id)
        current = self._find_message(message.chat_id, message.message_id)
        if current is None:
            raise ActionRefused(f"message {message.message_id} was deleted")
        if current.sender_id != self.bot_id:
            raise ValueError("only the bot's messages carry inline buttons")
        if not _has_callback_button(current.raw.get("reply_markup"), data):
            raise ActionRefused(f"no button with callback_data {data!r} on the message")
        if current.chat_id in self._groups:
            self._require_person_in_group(user_id, current.chat_id)
        elif current.chat_id != user_id:
            raise ActionRefused("a person only sees their own private chat")
        query_id = str(next(self._query_ids))
        self._open_callback_queries.add(query_id)
        update = {
            "callback_query": callback_query_json(
                query_id=query_id,
                presser=user_json(presser),
                message=copy.deepcopy(current.raw),
                data=data,
            )
        }
        await self.deliver(update)
        return update

    async def bot_added_to_group(
        self,
        chat_id: int,
        *,
        by_user_id: int,
        as_admin: bool = True,
        can_invite_users: bool = True,
        can_restrict_members: bool = True,
    ) -> JSON:
        """An admin adds the bot to the group (my_chat_member), as administrator or member."""
        group = self._require_group(chat_id)
        if group.status(by_user_id) not in {"creator", "administrator"}:
            raise ActionRefused(f"user {by_user_id} is not an admin of {chat_id}")
        old_member = self._member_json(group, self.bot_id)
        if as_admin:
            rights = dict.fromkeys(ADMIN_RIGHTS, True)
            rights.update(
                can_invite_users=can_invite_users, can_restrict_members=can_restrict_members
            )
            group.statuses[self.bot_id] = "administrator"
            group.rights[self.bot_id] = rights
        else:
            group.statuses[self.bot_id] = "member"
            group.rights.pop(self.bot_id, None)
        update = self._member_update(
            "my_chat_member", group, by_user_id, old_member, self._member_json(group, self.bot_id)
        )
        await self.deliver(update)
        for notice in self._arrival_notice(group, self.bot_id, by_user_id=by_user_id):
            await self.deliver(notice)
        return update

    async def join_request(
        self, user_id: int, chat_id: int, *, invite_link: str | None = None
    ) -> JSON:
        """The person asks to join the group, through one of the bot's links or without."""
        applicant = self.user(user_id)
        group = self._require_group(chat_id)
        self._require_may_enter(group, user_id)
        link = self._usable_link(chat_id, invite_link) if invite_link else None
        if link is not None and not link.creates_join_request:
            raise ActionRefused("this link lets people in directly; use user_joins()")
        group.join_requests[user_id] = invite_link
        self._applicant_contact_until[user_id] = self._now() + JOIN_REQUEST_CONTACT_WINDOW
        update = {
            "chat_join_request": join_request_json(
                chat=supergroup_json(chat_id, group.title),
                applicant=user_json(applicant),
                date=self._now(),
                invite_link=self._link_json(link) if link else None,
            )
        }
        if self._bot_has_right(group, "can_invite_users"):
            await self.deliver(update)
        return update

    async def user_joins(
        self, user_id: int, chat_id: int, *, invite_link: str | None = None
    ) -> JSON:
        """The person joins the group directly (chat_member: left → member)."""
        self.user(user_id)
        group = self._require_group(chat_id)
        self._require_may_enter(group, user_id)
        link = self._usable_link(chat_id, invite_link) if invite_link else None
        if link is not None and link.creates_join_request:
            raise ActionRefused("this link needs an admin's approval; use join_request()")
        if link is not None:
            link.joined_count += 1
        old_member = self._member_json(group, user_id)
        group.statuses[user_id] = "member"
        update = self._member_update(
            "chat_member",
            group,
            user_id,
            old_member,
            self._member_json(group, user_id),
            invite_link=self._link_json(link) if link else None,
        )
        # The "joined" notice is in the chat before the bot can react to the arrival.
        notices = self._arrival_notice(group, user_id, by_user_id=user_id)
        if self._bot_is_admin(group):
            await self.deliver(update)
        for notice in notices:
            await self.deliver(notice)
        return update

    async def deliver(self, update: JSON) -> int | None:
        """Hand an update to the bot: the webhook's HTTP status, or None when queued.

        Gives the update its update_id, unless allowed_updates leaves its type out: then it is
        dropped, as Telegram would, and this returns None.
        """
        if not self._is_allowed(update):
            return None
        update.setdefault("update_id", next(self._update_ids))
        webhook = self._webhook
        if webhook is not None:
            return await self._post_to_webhook(webhook, update)
        self._queued_updates.append(update)
        async with self._updates_changed:
            self._updates_changed.notify_all()
        return None

    # Delivery

    def _is_allowed(self, update: JSON) -> bool:
        update_type = next((key for key in update if key != "update_id"), "")
        if self._allowed_updates is None:
            return update_type not in DEFAULT_EXCLUDED_UPDATES
        return update_type in self._allowed_updates

    def _set_allowed_updates(self, allowed: object) -> None:
        if isinstance(allowed, list):
            # An empty list means Telegram's default selection.
            self._allowed_updates = frozenset(str(name) for name in allowed) or None

    async def _post_to_webhook(self, webhook: _Webhook, update: JSON) -> int:
        if self._client is None:
            raise RuntimeError("start() the sandbox before delivering to a webhook")
        headers = {WEBHOOK_SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        async with self._webhook_slots:
            try:
                async with self._client.post(webhook.url, json=update, headers=headers) as reply:
                    status = reply.status
                    reply_method = await _read_webhook_reply(reply)
            except (ClientError, TimeoutError) as error:
                self._note_webhook_error(webhook, f"Connection failed: {error!r}")
                raise ConnectionError(f"webhook {webhook.url} unreachable: {error!r}") from error
        if status != 200:
            self._note_webhook_error(webhook, f"Wrong response from the webhook: {status}")
        if reply_method is not None:
            await self._call(str(reply_method.pop("method")), reply_method)
        return status

    def _note_webhook_error(self, webhook: _Webhook, message: str) -> None:
        webhook.last_error_date = unix_time(self._now())
        webhook.last_error_message = message

    async def _emit(self, update: JSON) -> None:
        """Deliver an update caused by a Bot API call, without waiting for the webhook.

        The call that caused it may itself be running inside a webhook request, so waiting
        for the next webhook POST here could deadlock.
        """
        if self._webhook is None:
            await self.deliver(update)
        else:
            self._deliver_in_background(update)

    def _deliver_in_background(self, update: JSON) -> None:
        task = asyncio.create_task(self._deliver_quietly(update))
        self._background.add(task)  # keep a reference until it is done
        task.add_done_callback(self._background.discard)

    async def _deliver_quietly(self, update: JSON) -> None:
        # A dead webhook is already noted in getWebhookInfo, as Telegram would.
        with contextlib.suppress(ConnectionError):
            await self.deliver(update)

    def _spawn_flush_to_webhook(self) -> None:
        queued, self._queued_updates = self._queued_updates, []
        for update in queued:
            self._deliver_in_background(update)

    # People and the world, helpers

    def _require_group(self, chat_id: int) -> _Group:
        try:
            return self._groups[chat_id]
        except KeyError:
            raise KeyError(f"unknown group {chat_id}; add_group() it first") from None

    def _require_person_in_group(self, user_id: int, chat_id: int) -> None:
        group = self._require_group(chat_id)
        if group.status(user_id) not in IN_CHAT:
            raise ActionRefused(f"user {user_id} is not in group {chat_id}")

    def _require_may_enter(self, group: _Group, user_id: int) -> None:
        status = group.status(user_id)
        if status in IN_CHAT:
            raise ActionRefused(f"user {user_id} is already in group {group.chat_id}")
        if status == "kicked":
            raise ActionRefused(f"user {user_id} is banned from group {group.chat_id}")

    def _usable_link(self, chat_id: int, url: str) -> InviteLink:
        link = self._invite_links.get(url)
        if link is None or link.chat_id != chat_id:
            raise ActionRefused(f"{url} is not an invite link of {chat_id}")
        if link.is_revoked:
            raise ActionRefused(f"{url} was revoked")
        if link.expire_date is not None and unix_time(self._now()) >= link.expire_date:
            raise ActionRefused(f"{url} has expired")
        if link.member_limit is not None and link.joined_count >= link.member_limit:
            raise ActionRefused(f"{url} has reached its member limit")
        return link

    def _person_content(
        self,
        text: str | None,
        voice_seconds: int | None,
        video_note_seconds: int | None,
        photo_caption: str | None,
    ) -> tuple[str, JSON, str | None]:
        """Kind, content fields and visible text of what a person sends."""
        given = [
            value is not None for value in (text, voice_seconds, video_note_seconds, photo_caption)
        ]
        if sum(given) != 1:
            raise ValueError("send exactly one of text, voice_seconds, video_note_seconds, photo")
        if text is not None:
            if not text.strip():
                raise ValueError("Telegram clients do not send empty messages")
            return "text", text_content(text, command_entities(text)), text
        if voice_seconds is not None:
            voice = self._store_file("voice", None, 2_000 * voice_seconds)
            return "voice", {"voice": voice_json(voice, voice_seconds)}, None
        if video_note_seconds is not None:
            note = self._store_file("video_note", None, 60_000 * video_note_seconds)
            return "video_note", {"video_note": video_note_json(note, video_note_seconds)}, None
        photo = self._store_file("photo", None, 120_000)
        caption = photo_caption or None
        return "photo", {"photo": photo_json(photo), **caption_content(caption, [])}, caption

    def _arrival_notice(self, group: _Group, user_id: int, *, by_user_id: int) -> list[JSON]:
        """Write "X joined the group"; returns the updates the bot gets for it (none or one)."""
        joined = {"new_chat_members": [self._sender_json(user_id)]}
        return self._service_message(group, by_user_id, "new_chat_members", joined)

    def _departure_notice(self, group: _Group, user_id: int, *, by_user_id: int) -> list[JSON]:
        """Write "X left the group"; returns the updates the bot gets for it (none or one)."""
        left = {"left_chat_member": self._sender_json(user_id)}
        return self._service_message(group, by_user_id, "left_chat_member", left)

    def _service_message(
        self, group: _Group, sender_id: int, kind: str, content: JSON
    ) -> list[JSON]:
        message = self._store_message(group.chat_id, sender_id, kind, content)
        if not self._bot_sees_messages(group.chat_id):
            return []
        return [{"message": copy.deepcopy(message.raw)}]

    def _member_json(self, group: _Group, user_id: int) -> JSON:
        return chat_member_json(
            self._sender_json(user_id),
            group.status(user_id),
            rights=group.rights.get(user_id),
            until_date=group.until_dates.get(user_id, 0),
        )

    def _member_update(
        self,
        update_type: str,
        group: _Group,
        actor_id: int,
        old_member: JSON,
        new_member: JSON,
        *,
        invite_link: JSON | None = None,
        via_join_request: bool = False,
    ) -> JSON:
        return {
            update_type: chat_member_updated_json(
                chat=supergroup_json(group.chat_id, group.title),
                actor=self._sender_json(actor_id),
                date=self._now(),
                old_member=old_member,
                new_member=new_member,
                invite_link=invite_link,
                via_join_request=via_join_request,
            )
        }

    async def _change_status(
        self,
        group: _Group,
        user_id: int,
        status: str,
        *,
        invite_link: JSON | None = None,
        via_join_request: bool = False,
    ) -> None:
        """Set a member's status, with the chat_member update and join/leave notice."""
        old_status = group.status(user_id)
        old_member = self._member_json(group, user_id)
        group.statuses[user_id] = status
        if status != "kicked":
            group.until_dates.pop(user_id, None)
        update = self._member_update(
            "chat_member",
            group,
            self.bot_id,
            old_member,
            self._member_json(group, user_id),
            invite_link=invite_link,
            via_join_request=via_join_request,
        )
        updates = [update] if self._bot_is_admin(group) else []
        if old_status not in IN_CHAT and status in IN_CHAT:
            updates += self._arrival_notice(group, user_id, by_user_id=user_id)
        elif old_status in IN_CHAT and status not in IN_CHAT:
            updates += self._departure_notice(group, user_id, by_user_id=self.bot_id)
        for each_update in updates:
            await self._emit(each_update)

    def _bot_sees_messages(self, chat_id: int) -> bool:
        group = self._groups.get(chat_id)
        return group is None or group.status(self.bot_id) in IN_CHAT

    def _bot_is_admin(self, group: _Group) -> bool:
        return group.status(self.bot_id) == "administrator"

    def _bot_has_right(self, group: _Group, right: str) -> bool:
        return self._bot_is_admin(group) and group.rights.get(self.bot_id, {}).get(right, False)

    def _link_json(self, link: InviteLink) -> JSON:
        group = self._groups[link.chat_id]
        pending = sum(1 for url in group.join_requests.values() if url == link.invite_link)
        return link.to_json(pending)

    # Messages

    def _sender_json(self, sender_id: int) -> JSON:
        if sender_id == self.bot_id:
            return bot_json(self.bot_id, BOT_FIRST_NAME, BOT_USERNAME)
        return user_json(self.user(sender_id))

    def _chat_json(self, chat_id: int) -> JSON:
        if chat_id in self._groups:
            return supergroup_json(chat_id, self._groups[chat_id].title)
        return private_chat_json(self.user(chat_id))

    def _store_message(
        self,
        chat_id: int,
        sender_id: int,
        kind: str,
        content: JSON,
        *,
        text: str | None = None,
        file_name: str | None = None,
        reply_markup: JSON | None = None,
        reply_to: ChatMessage | None = None,
    ) -> ChatMessage:
        message_id = self._last_message_ids.get(chat_id, 0) + 1
        self._last_message_ids[chat_id] = message_id
        date = self._now()
        raw: JSON = {
            "message_id": message_id,
            "from": self._sender_json(sender_id),
            "chat": self._chat_json(chat_id),
            "date": unix_time(date),
            **content,
        }
        if reply_to is not None:
            # Telegram nests replies one level deep only.
            raw["reply_to_message"] = {
                key: copy.deepcopy(value)
                for key, value in reply_to.raw.items()
                if key != "reply_to_message"
            }
        message = ChatMessage(
            chat_id, message_id, date, sender_id, kind, text, file_name=file_name
        )
        message.raw = raw
        _set_markup(message, reply_markup)
        self._messages.setdefault(chat_id, []).append(message)
        self._timeline.append(message)
        return message

    def _find_message(self, chat_id: int, message_id: int | None) -> ChatMessage | None:
        return next(
            (m for m in self._messages.get(chat_id, []) if m.message_id == message_id), None
        )

    def _remove_message(self, message: ChatMessage) -> None:
        self._messages[message.chat_id].remove(message)
        self._timeline.remove(message)

    def _store_file(self, kind: str, file_name: str | None, size: int) -> StoredFile:
        number = next(self._file_numbers)
        file = StoredFile(
            file_id=f"{_FILE_ID_PREFIXES[kind]}{number:04d}{secrets.token_urlsafe(12)}",
            file_unique_id=f"AQAD{number:04d}",
            file_size=size,
            file_name=file_name,
            mime_type=_mime_type(kind, file_name),
        )
        self._files[file.file_id] = file
        return file

    # The HTTP side

    def _method_table(self) -> dict[str, tuple[str, _Handler]]:
        handlers: dict[str, _Handler] = {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendVoice": self._send_voice,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "pinChatMessage": self._pin_chat_message,
            "unpinChatMessage": self._unpin_chat_message,
            "createChatInviteLink": self._create_chat_invite_link,
            "revokeChatInviteLink": self._revoke_chat_invite_link,
            "approveChatJoinRequest": self._approve_chat_join_request,
            "declineChatJoinRequest": self._decline_chat_join_request,
            "banChatMember": self._ban_chat_member,
            "unbanChatMember": self._unban_chat_member,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
            "leaveChat": self._leave_chat,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        # Telegram matches method names case-insensitively.
        return {name.lower(): (name, handler) for name, handler in handlers.items()}

    async def _handle_api_request(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            if request.match_info["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            fields = await _read_request_fields(request)
        except _ApiError as error:
            status, body = self._record(time.monotonic(), method, {}, error.status, error.body())
        else:
            status, body = await self._call(method, fields)
        return web.json_response(body, status=status)

    async def _call(self, method: str, fields: Mapping[str, object]) -> tuple[int, JSON]:
        """Run one Bot API method; returns the HTTP status and Telegram's answer body."""
        arrived = time.monotonic()
        name, handler = self._handlers.get(method.lower(), (method, None))
        params = _decode_fields(fields)
        try:
            if handler is None:
                raise _ApiError(404, "Not Found")
            self._raise_injected_failure(name)
            result = await handler(params)
        except _ApiError as error:
            return self._record(arrived, name, params, error.status, error.body())
        except Exception as error:  # a sandbox bug: answer like Telegram's 500, and say so
            logger.exception("sandbox failed on %s", name)
            failure = _ApiError(500, f"Internal Server Error: sandbox bug: {error!r}")
            return self._record(arrived, name, params, 500, failure.body())
        return self._record(arrived, name, params, 200, {"ok": True, "result": result})

    def _record(
        self, arrived: float, method: str, params: JSON, status: int, body: JSON
    ) -> tuple[int, JSON]:
        retry_after = body.get("parameters", {}).get("retry_after")
        self.calls.append(RecordedCall(arrived, method, _recordable(params), status, retry_after))
        if status == 429:
            self._rate_limited += 1
        return status, body

    def _raise_injected_failure(self, method: str) -> None:
        queue = self._injected.get(method.lower())
        if not queue:
            return
        failure = queue.popleft()
        if failure.status == 429:
            raise _ApiError(
                429,
                failure.description or f"Too Many Requests: retry after {failure.retry_after}",
                failure.retry_after,
            )
        description = failure.description or _INJECTED_DESCRIPTIONS.get(
            failure.status, f"Error {failure.status}"
        )
        raise _ApiError(failure.status, description, failure.retry_after)

    # Bot API: access checks

    def _require_bot_in_group(self, group: _Group) -> None:
        status = group.status(self.bot_id)
        if status == "kicked":
            raise _forbidden("bot was kicked from the supergroup chat")
        if status not in IN_CHAT:
            raise _forbidden("bot is not a member of the supergroup chat")

    def _require_bot_right(self, group: _Group, right: str, refusal: str) -> None:
        self._require_bot_in_group(group)
        if not self._bot_has_right(group, right):
            raise _bad_request(refusal)

    def _require_chat_access(self, chat_id: int) -> None:
        """The chat exists for the bot and it may act there (read, edit, delete)."""
        if chat_id in self._groups:
            self._require_bot_in_group(self._groups[chat_id])
            return
        if chat_id not in self._users or not self._may_write_privately(chat_id):
            raise _bad_request("chat not found")
        if chat_id in self._blocked_by:
            raise _forbidden("bot was blocked by the user")

    def _writable_chat(self, params: JSON) -> int:
        """The chat_id parameter, once sure the bot may send there."""
        chat_id = _chat_id_param(params)
        if chat_id in self._groups:
            self._require_bot_in_group(self._groups[chat_id])
            return chat_id
        if chat_id not in self._users:
            raise _bad_request("chat not found")
        if chat_id in self._blocked_by:
            raise _forbidden("bot was blocked by the user")
        if not self._may_write_privately(chat_id):
            raise _forbidden("bot can't initiate conversation with a user")
        return chat_id

    def _may_write_privately(self, user_id: int) -> bool:
        if user_id in self._open_private_chats:
            return True
        contact_until = self._applicant_contact_until.get(user_id)
        return contact_until is not None and self._now() < contact_until

    def _target_group(self, params: JSON) -> _Group:
        chat_id = _chat_id_param(params)
        if chat_id in self._groups:
            group = self._groups[chat_id]
            self._require_bot_in_group(group)
            return group
        if chat_id in self._users:
            raise _bad_request("method is available for supergroup and channel chats only")
        raise _bad_request("chat not found")

    def _target_user(self, params: JSON) -> int:
        user_id = _required_int(params, "user_id")
        if user_id != self.bot_id and user_id not in self._users:
            raise _bad_request("user not found")
        return user_id

    # Bot API: sending

    def _formatted(
        self, text: str, parse_mode: object, explicit_entities: object
    ) -> tuple[str, list[JSON]]:
        if isinstance(parse_mode, str) and parse_mode:
            try:
                return parse_formatted_text(text, parse_mode)
            except EntityParseError as error:
                raise _bad_request(f"can't parse entities: {error}") from error
            except UnsupportedParseMode as error:
                raise _bad_request(f"unsupported parse_mode: {error}") from error
        if isinstance(explicit_entities, list):
            return text, explicit_entities
        return text, []

    def _message_text(self, params: JSON) -> tuple[str, list[JSON]]:
        raw_text = _optional_text(params, "text")
        if not raw_text or not raw_text.strip():
            raise _bad_request("message text is empty")
        text, entities = self._formatted(
            raw_text, params.get("parse_mode"), params.get("entities")
        )
        if not text.strip():
            raise _bad_request("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        return text, entities

    def _caption(self, params: JSON) -> tuple[str | None, JSON]:
        raw_caption = _optional_text(params, "caption")
        if not raw_caption:
            return None, {}
        caption, entities = self._formatted(
            raw_caption, params.get("parse_mode"), params.get("caption_entities")
        )
        if len(caption) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        return caption, caption_content(caption, entities)

    def _reply_target(self, chat_id: int, params: JSON) -> ChatMessage | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = _optional_int(reply, "message_id")
            allow_missing = _flag(reply, "allow_sending_without_reply")
        else:
            message_id = _optional_int(params, "reply_to_message_id")
            allow_missing = _flag(params, "allow_sending_without_reply")
        if message_id is None:
            return None
        target = self._find_message(chat_id, message_id)
        if target is None and not allow_missing:
            raise _bad_request("message to be replied not found")
        return target

    def _bot_posts(
        self,
        chat_id: int,
        kind: str,
        content: JSON,
        params: JSON,
        *,
        text: str | None,
        file_name: str | None = None,
    ) -> ChatMessage:
        """The last steps of every send: check the extras, take a flood slot, store."""
        markup = _validated_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat_id, params)
        retry_after = self._flood.take(chat_id)
        if retry_after is not None:
            raise _too_many_requests(retry_after)
        return self._store_message(
            chat_id,
            self.bot_id,
            kind,
            content,
            text=text,
            file_name=file_name,
            reply_markup=markup,
            reply_to=reply_to,
        )

    def _input_file(self, params: JSON, field_name: str) -> StoredFile:
        """The file a send* call names: an upload, a known file_id, or a URL."""
        value = params.get(field_name)
        if isinstance(value, _Upload):
            if not value.data:
                raise _bad_request("file must be non-empty")
            return self._store_file(field_name, value.file_name, len(value.data))
        if isinstance(value, str) and value:
            if value in self._files:
                return self._files[value]
            if value.startswith(("http://", "https://")):
                return self._store_file(field_name, _file_name_from_url(value), 0)
            raise _bad_request("wrong file identifier/HTTP URL specified")
        raise _bad_request(f"there is no {field_name} in the request")

    async def _send_message(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        text, entities = self._message_text(params)
        content = text_content(text, entities)
        if isinstance(params.get("link_preview_options"), dict):
            content["link_preview_options"] = params["link_preview_options"]
        return self._bot_posts(chat_id, "text", content, params, text=text).raw

    async def _send_voice(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        voice = self._input_file(params, "voice")
        caption, caption_fields = self._caption(params)
        duration = _optional_int(params, "duration") or 1
        content = {"voice": voice_json(voice, duration), **caption_fields}
        return self._bot_posts(chat_id, "voice", content, params, text=caption).raw

    async def _send_document(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        document = self._input_file(params, "document")
        caption, caption_fields = self._caption(params)
        content = {"document": document_json(document), **caption_fields}
        return self._bot_posts(
            chat_id, "document", content, params, text=caption, file_name=document.file_name
        ).raw

    async def _send_photo(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        photo = self._input_file(params, "photo")
        caption, caption_fields = self._caption(params)
        content = {"photo": photo_json(photo), **caption_fields}
        return self._bot_posts(chat_id, "photo", content, params, text=caption).raw

    def _source_message(self, params: JSON, verb: str) -> ChatMessage:
        from_chat_id = _chat_id_param(params, "from_chat_id")
        self._require_chat_access(from_chat_id)
        source = self._find_message(from_chat_id, _required_int(params, "message_id"))
        if source is None:
            raise _bad_request(f"message to {verb} not found")
        if source.kind in SERVICE_KINDS:
            raise _bad_request(f"message can't be {'copied' if verb == 'copy' else 'forwarded'}")
        return source

    async def _copy_message(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        source = self._source_message(params, "copy")
        content = _content_of(source)
        text = source.text
        if source.kind != "text" and "caption" in params:
            for caption_field in ("caption", "caption_entities"):
                content.pop(caption_field, None)
            text, caption_fields = self._caption(params)
            content.update(caption_fields)
        message = self._bot_posts(
            chat_id,
            source.kind,
            content,
            params,
            text=text,
            file_name=source.file_name,
        )
        return {"message_id": message.message_id}

    async def _forward_message(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        source = self._source_message(params, "forward")
        content = _content_of(source)
        content["forward_origin"] = source.raw.get("forward_origin") or {
            "type": "user",
            "sender_user": source.raw["from"],
            "date": source.raw["date"],
        }
        forward_params = {key: value for key, value in params.items() if key != "reply_markup"}
        return self._bot_posts(
            chat_id,
            source.kind,
            content,
            forward_params,
            text=source.text,
            file_name=source.file_name,
        ).raw

    # Bot API: changing messages

    def _bot_message_to_edit(self, params: JSON) -> ChatMessage:
        if params.get("inline_message_id"):
            raise _bad_request("message to edit not found")  # inline mode is not simulated
        chat_id = _chat_id_param(params)
        self._require_chat_access(chat_id)
        message = self._find_message(chat_id, _required_int(params, "message_id"))
        if message is None:
            raise _bad_request("message to edit not found")
        if message.sender_id != self.bot_id:
            raise _bad_request("message can't be edited")
        return message

    async def _edit_message_text(self, params: JSON) -> JSON:
        message = self._bot_message_to_edit(params)
        if message.kind != "text":
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._message_text(params)
        # Telegram drops the inline keyboard when an edit does not repeat it.
        markup = _validated_inline_markup(params.get("reply_markup"))
        unchanged = (
            text == message.text
            and entities == message.raw.get("entities", [])
            and markup == message.raw.get("reply_markup")
        )
        if unchanged:
            raise _bad_request(_NOT_MODIFIED)
        message.text = text
        message.raw.update(text_content(text, entities))
        if not entities:
            message.raw.pop("entities", None)
        _set_markup(message, markup)
        message.raw["edit_date"] = unix_time(self._now())
        return message.raw

    async def _edit_message_reply_markup(self, params: JSON) -> JSON:
        message = self._bot_message_to_edit(params)
        markup = _validated_inline_markup(params.get("reply_markup"))
        if markup == message.raw.get("reply_markup"):
            raise _bad_request(_NOT_MODIFIED)
        _set_markup(message, markup)
        message.raw["edit_date"] = unix_time(self._now())
        return message.raw

    async def _delete_message(self, params: JSON) -> bool:
        chat_id = _chat_id_param(params)
        self._require_chat_access(chat_id)
        message = self._find_message(chat_id, _required_int(params, "message_id"))
        if message is None:
            raise _bad_request("message to delete not found")
        refusal = self._deletion_refusal(message)
        if refusal is not None:
            raise _bad_request(refusal)
        self._remove_message(message)
        return True

    def _deletion_refusal(self, message: ChatMessage) -> str | None:
        """Why the bot may not delete this message (None: it may)."""
        group = self._groups.get(message.chat_id)
        if group is not None and self._bot_has_right(group, "can_delete_messages"):
            return None
        if group is not None and message.sender_id != self.bot_id:
            return "message can't be deleted"
        if self._now() - message.date >= DELETE_WINDOW:
            return "message can't be deleted for everyone"
        return None

    async def _answer_callback_query(self, params: JSON) -> bool:
        query_id = _optional_text(params, "callback_query_id") or ""
        if query_id not in self._open_callback_queries:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._open_callback_queries.discard(query_id)
        self.callback_answers[query_id] = {
            key: params[key]
            for key in ("text", "show_alert", "url", "cache_time")
            if key in params
        }
        return True

    async def _pin_chat_message(self, params: JSON) -> bool:
        chat_id = self._pinning_chat(params)
        message = self._find_message(chat_id, _required_int(params, "message_id"))
        if message is None:
            raise _bad_request("message to pin not found")
        message.pinned = True
        return True

    async def _unpin_chat_message(self, params: JSON) -> bool:
        chat_id = self._pinning_chat(params)
        message_id = _optional_int(params, "message_id")
        if message_id is None:  # no message_id: the most recently pinned one
            pinned = [message for message in self._messages.get(chat_id, []) if message.pinned]
            message = pinned[-1] if pinned else None
        else:
            message = self._find_message(chat_id, message_id)
            if message is None:
                raise _bad_request("message to unpin not found")
        if message is not None:
            message.pinned = False
        return True

    def _pinning_chat(self, params: JSON) -> int:
        """The chat_id parameter, once sure the bot may pin there."""
        chat_id = _chat_id_param(params)
        self._require_chat_access(chat_id)
        if chat_id in self._groups:
            self._require_bot_right(
                self._groups[chat_id],
                "can_pin_messages",
                "not enough rights to manage pinned messages in the chat",
            )
        return chat_id

    # Bot API: invite links and join requests

    async def _create_chat_invite_link(self, params: JSON) -> JSON:
        group = self._target_group(params)
        self._require_bot_right(
            group, "can_invite_users", "not enough rights to manage chat invite links"
        )
        name = _optional_text(params, "name")
        if name is not None and len(name) > MAX_INVITE_LINK_NAME_LENGTH:
            raise _bad_request("invite link name is too long")
        member_limit = _optional_int(params, "member_limit")
        creates_join_request = _flag(params, "creates_join_request")
        if member_limit is not None and creates_join_request:
            raise _bad_request(
                "member limit can't be specified for links requiring administrator approval"
            )
        if member_limit is not None and not 1 <= member_limit <= 99999:
            raise _bad_request("member limit must be between 1 and 99999")
        link = InviteLink(
            invite_link=self._new_invite_url(),
            chat_id=group.chat_id,
            creator=self._sender_json(self.bot_id),
            creates_join_request=creates_join_request,
            name=name,
            expire_date=_optional_int(params, "expire_date"),
            member_limit=member_limit,
        )
        self._invite_links[link.invite_link] = link
        return self._link_json(link)

    def _new_invite_url(self) -> str:
        while True:
            url = f"https://t.me/+{secrets.token_urlsafe(12)}"
            if url not in self._invite_links:
                return url

    async def _revoke_chat_invite_link(self, params: JSON) -> JSON:
        group = self._target_group(params)
        self._require_bot_right(
            group, "can_invite_users", "not enough rights to manage chat invite links"
        )
        link = self._invite_links.get(_optional_text(params, "invite_link") or "")
        if link is None or link.chat_id != group.chat_id:
            raise _bad_request("INVITE_HASH_EXPIRED")
        link.is_revoked = True
        return self._link_json(link)

    def _pending_applicant(self, params: JSON) -> tuple[_Group, int]:
        group = self._target_group(params)
        self._require_bot_right(group, "can_invite_users", "CHAT_ADMIN_REQUIRED")
        user_id = self._target_user(params)
        if user_id not in group.join_requests:
            if group.status(user_id) in IN_CHAT:
                raise _bad_request("USER_ALREADY_PARTICIPANT")
            raise _bad_request("HIDE_REQUESTER_MISSING")
        return group, user_id

    async def _approve_chat_join_request(self, params: JSON) -> bool:
        group, user_id = self._pending_applicant(params)
        url = group.join_requests.pop(user_id)
        self._applicant_contact_until.pop(user_id, None)
        link = self._invite_links.get(url) if url else None
        if link is not None:
            link.joined_count += 1
        await self._change_status(
            group,
            user_id,
            "member",
            invite_link=self._link_json(link) if link else None,
            via_join_request=True,
        )
        return True

    async def _decline_chat_join_request(self, params: JSON) -> bool:
        group, user_id = self._pending_applicant(params)
        del group.join_requests[user_id]
        self._applicant_contact_until.pop(user_id, None)
        return True

    # Bot API: members

    def _member_to_restrict(self, params: JSON) -> tuple[_Group, int]:
        group = self._target_group(params)
        self._require_bot_right(
            group, "can_restrict_members", "not enough rights to restrict/ban chat member"
        )
        return group, self._target_user(params)

    @staticmethod
    def _refuse_removing_admin(group: _Group, user_id: int) -> None:
        status = group.status(user_id)
        if status == "creator":
            raise _bad_request("can't remove chat owner")
        if status == "administrator":
            raise _bad_request("user is an administrator of the chat")

    async def _ban_chat_member(self, params: JSON) -> bool:
        group, user_id = self._member_to_restrict(params)
        self._refuse_removing_admin(group, user_id)
        until = _optional_int(params, "until_date") or 0
        now = unix_time(self._now())
        # Telegram treats bans shorter than 30 s or longer than 366 days as forever.
        if until and not now + 30 <= until <= now + 366 * 86400:
            until = 0
        group.until_dates[user_id] = until
        group.join_requests.pop(user_id, None)
        await self._change_status(group, user_id, "kicked")
        return True

    async def _unban_chat_member(self, params: JSON) -> bool:
        group, user_id = self._member_to_restrict(params)
        status = group.status(user_id)
        if status == "kicked":
            await self._change_status(group, user_id, "left")
        elif not _flag(params, "only_if_banned"):
            # Without only_if_banned, Telegram removes a current member too.
            self._refuse_removing_admin(group, user_id)
            if status == "member":
                await self._change_status(group, user_id, "left")
        return True

    async def _get_chat(self, params: JSON) -> JSON:
        chat_id = _chat_id_param(params)
        self._require_chat_access(chat_id)
        return full_info_json(self._chat_json(chat_id))

    async def _get_chat_member(self, params: JSON) -> JSON:
        chat_id = _chat_id_param(params)
        self._require_chat_access(chat_id)
        user_id = self._target_user(params)
        if chat_id in self._groups:
            return self._member_json(self._groups[chat_id], user_id)
        if user_id not in {chat_id, self.bot_id}:
            raise _bad_request("user not found")
        return chat_member_json(self._sender_json(user_id), "member")

    async def _get_chat_administrators(self, params: JSON) -> list[JSON]:
        chat_id = _chat_id_param(params)
        self._require_chat_access(chat_id)
        if chat_id not in self._groups:
            raise _bad_request("there are no administrators in the private chat")
        group = self._groups[chat_id]
        return [
            self._member_json(group, user_id)
            for user_id, status in group.statuses.items()
            if status in {"creator", "administrator"}
        ]

    async def _get_chat_member_count(self, params: JSON) -> int:
        chat_id = _chat_id_param(params)
        self._require_chat_access(chat_id)
        if chat_id not in self._groups:
            return 2
        return sum(1 for status in self._groups[chat_id].statuses.values() if status in IN_CHAT)

    async def _leave_chat(self, params: JSON) -> bool:
        chat_id = _chat_id_param(params)
        if chat_id not in self._groups:
            self._require_chat_access(chat_id)
            raise _bad_request("chat member status can't be changed in private chats")
        group = self._groups[chat_id]
        self._require_bot_in_group(group)
        old_member = self._member_json(group, self.bot_id)
        group.statuses[self.bot_id] = "left"
        group.rights.pop(self.bot_id, None)
        new_member = self._member_json(group, self.bot_id)
        await self._emit(
            self._member_update("my_chat_member", group, self.bot_id, old_member, new_member)
        )
        return True

    # Bot API: the bot itself

    async def _get_me(self, params: JSON) -> JSON:
        return {
            **self._sender_json(self.bot_id),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _commands_key(scope: object, language_code: object) -> tuple[str, str]:
        scope_json = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope_json, sort_keys=True), str(language_code or "")

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND.fullmatch(
                str(command.get("command", ""))
            ):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = commands
        return True

    async def _delete_my_commands(self, params: JSON) -> bool:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True

    # Bot API: getting updates

    async def _set_webhook(self, params: JSON) -> bool:
        url = _optional_text(params, "url")
        if not url:  # Telegram: an empty url removes the webhook
            self._webhook = None
            return True
        if not url.startswith(("http://", "https://")):
            # Telegram insists on HTTPS; the sandbox also takes http:// for local servers.
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret_token = _optional_text(params, "secret_token")
        if secret_token is not None and not _SECRET_TOKEN.fullmatch(secret_token):
            raise _bad_request("secret token contains unallowed characters")
        self._set_allowed_updates(params.get("allowed_updates"))
        if _flag(params, "drop_pending_updates"):
            self._queued_updates.clear()
        self._webhook = _Webhook(url, secret_token)
        self._spawn_flush_to_webhook()
        async with self._updates_changed:  # a waiting getUpdates must now fail
            self._poll_generation += 1
            self._updates_changed.notify_all()
        return True

    async def _delete_webhook(self, params: JSON) -> bool:
        self._webhook = None
        if _flag(params, "drop_pending_updates"):
            self._queued_updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        webhook = self._webhook
        info: JSON = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queued_updates),
        }
        if webhook is not None:
            info["max_connections"] = 40
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self._webhook is not None:
            raise _webhook_conflict()
        self._set_allowed_updates(params.get("allowed_updates"))
        self._confirm_updates(_optional_int(params, "offset"))
        limit = min(max(_optional_int(params, "limit") or 100, 1), 100)
        wait_seconds = max(_optional_int(params, "timeout") or 0, 0)
        return await self._wait_for_updates(limit, wait_seconds)

    def _confirm_updates(self, offset: int | None) -> None:
        """Forget updates before ``offset``; a negative offset keeps only the last ones."""
        if offset is None:
            return
        if offset < 0:
            self._queued_updates = self._queued_updates[offset:]
        else:
            self._queued_updates = [u for u in self._queued_updates if u["update_id"] >= offset]

    async def _wait_for_updates(self, limit: int, wait_seconds: float) -> list[JSON]:
        """Long poll: answer as soon as there are updates, or when the wait is over."""
        deadline = time.monotonic() + wait_seconds
        async with self._updates_changed:
            # Only one getUpdates may wait; a newer one ends the older with 409 Conflict.
            self._poll_generation += 1
            generation = self._poll_generation
            self._updates_changed.notify_all()
            while True:
                if self._webhook is not None:
                    raise _webhook_conflict()
                if generation != self._poll_generation:
                    raise _ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                remaining = deadline - time.monotonic()
                if self._queued_updates or self._stopping or remaining <= 0:
                    return self._queued_updates[:limit]
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._updates_changed.wait()


def _content_of(message: ChatMessage) -> JSON:
    """What a copy or forward carries over: the message without its envelope."""
    return {
        key: copy.deepcopy(value)
        for key, value in message.raw.items()
        if key not in _ENVELOPE_FIELDS
    }


# Reply markup


def _set_markup(message: ChatMessage, markup: JSON | None) -> None:
    """Show a keyboard on a message; only inline keyboards are part of the Message object."""
    message.reply_markup = markup
    if markup is not None and "inline_keyboard" in markup:
        message.raw["reply_markup"] = markup
    else:
        message.raw.pop("reply_markup", None)


def _validated_markup(markup: object) -> JSON | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
    return markup


def _validated_inline_markup(markup: object) -> JSON | None:
    validated = _validated_markup(markup)
    if validated is not None and "inline_keyboard" not in validated:
        raise _bad_request("inline keyboard expected")
    return validated


def _validate_inline_keyboard(rows: object) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad_request("can't parse inline keyboard button: InlineKeyboardButton expected")
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or not str(button.get("text", "")).strip():
            raise _bad_request("can't parse inline keyboard button: Text buttons are unallowed")
        if not _INLINE_BUTTON_ACTIONS & button.keys():
            raise _bad_request("text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise _bad_request("BUTTON_DATA_INVALID")
        url = button.get("url")
        if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
            raise _bad_request("BUTTON_URL_INVALID")


def _has_callback_button(markup: object, data: str) -> bool:
    if not isinstance(markup, dict):
        return False
    rows = markup.get("inline_keyboard") or []
    return any(
        isinstance(button, dict) and button.get("callback_data") == data
        for button in itertools.chain.from_iterable(rows)
    )
