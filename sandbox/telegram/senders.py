"""Group messages that are not from a person: anonymous admins, channels, automatic forwards.

Client.cpp create_message fills `from` with a stand-in when a message's sender is a chat:

- an admin with "Remain anonymous" on (or anyone writing "as the group"): `from` is
  GroupAnonymousBot (1087968824, is_bot true), `sender_chat` the group itself, and
  `author_signature` the admin's custom title if they have one;
- someone writing as one of their channels: `from` is Channel_Bot (136817688, is_bot true),
  `sender_chat` the channel;
- a post of the channel linked to a discussion group, forwarded there automatically: `from`
  is "Telegram" (777000, is_bot **false**), `sender_chat` the channel,
  `is_automatic_forward` true and a forward_origin of type "channel".

Callback queries always carry the real person, anonymous or not.
"""

from __future__ import annotations

import copy
import itertools

from sandbox.telegram.errors import ActionRefused
from sandbox.telegram.messages import MessagesMixin
from sandbox.telegram.shapes import (
    CHANNEL_BOT_ID,
    GROUP_ANONYMOUS_BOT_ID,
    JSON,
    SERVICE_NOTIFICATIONS_ID,
    channel_json,
    command_entities,
    group_json,
    text_content,
    unix_time,
)


class SendersMixin(MessagesMixin):
    """People writing in a group as something other than themselves."""

    # Created in TelegramSandbox.__init__.
    _channel_post_ids: itertools.count[int]

    async def admin_sends_anonymously(
        self, user_id: int, chat_id: int, *, text: str, signature: str | None = None
    ) -> JSON:
        """An admin with "Remain anonymous" writes in the group: the group is the sender."""
        group = self._require_group(chat_id)
        self._require_admin(group, user_id)
        self._require_person_in_group(user_id, chat_id)
        extra: JSON = {"sender_chat": group_json(chat_id, group.title)}
        if signature:
            extra["author_signature"] = signature
        return await self._chat_sends(chat_id, GROUP_ANONYMOUS_BOT_ID, text, extra)

    async def user_sends_as_channel(
        self, user_id: int, chat_id: int, *, channel_id: int, channel_title: str, text: str
    ) -> JSON:
        """A person writes in the group as one of their channels."""
        self._require_person_in_group(user_id, chat_id)
        extra = {"sender_chat": channel_json(channel_id, channel_title)}
        return await self._chat_sends(chat_id, CHANNEL_BOT_ID, text, extra)

    async def channel_post_forwarded(
        self, chat_id: int, *, channel_id: int, channel_title: str, text: str
    ) -> JSON:
        """The group's linked channel posts; Telegram forwards the post into the group."""
        self._require_group(chat_id)
        channel = channel_json(channel_id, channel_title)
        extra: JSON = {
            "sender_chat": channel,
            "is_automatic_forward": True,
            "forward_origin": {
                "type": "channel",
                "chat": channel,
                "message_id": next(self._channel_post_ids),
                "date": unix_time(self._now()),
            },
        }
        return await self._chat_sends(chat_id, SERVICE_NOTIFICATIONS_ID, text, extra)

    async def _chat_sends(self, chat_id: int, stand_in: int, text: str, extra: JSON) -> JSON:
        if not text.strip():
            raise ActionRefused("Telegram clients do not send empty messages")
        content = {**extra, **text_content(text, command_entities(text))}
        message = self._store_message(chat_id, stand_in, "text", content, text=text)
        update = {"message": copy.deepcopy(message.raw)}
        if self._bot_sees_messages(chat_id):
            await self.deliver(update)
        return update
