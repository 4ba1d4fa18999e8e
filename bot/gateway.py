"""The bot's side of Telegram: building the Bot, and the adapters the services' ports plug into:
sending that reports how it went (the outbox's transport, messages and the group's door; the
coach's messenger), Telegram Stars, and links to the bot."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatMemberStatus, ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
)
from aiogram.methods import AnswerCallbackQuery, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardMarkup,
    LabeledPrice,
    ReplyParameters,
    TransactionPartnerUser,
)

from billing.ports import DoorRefused, StarPayment
from bot.answers import AnswerAfterCommit, calls_now, outcome_of
from coaching.threads import NotDelivered
from core.clock import Clock, SystemClock
from core.links import is_supergroup
from core.outbox import (
    INVITE_MARK,
    Delivered,
    DoorAction,
    Invite,
    Rejected,
    Removal,
    RetryLater,
    Revocation,
    SendOutcome,
)

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 20
# Longer waits than this are Telegram telling us to back off for real; the caller decides.
MAX_RETRY_AFTER = 30
# MTProto's answer, passed through by the Bot API, when the person's privacy settings refuse
# voice and video notes (Telegram Premium: "Voice messages: nobody").
VOICE_REFUSED = "VOICE_MESSAGES_FORBIDDEN"
# answerCallbackQuery for a press too old to answer (Client.cpp's text for QUERY_ID_INVALID).
QUERY_TOO_OLD = "query is too old"


class HonourRetryAfter(BaseRequestMiddleware):
    """On a 429, wait the `retry_after` Telegram asks for and try once more."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as error:
            if error.retry_after > MAX_RETRY_AFTER:
                raise
            log.info(
                "Telegram asked to wait %ss before %s", error.retry_after, type(method).__name__
            )
            await self._clock.sleep(error.retry_after)
            return await make_request(bot, method)


class LateButtonAnswer(BaseRequestMiddleware):
    """A button press answered too late (Telegram allows a few seconds; a press resent after a
    failure, or held behind a slow update, is older) still does its work: the refusal is one
    line in the log, and the answer counts as given. Only the spinner on the button is lost."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as error:
            if not isinstance(method, AnswerCallbackQuery) or QUERY_TOO_OLD not in error.message:
                raise
            log.warning("a button press was answered too late: %s", error.message)
            return cast(Response[TelegramType], Response[bool](ok=True, result=True))


def create_bot(token: str, api_base: str, *, clock: Clock | None = None) -> Bot:
    """A Bot speaking HTML to `api_base` (Telegram, a local Bot API server, or the sandbox)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base), timeout=REQUEST_TIMEOUT)
    session.middleware(AnswerAfterCommit())  # outermost: a held-back call goes nowhere else
    session.middleware(HonourRetryAfter(clock or SystemClock()))
    session.middleware(LateButtonAnswer())
    defaults = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)
    return Bot(token, session=session, default=defaults)


