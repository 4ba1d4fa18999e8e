"""The outbox: every broadcast is a row with a unique key, delivered once within Telegram's limits.

Rows go pending → sending → sent (or unreachable, or failed). A sent row keeps its key and
state but not its text: members' words stay in the outbox only until they are delivered.
A row is claimed on its own just before it is sent, so after a crash only the messages that
were in flight can be in doubt; a graceful stop lets those finish first. Rows left `sending`
by a crash are sent again after `STALE_CLAIM`: a rare repeat is kinder than a lost summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from core.clock import Clock
from core.db import SessionFactory, insert_if_new
from core.flood import BUSY, TELEGRAM_LIMITS, FloodControl, FloodLimits
from core.models import Member, OutboxMessage, OutboxState

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=2)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Delivered:
    message_id: int


@dataclass(frozen=True)
class RetryLater:
    """Telegram asked us to wait (429, `seconds` known) or failed for a moment (5xx, network)."""

    reason: str
    seconds: float | None = None


@dataclass(frozen=True)
class Unreachable:
    """The person blocked the bot or never started it: retrying will not help."""

    reason: str


@dataclass(frozen=True)
class Rejected:
    """Telegram refused this message itself (400): retrying will not help."""

    reason: str


SendOutcome = Delivered | RetryLater | Unreachable | Rejected


class MessageTransport(Protocol):
    """Sends one message to Telegram and says how it went (TelegramGateway in production)."""

    async def deliver(
        self,
        chat_id: int,
        text: str,
        reply_markup: dict[str, Any] | None,
        *,
        pin: bool,
        attachment: tuple[str, bytes] | None = None,
        silent: bool = False,
    ) -> SendOutcome: ...


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    chat_id: int,
    text: str,
    now: datetime,
    reply_markup: dict[str, Any] | None = None,
    pin: bool = False,
    not_before: datetime | None = None,
    attachment: tuple[str, bytes] | None = None,
    silent: bool = False,
) -> bool:
    """Add a message to the outbox unless one with `key` exists; tell whether it was new.

    With an `attachment` (file name, content) the text goes as the file's caption; `silent`
    delivers it without a notification sound.
    """
    values = {
        "key": key,
        "chat_id": chat_id,
        "text": text,
        "reply_markup": reply_markup,
        "pin": pin,
        "silent": silent,
        "state": OutboxState.PENDING,
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
        "attachment_name": attachment[0] if attachment else None,
        "attachment": attachment[1] if attachment else None,
    }
    return await insert_if_new(session, OutboxMessage, values, ["key"])


class OutboxSender:
    """Delivers due outbox rows through a transport, as fast as the flood limits allow."""

    def __init__(
        self,
        sessions: SessionFactory,
        transport: MessageTransport,
        clock: Clock,
        *,
        limits: FloodLimits = TELEGRAM_LIMITS,
        batch_size: int = 200,
        idle_seconds: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._transport = transport
        self._clock = clock
        self._flood = FloodControl(limits)
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._monotonic = monotonic
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New rows are waiting: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; on cancellation, let the messages in flight finish."""
        try:
            await self.release_stale_claims()
            while True:
                delay = await self.deliver_due()
                await self._sleep(delay)
        finally:
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def drain(self) -> None:
        """Deliver everything due now, then return (tests, the demo, one-off commands)."""
        await self.release_stale_claims()
        while True:
            delay = await self.deliver_due()
            if delay is None and not self._in_flight and not await self._has_due():
                return
            await self._sleep(delay)

    async def release_stale_claims(self) -> int:
        """Return rows a crashed sender left `sending` to the queue."""
        stale_before = self._clock.now() - STALE_CLAIM
        async with self._sessions() as session:
            result = await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.state) == OutboxState.SENDING)
                .where(col(OutboxMessage.claimed_at) < stale_before)
                .values(state=OutboxState.PENDING)
            )
            await session.commit()
        released = int(result.rowcount)
        if released:
            log.warning("outbox: %d message(s) were in flight during a crash; resending", released)
        return released

    async def deliver_due(self) -> float | None:
        """Start every due message the limits allow now; return seconds until the next could go."""
        rows = await self._due_rows()
        next_in: float | None = None
        # A chat skipped once in this pass stays skipped, so its later messages can't overtake
        # an earlier one that becomes sendable only while the pass goes on.
        skipped: set[int] = set()
        for row in rows:
            wait = (
                BUSY
                if row.chat_id in skipped
                else self._flood.wait_for(row.chat_id, self._monotonic())
            )
            if wait > 0:
                skipped.add(row.chat_id)
                next_in = wait if next_in is None else min(next_in, wait)
                continue
            # The claim happens inside the task: a stop can't fall between claiming a row and
            # sending it, because stopping waits for the tasks in flight.
            self._flood.begin(row.chat_id)
            task = asyncio.create_task(self._claim_and_send(row))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return next_in

    async def _sleep(self, delay: float | None) -> None:
        if delay is None or delay == BUSY:
            delay = self._idle_seconds if not self._in_flight else 0.005
        self._wake.clear()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the wake-up does, and a stopping worker would then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(delay, self._idle_seconds)):
                await self._wake.wait()

    async def _due_rows(self) -> list[OutboxMessage]:
        async with self._sessions() as session:
            result = await session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.state) == OutboxState.PENDING)
                .where(col(OutboxMessage.not_before) <= self._clock.now())
                .order_by(col(OutboxMessage.id))
                .limit(self._batch_size)
            )
            return list(result.all())

    async def _has_due(self) -> bool:
        return bool(await self._due_rows())

    async def _claim(self, row: OutboxMessage) -> bool:
        async with self._sessions() as session:
            result = await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id)
                .where(col(OutboxMessage.state) == OutboxState.PENDING)
                .values(state=OutboxState.SENDING, claimed_at=self._clock.now())
            )
            await session.commit()
        return bool(result.rowcount)

    async def _claim_and_send(self, row: OutboxMessage) -> None:
        claimed = False
        try:
            claimed = await self._claim(row)
        finally:
            if not claimed:  # another sender took it, or the database failed us
                self._flood.abandon(row.chat_id)
        if claimed:
            await self._send(row)

    async def _send(self, row: OutboxMessage) -> None:
        try:
            attachment = (
                (row.attachment_name, row.attachment)
                if row.attachment_name and row.attachment is not None
                else None
            )
            outcome: SendOutcome = await self._transport.deliver(
                row.chat_id,
                row.text,
                row.reply_markup,
                pin=row.pin,
                attachment=attachment,
                silent=row.silent,
            )
        except Exception as error:  # a bug must not leave the row claimed forever
            log.exception("outbox: sending message %s failed unexpectedly", row.id)
            outcome = RetryLater(reason=type(error).__name__)
        self._flood.end(row.chat_id, self._monotonic())
        await self._record(row, outcome)

    async def _record(self, row: OutboxMessage, outcome: SendOutcome) -> None:
        now = self._clock.now()
        values: dict[str, Any]
        match outcome:
            case Delivered(message_id):
                # Once delivered, the words are Telegram's to keep, not ours: the key and the
                # state are all that "exactly once" needs.
                values = {
                    "text": "",
                    "attachment": None,
                    "state": OutboxState.SENT,
                    "sent_at": now,
                    "telegram_message_id": message_id,
                }
            case Unreachable(reason):
                values = {"state": OutboxState.UNREACHABLE, "last_error": reason}
                await self._mark_unreachable(row.chat_id, now)
            case Rejected(reason):
                values = {"state": OutboxState.FAILED, "last_error": reason}
                log.error("outbox: Telegram refused message %s: %s", row.id, reason)
            case RetryLater(reason, seconds):
                values = self._retry_values(row, reason, seconds)
        values["attempts"] = row.attempts + 1
        async with self._sessions() as session:
            await session.exec(
                update(OutboxMessage).where(col(OutboxMessage.id) == row.id).values(**values)
            )
            await session.commit()
        self.wake()

    def _retry_values(
        self, row: OutboxMessage, reason: str, seconds: float | None
    ) -> dict[str, Any]:
        if seconds is None and row.attempts + 1 >= MAX_ATTEMPTS:
            log.error(
                "outbox: giving up on message %s after %d tries: %s", row.id, MAX_ATTEMPTS, reason
            )
            return {"state": OutboxState.FAILED, "last_error": reason}
        # Telegram's retry_after is an order; otherwise back off 1, 2, 4 ... 60 seconds.
        wait = seconds if seconds is not None else min(2.0**row.attempts, 60.0)
        self._flood.pause(row.chat_id, self._monotonic() + wait / self._clock.pace)
        log.info("outbox: message %s waits %.1fs (%s)", row.id, wait, reason)
        return {"state": OutboxState.PENDING, "last_error": reason}

    async def _mark_unreachable(self, chat_id: int, now: datetime) -> None:
        if chat_id < 0:
            return
        async with self._sessions() as session:
            await session.exec(
                update(Member)
                .where(col(Member.telegram_id) == chat_id)
                .where(col(Member.unreachable_since).is_(None))
                .values(unreachable_since=now)
            )
            await session.commit()
        log.info("outbox: member with chat %s is unreachable (blocked the bot)", chat_id)
