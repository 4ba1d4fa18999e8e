"""The outbox: every broadcast is a row with a unique key, delivered once within Telegram's limits.

Rows go pending → sending → sent (or unreachable, or failed). A sent row keeps its key and
state but not its text: members' words stay in the outbox only until they are delivered.
A text longer than Telegram takes is queued as several rows (`key`, `key#2`, ...), split at
line breaks (core.longtext). A row may instead copy a message (copyMessage: a member's
message relayed to the coach), and may say what it stands for (`context`), which is acted on
when Telegram answers: a delivered relay is remembered, so the coach's reply to it finds the
member; a weekly summary Telegram refused is marked undelivered, not left as sent. A group
upgraded to a supergroup is followed to its new chat id. A message that brings a member's
personal invite link (`Invite`) says INVITE_MARK where the link goes: Telegram makes the link
as the message is sent, outside any transaction, and the seat remembers it when Telegram says
the message was delivered. A row may also be an action on a group's door (`DoorAction`: taking
someone out, revoking a link), so that it too waits on Telegram outside any transaction and is
retried like a message.
One sender sends at a time, whatever the number of workers: the one holding the sender lease
(`outbox_leases`), renewed every RENEW_SECONDS and lasting LEASE, so Telegram's limits and each
chat's order hold across processes. It claims due rows in batches ahead of need (PostgreSQL:
FOR UPDATE SKIP LOCKED; SQLite: one writer, and the claim is conditional on the row's state),
renews those claims with its lease, sends each the moment the limits allow, and records the
answers a few at a time in one commit. A graceful stop lets the messages in flight finish,
records them and gives back the rest. After a kill, the next holder takes the lease when it
runs out and sends again every row left claimed: none is lost, and the only repeats are the
messages in doubt at the kill (sent, answer not yet recorded), at most MAX_IN_DOUBT in all
and one per chat, since a chat's next message waits for the previous answer's record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from core.clock import Clock
from core.db import SessionFactory, insert_if_new
from core.flood import BUSY, TELEGRAM_LIMITS, FloodControl, FloodLimits
from core.groups import GroupError, migrate_group
from core.longtext import CAPTION_LIMIT, MESSAGE_LIMIT, fits, split_message
from core.models import (
    Member,
    OutboxLease,
    OutboxMessage,
    OutboxState,
    Relay,
    Seat,
    Summary,
    SummaryState,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# The sender lease, and each claim on a row, last this long unless renewed; the holder renews
# every RENEW_SECONDS. A sender killed outright is taken over within LEASE + RENEW_SECONDS.
LEASE = timedelta(seconds=10)
RENEW_SECONDS = 3.0
SENDER_LEASE = "sender"
# At most this many messages are in doubt at once (sent, Telegram's answer not yet recorded),
# at most one per chat: all a kill -9 can make the next sender repeat.
MAX_IN_DOUBT = 10
RECORD_WITHIN = 0.005  # seconds an answer waits at most for others to share its commit
CLAIM_BATCH = 60  # rows claimed at a time, ahead of need: two seconds at Telegram's 30/s
MAX_HELD = 1000  # rows held in memory at most (the rest wait for a chat to free up)


# Where a message's invite link goes until the link is made, as the message is sent.
INVITE_MARK = "\u2045invite link\u2046"


@dataclass(frozen=True)
class Invite:
    """The personal invite link a message brings: made in the group `chat_id` as the message
    is sent, named `name`, working until `expires`; the seat's old link, `replacing`, is
    revoked once the message with the new one is delivered."""

    seat_id: int
    chat_id: int
    name: str
    expires: datetime
    replacing: str | None = None

    def as_context(self) -> dict[str, Any]:
        return {
            "seat_id": self.seat_id,
            "chat_id": self.chat_id,
            "name": self.name,
            "expires": self.expires.isoformat(),
            "replacing": self.replacing,
        }

    @classmethod
    def of(cls, row: OutboxMessage) -> Invite | None:
        """The invite the row's message brings (none unless its text has the mark)."""
        found = (row.context or {}).get("invite")
        if found is None or INVITE_MARK not in row.text:
            return None
        return cls(**{**found, "expires": datetime.fromisoformat(found["expires"])})


