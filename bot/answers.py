"""A handler's answers go to Telegram after its transaction has committed.

While a handler runs (DatabaseSessionMiddleware sets `answering`), the Bot's request
middleware `AnswerAfterCommit` does not make the calls that only say or settle something:
- a message (sendMessage, copyMessage, sendDocument with its file) and the answer to a join
  request become outbox rows in the handler's own transaction, held back from the outbox
  sender; the handler gets back what aiogram would give it (a message with no real id: no
  handler uses it);
- the spinner, an edit, a deletion, a photo by file id (answerCallbackQuery, editMessage...,
  deleteMessage, sendPhoto...) is kept in memory.
Once the transaction has committed, `Answers.deliver` makes the calls in order (the fast path:
an answer comes as soon as it did before) and records the rows' outcomes in one short
transaction. When one fails in a way that may pass (5xx, network), it and the update's later
ones stay held and the update is answered 500 (AnswerNotYetDelivered): Telegram's resend,
which holds back that chat's later updates, finds the update handled and sends what is held
(`left_over`); so does the resend after a process killed before its 2xx. A message whose hold
(HOLD) runs out, or that Telegram asked to wait for too long, is the outbox sender's. Nothing
rolled back is said, nothing committed is lost, and a repeat is only for a call in flight at
a kill. What is kept in memory is best-effort: a failure is one line in the log.

A call whose result the handler uses (a question asking the coach for a reply, whose id is
remembered; the coach's messenger) is made at once, inside the transaction: marked with
`calls_now()`, or not one of the calls above. (Removals and revoked links never reach here:
they are outbox rows of their own, core.outbox.DoorAction.)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from aiogram import Bot, methods
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    ApproveChatJoinRequest,
    CopyMessage,
    DeclineChatJoinRequest,
    DeleteMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    LeaveChat,
    SendChatAction,
    SendDocument,
    SendMessage,
    SendPhoto,
    SetChatMenuButton,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import BufferedInputFile, Chat, InlineKeyboardMarkup, Message, MessageId
from aiohttp import ClientError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.clock import Clock
from core.db import SessionFactory
from core.longtext import CAPTION_LIMIT, MESSAGE_LIMIT, fits
from core.models import OutboxMessage, OutboxState
from core.outbox import (
    Delivered,
    Migrated,
    Rejected,
    RetryLater,
    SendOutcome,
    Unreachable,
    enqueue,
    record_sent_elsewhere,
)

log = logging.getLogger(__name__)

# An answer's row waits this long for its fast path before the outbox sender may send it:
# longer than the fast path can take (a 20 s timeout, a 429's wait of up to 30 s, a second
# try), so the two never both send it. Only a process killed meanwhile makes an answer wait.
HOLD = timedelta(seconds=90)

# The group's door, answered after the commit like a message, in order with the messages
# (an applicant can be written to only until their request is answered), and tried again on
# Telegram's resend when it fails for a moment. Their rows are never the outbox sender's
# (it sends messages only): they wait for a resend, which Telegram makes until one succeeds.
DOOR = (ApproveChatJoinRequest, DeclineChatJoinRequest)
NOT_THE_SENDERS = timedelta(days=3650)

# approve/declineChatJoinRequest when the request was already answered (by another admin,
# from Telegram's app) or withdrawn: nothing is left to do.
ALREADY_ANSWERED = ("HIDE_REQUESTER_MISSING", "USER_ALREADY_PARTICIPANT")

# Best-effort after the commit: what they return is never used.
AFTERWARDS = (
    AnswerCallbackQuery,
    EditMessageText,
    EditMessageReplyMarkup,
    EditMessageCaption,
    DeleteMessage,
    SendPhoto,
    SendChatAction,
    SetChatMenuButton,
    LeaveChat,
)


@dataclass
class _Call:
    method: TelegramMethod[Any]
    key: str | None = None  # its outbox row (a message), or None (best-effort)
    chat_id: int = 0


@dataclass
class Answers:
    """The Telegram calls one update's handler made, to be made once it has committed."""

    session: AsyncSession
    now: datetime
    update_id: str
    calls: list[_Call] = field(default_factory=list)
    written: int = 0  # messages written as rows

    async def defer(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        """What the handler gets back now, or _NOW when the call must be made at once."""
        if isinstance(method, AFTERWARDS):
            self.calls.append(_Call(method))
            if isinstance(method, SendPhoto) and isinstance(method.chat_id, int):
                return _message(bot, method.chat_id, self.now)
            return True
        if isinstance(method, DOOR) and isinstance(method.chat_id, int):
            self.written += 1
            key = f"answer:{self.update_id}:{self.written}"
            call = {"method": type(method).__name__, **method.model_dump(mode="json")}
            await enqueue(
                self.session,
                key=key,
                chat_id=method.chat_id,
                text="",
                now=self.now,
                not_before=self.now + NOT_THE_SENDERS,
                context={"call": call},
            )
            self.calls.append(_Call(method, key, method.chat_id))
            return True
        row = _as_row(method)
        if row is None:
            return _NOW
        chat_id = row["chat_id"]
        self.written += 1
        key = f"answer:{self.update_id}:{self.written}"
        # A text too long for one message goes as several, by the sender (which splits it).
        limit = CAPTION_LIMIT if "attachment" in row else MESSAGE_LIMIT
        hold = fits(row["text"], limit)
        await enqueue(
            self.session,
            key=key,
            now=self.now,
            not_before=self.now + HOLD if hold else self.now,
            **row,
        )
        if hold:
            self.calls.append(_Call(method, key, chat_id))
        if isinstance(method, CopyMessage):
            return MessageId(message_id=0)
        return _message(bot, chat_id, self.now)

    async def deliver(self, bot: Bot, sessions: SessionFactory, clock: Clock) -> None:
        """Make the calls, in order; record what Telegram said of the messages.

        AnswerNotYetDelivered if a message failed in a way that may pass: the update is
        answered 500, and Telegram's resend (which holds back the chat's later updates, so
        they keep their order) tries its messages again (`deliver_left_over`)."""
        await _send_and_record(bot, self.calls, sessions, clock)


async def left_over(session: AsyncSession, update_id: str, now: datetime) -> list[_Call]:
    """The messages of an update handled before that are still held for its fast path (a
    passing failure): held again, for this resend to send. A message whose hold ran out is
    the outbox sender's."""
    found = await session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.key).like(f"answer:{update_id}:%"))
        .where(col(OutboxMessage.state) == OutboxState.PENDING)
        .where(col(OutboxMessage.not_before) > now)
        .order_by(col(OutboxMessage.id))
        .with_for_update()
    )
    rows = list(found.all())
    for row in rows:  # held again (the door's rows stay the web's for good)
        row.not_before = max(row.not_before, now + HOLD)
        session.add(row)
    return [_Call(_method_of(row), row.key, row.chat_id) for row in rows]