class TelegramGateway:
    """The few Telegram calls the program makes, with failures turned into outcomes."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(
        self, chat_id: int, text: str, *, silent: bool = False, reply_to: int | None = None
    ) -> int:
        """Send now (the coach's messenger); NotDelivered if Telegram won't."""
        try:
            with calls_now():  # the id is remembered: replies to it find the member
                sent = await self.bot.send_message(
                    chat_id,
                    text,
                    disable_notification=silent,
                    reply_parameters=_replying_to(reply_to),
                )
        except TelegramAPIError as error:
            raise NotDelivered(error.message) from None
        return sent.message_id

    async def copy(
        self,
        chat_id: int,
        from_chat_id: int,
        message_id: int,
        *,
        silent: bool = False,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> int:
        """Copy a message (text, voice, anything), with a new caption if given; NotDelivered
        if Telegram won't."""
        try:
            with calls_now():
                copied = await self.bot.copy_message(
                    chat_id,
                    from_chat_id,
                    message_id,
                    disable_notification=silent,
                    caption=caption,
                    reply_parameters=_replying_to(reply_to),
                )
        except TelegramAPIError as error:
            refused = VOICE_REFUSED in error.message
            raise NotDelivered(error.message, voice_refused=refused) from None
        return copied.message_id

    async def deliver(
        self,
        chat_id: int,
        text: str,
        reply_markup: dict[str, Any] | None,
        *,
        pin: bool,
        attachment: tuple[str, bytes] | None = None,
        copy_of: tuple[int, int] | None = None,
        silent: bool = False,
        invite: Invite | None = None,
    ) -> SendOutcome:
        """Send one outbox message; never raises for what Telegram answers. With an `invite`,
        its link is made first and goes where the text says INVITE_MARK."""
        markup = InlineKeyboardMarkup.model_validate(reply_markup) if reply_markup else None
        link = None
        if invite is not None:
            made = await self._make_invite(invite)
            if not isinstance(made, str):
                return made
            link, text = made, text.replace(INVITE_MARK, made)
        try:
            if copy_of is not None:
                from_chat_id, from_message_id = copy_of
                copied = await self.bot.copy_message(
                    chat_id, from_chat_id, from_message_id, disable_notification=silent
                )
                message_id = copied.message_id
            elif attachment is not None:
                name, content = attachment
                message = await self.bot.send_document(
                    chat_id,
                    BufferedInputFile(content, name),
                    caption=text or None,
                    reply_markup=markup,
                    disable_notification=silent,
                )
                message_id = message.message_id
            else:
                message = await self.bot.send_message(
                    chat_id, text, reply_markup=markup, disable_notification=silent
                )
                message_id = message.message_id
        except (TelegramAPIError, TimeoutError) as error:
            if invite is not None and link is not None:  # the next try makes another
                await self._revoke(invite.chat_id, link)
            return outcome_of(error)
        if pin:
            await self._pin(chat_id, message_id)
        if invite is not None and invite.replacing:
            await self._revoke(invite.chat_id, invite.replacing)
        return Delivered(message_id, invite_link=link)

    async def _make_invite(self, invite: Invite) -> str | SendOutcome:
        """A personal link that asks to join (so the bot can check the seat), or why not."""
        chat_id = invite.chat_id
        for _ in range(2):
            try:
                made = await self.bot.create_chat_invite_link(
                    chat_id,
                    name=invite.name[:32],
                    expire_date=invite.expires,
                    creates_join_request=True,
                )
            except TelegramMigrateToChat as error:  # the group became a supergroup just now
                chat_id = error.migrate_to_chat_id
                continue
            except (TelegramAPIError, TimeoutError) as error:
                outcome = outcome_of(error)
                if isinstance(outcome, RetryLater):
                    return outcome
                # The bot lacks the right, or left the group: not the member's doing.
                return Rejected(f"invite link: {getattr(error, 'message', error)}")
            return made.invite_link
        return Rejected("invite link: the group moved twice")

    async def _revoke(self, chat_id: int, invite_link: str) -> None:
        """Make a link useless, best-effort (one already gone, or expired, is fine)."""
        try:
            await self.bot.revoke_chat_invite_link(chat_id, invite_link)
        except (TelegramAPIError, TimeoutError) as error:
            log.info("invite link in chat %s not revoked: %s", chat_id, error)

    async def act(self, chat_id: int, action: DoorAction) -> SendOutcome:
        """Do it at the group's door. Telegram's refusal (no right, the person or the link is
        gone) leaves nothing to do: one log line; a failure that may pass is tried again."""
        try:
            match action:
                case Revocation(invite_link):
                    await self.bot.revoke_chat_invite_link(chat_id, invite_link)
                case Removal(user_id, unless_admin, tell):
                    if unless_admin and await self._administers(chat_id, user_id):
                        return Delivered(0)
                    await self._take_out(chat_id, user_id)
                    if tell:
                        await self._tell(user_id, tell)
        except (TelegramBadRequest, TelegramForbiddenError) as error:
            log.warning("chat %s: %s refused: %s", chat_id, type(action).__name__, error.message)
        except (TelegramAPIError, TimeoutError) as error:
            return outcome_of(error)  # a moment's failure, a 429, or the group moved
        return Delivered(0)

    async def _administers(self, chat_id: int, user_id: int) -> bool:
        # Asked, not taken from an update: an admin promoted a minute ago must never be removed.
        try:
            member = await self.bot.get_chat_member(chat_id, user_id)
        except TelegramBadRequest:
            return False
        return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.CREATOR)

    async def _take_out(self, chat_id: int, user_id: int) -> None:
        """Out, and free to come back one day: in a supergroup ban then unban; in a basic
        group the ban alone removes (it keeps no ban list, and unbanChatMember is refused
        there: "method is available for supergroup and channel chats only")."""
        await self.bot.ban_chat_member(chat_id, user_id)
        if is_supergroup(chat_id):
            await self.bot.unban_chat_member(chat_id, user_id, only_if_banned=True)

    async def _tell(self, chat_id: int, text: str) -> None:
        # Someone who never started the bot can't be written to; the removal was what mattered.
        try:
            await self.bot.send_message(chat_id, text)
        except (TelegramAPIError, TimeoutError) as error:
            log.info("could not tell %s why: %s", chat_id, error)

    async def drop_buttons(self, chat_id: int, message_id: int) -> None:
        """Take the buttons off a message the bot sent (its press has no use any more); a
        message already without them, or gone, is left as it is."""
        with contextlib.suppress(TelegramAPIError):
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None
            )

    async def _pin(self, chat_id: int, message_id: int) -> None:
        # The message is delivered whatever happens to the pin: a refusal, a 429 longer than
        # we wait, a network error. Retrying the message would send it twice.
        try:
            await self.bot.pin_chat_message(chat_id, message_id, disable_notification=True)
        except (TelegramAPIError, TimeoutError) as error:
            log.warning("could not pin message %s in chat %s: %s", message_id, chat_id, error)


