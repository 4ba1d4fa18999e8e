"""Stripe events: stored once by id when they arrive, processed later by type in the worker.

An event goes received → processing (claimed by one worker) → processed or ignored, or back
to failed and tried again later. Nothing may strand it on the way:

- a job cut short (arq cancels running jobs on `Worker.close()` and on its job timeout, and
  CancelledError is no Exception) gives its claim back at once;
- a worker killed outright leaves its claim: a worker applying an event renews its claim
  every `RENEW_EVERY` while it works, so a claim not renewed for `CLAIM_LEASE` belonged to a
  worker that died, and the sweep takes it back (seconds, not minutes, after a kill -9);
- a failure is tried again after a delay that grows from a minute to a day, beyond the three
  days Stripe itself keeps resending a webhook; after the last try the coach is told, with what
  to do.

Applying an event and marking it processed are one transaction, and a worker that lost its
claim meanwhile (its lease ran out) throws its work away, so an event is applied exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_
from sqlmodel import col, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from billing.lifecycle import SubscriptionState
from billing.membership import Membership
from core.clock import Clock
from core.db import SessionFactory, insert_if_new
from core.models import EventStatus, ExternalEvent, Member
from core.outbox import enqueue
from prompts.render import Templates

log = logging.getLogger(__name__)

STRIPE = "stripe"
# A stored event not taken up after this long missed its job (Redis was down, or a worker
# killed after arq gave it the job, which arq keeps for minutes): enqueue again. A second job
# is harmless: the claim lets one apply it.
RETRY_AFTER = timedelta(seconds=20)
# A claim is renewed this often while its event is applied, and taken back when it has not
# been renewed for CLAIM_LEASE: its worker is gone (a renewal can wait on a busy database).
RENEW_EVERY = timedelta(seconds=3)
CLAIM_LEASE = timedelta(seconds=15)
# The wait after each failed attempt, counted from that attempt: about four days in all, more
# than the three days Stripe resends a webhook it could not deliver.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
    timedelta(hours=24),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


class StripeHandler(Protocol):
    """Applies one event, given Stripe's current state of its subscription (asked before)."""

    def __call__(
        self,
        membership: Membership,
        session: AsyncSession,
        event: dict[str, Any],
        now: datetime,
        /,
        *,
        subscription: SubscriptionState | None = None,
    ) -> Awaitable[None]: ...


# Event type → what it changes. Any other type is recorded and marked ignored.
STRIPE_HANDLERS: dict[str, StripeHandler] = {
    "checkout.session.completed": Membership.checkout_completed,
    "checkout.session.expired": Membership.checkout_expired,
    "customer.subscription.created": Membership.subscription_changed,
    "customer.subscription.updated": Membership.subscription_changed,
    "customer.subscription.deleted": Membership.subscription_changed,
    "customer.subscription.trial_will_end": Membership.trial_will_end,
    "invoice.paid": Membership.subscription_changed,
    "invoice.payment_failed": Membership.subscription_changed,
}


def job_id(event_id: str, attempts: int, *, again: bool = False) -> str:
    """The arq job id for applying an event after `attempts` tries.

    One job per try, so a retry is never mistaken by arq for the finished job of an earlier
    one; and the sweep's own id (`again`), so an event whose first job was picked up by a
    worker that was then killed (arq keeps that job for itself until its in-progress key
    expires, minutes later) gets a job that can run now. At most two jobs per try, and the
    claim lets one of them apply it.
    """
    return f"stripe:{event_id}:{attempts}" + (":again" if again else "")


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after the `attempts`-th failed attempt; None: that was the last."""
    if attempts < 1 or attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts - 1]


# datetime's last second (9999-12-31): a later `created` can't be stored as a moment.
LATEST_CREATED = 253402300799


def check_event(payload: object) -> dict[str, Any]:
    """A signed body that can be stored as an event (an id, a type, a `created` time, each of
    a size the table keeps); ValueError otherwise. Stripe sends nothing else, so a resend
    can't mend one that fails here."""
    if not isinstance(payload, dict):
        raise ValueError("not an event")
    event_id, type_, created = (
        payload.get("id"),
        payload.get("type", "unknown"),
        payload.get("created", 0),
    )
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        raise ValueError("no usable id")
    if not isinstance(type_, str) or len(type_) > 128:
        raise ValueError("no usable type")
    if isinstance(created, bool) or not isinstance(created, int):
        raise ValueError("created is not a number")
    if not 0 <= created <= LATEST_CREATED:
        raise ValueError("created is out of range")
    return payload


async def record_stripe_event(session: AsyncSession, event: dict[str, Any], now: datetime) -> bool:
    """Store a verified event unless its id was seen before; tell whether it is new."""
    values = {
        "source": STRIPE,
        "event_id": event["id"],
        "type": event.get("type", "unknown"),
        "payload": event,
        "occurred_at": datetime.fromtimestamp(int(event.get("created", 0)), UTC),
        "received_at": now,
        "status": EventStatus.RECEIVED,
        "attempts": 0,
    }
    return await insert_if_new(session, ExternalEvent, values, ["source", "event_id"])