async def deliver_left_over(
    bot: Bot, calls: list[_Call], sessions: SessionFactory, clock: Clock
) -> None:
    await _send_and_record(bot, calls, sessions, clock)


class AnswerNotYetDelivered(Exception):
    """A handler's answer failed in a way that may pass; Telegram's resend tries it again."""


async def _send_and_record(
    bot: Bot, calls: list[_Call], sessions: SessionFactory, clock: Clock
) -> None:
    if not calls:
        return
    outcomes: list[tuple[str, SendOutcome]] = []
    waiting = False  # an earlier message waits: the later ones keep their order
    for call in calls:
        if call.key is None:
            await _best_effort(bot, call.method)
            continue
        if waiting:
            outcome: SendOutcome = RetryLater("after an earlier answer")
        elif isinstance(call.method, DOOR):
            outcome = await _open_or_close(bot, call.method)
        else:
            outcome = await _send(bot, call.method)
        waiting = waiting or isinstance(outcome, RetryLater | Migrated)
        outcomes.append((call.key, outcome))
    if not outcomes:
        return
    async with sessions() as session:
        await record_sent_elsewhere(session, outcomes, clock.now())
        await session.commit()
    passing = [o for _, o in outcomes if isinstance(o, RetryLater) and o.seconds is None]
    if passing:
        raise AnswerNotYetDelivered(passing[0].reason)


def _method_of(row: OutboxMessage) -> TelegramMethod[Any]:
    """The call a held message's row stands for (as the outbox sender would make it)."""
    if row.context and "call" in row.context:
        call = dict(row.context["call"])
        kind: type[TelegramMethod[Any]] = getattr(methods, call.pop("method"))
        return kind.model_validate(call)
    markup = InlineKeyboardMarkup.model_validate(row.reply_markup) if row.reply_markup else None
    silent = row.silent or None
    if row.copy_from_chat_id is not None and row.copy_from_message_id is not None:
        return CopyMessage(
            chat_id=row.chat_id,
            from_chat_id=row.copy_from_chat_id,
            message_id=row.copy_from_message_id,
            disable_notification=silent,
        )
    if row.attachment_name and row.attachment is not None:
        return SendDocument(
            chat_id=row.chat_id,
            document=BufferedInputFile(row.attachment, row.attachment_name),
            caption=row.text or None,
            reply_markup=markup,
            disable_notification=silent,
        )
    return SendMessage(
        chat_id=row.chat_id, text=row.text, reply_markup=markup, disable_notification=silent
    )


