"""Events, and their delivery to webhook endpoints, signed as Stripe signs them.

Every change makes an Event (evt_...) with a snapshot of the object, and for an update the old
values of what changed. Stripe POSTs it to each endpoint as pretty-printed JSON with a
Stripe-Signature header, t=<timestamp>,v1=<HMAC-SHA256 of "<timestamp>.<body>" keyed with the
endpoint's secret>. Deliveries go out one at a time, in the order the events were made, and
those an API call causes go out after the call is answered. An endpoint gets only the event
types it enabled ("*" for all). A test may resend an event, forge or age its signature, or have
webhooks lost. Every event can be read back through the events API (sandbox.stripe.account).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import NamedTuple

import aiohttp

from sandbox.stripe.objects import JSON, new_id, unix_time
from sandbox.stripe.versions import render

WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=10)


class Delivery(NamedTuple):
    """One webhook delivery attempt; status 0 means the endpoint could not be reached."""

    event_id: str
    status: int


@dataclass(frozen=True)
class WebhookEndpoint:
    url: str
    secret: str
    enabled_events: tuple[str, ...] = ("*",)
    id: str = ""
    created: int = 0

    def wants(self, event_type: str) -> bool:
        return any(fnmatchcase(event_type, pattern) for pattern in self.enabled_events)


class EventsMixin:
    """Events as they happen, and their signed delivery to the webhook endpoints."""

    # Made in StripeSandbox.__init__.
    api_version: str
    _now: Callable[[], datetime]
    events: list[JSON]
    deliveries: list[Delivery]
    _webhook_endpoints: list[WebhookEndpoint]
    _losing_webhooks: bool
    _http: aiohttp.ClientSession | None
    _delivery_lock: asyncio.Lock
    _background_deliveries: set[asyncio.Task[None]]
    _delivered: set[str]

    def add_webhook_endpoint(
        self, url: str, secret: str, enabled_events: Iterable[str] = ("*",)
    ) -> WebhookEndpoint:
        """Send every event (of the enabled types) from now on to `url`, signed with `secret`."""
        endpoint = WebhookEndpoint(
            url, secret, tuple(enabled_events), new_id("we"), unix_time(self._now())
        )
        self._webhook_endpoints.append(endpoint)
        return endpoint

    async def settle(self) -> None:
        """Wait until webhooks caused by API calls (cancel, expire) have been delivered."""
        while self._background_deliveries:
            await asyncio.gather(*self._background_deliveries)

    # -----------------------------------------------------------------------------------
    # Events and their delivery

    def make_event(self, type: str, obj: JSON, *, previous_attributes: JSON | None = None) -> JSON:
        """A new Event with a fresh evt_ id, created=now, carrying a snapshot of `obj` in the
        account's API version."""
        data: JSON = {"object": render(copy.deepcopy(obj), self.api_version)}
        if previous_attributes is not None:
            data["previous_attributes"] = copy.deepcopy(previous_attributes)
        event: JSON = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": unix_time(self._now()),
            "data": data,
            "livemode": False,
            "pending_webhooks": sum(e.wants(type) for e in self._webhook_endpoints),
            "request": {"id": None, "idempotency_key": None},
            "type": type,
        }
        self.events.append(event)
        return event

    def sign(self, payload: bytes, secret: str, timestamp: int | None = None) -> str:
        """The Stripe-Signature header value for `payload`, as Stripe makes it.

        The timestamp defaults to the wall clock, not the sandbox clock: receivers check it
        against their own real time (stripe-python allows 5 minutes).
        """
        signed_at = int(time.time()) if timestamp is None else timestamp
        digest = hmac.new(
            secret.encode(), f"{signed_at}.".encode() + payload, hashlib.sha256
        ).hexdigest()
        return f"t={signed_at},v1={digest}"

    async def send_event(
        self,
        event: JSON,
        *,
        secret: str | None = None,
        signature: str | None = None,
        timestamp: int | None = None,
    ) -> int:
        """(Re)deliver one event as is to every endpoint; returns the HTTP status (first failure).

        `secret`, `signature` or `timestamp` forge or age the signature, to test rejection.
        """
        if not self._webhook_endpoints:
            raise RuntimeError("no webhook endpoint: call add_webhook_endpoint first")
        async with self._delivery_lock:
            return await self._post_event(event, secret, signature, timestamp)

    def lose_webhooks(self, lost: bool = True) -> None:
        """Make events without delivering them, as if the endpoint was down past every retry."""
        self._losing_webhooks = lost

    async def _deliver(self, events: list[JSON]) -> None:
        if not self._webhook_endpoints or self._losing_webhooks:
            return
        async with self._delivery_lock:
            for event in events:
                await self._post_event(event, None, None, None)

    def _deliver_in_background(self, events: list[JSON]) -> None:
        # Stripe answers the API call first and sends its webhooks afterwards.
        task = asyncio.get_running_loop().create_task(self._deliver(events))
        self._background_deliveries.add(task)
        task.add_done_callback(self._background_deliveries.discard)

    async def _post_event(
        self,
        event: JSON,
        secret: str | None,
        signature: str | None,
        signed_at: int | None,
    ) -> int:
        if self._http is None:
            raise RuntimeError("the sandbox is not started")
        # Stripe sends pretty-printed JSON; receivers must verify the bytes, not a re-dump.
        body = json.dumps(event, indent=2).encode()
        statuses: list[int] = []
        for endpoint in self._webhook_endpoints:
            if not endpoint.wants(str(event.get("type", ""))):
                continue
            header = signature or self.sign(body, secret or endpoint.secret, signed_at)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": header,
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            try:
                async with self._http.post(endpoint.url, data=body, headers=headers) as answer:
                    await answer.read()
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            self.deliveries.append(Delivery(str(event.get("id", "")), status))
            statuses.append(status)
        failures = [status for status in statuses if not 200 <= status < 300]
        if not failures:
            self._delivered.add(str(event.get("id", "")))
        return failures[0] if failures else (statuses[-1] if statuses else 200)