async def find_stripe_event(session: AsyncSession, event_id: str) -> ExternalEvent | None:
    result = await session.exec(
        select(ExternalEvent)
        .where(col(ExternalEvent.source) == STRIPE)
        .where(col(ExternalEvent.event_id) == event_id)
    )
    return result.first()


GiveUp = Callable[[AsyncSession, ExternalEvent, datetime], Awaitable[None]]


async def process_stripe_event(
    sessions: SessionFactory,
    membership: Membership,
    event_id: str,
    clock: Clock,
    handlers: dict[str, StripeHandler] = STRIPE_HANDLERS,
    on_give_up: GiveUp | None = None,
) -> EventStatus | None:
    """Apply one stored event with its handler, exactly once; return its final status (None
    when another worker has it, or had it)."""
    now = clock.now()
    async with sessions() as session:
        attempt: int | None = None
        try:
            attempt = await _claim(session, event_id, now)
            if attempt is None:
                return None
            async with _renewing(sessions, event_id, attempt, clock):
                return await _apply(
                    session, membership, event_id, attempt, now, handlers, on_give_up
                )
        except BaseException as stopped:
            if not isinstance(stopped, Exception):
                # Cancelled (a stop, a timeout) before the end: nothing was applied, and the
                # claim may be ours: give it back for the next worker.
                await asyncio.shield(_give_back(session, event_id, attempt, now))
            raise


@contextlib.asynccontextmanager
async def _renewing(
    sessions: SessionFactory, event_id: str, attempt: int, clock: Clock
) -> AsyncIterator[None]:
    """Keep our claim fresh while the event is applied (on a connection of its own), on the
    clock the sweep reads stale claims by."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY.total_seconds())
            fresh = clock.now()
            try:
                async with sessions() as session:
                    await session.exec(
                        update(ExternalEvent)
                        .where(col(ExternalEvent.source) == STRIPE)
                        .where(col(ExternalEvent.event_id) == event_id)
                        .where(col(ExternalEvent.status) == EventStatus.PROCESSING)
                        .where(col(ExternalEvent.attempts) == attempt)
                        .values(claimed_at=fresh)
                    )
                    await session.commit()
            except Exception as error:  # the next renewal may get through
                log.warning("stripe event %s: claim not renewed (%s)", event_id, error)

    renewal = asyncio.create_task(renew(), name=f"renew {event_id}")
    try:
        yield
    finally:
        renewal.cancel()
        await asyncio.gather(renewal, return_exceptions=True)


async def _apply(
    session: AsyncSession,
    membership: Membership,
    event_id: str,
    attempt: int,
    now: datetime,
    handlers: dict[str, StripeHandler],
    on_give_up: GiveUp | None,
) -> EventStatus | None:
    event = await find_stripe_event(session, event_id)
    assert event is not None and event.payload is not None
    event_type, payload = event.type, event.payload
    await session.commit()  # no transaction stays open while Stripe is asked
    handler = handlers.get(event_type)
    try:
        if handler is not None:
            known = await membership.ask_stripe_about(payload)
            await handler(membership, session, payload, now, subscription=known)
    except Exception as error:
        await session.rollback()
        delay = retry_delay(attempt)
        log.exception(
            "stripe event %s (%s) failed, attempt %d of %d",
            event_id,
            event_type,
            attempt,
            MAX_ATTEMPTS,
        )
        await _finish(
            session,
            event_id,
            attempt,
            EventStatus.FAILED,
            now,
            type(error).__name__,
            next_attempt_at=now + delay if delay else None,
        )
        if delay is None and on_give_up is not None:
            given_up = await find_stripe_event(session, event_id)  # reloaded after rollback
            assert given_up is not None
            await on_give_up(session, given_up, now)
        await session.commit()
        return EventStatus.FAILED
    status = EventStatus.PROCESSED if handler is not None else EventStatus.IGNORED
    if not await _finish(session, event_id, attempt, status, now, None):
        # Our lease ran out and another worker took the event up: its attempt counts.
        await session.rollback()
        log.warning("stripe event %s: claim lost to another worker", event_id)
        return None
    await session.commit()
    log.info("stripe event %s (%s) %s", event_id, event_type, status.value)
    return status


async def events_to_retry(session: AsyncSession, now: datetime) -> list[tuple[str, int]]:
    """Events due for a try: stored but never processed (their job was lost), failed and
    due again, or claimed by a worker that died; as (event id, attempts so far)."""
    await reclaim_stale_claims(session, now)
    result = await session.exec(
        select(ExternalEvent.event_id, ExternalEvent.attempts)
        .where(col(ExternalEvent.source) == STRIPE)
        .where(
            or_(
                # Never taken up (its job was lost), or given back and due again now.
                and_(
                    col(ExternalEvent.status) == EventStatus.RECEIVED,
                    or_(
                        and_(
                            col(ExternalEvent.next_attempt_at).is_(None),
                            col(ExternalEvent.received_at) <= now - RETRY_AFTER,
                        ),
                        col(ExternalEvent.next_attempt_at) <= now,
                    ),
                ),
                and_(
                    col(ExternalEvent.status) == EventStatus.FAILED,
                    col(ExternalEvent.next_attempt_at) <= now,
                ),
            )
        )
        .order_by(col(ExternalEvent.id))
    )
    return [(event_id, attempts) for event_id, attempts in result.all()]


async def reclaim_stale_claims(session: AsyncSession, now: datetime) -> int:
    """Claims older than the lease belonged to a worker that died: make them due again."""
    result = await session.exec(
        update(ExternalEvent)
        .where(col(ExternalEvent.source) == STRIPE)
        .where(col(ExternalEvent.status) == EventStatus.PROCESSING)
        .where(col(ExternalEvent.claimed_at) < now - CLAIM_LEASE)
        .values(status=EventStatus.RECEIVED, next_attempt_at=now, claimed_at=None)
    )
    await session.commit()
    reclaimed = int(result.rowcount)
    if reclaimed:
        log.warning("stripe: %d event(s) were being applied by a worker that stopped", reclaimed)
    return reclaimed


async def report_given_up(
    session: AsyncSession,
    templates: Templates,
    coach_ids: tuple[int, ...],
    event: ExternalEvent,
    now: datetime,
) -> None:
    """Tell each coach, once, that an event could not be applied, and what to do about it."""
    member = await _member_in(session, event.payload or {})
    text = templates.render(
        "stripe_event_failed",
        event_type=event.type,
        event_id=event.event_id,
        attempts=event.attempts,
        since=event.received_at,
        error=event.error or "unknown",
        member=member,
    )
    # One payment makes several events, which fail together: one message per member a day.
    about = f"member-{member.id}:{now:%Y-%m-%d}" if member else event.event_id
    for coach_id in coach_ids:
        await enqueue(
            session,
            key=f"stripe-event-failed:{about}:{coach_id}",
            chat_id=coach_id,
            text=text,
            now=now,
        )


async def _member_in(session: AsyncSession, payload: dict[str, Any]) -> Member | None:
    """The member an event is about, when its object's metadata names them."""
    found = (payload.get("data") or {}).get("object") or {}
    parent = (found.get("parent") or {}).get("subscription_details") or {}
    metadata = found.get("metadata") or parent.get("metadata") or {}
    member_id = str(metadata.get("member_id", ""))
    return await session.get(Member, int(member_id)) if member_id.isdigit() else None


