"""Which queue an update waits in, how long it lives, and when a failed one is sent again.

This is what Telegram's Bot API server does with updates for a webhook (telegram-bot-api,
Client.cpp `add_update*` and WebhookActor.cpp, read at 01a3679):

- Every update goes into a delivery queue named after what it is about (the
  `webhook_queue_id` of Client.cpp): a chat's messages and edits share the chat's queue (a
  private chat's id is the person's), a person's button presses theirs (user id + 3<<33), a
  person's join requests and chat_member updates one queue across all chats (user id + 6<<33),
  the bot's own my_chat_member one per chat (chat id + 5<<33).
- Only the front update of a queue is ever in flight: WebhookActor keeps one entry per queue
  and schedules the next one only in `drop_event`, after a 2xx answer or a drop. So a failing
  update holds back every later update of its queue, while other queues go on.
- A failure (any answer outside 200-299, a refused or timed-out connection) is retried by
  `on_update_error`: the first time at once, then after 2, 4, 8, 16, 32 seconds, then after a
  random 60 to 120 seconds each time; a `Retry-After: N` header (0 to 3600) waits N instead and
  leaves the doubling where it was.
- There is no retry counter: an update is dropped ("Drop update") when its next try would come
  after it expires, 24 hours after the message's (or the event's) date, 150 seconds after a
  button press.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sandbox.telegram.shapes import JSON

# Client.cpp: the offsets that keep the kinds of queue apart.
_CALLBACK_QUERIES = 3 << 33
_MY_CHAT_MEMBER = 5 << 33
_CHAT_MEMBER = 6 << 33  # chat_member and chat_join_request share it
_PAYMENT_QUERIES = 4 << 33  # a person's shipping and pre-checkout queries

# Client.cpp: how long each kind of update may wait to be delivered, in seconds.
MESSAGE_LIFETIME = 86400
CALLBACK_QUERY_LIFETIME = 150
# WebhookActor.h / .cpp.
WEBHOOK_MAX_RESEND_TIMEOUT = 60
MAX_RETRY_AFTER = 3600


def update_type(update: JSON) -> str:
    """The kind of update: "message", "callback_query", ..."""
    return next((key for key in update if key != "update_id"), "")


def queue_key(update: JSON) -> int:
    """The delivery queue the update waits in (Client.cpp's webhook_queue_id)."""
    kind = update_type(update)
    body = update.get(kind) or {}
    if kind in {"message", "edited_message", "channel_post", "edited_channel_post"}:
        return int(body["chat"]["id"])
    if kind == "callback_query":
        return int(body["from"]["id"]) + _CALLBACK_QUERIES
    if kind == "my_chat_member":
        return int(body["chat"]["id"]) + _MY_CHAT_MEMBER
    if kind == "chat_member":
        return int(body["new_chat_member"]["user"]["id"]) + _CHAT_MEMBER
    if kind == "chat_join_request":
        return int(body["from"]["id"]) + _CHAT_MEMBER
    if kind in {"pre_checkout_query", "shipping_query"}:
        return int(body["from"]["id"]) + _PAYMENT_QUERIES
    # Anything else gets a queue of its own (Client.cpp: queue id 0 is made unique).
    return -int(update.get("update_id", 0)) - (1 << 60)


def expires_at(update: JSON, now: int) -> int:
    """The unix time after which Telegram no longer tries to deliver the update."""
    kind = update_type(update)
    body = update.get(kind) or {}
    if kind == "callback_query":
        return now + CALLBACK_QUERY_LIFETIME
    if kind in {"edited_message", "edited_channel_post"}:
        return int(body.get("edit_date") or body.get("date") or now) + MESSAGE_LIFETIME
    return int(body.get("date") or now) + MESSAGE_LIFETIME


@dataclass
class PendingUpdate:
    """An update waiting for its webhook (or for getUpdates), with its retry state."""

    update: JSON
    expires_at: int
    fail_count: int = 0
    delay: int = 1
    next_attempt_at: float = 0.0
    last_error: str = ""

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    def retry_after_failure(self, now: float, retry_after: int, rng: random.Random) -> bool:
        """WebhookActor::on_update_error: schedule the next try; False means drop it."""
        retry_after = min(max(retry_after, 0), MAX_RETRY_AFTER)
        next_delay = self.delay
        effective_delay = retry_after
        if retry_after == 0 and self.fail_count > 0:
            ceiling = rng.randint(WEBHOOK_MAX_RESEND_TIMEOUT, 2 * WEBHOOK_MAX_RESEND_TIMEOUT)
            next_delay = min(ceiling, next_delay * 2)
            effective_delay = next_delay
        if int(now) + effective_delay > self.expires_at:
            return False
        self.delay = next_delay
        self.next_attempt_at = now + effective_delay
        self.fail_count += 1
        return True