@dataclass(frozen=True)
class Removal:
    """Take `user_id` out of the row's group so they can come back one day (unless they
    administer it when `unless_admin`: asked as it is done, never remembered), then tell them
    `tell` in private, best-effort (the row's text, forgotten once done)."""

    user_id: int
    unless_admin: bool = False
    tell: str = ""


@dataclass(frozen=True)
class Revocation:
    """Make `invite_link` of the row's group useless (one already gone is fine)."""

    invite_link: str


# A call on the group's door, made after the commit like a message and retried like one.
DoorAction = Removal | Revocation


def door_action_of(row: OutboxMessage) -> DoorAction | None:
    """The door action a row stands for (None: it is a message)."""
    door = (row.context or {}).get("door")
    if door is None:
        return None
    if "revoke" in door:
        return Revocation(door["revoke"])
    return Removal(door["remove"], unless_admin=door.get("unless_admin", False), tell=row.text)


async def enqueue_door(
    session: AsyncSession, action: DoorAction, *, chat_id: int, now: datetime
) -> bool:
    """Queue an action on the group `chat_id`'s door, done once the transaction commits."""
    match action:
        case Revocation(link):
            return await enqueue(
                session,
                key=f"revoke:{chat_id}:{link}"[:255],
                chat_id=chat_id,
                text="",
                now=now,
                context={"door": {"revoke": link}},
            )
        case Removal(user_id, unless_admin, tell):
            return await enqueue(
                session,
                key=f"remove:{chat_id}:{user_id}:{now.isoformat()}",
                chat_id=chat_id,
                text=tell,
                now=now,
                context={"door": {"remove": user_id, "unless_admin": unless_admin}},
            )


@dataclass(frozen=True)
class Delivered:
    message_id: int
    invite_link: str | None = None  # the link made for the message's Invite


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


@dataclass(frozen=True)
class Migrated:
    """The group became a supergroup with this chat id: send there (Telegram's 400 with
    migrate_to_chat_id)."""

    chat_id: int


SendOutcome = Delivered | RetryLater | Unreachable | Rejected | Migrated


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
        copy_of: tuple[int, int] | None = None,
        silent: bool = False,
        invite: Invite | None = None,
    ) -> SendOutcome: ...

    async def act(self, chat_id: int, action: DoorAction) -> SendOutcome:
        """Do something at the group's door (Delivered once done, or nothing is left to do)."""
        ...


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
    copy_of: tuple[int, int] | None = None,
    silent: bool = False,
    context: dict[str, Any] | None = None,
    invite: Invite | None = None,
) -> bool:
    """Add a message to the outbox unless one with `key` exists; tell whether it was new.

    With an `attachment` (file name, content) the text goes as the file's caption; with
    `copy_of` (chat id, message id) that message is copied and the text is not used. A text
    too long for one message goes as several, in order: the buttons come with the last part,
    a pin with the first, a file after the text when the text is too long for a caption.
    With an `invite`, the text's INVITE_MARK becomes the link, made as it is sent.
    """
    parts = _parts(text, attachment, copy_of)
    for number, part in enumerate(parts):
        last = number == len(parts) - 1
        part_context = context
        if invite is not None and INVITE_MARK in part:
            part_context = {**(context or {}), "invite": invite.as_context()}
        values = {
            "key": key if number == 0 else f"{key}#{number + 1}",
            "chat_id": chat_id,
            "text": part,
            "reply_markup": reply_markup if last else None,
            "pin": pin and number == 0,
            "state": OutboxState.PENDING,
            "attempts": 0,
            "not_before": not_before or now,
            "created_at": now,
            "attachment_name": attachment[0] if attachment and last else None,
            "attachment": attachment[1] if attachment and last else None,
            "copy_from_chat_id": copy_of[0] if copy_of else None,
            "copy_from_message_id": copy_of[1] if copy_of else None,
            "silent": silent,
            "context": part_context,
        }
        new = await insert_if_new(session, OutboxMessage, values, ["key"])
        if number == 0 and not new:
            return False
    return True


