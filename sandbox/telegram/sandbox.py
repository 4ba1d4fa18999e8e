"""TelegramSandbox: the areas of Telegram it models, put together, and its lifecycle.

All its state is made in its __init__. Each mixin it inherits models one area and builds on
the ones beneath it:

    ApiMixin       api.py       Bot API calls: parameters, dispatch, error answers, the record
    DeliveryMixin  delivery.py  updates to the bot, by webhook (queues.py: per-chat queues,
                                resends, lifetimes) or getUpdates
    ChatsMixin     chats.py     people, basic groups and supergroups, members and statuses
    MessagesMixin  messages.py  sending, editing, deleting and pinning; buttons; files
    SendersMixin   senders.py   messages sent as a chat: anonymous admins, channels, forwards
    LinksMixin     links.py     invite links and join requests
    MigrationMixin migration.py a basic group upgraded to a supergroup
    ProfileMixin   profile.py   getMe and the bot's commands
    MiniAppMixin   mini_app.py  the menu button, and a person opening the Mini App
    StarsMixin     stars.py     invoices, pre-checkout, payments and subscriptions in Stars

Here are the rest: starting and stopping the HTTP server, and the method table, which says
what area answers each Bot API method.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

from aiohttp import ClientSession, ClientTimeout, web

from sandbox.telegram.api import MAX_UPLOAD_BYTES, Handler
from sandbox.telegram.flood import FloodControl
from sandbox.telegram.migration import MigrationMixin
from sandbox.telegram.mini_app import MiniAppMixin
from sandbox.telegram.profile import ProfileMixin
from sandbox.telegram.senders import SendersMixin
from sandbox.telegram.stars import StarsMixin

SANDBOX_BOT_TOKEN = "123456789:SANDBOX-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
BOT_USER_ID = 123456789


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TelegramSandbox(SendersMixin, MigrationMixin, ProfileMixin, MiniAppMixin, StarsMixin):
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
        self.calls = []
        # answerCallbackQuery answers by query id: text, show_alert, url, cache_time.
        self.callback_answers = {}
        self._now = now
        self._flood = FloodControl(rate_scale)
        self._users = {}
        self._open_private_chats = set()
        self._blocked_by = set()
        self._applicant_contact_until = {}
        self._groups = {}
        self._messages = {}
        self._timeline = []
        self._last_message_ids = {}
        self._invite_links = {}
        self._files = {}
        self._file_numbers = itertools.count(1)
        self._query_ids = itertools.count(4_000_000_000_001)
        self._open_callback_queries = {}
        self._refuses_voice = set()
        self._channel_post_ids = itertools.count(1)
        self._commands = {}
        self._menu_buttons = {}
        self._injected = {}
        self._late_answers = {}
        self._late_arrivals = {}
        self._stalled_methods = {}
        self._stalled_changed = asyncio.Condition()
        self.stalled = 0
        self._rate_limited = 0
        self._update_ids = itertools.count(700_000_001)
        self._queued_updates = []
        self._webhook_queues = {}
        # Telegram waits a random 60-120 s between late resends; seeded, so runs repeat.
        self._resend_random = random.Random(0)
        self._resender = None
        self._allowed_updates = None
        self._updates_changed = asyncio.Condition()
        self._poll_generation = 0
        self._webhook = None
        self._webhook_slots = asyncio.Semaphore(webhook_connections)
        self._background = set()
        self._runner: web.AppRunner | None = None
        self._client = None
        self._stopping = False
        self._invoices = {}
        self._pre_checkout = {}
        self._star_subscriptions = []
        self._star_transactions = []
        self._refunded = set()
        self._low_on_stars = set()
        self._charge_numbers = itertools.count(1)
        self._lost_payment_updates = 0
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
        self._start_resending()
        return self.base_url

    async def stop(self) -> None:
        """Finish pending deliveries, end long polls and close the server."""
        self._stopping = True
        await self._stop_resending()
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

    # The method table

    def _method_table(self) -> dict[str, tuple[str, Handler]]:
        handlers: dict[str, Handler] = {
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
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "createInvoiceLink": self._create_invoice_link,
            "answerPreCheckoutQuery": self._answer_pre_checkout_query,
            "refundStarPayment": self._refund_star_payment,
            "editUserStarSubscription": self._edit_user_star_subscription,
            "getStarTransactions": self._get_star_transactions,
        }
        # Telegram matches method names case-insensitively.
        return {name.lower(): (name, handler) for name, handler in handlers.items()}
