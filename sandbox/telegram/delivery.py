"""How updates reach the bot: by webhook, or through getUpdates long polling.

Telegram numbers every update with a growing update_id. With a webhook set it POSTs each
update there (with the secret token header) and notes failures in getWebhookInfo; without one,
updates wait for getUpdates, which answers as soon as there are some or when its timeout runs
out, forgets those before the offset it is given, lets only one call wait at a time, and is
refused while a webhook is set. allowed_updates picks the kinds of update the bot gets, and
chat_member and reactions come only when named. A webhook may answer an update with a Bot API
method, which is then run like any call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import (
    BodyPartReader,
    ClientError,
    ClientResponse,
    ClientSession,
    MultipartReader,
    hdrs,
)

from sandbox.telegram.api import ApiMixin, Upload, flag, optional_int, optional_text
from sandbox.telegram.errors import ApiError, bad_request, webhook_conflict
from sandbox.telegram.shapes import JSON, unix_time

WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Update types Telegram leaves out unless allowed_updates names them explicitly.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


async def _read_webhook_reply(response: ClientResponse) -> dict[str, object] | None:
    """A method the webhook answered with (aiogram can reply to an update that way)."""
    if response.status != 200:
        return None
    if response.content_type == "application/json":
        body = await response.json()
        return body if isinstance(body, dict) and "method" in body else None
    if response.content_type != "multipart/form-data":
        return None
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
    return fields if "method" in fields else None


class DeliveryMixin(ApiMixin):
    """Updates to the bot: queued for getUpdates, or posted to the webhook."""

    # Created in TelegramSandbox.__init__.
    _now: Callable[[], datetime]
    _update_ids: itertools.count[int]
    _queued_updates: list[JSON]
    _allowed_updates: frozenset[str] | None
    _updates_changed: asyncio.Condition
    _poll_generation: int
    _webhook: _Webhook | None
    _webhook_slots: asyncio.Semaphore
    _background: set[asyncio.Task[None]]
    _client: ClientSession | None
    _stopping: bool

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued for getUpdates and not yet confirmed."""
        return list(self._queued_updates)

    async def deliver(self, update: JSON) -> int | None:
        """Hand an update to the bot: the webhook's HTTP status, or None when queued.

        Gives the update its update_id, unless allowed_updates leaves its type out: then it is
        dropped, as Telegram would, and this returns None.
        """
        if not self._is_allowed(update):
            return None
        update.setdefault("update_id", next(self._update_ids))
        webhook = self._webhook
        if webhook is not None:
            return await self._post_to_webhook(webhook, update)
        self._queued_updates.append(update)
        async with self._updates_changed:
            self._updates_changed.notify_all()
        return None

    # Delivery

    def _is_allowed(self, update: JSON) -> bool:
        update_type = next((key for key in update if key != "update_id"), "")
        if self._allowed_updates is None:
            return update_type not in DEFAULT_EXCLUDED_UPDATES
        return update_type in self._allowed_updates

    def _set_allowed_updates(self, allowed: object) -> None:
        if isinstance(allowed, list):
            # An empty list means Telegram's default selection.
            self._allowed_updates = frozenset(str(name) for name in allowed) or None

    async def _post_to_webhook(self, webhook: _Webhook, update: JSON) -> int:
        if self._client is None:
            raise RuntimeError("start() the sandbox before delivering to a webhook")
        headers = {WEBHOOK_SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        async with self._webhook_slots:
            try:
                async with self._client.post(webhook.url, json=update, headers=headers) as reply:
                    status = reply.status
                    reply_method = await _read_webhook_reply(reply)
            except (ClientError, TimeoutError) as error:
                self._note_webhook_error(webhook, f"Connection failed: {error!r}")
                raise ConnectionError(f"webhook {webhook.url} unreachable: {error!r}") from error
        if status != 200:
            self._note_webhook_error(webhook, f"Wrong response from the webhook: {status}")
        if reply_method is not None:
            await self._call(str(reply_method.pop("method")), reply_method)
        return status

    def _note_webhook_error(self, webhook: _Webhook, message: str) -> None:
        webhook.last_error_date = unix_time(self._now())
        webhook.last_error_message = message

    async def _emit(self, update: JSON) -> None:
        """Deliver an update caused by a Bot API call, without waiting for the webhook.

        The call that caused it may itself be running inside a webhook request, so waiting
        for the next webhook POST here could deadlock.
        """
        if self._webhook is None:
            await self.deliver(update)
        else:
            self._deliver_in_background(update)

    def _deliver_in_background(self, update: JSON) -> None:
        task = asyncio.create_task(self._deliver_quietly(update))
        self._background.add(task)  # keep a reference until it is done
        task.add_done_callback(self._background.discard)

    async def _deliver_quietly(self, update: JSON) -> None:
        # A dead webhook is already noted in getWebhookInfo, as Telegram would.
        with contextlib.suppress(ConnectionError):
            await self.deliver(update)

    def _spawn_flush_to_webhook(self) -> None:
        queued, self._queued_updates = self._queued_updates, []
        for update in queued:
            self._deliver_in_background(update)

    # Bot API: getting updates

    async def _set_webhook(self, params: JSON) -> bool:
        url = optional_text(params, "url")
        if not url:  # Telegram: an empty url removes the webhook
            self._webhook = None
            return True
        if not url.startswith(("http://", "https://")):
            # Telegram insists on HTTPS; the sandbox also takes http:// for local servers.
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret_token = optional_text(params, "secret_token")
        if secret_token is not None and not _SECRET_TOKEN.fullmatch(secret_token):
            raise bad_request("secret token contains unallowed characters")
        self._set_allowed_updates(params.get("allowed_updates"))
        if flag(params, "drop_pending_updates"):
            self._queued_updates.clear()
        self._webhook = _Webhook(url, secret_token)
        self._spawn_flush_to_webhook()
        async with self._updates_changed:  # a waiting getUpdates must now fail
            self._poll_generation += 1
            self._updates_changed.notify_all()
        return True

    async def _delete_webhook(self, params: JSON) -> bool:
        self._webhook = None
        if flag(params, "drop_pending_updates"):
            self._queued_updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        webhook = self._webhook
        info: JSON = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queued_updates),
        }
        if webhook is not None:
            info["max_connections"] = 40
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
        wait_seconds = max(optional_int(params, "timeout") or 0, 0)
        return await self._wait_for_updates(limit, wait_seconds)

    def _confirm_updates(self, offset: int | None) -> None:
        """Forget updates before ``offset``; a negative offset keeps only the last ones."""
        if offset is None:
            return
        if offset < 0:
            self._queued_updates = self._queued_updates[offset:]
        else:
            self._queued_updates = [u for u in self._queued_updates if u["update_id"] >= offset]

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
                    raise webhook_conflict()
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                remaining = deadline - time.monotonic()
                if self._queued_updates or self._stopping or remaining <= 0:
                    return self._queued_updates[:limit]
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._updates_changed.wait()
