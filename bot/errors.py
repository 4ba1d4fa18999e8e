"""When a handler fails: what Telegram refused is logged and the update answered 200; only a
failure that may pass (the database, the network, Telegram's 5xx or flood control) makes the
webhook answer 500, so that Telegram sends the update again.

Telegram's Bot API server resends a failed update at once, then after 2, 4, 8... seconds and
then every one to two minutes for up to a day, and holds back every later update of the same
chat (join requests and member updates: of the same person) until it succeeds
(WebhookActor.cpp). A refusal ("message is too long", "bot was kicked", a join request
another admin answered first) will be refused again on every resend: answering 500 would
freeze that chat for a day and repeat whatever the handler sent before it failed.
"""

from __future__ import annotations

import logging

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import Filter
from aiogram.types import ErrorEvent
from aiohttp import ClientError
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from billing.ports import DoorRefused
from bot.answers import AnswerNotYetDelivered

log = logging.getLogger(__name__)

PASSING = (
    AnswerNotYetDelivered,  # Telegram failed a handler's answer for a moment: the resend sends it
    TelegramNetworkError,
    TelegramServerError,
    TelegramRetryAfter,
    SQLAlchemyError,
    RedisError,
    ClientError,
    OSError,  # ConnectionError, TimeoutError
)


def may_pass(error: BaseException) -> bool:
    """A failure that trying the update again later may not meet."""
    return isinstance(error, PASSING)


def refused_by_telegram(error: BaseException) -> bool:
    """Telegram answered no (4xx), directly or through a gateway: trying again won't help."""
    return isinstance(error, TelegramAPIError | DoorRefused) and not may_pass(error)


class Refused(Filter):
    async def __call__(self, event: ErrorEvent) -> bool:
        return refused_by_telegram(event.exception)


class Broken(Filter):
    """Neither a refusal nor a passing failure: a bug, which a resend would only repeat."""

    async def __call__(self, event: ErrorEvent) -> bool:
        return not refused_by_telegram(event.exception) and not may_pass(event.exception)


async def telegram_refused(event: ErrorEvent) -> bool:
    """One line in the log (no message text: Telegram's refusals never quote it)."""
    error = event.exception
    method = getattr(error, "method", None)
    log.warning(
        "update %s (%s): Telegram refused %s: %s",
        event.update.update_id,
        event.update.event_type,
        type(method).__name__ if method is not None else type(error).__name__,
        getattr(error, "message", str(error)),
    )
    return True


async def handler_broke(event: ErrorEvent) -> bool:
    log.error(
        "update %s (%s) failed; not asking Telegram to resend it",
        event.update.update_id,
        event.update.event_type,
        exc_info=event.exception,
    )
    return True
