"""POST /stripe/webhook: verify the signature on the raw body, store the event once, enqueue it."""

from __future__ import annotations

import json
import logging

import stripe
from aiohttp import web
from redis.exceptions import RedisError

from billing.events import record_stripe_event
from core.runtime import RUNTIME

log = logging.getLogger(__name__)


async def receive_stripe_event(request: web.Request) -> web.Response:
    """Answer fast: 400 for a bad signature, 200 once the event is safely stored."""
    runtime = request.app[RUNTIME]
    secret = runtime.settings.stripe_webhook_secret
    if secret is None:
        return web.json_response({"error": "Stripe webhooks are not configured"}, status=503)
    payload = await request.read()
    try:
        stripe.Webhook.construct_event(
            payload, request.headers.get("Stripe-Signature", ""), secret.get_secret_value()
        )
        event = json.loads(payload)
    except (ValueError, stripe.SignatureVerificationError) as error:
        log.warning("stripe webhook refused: %s", type(error).__name__)
        return web.json_response({"error": "invalid signature or payload"}, status=400)
    async with runtime.sessions() as session:
        is_new = await record_stripe_event(session, event, runtime.clock.now())
        await session.commit()
    if is_new:
        await _enqueue(request, event["id"])
    return web.json_response({"received": True, "duplicate": not is_new})


async def _enqueue(request: web.Request, event_id: str) -> None:
    # The event is already stored: if Redis is down for a moment, the worker's sweep finds it.
    try:
        await request.app[RUNTIME].redis.enqueue_job(
            "process_stripe_event", event_id, _job_id=f"stripe:{event_id}"
        )
    except (RedisError, OSError) as error:
        log.warning("stripe event %s stored but not enqueued (%s)", event_id, type(error).__name__)