async def _claim(session: AsyncSession, event_id: str, now: datetime) -> int | None:
    # Only one worker may apply an event: the one whose update finds it still waiting. Returns
    # which attempt this is (the claim's token), or None when someone else has it.
    result = await session.exec(
        update(ExternalEvent)
        .where(col(ExternalEvent.source) == STRIPE)
        .where(col(ExternalEvent.event_id) == event_id)
        .where(col(ExternalEvent.status).in_([EventStatus.RECEIVED, EventStatus.FAILED]))
        .values(
            status=EventStatus.PROCESSING,
            attempts=ExternalEvent.attempts + 1,
            claimed_at=now,
            next_attempt_at=None,
        )
        .returning(col(ExternalEvent.attempts))
    )
    attempt = result.scalar_one_or_none()
    await session.commit()
    return int(attempt) if attempt is not None else None


async def _finish(
    session: AsyncSession,
    event_id: str,
    attempt: int,
    status: EventStatus,
    now: datetime,
    error: str | None,
    *,
    next_attempt_at: datetime | None = None,
) -> bool:
    result = await session.exec(
        update(ExternalEvent)
        .where(col(ExternalEvent.source) == STRIPE)
        .where(col(ExternalEvent.event_id) == event_id)
        .where(col(ExternalEvent.status) == EventStatus.PROCESSING)
        .where(col(ExternalEvent.attempts) == attempt)
        .values(
            status=status,
            processed_at=now,
            error=error,
            claimed_at=None,
            next_attempt_at=next_attempt_at,
        )
    )
    return bool(result.rowcount)


async def _give_back(
    session: AsyncSession, event_id: str, attempt: int | None, claimed_at: datetime
) -> None:
    # Our claim is our attempt's (a later claim, after our lease, has its own number); cut
    # short while claiming, it is the one made at our `now`.
    ours = (
        col(ExternalEvent.attempts) == attempt
        if attempt is not None
        else col(ExternalEvent.claimed_at) == claimed_at
    )
    try:
        await session.rollback()
        await session.exec(
            update(ExternalEvent)
            .where(col(ExternalEvent.source) == STRIPE)
            .where(col(ExternalEvent.event_id) == event_id)
            .where(col(ExternalEvent.status) == EventStatus.PROCESSING)
            .where(ours)
            .values(status=EventStatus.RECEIVED, claimed_at=None, next_attempt_at=claimed_at)
        )
        await session.commit()
        log.info("stripe event %s interrupted; given back to be applied again", event_id)
    except Exception as error:  # the lease will bring it back
        log.warning("stripe event %s interrupted; left to its lease (%s)", event_id, error)
