"""What every handler gets before it runs: one database session and one `now` per update (the
update handled once), and who is speaking: `member` and their `group`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.types import Chat, Message, TelegramObject, Update, User
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.answers import Answers, answering, deliver_left_over, left_over
from bot.errors import refused_by_telegram
from core.clock import Clock
from core.db import SessionFactory, collecting_afterwards, insert_if_new, make_afterwards
from core.members import refresh_profile, remember_member
from core.models import EventStatus, ExternalEvent, Member
from practice.checkins import home_group, member_and_home_group

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseSessionMiddleware(BaseMiddleware):
    """Opens the update's session, skips an update already handled, commits at the end.

    The update id is written in the same transaction as the handler's own changes, so an
    update that failed half-way is handled again when Telegram resends it, and one that
    succeeded is never handled twice. `now` is read once here: one update, one moment.
    The handler's answers are made only once that transaction has committed, outside it
    (bot/answers.py): no transaction is open while Telegram is called, save for the few calls
    whose result the handler needs.

    When Telegram refuses a call (a 4xx) after the handler did its work, that work is kept
    and the update counts as handled: Telegram is not asked to resend it (bot/errors.py), so
    rolling back would lose for good what was decided and done (a check-in recorded, a member
    let in). Any other failure rolls everything back: a passing one comes again, a bug is
    logged.
    """

    def __init__(self, sessions: SessionFactory, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        now = self._clock.now()
        update_id = str(event.update_id)
        values = {
            "source": "telegram",
            "event_id": update_id,
            "type": event.event_type,
            "received_at": now,
            "status": EventStatus.PROCESSED,
        }
        refusal: Exception | None = None
        async with self._sessions() as session:
            # Written first, kept only if the handler succeeds: a failure rolls both back.
            if not await insert_if_new(session, ExternalEvent, values, ["source", "event_id"]):
                # Telegram's resend after an answer failed for a moment: it goes again.
                again = await left_over(session, update_id, now)
                await session.commit()
                answers = None
            else:
                data["session"] = session
                data["now"] = now
                answers = Answers(session, now, update_id)
                holding = answering.set(answers)
                try:
                    with collecting_afterwards() as afterwards:
                        result = await handler(event, data)
                except Exception as error:
                    if not refused_by_telegram(error):
                        raise
                    await session.commit()
                    refusal = error
                else:
                    await session.commit()
                finally:
                    answering.reset(holding)
        if answers is None:
            if not again:
                log.info("update %s was handled before; ignored", update_id)
            await deliver_left_over(data["bot"], again, self._sessions, self._clock)
            return None
        # Committed, the transaction closed: now the answers go (bot/answers.py), then the
        # calls to other services the handler decided on (core.db.after_commit).
        try:
            await answers.deliver(data["bot"], self._sessions, self._clock)
        finally:
            await make_afterwards(afterwards)
        if refusal is not None:
            raise refusal
        return result


class PeopleMiddleware(BaseMiddleware):
    """Who sent the event, for the handler that will answer it: `member`, their profile
    refreshed, and `group`, the group whose seat counts here (None: no seat).

    In a group chat that is this group, if they have a seat in it; in private, their group.
    Writing to the bot in private means they have started it, so they can be written to.
    Registered as an inner middleware: it runs only for an event a handler takes.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        # A message sent as a chat has a stand-in in `from` (777000 "Telegram" is no bot).
        sent_as_a_chat = isinstance(event, Message) and event.sender_chat is not None
        if user is None and not sent_as_a_chat:
            # Telegram always says who sent these; an update that doesn't was made by hand, and
            # a resend would not say either (answered 200).
            log.warning("an update with no sender was ignored (%s)", type(event).__name__)
            return None
        if user is not None and not user.is_bot and not sent_as_a_chat:
            session: AsyncSession = data["session"]
            private = chat is not None and chat.type == ChatType.PRIVATE
            in_group = chat is not None and not private and chat.type != ChatType.CHANNEL
            group_chat = chat.id if in_group and chat else None
            # Someone the bot knows: who they are and their group in one query, their
            # profile written only if Telegram shows it changed.
            found = await member_and_home_group(session, user.id, chat_id=group_chat)
            if found is not None:
                member, group = found
                refresh_profile(member, **profile(user), now=data["now"], started=private)
            else:
                member = await remember_user(session, user, now=data["now"], started=private)
                group = await home_group(session, member, chat_id=group_chat)
            data["member"] = member
            data["group"] = group
        return await handler(event, data)


async def remember_user(
    session: AsyncSession, user: User, *, now: datetime, started: bool = False
) -> Member:
    """The Telegram user as a Member, their profile as Telegram shows it now."""
    return await remember_member(
        session, telegram_id=user.id, **profile(user), now=now, started=started
    )


def profile(user: User) -> dict[str, Any]:
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "username": user.username,
        "language_code": user.language_code,
    }
