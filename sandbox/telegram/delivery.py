"""How updates reach the bot: by webhook, or through getUpdates long polling.

Telegram numbers every update with a growing update_id and keeps it until the bot has it.
allowed_updates picks the kinds of update the bot gets (chat_member and reactions come only
when named), checked when the update is made.

With a webhook set it POSTs each update there, with the secret token header, through the
queues of sandbox.telegram.queues: one update of a chat (or person) in flight at a time, a
failed one resent with back-off and holding back the later ones of its queue until it gets a
2xx or expires; failures are noted in getWebhookInfo (last_error_date and last_error_message,
kept after later successes, as Client.cpp's webhook_error does) and pending_update_count
counts every update not yet answered 2xx. A 2xx answer may carry a Bot API method
(WebhookActor::handle), which is run like any call, except getters, setWebhook,
deleteWebhook, close and logOut, which are ignored.

Without one, updates wait for getUpdates, which answers as soon as there are some or when its
timeout (at most 50 s) runs out, forgets those before the offset it is given (the bot's
confirmation: an update not confirmed comes again), drops those past their lifetime, lets only
one call wait at a time, and is refused while a webhook is set.

Time: retries fall due by the sandbox's `now`, so a test moves its clock and the resends
follow (a ticker looks every few milliseconds; settle() runs what is due at once).
Not modelled: the 1-connection mode after 10 s without success, the 1/s setWebhook limit,
and the check that the webhook is reachable before setWebhook answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import (
    BodyPartReader,
    ClientConnectorError,
    ClientError,
    ClientResponse,
    ClientSession,
    MultipartReader,
    hdrs,
)

from sandbox.telegram.api import ApiMixin, Upload, flag, optional_int, optional_text
from sandbox.telegram.errors import ApiError, bad_request, webhook_conflict
from sandbox.telegram.queues import PendingUpdate, expires_at, queue_key, update_type
from sandbox.telegram.shapes import JSON, unix_time

logger = logging.getLogger("sandbox.telegram")

WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Update types Telegram leaves out unless allowed_updates names them explicitly.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{0,256}")
LONG_POLL_MAX_TIMEOUT = 50
# telegram-bot-api.cpp: default_max_webhook_connections_; setWebhook clamps to 1..100.
DEFAULT_MAX_CONNECTIONS = 40
# How often the sandbox looks for resends that fell due (real seconds).
_RESEND_TICK = 0.01
# WebhookActor::handle: a method in the answer is run, except these (and every get*).
_IGNORED_REPLY_METHODS = frozenset({"deletewebhook", "setwebhook", "close", "logout"})


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _Queue:
    """One delivery queue: its updates in order, the front one perhaps in flight."""

    updates: deque[PendingUpdate] = field(default_factory=deque)
    busy: bool = False


def _retry_after(response: ClientResponse) -> int:
    value = response.headers.get(hdrs.RETRY_AFTER, "")
    return int(value) if value.isdigit() else 0


async def _read_webhook_reply(response: ClientResponse) -> dict[str, object] | None:
    """A method the webhook answered with (aiogram can reply to an update that way).

    HttpReader.cpp takes JSON, a urlencoded form or multipart; a body it can't read is still
    a success, only without a method.
    """
    try:
        if response.content_type == "application/json":
            body = await response.json()
            fields = body if isinstance(body, dict) else {}
        elif response.content_type == "application/x-www-form-urlencoded":
            fields = dict(parse_qsl(await response.text()))
        elif response.content_type == "multipart/form-data":
            fields = await _read_multipart(response)
        else:
            return None
    except (ValueError, ClientError):
        return None
    return fields if "method" in fields else None


async def _read_multipart(response: ClientResponse) -> dict[str, object]:
    fields: dict[str, object] = {}
    reader = MultipartReader(response.headers, response.content)
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        data = bytes(await part.read())
        if part.filename:
            fields[part.name] = Upload(part.filename, part.headers.get(hdrs.CONTENT_TYPE), data)
        else:
            fields[part.name] = data.decode()
    return fields


def _connection_error(error: BaseException) -> str:
    """The words getWebhookInfo uses for a webhook that could not be reached."""
    if isinstance(error, TimeoutError):
        return "Read timeout expired"
    if isinstance(error, ClientConnectorError):
        if isinstance(error.os_error, ConnectionRefusedError):
            return "Connection refused"
        return "Can't connect to the webhook"
    return "Webhook connection closed"


class DeliveryMixin(ApiMixin):
    """Updates to the bot: queued for getUpdates, or posted to the webhook with retries."""

    # Created in TelegramSandbox.__init__.
    _now: Callable[[], datetime]
    _update_ids: itertools.count[int]
    _queued_updates: list[PendingUpdate]
    _webhook_queues: dict[int, _Queue]
    _resend_random: random.Random
    _resender: asyncio.Task[None] | None
    _allowed_updates: frozenset[str] | None
    _updates_changed: asyncio.Condition
    _poll_generation: int
    _webhook: _Webhook | None
    _webhook_slots: asyncio.Semaphore
    _background: set[asyncio.Task[Any]]
    _client: ClientSession | None
    _stopping: bool

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates waiting for getUpdates and not yet confirmed."""
        return [pending.update for pending in self._queued_updates]

    @property
    def webhook_backlog(self) -> list[JSON]:
        """Updates the webhook has not answered 2xx yet (in flight, held, or backing off)."""
        return [
            pending.update for queue in self._webhook_queues.values() for pending in queue.updates
        ]

    async def deliver(self, update: JSON) -> int | None:
        """Hand an update to the bot: the webhook's HTTP status for its first try, or None
        when it was queued (for getUpdates, or behind an earlier update of its queue) or the
        webhook could not be reached.

        Gives the update its update_id, unless allowed_updates leaves its type out: then it is
        dropped, as Telegram would, and this returns None.
        """
        if not self._is_allowed(update):
            return None
        update.setdefault("update_id", next(self._update_ids))
        pending = PendingUpdate(update, expires_at(update, unix_time(self._now())))
        if self._webhook is None:
            self._queued_updates.append(pending)
            async with self._updates_changed:
                self._updates_changed.notify_all()
            return None
        key = queue_key(update)
        queue = self._webhook_queues.setdefault(key, _Queue())
        queue.updates.append(pending)
        if queue.busy:
            return None
        return await self._pump(key, queue, watched=pending)

    async def settle(self) -> None:
        """Wait until the updates that Bot API calls caused have been delivered, and the
        resends whose time has come (by the sandbox's clock) have been made."""
        while True:  # a delivery may cause further deliveries
            if self._webhook is not None:
                self._start_due_resends()
            if not self._background:
                return
            await asyncio.gather(*self._background, return_exceptions=True)

    # Delivery

    def _is_allowed(self, update: JSON) -> bool:
        kind = update_type(update)
        if self._allowed_updates is None:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    def _set_allowed_updates(self, allowed: object) -> None:
        if isinstance(allowed, list):
            # An empty list means Telegram's default selection.
            self._allowed_updates = frozenset(str(name) for name in allowed) or None

    def _unix_now(self) -> float:
        return self._now().timestamp()

    async def _pump(self, key: int, queue: _Queue, *, watched: PendingUpdate | None) -> int | None:
        """Deliver a queue front to back until it is empty or its front must wait."""
        queue.busy = True
        first_status: int | None = None
        try:
            while queue.updates and (webhook := self._webhook) is not None:
                front = queue.updates[0]
                now = self._unix_now()
                if front.next_attempt_at > now:
                    break
                if now > front.expires_at:
                    queue.updates.popleft()
                    logger.info("dropped update %s: expired", front.update_id)
                    continue
                status, retry_after = await self._post_to_webhook(webhook, front)
                if front is watched and first_status is None:
                    first_status = status
                if status is not None and 200 <= status <= 299:
                    queue.updates.popleft()
                    continue
                retried = front.retry_after_failure(
                    self._unix_now(), retry_after, self._resend_random
                )
                if not retried:
                    queue.updates.popleft()
                    logger.info("dropped update %s: %s", front.update_id, front.last_error)
                    continue
                if front.next_attempt_at > self._unix_now():
                    break
        finally:
            queue.busy = False
            if not queue.updates and self._webhook_queues.get(key) is queue:
                del self._webhook_queues[key]
        return first_status

    async def _post_to_webhook(
        self, webhook: _Webhook, pending: PendingUpdate
    ) -> tuple[int | None, int]:
        """One POST of an update: the HTTP status (None: not reached) and any Retry-After."""
        if self._client is None:
            raise RuntimeError("start() the sandbox before delivering to a webhook")
        headers = {WEBHOOK_SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        reply_method = None
        async with self._webhook_slots:
            try:
                async with self._client.post(
                    webhook.url, json=pending.update, headers=headers
                ) as reply:
                    status, reason, retry_after = reply.status, reply.reason, _retry_after(reply)
                    if 200 <= status <= 299:
                        reply_method = await _read_webhook_reply(reply)
            except (ClientError, TimeoutError) as error:
                pending.last_error = _connection_error(error)
                self._note_webhook_error(webhook, pending.last_error)
                return None, 0
        if not 200 <= status <= 299:
            pending.last_error = f"Wrong response from the webhook: {status} {reason or ''}"
            self._note_webhook_error(webhook, pending.last_error.strip())
            return status, retry_after
        if reply_method is not None:
            method = str(reply_method.pop("method"))
            lowered = method.lower()
            if lowered not in _IGNORED_REPLY_METHODS and not lowered.startswith("get"):
                await self._call(method, reply_method)
        return status, retry_after

    def _note_webhook_error(self, webhook: _Webhook, message: str) -> None:
        webhook.last_error_date = unix_time(self._now())
        webhook.last_error_message = message

    def _start_due_resends(self) -> None:
        now = self._unix_now()
        for key, queue in list(self._webhook_queues.items()):
            if queue.busy or not queue.updates or queue.updates[0].next_attempt_at > now:
                continue
            queue.busy = True  # claimed now, so the next look doesn't start it twice
            self._in_background(self._resume(key, queue))

    async def _resume(self, key: int, queue: _Queue) -> None:
        queue.busy = False
        await self._pump(key, queue, watched=None)

    async def _resend_forever(self) -> None:
        while True:
            await asyncio.sleep(_RESEND_TICK)
            if self._webhook is not None:
                self._start_due_resends()

    def _start_resending(self) -> None:
        self._resender = asyncio.create_task(self._resend_forever(), name="sandbox-resends")

    async def _stop_resending(self) -> None:
        if self._resender is not None:
            self._resender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resender
            self._resender = None

    async def _emit(self, update: JSON) -> None:
        """Deliver an update caused by a Bot API call, without waiting for the webhook.

        The call that caused it may itself be running inside a webhook request, so waiting
        for the next webhook POST here could deadlock.
        """
        if self._webhook is None:
            await self.deliver(update)
        else:
            self._in_background(self.deliver(update))

    def _in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)  # keep a reference until it is done
        task.add_done_callback(self._background.discard)

    def _move_queued_to_webhook(self) -> None:
        queued, self._queued_updates = self._queued_updates, []
        for pending in queued:
            key = queue_key(pending.update)
            self._webhook_queues.setdefault(key, _Queue()).updates.append(pending)
        self._start_due_resends()

    def _move_webhook_backlog_to_queue(self) -> None:
        backlog = [p for queue in self._webhook_queues.values() for p in queue.updates]
        self._webhook_queues.clear()
        for pending in backlog:
            pending.next_attempt_at = 0.0
        merged = self._queued_updates + backlog
        self._queued_updates = sorted(merged, key=lambda pending: pending.update_id)

    # Bot API: getting updates

    async def _set_webhook(self, params: JSON) -> bool:
        url = optional_text(params, "url")
        if not url:  # Telegram: an empty url removes the webhook
            return await self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            # Telegram insists on HTTPS; the sandbox also takes http:// for local servers.
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret_token = optional_text(params, "secret_token")
        if secret_token is not None and len(secret_token) > 256:
            raise bad_request("secret token is too long")
        if secret_token is not None and not _SECRET_TOKEN.fullmatch(secret_token):
            raise bad_request("secret token contains unallowed characters")
        max_connections = optional_int(params, "max_connections") or DEFAULT_MAX_CONNECTIONS
        self._set_allowed_updates(params.get("allowed_updates"))
        if flag(params, "drop_pending_updates"):
            self._queued_updates.clear()
            self._webhook_queues.clear()
        self._webhook = _Webhook(url, secret_token or None, min(max(max_connections, 1), 100))
        self._move_queued_to_webhook()
        async with self._updates_changed:  # a waiting getUpdates must now fail
            self._poll_generation += 1
            self._updates_changed.notify_all()
        return True

    async def _delete_webhook(self, params: JSON) -> bool:
        self._webhook = None
        self._move_webhook_backlog_to_queue()
        if flag(params, "drop_pending_updates"):
            self._queued_updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        webhook = self._webhook
        # JsonWebhookInfo::store: the count includes updates in flight and backing off.
        info: JSON = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queued_updates) + len(self.webhook_backlog),
        }
        if webhook is not None:
            info["ip_address"] = "127.0.0.1"
            info["max_connections"] = webhook.max_connections
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self._webhook is not None:
            raise webhook_conflict()
        self._set_allowed_updates(params.get("allowed_updates"))
        self._confirm_updates(optional_int(params, "offset"))
        limit = min(max(optional_int(params, "limit") or 100, 1), 100)
        wait_seconds = min(max(optional_int(params, "timeout") or 0, 0), LONG_POLL_MAX_TIMEOUT)
        return await self._wait_for_updates(limit, wait_seconds)

    def _confirm_updates(self, offset: int | None) -> None:
        """Forget updates before ``offset``; a negative offset keeps only the last ones."""
        if offset is None:
            return
        if offset < 0:
            self._queued_updates = self._queued_updates[offset:]
        else:
            self._queued_updates = [u for u in self._queued_updates if u.update_id >= offset]

    def _drop_expired(self) -> None:
        now = self._unix_now()
        self._queued_updates = [u for u in self._queued_updates if u.expires_at >= now]

    async def _wait_for_updates(self, limit: int, wait_seconds: float) -> list[JSON]:
        """Long poll: answer as soon as there are updates, or when the wait is over."""
        deadline = time.monotonic() + wait_seconds
        async with self._updates_changed:
            # Only one getUpdates may wait; a newer one ends the older with 409 Conflict.
            self._poll_generation += 1
            generation = self._poll_generation
            self._updates_changed.notify_all()
            while True:
                if self._webhook is not None:
                    raise ApiError(409, "Conflict: terminated by setWebhook request")
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                self._drop_expired()
                remaining = deadline - time.monotonic()
                if self._queued_updates or self._stopping or remaining <= 0:
                    return [pending.update for pending in self._queued_updates[:limit]]
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._updates_changed.wait()
