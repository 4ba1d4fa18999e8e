"""Stripe events: stored once by id when they arrive, processed later by type in the worker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from billing.membership import Membership
from core.db import SessionFactory, insert_if_new
from core.models import EventStatus, ExternalEvent

log = logging.getLogger(__name__)

STRIPE = "stripe"
MAX_ATTEMPTS = 5
# A stored event not processed after this long missed its job (Redis was down): enqueue again.
RETRY_AFTER = timedelta(minutes=1)

StripeHandler = Callable[[Membership, AsyncSession, dict[str, Any], datetime], Awaitable[None]]

# Event type → what it changes. Any other type is recorded and marked ignored.
STRIPE_HANDLERS: dict[str, StripeHandler] = {
    "checkout.session.completed": Membership.checkout_completed,
    "checkout.session.expired": Membership.checkout_expired,
    "customer.subscription.created": Membership.subscription_changed,
    "customer.subscription.updated": Membership.subscription_changed,
    "customer.subscription.deleted": Membership.subscription_changed,
    "invoice.paid": Membership.subscription_changed,
    "invoice.payment_failed": Membership.subscription_changed,
}


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


async def process_stripe_event(
    sessions: SessionFactory,
    membership: Membership,
    event_id: str,
    now: datetime,
    handlers: dict[str, StripeHandler] = STRIPE_HANDLERS,
) -> EventStatus | None:
    """Apply one stored event with its handler, exactly once; return its final status."""
    async with sessions() as session:
        if not await _claim(session, event_id):
            return None
        event = await find_stripe_event(session, event_id)
        assert event is not None and event.payload is not None
        event_type, payload = event.type, event.payload
        handler = handlers.get(event_type)
        try:
            if handler is not None:
                await handler(membership, session, payload, now)
        except Exception as error:
            await session.rollback()
            await _finish(session, event_id, EventStatus.FAILED, now, f"{type(error).__name__}")
            log.exception("stripe event %s (%s) failed", event_id, event_type)
            raise
        status = EventStatus.PROCESSED if handler is not None else EventStatus.IGNORED
        await _finish(session, event_id, status, now, None)
        log.info("stripe event %s (%s) %s", event_id, event_type, status.value)
        return status


async def events_to_retry(session: AsyncSession, now: datetime) -> list[str]:
    """Events stored but never processed (their job was lost) or failed, due for another try."""
    result = await session.exec(
        select(ExternalEvent.event_id)
        .where(col(ExternalEvent.source) == STRIPE)
        .where(
            or_(
                col(ExternalEvent.status) == EventStatus.RECEIVED,
                col(ExternalEvent.status) == EventStatus.FAILED,
            )
        )
        .where(col(ExternalEvent.attempts) < MAX_ATTEMPTS)
        .where(col(ExternalEvent.received_at) <= now - RETRY_AFTER)
        .order_by(col(ExternalEvent.id))
    )
    return list(result.all())


async def _claim(session: AsyncSession, event_id: str) -> bool:
    # Only one worker may apply an event: the one whose update finds it still waiting.
    result = await session.exec(
        update(ExternalEvent)
        .where(col(ExternalEvent.source) == STRIPE)
        .where(col(ExternalEvent.event_id) == event_id)
        .where(col(ExternalEvent.status).in_([EventStatus.RECEIVED, EventStatus.FAILED]))
        .values(status=EventStatus.PROCESSING, attempts=ExternalEvent.attempts + 1)
    )
    await session.commit()
    return bool(result.rowcount)


async def _finish(
    session: AsyncSession, event_id: str, status: EventStatus, now: datetime, error: str | None
) -> None:
    await session.exec(
        update(ExternalEvent)
        .where(col(ExternalEvent.source) == STRIPE)
        .where(col(ExternalEvent.event_id) == event_id)
        .values(status=status, processed_at=now, error=error)
    )
    await session.commit()