_NOW = object()
answering: ContextVar[Answers | None] = ContextVar("answering", default=None)
_calling_now: ContextVar[bool] = ContextVar("calling_now", default=False)


@contextlib.contextmanager
def calls_now() -> Iterator[None]:
    """Telegram calls made in this block are made at once (their result is used), inside the
    handler's transaction."""
    token = _calling_now.set(True)
    try:
        yield
    finally:
        _calling_now.reset(token)


class AnswerAfterCommit(BaseRequestMiddleware):
    """Holds back a running handler's answers until its transaction has committed."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        answers = answering.get()
        if answers is None or _calling_now.get():
            return await make_request(bot, method)
        result = await answers.defer(bot, method)
        if result is _NOW:
            return await make_request(bot, method)
        return cast(TelegramType, result)


def _as_row(method: TelegramMethod[Any]) -> dict[str, Any] | None:
    """The outbox row a message call becomes (None: it can't be one, and is made at once)."""
    markup = getattr(method, "reply_markup", None)
    if markup is not None and not isinstance(markup, InlineKeyboardMarkup):
        return None  # a ForceReply: its message's id is remembered by the handler
    chat_id = getattr(method, "chat_id", None)
    if not isinstance(chat_id, int):
        return None
    row: dict[str, Any] = {
        "chat_id": chat_id,
        "reply_markup": markup.model_dump(mode="json", exclude_none=True) if markup else None,
        "silent": bool(getattr(method, "disable_notification", None)),
        "text": "",
    }
    if isinstance(method, SendMessage):
        row["text"] = method.text
        return row
    if isinstance(method, CopyMessage):
        if method.caption is not None or markup is not None:
            return None  # the row can't carry them
        if isinstance(method.from_chat_id, int):
            row["copy_of"] = (method.from_chat_id, method.message_id)
            return row
    if isinstance(method, SendDocument) and isinstance(method.document, BufferedInputFile):
        row["text"] = method.caption or ""
        row["attachment"] = (method.document.filename or "file", method.document.data)
        return row
    return None


def _message(bot: Bot, chat_id: int, now: datetime) -> Message:
    kind = "private" if chat_id > 0 else "supergroup"
    return Message(message_id=0, date=now, chat=Chat(id=chat_id, type=kind)).as_(bot)


async def _send(bot: Bot, method: TelegramMethod[Any]) -> SendOutcome:
    try:
        sent = await bot(method)
    except (TelegramAPIError, TimeoutError, ClientError) as error:
        return outcome_of(error)
    return Delivered(sent.message_id)


async def _open_or_close(bot: Bot, method: TelegramMethod[Any]) -> SendOutcome:
    """Approve or decline a join request (its refusals a log line: nothing is left to do)."""
    try:
        await bot(method)
    except TelegramBadRequest as error:
        if any(reason in error.message for reason in ALREADY_ANSWERED):
            log.info("join request was answered already: %s", error.message)
            return Delivered(0)
        log.warning("%s refused: %s", type(method).__name__, error.message)
        return Delivered(0)  # done with, as far as anyone can do
    except (TelegramForbiddenError, TelegramMigrateToChat) as error:
        log.warning("%s refused: %s", type(method).__name__, error.message)
        return Delivered(0)
    except (TelegramAPIError, TimeoutError, ClientError) as error:
        # Never the sender's (it would send a message): the update's resend tries again.
        return RetryLater(getattr(error, "message", type(error).__name__))
    return Delivered(0)


async def _best_effort(bot: Bot, method: TelegramMethod[Any]) -> None:
    try:
        await bot(method)
    except (TelegramAPIError, TimeoutError, ClientError) as error:
        log.warning(
            "%s after the update was handled: %s",
            type(method).__name__,
            getattr(error, "message", type(error).__name__),
        )


def outcome_of(error: BaseException) -> SendOutcome:
    """What a failed message call means for its outbox row."""
    if isinstance(error, TelegramRetryAfter):
        return RetryLater("Telegram flood control (429)", seconds=float(error.retry_after))
    if isinstance(error, TelegramMigrateToChat):  # not a TelegramBadRequest in aiogram
        return Migrated(error.migrate_to_chat_id)
    if isinstance(error, TelegramForbiddenError):
        return Unreachable(error.message)
    if isinstance(error, TelegramBadRequest):
        if "chat not found" in error.message.lower():
            return Unreachable(error.message)
        return Rejected(error.message)
    if isinstance(error, TelegramServerError | TelegramNetworkError | TimeoutError):
        return RetryLater(f"{type(error).__name__}: {getattr(error, 'message', '')}".strip())
    return RetryLater(type(error).__name__)  # as the sender treats what it can't place
