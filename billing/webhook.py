"""POST /stripe/webhook: verify the signature on the raw body, store the event once, enqueue it."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import stripe
from aiohttp import web
from redis.exceptions import RedisError

from billing.events import check_event, record_stripe_event
from core.clock import Clock
from core.db import SessionFactory

log = logging.getLogger(__name__)

EnqueueEvent = Callable[[str], Awaitable[object]]


class StripeWebhook:
    """The route's handler: answers fast, 400 for a bad signature, 200 once the event is stored."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        clock: Clock,
        secret: str | None,
        enqueue: EnqueueEvent,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._secret = secret
        self._enqueue = enqueue

    async def receive(self, request: web.Request) -> web.Response:
        """The route: POST /stripe/webhook."""
        if self._secret is None:
            return web.json_response({"error": "Stripe webhooks are not configured"}, status=503)
        payload = await request.read()
        try:
            # A non-ASCII signature makes stripe-python's hmac.compare_digest raise TypeError,
            # and a signed body that is no JSON object an AttributeError: 400s, not 500s.
            stripe.Webhook.construct_event(
                payload, request.headers.get("Stripe-Signature", ""), self._secret
            )
            event = check_event(json.loads(payload))
        except (ValueError, TypeError, AttributeError, stripe.SignatureVerificationError) as error:
            log.warning("stripe webhook refused: %s", type(error).__name__)
            return web.json_response({"error": "invalid signature or payload"}, status=400)
        async with self._sessions() as session:
            is_new = await record_stripe_event(session, event, self._clock.now())
            await session.commit()
        if is_new:
            await self._queue(event["id"])
        return web.json_response({"received": True, "duplicate": not is_new})

    async def _queue(self, event_id: str) -> None:
        # The event is already stored: if Redis is down for a moment, the worker's sweep finds it.
        try:
            await self._enqueue(event_id)
        except (RedisError, OSError) as error:
            log.warning(
                "stripe event %s stored but not enqueued (%s)", event_id, type(error).__name__
            )