def _parts(
    text: str, attachment: tuple[str, bytes] | None, copy_of: tuple[int, int] | None
) -> list[str]:
    if copy_of is not None or not text:
        return [text]
    if attachment is None:
        return split_message(text, MESSAGE_LIMIT)
    if fits(text, CAPTION_LIMIT):
        return [text]
    return [*split_message(text, MESSAGE_LIMIT), ""]  # the file goes last, without a caption


class OutboxSender:
    """Delivers due outbox rows through a transport, as fast as the flood limits allow.

    Three helpers run beside the sending loop: the keeper holds the sender lease and renews
    the claims on the rows this sender holds (every RENEW_SECONDS), the refiller claims due
    rows in batches ahead of need, and the recorder writes Telegram's answers in batches.
    Sending itself touches no database: a row goes out the moment the limits allow.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        transport: MessageTransport,
        clock: Clock,
        *,
        limits: FloodLimits = TELEGRAM_LIMITS,
        batch_size: int = CLAIM_BATCH,
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
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease_valid_until = -BUSY  # monotonic; sends start only before it
        self._holding = False
        self._queue: list[OutboxMessage] = []  # claimed by us, not yet sent, by id
        self._in_doubt: dict[int, OutboxMessage] = {}  # sent, answer not yet recorded
        self._doubt_chats: set[int] = set()
        self._answers: list[tuple[OutboxMessage, SendOutcome]] = []
        self._sends: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._want_rows = asyncio.Event()
        self._answered = asyncio.Event()
        self._claiming = asyncio.Lock()

    def wake(self) -> None:
        """New rows are waiting: look now rather than at the next poll."""
        self._wake.set()
        self._want_rows.set()

    async def run(self) -> None:
        """Deliver until cancelled; on cancellation, let the messages in flight finish."""
        await self._serve(until_idle=False)

    async def drain(self) -> None:
        """Deliver everything due now, then return (tests, the demo, one-off commands)."""
        await self._serve(until_idle=True)

    # --- the loop ------------------------------------------------------------------------------

    async def _serve(self, *, until_idle: bool) -> None:
        self._queue = []  # after a fault: the next holder (maybe us) takes these back
        self._holding = False
        await self._record_answers()  # answers a fault kept from being recorded
        helpers = [
            asyncio.create_task(self._keep_lease(), name="outbox lease"),
            asyncio.create_task(self._record_loop(), name="outbox recorder"),
            asyncio.create_task(self._refill_loop(), name="outbox claims"),
        ]
        try:
            while True:
                for helper in helpers:
                    if helper.done():
                        helper.result()  # its failure is the loop's
                        raise RuntimeError(f"{helper.get_name()} ended")
                delay = self._start_due()
                if until_idle and self._holding and not self._queue and not self._in_doubt:
                    if not await self._refill() and not self._queue:
                        return
                    continue
                await self._sleep(delay)
        finally:
            await self._stop(helpers)

    async def _stop(self, helpers: list[asyncio.Task[None]]) -> None:
        """Let the sends in flight finish and record them; give back what was not sent."""
        async with self._claiming:  # a claim under way is finished, its rows held (and given back)
            for helper in helpers[2:]:
                helper.cancel()
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)
        for helper in helpers[:2]:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        try:
            await self._record_answers()
            await self._let_go()
        except Exception as error:  # the database is away: the lease runs out by itself
            log.warning("outbox: stopping without giving back claims (%s)", type(error).__name__)

    def _start_due(self) -> float | None:
        """Start every held message the limits allow now; return the seconds until the next."""
        now = self._monotonic()
        if now >= self._lease_valid_until:
            return None
        overall = self._flood.overall_wait(now)
        if overall > 0 or len(self._in_doubt) >= MAX_IN_DOUBT:
            return overall if overall > 0 else None  # (an answer wakes the loop)
        next_in: float | None = None
        kept: list[OutboxMessage] = []
        ready = 0
        full = False
        # A chat skipped once in this pass stays skipped, so its later messages can't overtake
        # an earlier one that becomes sendable only while the pass goes on.
        skipped: set[int] = set()
        for index, row in enumerate(self._queue):
            if full:  # the rest wait for the next pass
                rest = self._queue[index:]
                kept.extend(rest)
                ready += len(rest)
                break
            chat_id = row.chat_id
            wait = (
                BUSY
                if chat_id in skipped or chat_id in self._doubt_chats
                else self._flood.wait_for(chat_id, now)
            )
            if wait > 0:
                skipped.add(chat_id)
                if wait != BUSY:
                    next_in = wait if next_in is None else min(next_in, wait)
                kept.append(row)
                continue
            self._send_now(row)
            full = self._flood.overall_wait(now) > 0 or len(self._in_doubt) >= MAX_IN_DOUBT
        self._queue = kept
        if ready < self._batch_size // 2 and len(self._queue) < MAX_HELD:
            self._want_rows.set()
        return next_in

    def _send_now(self, row: OutboxMessage) -> None:
        assert row.id is not None
        self._flood.begin(row.chat_id)
        self._in_doubt[row.id] = row
        self._doubt_chats.add(row.chat_id)
        task = asyncio.create_task(self._send(row))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _sleep(self, delay: float | None) -> None:
        if delay is None or delay == BUSY:
            delay = self._idle_seconds
        self._wake.clear()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the wake-up does, and a stopping worker would then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(delay, self._idle_seconds)):
                await self._wake.wait()

    # --- the lease and the claims --------------------------------------------------------------

    async def _keep_lease(self) -> None:
        while True:
            await self._renew()
            await asyncio.sleep(RENEW_SECONDS / self._clock.pace)

    async def _renew(self) -> None:
        """Hold (or take over) the sender lease; renew our claims; take back stale ones."""
        started = self._monotonic()
        now = self._clock.now()
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        async with self._sessions() as session:
            holding = await self._take_lease(session, now)
            if holding and not self._holding:
                # The last holder stopped renewing (or let go): whatever it left claimed was
                # never answered as far as anyone knows, and goes again; but not what we sent
                # ourselves before our lease lapsed, still in flight: its answer is ours.
                mine = list(self._in_doubt)
                result = await session.exec(
                    update(table)
                    .where(table.c.state == OutboxState.SENDING)
                    .where(table.c.id.not_in(mine))
                    .values(state=OutboxState.PENDING, claimed_at=None)
                )
                if result.rowcount:
                    log.warning(
                        "outbox: took over from a stopped sender; %d claimed message(s) go again",
                        result.rowcount,
                    )
            elif holding:
                queued = {row.id for row in self._queue}
                ours = [*queued, *self._in_doubt]
                if ours:
                    renewed = await session.exec(
                        update(table)
                        .where(table.c.id.in_(ours))
                        .where(table.c.state == OutboxState.SENDING)
                        .values(claimed_at=now)
                        .returning(table.c.id)
                    )
                    # Rows gone meanwhile (a member's /forget) are not sent from memory.
                    gone = queued - set(renewed.scalars().all())
                    if gone:
                        self._queue = [row for row in self._queue if row.id not in gone]
                await session.exec(  # claims nobody renewed (a sender that lost its lease)
                    update(table)
                    .where(table.c.state == OutboxState.SENDING)
                    .where(table.c.claimed_at < now - LEASE)
                    .values(state=OutboxState.PENDING, claimed_at=None)
                )
            await session.commit()
        if holding:
            self._lease_valid_until = started + LEASE.total_seconds() / self._clock.pace * 0.8
            if not self._holding:
                self._want_rows.set()
                self._wake.set()
        else:
            self._lease_valid_until = -BUSY
            self._queue = []  # the holder takes them back
        self._holding = holding

    async def _take_lease(self, session: AsyncSession, now: datetime) -> bool:
        until = now + LEASE
        values = {"name": SENDER_LEASE, "holder": self._holder, "until": until}
        if await insert_if_new(session, OutboxLease, values, ["name"]):
            return True
        result = await session.exec(
            update(OutboxLease)
            .where(col(OutboxLease.name) == SENDER_LEASE)
            .where((col(OutboxLease.holder) == self._holder) | (col(OutboxLease.until) < now))
            .values(holder=self._holder, until=until)
        )
        return bool(result.rowcount)

    async def _let_go(self) -> None:
        """A graceful stop: the rows we held go back, and the next sender need not wait.

        (Even when we don't know we hold the lease: a stop may have come just after taking it.)
        """
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        ours = [row.id for row in self._queue]
        async with self._sessions() as session:
            if ours:
                await session.exec(
                    update(table)
                    .where(table.c.id.in_(ours))
                    .where(table.c.state == OutboxState.SENDING)
                    .values(state=OutboxState.PENDING, claimed_at=None)
                )
            await session.exec(
                update(OutboxLease)
                .where(col(OutboxLease.name) == SENDER_LEASE)
                .where(col(OutboxLease.holder) == self._holder)
                .values(until=self._clock.now() - LEASE)
            )
            await session.commit()
        self._queue = []
        self._holding = False
        self._lease_valid_until = -BUSY

    async def _refill_loop(self) -> None:
        while True:
            await self._want_rows.wait()
            self._want_rows.clear()
            if not await self._refill():
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_seconds):
                        await self._wake.wait()

    async def _refill(self) -> int:
        """Claim a batch of due rows (in id order) for this sender; how many."""
        async with self._claiming:
            return await self._claim_batch()

    async def _claim_batch(self) -> int:
        if self._monotonic() >= self._lease_valid_until:
            return 0
        now = self._clock.now()
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        held = {row.id for row in self._queue}
        due = (
            select(table.c.id)
            .where(table.c.state == OutboxState.PENDING)
            .where(table.c.not_before <= now)
            .order_by(table.c.id)
            .limit(self._batch_size)
            # Another sender (a lease handed over mid-claim) skips what this one is claiming;
            # SQLite has one writer at a time, and the condition on the state does the rest.
            .with_for_update(skip_locked=True)
        )
        async with self._sessions() as session:
            result = await session.exec(
                update(table)
                .where(table.c.id.in_(due.scalar_subquery()))
                .where(table.c.state == OutboxState.PENDING)
                .values(state=OutboxState.SENDING, claimed_at=now)
                .returning(*table.c)
            )
            claimed = [OutboxMessage(**row._mapping) for row in result.all()]
            await session.commit()
        fresh = [row for row in claimed if row.id not in held]
        if fresh:
            self._queue = sorted([*self._queue, *fresh], key=lambda row: row.id or 0)
            self._wake.set()
        return len(fresh)

    # --- sending and recording -----------------------------------------------------------------

    async def _send(self, row: OutboxMessage) -> None:
        try:
            attachment = (
                (row.attachment_name, row.attachment)
                if row.attachment_name and row.attachment is not None
                else None
            )
            copy_of = (
                (row.copy_from_chat_id, row.copy_from_message_id)
                if row.copy_from_chat_id is not None and row.copy_from_message_id is not None
                else None
            )
            action = door_action_of(row)
            outcome: SendOutcome = await (
                self._transport.act(row.chat_id, action)
                if action is not None
                else self._transport.deliver(
                    row.chat_id,
                    row.text,
                    row.reply_markup,
                    pin=row.pin,
                    attachment=attachment,
                    copy_of=copy_of,
                    silent=row.silent,
                    invite=Invite.of(row),
                )
            )
        except Exception as error:  # a bug must not leave the row claimed forever
            log.exception("outbox: sending message %s failed unexpectedly", row.id)
            outcome = RetryLater(reason=type(error).__name__)
        self._flood.end(row.chat_id, self._monotonic())
        self._answers.append((row, outcome))
        self._answered.set()
        self._wake.set()

    async def _record_loop(self) -> None:
        while True:
            await self._answered.wait()
            # A few milliseconds for more answers to share the commit (these chats wait for
            # it, and the next message to a chat is a second away anyway).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RECORD_WITHIN):
                    while len(self._answers) < MAX_IN_DOUBT // 2:
                        self._answered.clear()
                        await self._answered.wait()
            self._answered.clear()
            await self._record_answers()

    async def _record_answers(self) -> None:
        """Write every answer so far in one transaction; only then may those chats go on."""
        answers = list(self._answers)
        if not answers:
            return
        now = self._clock.now()
        again: list[OutboxMessage] = []
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        async with self._sessions() as session:
            delivered = [
                {"row_id": row.id, "message_id": outcome.message_id, "attempts": row.attempts + 1}
                for row, outcome in answers
                if isinstance(outcome, Delivered)
            ]
            if delivered:
                # Once delivered, the words are Telegram's to keep, not ours: the key and the
                # state are all that "exactly once" needs.
                connection = await session.connection()
                await connection.execute(
                    update(table)
                    .where(table.c.id == bindparam("row_id"))
                    .values(
                        text="",
                        attachment=None,
                        state=OutboxState.SENT,
                        sent_at=now,
                        telegram_message_id=bindparam("message_id"),
                        attempts=bindparam("attempts"),
                    ),
                    delivered,
                )
            for row, outcome in answers:
                if not isinstance(outcome, Delivered):
                    values = await self._outcome_values(session, row, outcome, now)
                    values["attempts"] = row.attempts + 1
                    await session.exec(update(table).where(table.c.id == row.id).values(**values))
                    if values["state"] == OutboxState.SENDING:
                        again.append(row)
                try:
                    async with session.begin_nested():  # one answer's aftermath can't stop all
                        await _act_on(session, row, outcome, now)
                except SQLAlchemyError as error:  # its rows were forgotten meanwhile, say
                    log.warning("outbox: message %s: %s", row.id, type(error).__name__)
            await session.commit()
        del self._answers[: len(answers)]
        for row, outcome in answers:
            self._in_doubt.pop(row.id or 0, None)
            self._doubt_chats.discard(row.chat_id)
            row.attempts += 1
            if isinstance(outcome, Migrated):
                row.chat_id = outcome.chat_id
        if again:  # still ours: back in line, in order
            self._queue = sorted([*self._queue, *again], key=lambda row: row.id or 0)
        self._wake.set()

    async def _outcome_values(
        self, session: AsyncSession, row: OutboxMessage, outcome: SendOutcome, now: datetime
    ) -> dict[str, Any]:
        match outcome:
            case Unreachable(reason):
                await _mark_unreachable(session, row.chat_id, now)
                return {"state": OutboxState.UNREACHABLE, "last_error": reason}
            case Rejected(reason):
                log.error("outbox: Telegram refused message %s: %s", row.id, reason)
                return {"state": OutboxState.FAILED, "last_error": reason}
            case RetryLater(reason, seconds):
                return self._retry_values(row, reason, seconds)
            case Migrated(new_chat_id):
                log.info("outbox: chat %s is now the supergroup %s", row.chat_id, new_chat_id)
                return {"state": OutboxState.SENDING, "chat_id": new_chat_id}
        raise AssertionError(outcome)

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
        # Still claimed by this sender, which tries again after the wait.
        return {"state": OutboxState.SENDING, "last_error": reason}


async def _mark_unreachable(session: AsyncSession, chat_id: int, now: datetime) -> None:
    if chat_id < 0:
        return
    await session.exec(
        update(Member)
        .where(col(Member.telegram_id) == chat_id)
        .where(col(Member.unreachable_since).is_(None))
        .values(unreachable_since=now)
    )
    log.info("outbox: member with chat %s is unreachable (blocked the bot)", chat_id)


async def _act_on(
    session: AsyncSession, row: OutboxMessage, outcome: SendOutcome, now: datetime
) -> None:
    """What Telegram's answer means beyond the row itself (see `context` on OutboxMessage)."""
    context = row.context or {}
    match outcome:
        case Delivered(_, invite_link) if invite_link is not None and "invite" in context:
            # The seat's link from now on: the one the member was just given.
            await session.exec(
                update(Seat)
                .where(col(Seat.id) == context["invite"]["seat_id"])
                .values(invite_link=invite_link, updated_at=now)
            )
        case Delivered(message_id) if "relay" in context:
            # The coach's reply to this message must find the member: remembered only now
            # that the message exists in the coach's chat.
            relay = context["relay"]
            values = {
                "coach_chat_id": row.chat_id,
                "coach_message_id": message_id,
                "member_id": relay["member_id"],
                "entry_id": relay.get("entry_id"),
                "created_at": now,
            }
            await insert_if_new(session, Relay, values, ["coach_chat_id", "coach_message_id"])
        case Rejected() | Unreachable() if "summary_id" in context:
            # Marked sent when queued (exactly once); Telegram's refusal makes it undelivered,
            # and the summaries job tells the coach.
            await session.exec(
                update(Summary)
                .where(col(Summary.id) == context["summary_id"])
                .values(state=SummaryState.UNDELIVERED)
            )
        case Migrated(new_chat_id):
            try:
                await migrate_group(session, old_chat_id=row.chat_id, new_chat_id=new_chat_id)
            except GroupError as error:
                log.error("outbox: can't follow chat %s to its new id: %s", row.chat_id, error)


async def record_sent_elsewhere(
    session: AsyncSession, outcomes: list[tuple[str, SendOutcome]], now: datetime
) -> None:
    """Record what Telegram answered to rows another process sent itself (a handler's answers,
    sent the moment its transaction committed: bot/answers.py), as the sender would have.

    Such a row is enqueued with a `not_before` far enough ahead that no sender claims it
    meanwhile; a row the sender took anyway (still pending no more) is left to it. One that
    failed for a moment stays held (its process tries again first; the sender when the hold
    runs out); one Telegram asked to wait for, or that moved to a supergroup, is the
    sender's.
    """
    for key, outcome in outcomes:
        found = await session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.key) == key)
            .where(col(OutboxMessage.state) == OutboxState.PENDING)
        )
        row = found.first()
        if row is None:
            continue
        row.attempts += 1
        match outcome:
            case Delivered(message_id):
                row.text, row.attachment = "", None
                row.state, row.sent_at, row.telegram_message_id = OutboxState.SENT, now, message_id
            case Unreachable(reason):
                await _mark_unreachable(session, row.chat_id, now)
                row.state, row.last_error = OutboxState.UNREACHABLE, reason
            case Rejected(reason):
                log.error("outbox: Telegram refused message %s: %s", row.id, reason)
                row.state, row.last_error = OutboxState.FAILED, reason
            case RetryLater(reason, seconds):
                if seconds is not None:  # the sender's, once Telegram's wait is over
                    row.not_before = now + timedelta(seconds=seconds)
                row.last_error = reason
                session.add(row)
                continue
            case Migrated():
                row.not_before = now  # the sender's, now: it follows the group
                session.add(row)
                continue
        session.add(row)
        if row.context:
            async with session.begin_nested():
                await _act_on(session, row, outcome, now)