def _replying_to(message_id: int | None) -> ReplyParameters | None:
    # The post may have been deleted meanwhile: the answer still goes, just not as a reply.
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


async def upgraded_to(bot: Bot, chat_id: int) -> int | None:
    """The supergroup a basic group became, if Telegram says it did (None: it didn't).

    Reading the members of an upgraded group is refused with the new id (Client.cpp
    check_chat_access); getChat would still answer.
    """
    try:
        await bot.get_chat_member(chat_id, bot.id)
    except TelegramMigrateToChat as error:
        return error.migrate_to_chat_id
    except TelegramAPIError:
        return None
    return None


class TelegramLinks:
    """Links to the bot's private chat; its username is asked of Telegram once."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def to_bot(self, start: str | None = None) -> str:
        me = await self._bot.me()  # aiogram keeps the answer
        return f"https://t.me/{me.username}" + (f"?start={start}" if start else "")


class StarsGateway:
    """Telegram Stars: subscription invoices, refunds, renewals, the transaction list (the
    `StarsPayments` port)."""

    # Currently the only subscription period Telegram accepts: 30 days.
    PERIOD_SECONDS = 2592000

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def invoice_link(self, *, title: str, description: str, payload: str, stars: int) -> str:
        return await self._bot.create_invoice_link(
            title=title[:32],
            description=description[:255],
            payload=payload,
            currency="XTR",
            prices=[LabeledPrice(label="A month", amount=stars)],
            provider_token="",
            subscription_period=self.PERIOD_SECONDS,
        )

    async def refund(self, user_id: int, charge_id: str) -> None:
        await self._bot.refund_star_payment(user_id=user_id, telegram_payment_charge_id=charge_id)

    async def stop_renewal(self, user_id: int, charge_id: str) -> None:
        try:
            await self._bot.edit_user_star_subscription(
                user_id=user_id, telegram_payment_charge_id=charge_id, is_canceled=True
            )
        except TelegramBadRequest as error:
            raise DoorRefused(error.message) from None

    async def payments(self) -> tuple[list[StarPayment], set[str]]:
        """Every transaction, 100 at a time, in Telegram's (chronological) order."""
        found: list[StarPayment] = []
        refunded: set[str] = set()
        offset = 0
        while True:
            page = await self._bot.get_star_transactions(offset=offset, limit=100)
            for transaction in page.transactions:
                if isinstance(transaction.receiver, TransactionPartnerUser):
                    refunded.add(transaction.id)
                source = transaction.source
                if isinstance(source, TransactionPartnerUser) and source.invoice_payload:
                    found.append(
                        StarPayment(
                            charge_id=transaction.id,
                            user_id=source.user.id,
                            amount=transaction.amount,
                            paid_at=transaction.date,
                            payload=source.invoice_payload,
                            subscription_period=source.subscription_period,
                        )
                    )
            if len(page.transactions) < 100:
                return found, refunded
            offset += len(page.transactions)
