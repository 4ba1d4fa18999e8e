"""Payments without a public address: Stripe's events read from its API instead of a webhook.

With no PUBLIC_URL (`between run` on a laptop or a small home server) Stripe has nowhere to
send its webhooks. Its events API keeps every event for 30 days, so the worker asks it every
few seconds for the ones made since the newest it has, and hands each to the same store-once
path the webhook uses: an event read twice, or read and also delivered, is applied once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from redis.exceptions import RedisError
from sqlalchemy import func
from sqlmodel import col, select

from billing.events import STRIPE, STRIPE_HANDLERS, record_stripe_event
from core.db import SessionFactory
from core.models import ExternalEvent

log = logging.getLogger(__name__)

# Stripe lists events "going back up to 30 days".
LOOK_BACK = timedelta(days=30)
# Events can show up in the list a moment after their `created` second: read a little of what
# was read before again (store-once makes that free).
OVERLAP = timedelta(minutes=5)


class EventSource(Protocol):
    """Stripe's events API (StripeGateway)."""

    async def events_since(self, created: datetime, types: list[str]) -> list[dict[str, Any]]: ...


async def poll_stripe_events(
    sessions: SessionFactory,
    source: EventSource,
    enqueue: Callable[[str], Awaitable[object]],
    now: datetime,
) -> int:
    """Store the events made since the newest one stored, and queue the new ones; how many."""
    async with sessions() as session:
        newest = (
            await session.exec(
                select(func.max(ExternalEvent.occurred_at)).where(
                    col(ExternalEvent.source) == STRIPE
                )
            )
        ).one()
    since = max(newest - OVERLAP, now - LOOK_BACK) if newest else now - LOOK_BACK
    events = await source.events_since(since, sorted(STRIPE_HANDLERS))
    fresh: list[str] = []
    async with sessions() as session:
        for event in events:
            if await record_stripe_event(session, event, now):
                fresh.append(str(event["id"]))
        await session.commit()
    for event_id in fresh:
        try:
            await enqueue(event_id)
        except (RedisError, OSError) as error:  # stored: the sweep queues it again
            log.warning("stripe event %s stored but not enqueued (%s)", event_id, error)
    if fresh:
        log.info("read %d new stripe event(s) from the events API", len(fresh))
    return len(fresh)
