"""Telegram's wire format: the JSON objects the Bot API sends.

Builders for users, chats, chat members, messages, files and updates, field by field as
Telegram writes them, and the records the sandbox keeps behind them: people, stored files and
invite links.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

JSON = dict[str, Any]

# Every right an administrator can hold; aiogram requires the first group on each admin.
ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
    "can_pin_messages",
    "can_manage_topics",
)

# Fields every ChatFullInfo carries; the sandbox has no colours, reactions or gifts to vary.
_FULL_INFO_DEFAULTS: JSON = {
    "accent_color_id": 0,
    "max_reaction_count": 11,
    "accepted_gift_types": {
        "unlimited_gifts": False,
        "limited_gifts": False,
        "unique_gifts": False,
        "premium_subscription": False,
        "gifts_from_channels": False,
    },
}


@dataclass
class SandboxUser:
    """A person in the sandbox's Telegram."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str = "en"

    @property
    def full_name(self) -> str:
        """First and last name, as Telegram shows them."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(frozen=True)
class StoredFile:
    """A file the sandbox has seen, under the ids Telegram gave it."""

    file_id: str
    file_unique_id: str
    file_size: int
    file_name: str | None = None
    mime_type: str | None = None


@dataclass
class InviteLink:
    """An invite link the bot created, and how it has been used."""

    invite_link: str
    chat_id: int
    creator: JSON
    creates_join_request: bool
    name: str | None = None
    expire_date: int | None = None
    member_limit: int | None = None
    is_revoked: bool = False
    joined_count: int = 0

    def to_json(self, pending_join_requests: int = 0) -> JSON:
        """The ChatInviteLink object."""
        link: JSON = {
            "invite_link": self.invite_link,
            "creator": self.creator,
            "creates_join_request": self.creates_join_request,
            "is_primary": False,
            "is_revoked": self.is_revoked,
        }
        optional = {
            "name": self.name,
            "expire_date": self.expire_date,
            "member_limit": self.member_limit,
            "pending_join_request_count": (
                pending_join_requests if self.creates_join_request else None
            ),
        }
        link.update({key: value for key, value in optional.items() if value is not None})
        return link


def unix_time(moment: datetime) -> int:
    """Seconds since the epoch, as Telegram writes dates."""
    return int(moment.timestamp())


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# Users and chats


def user_json(user: SandboxUser) -> JSON:
    """The User object for a person."""
    data: JSON = {"id": user.id, "is_bot": False, "first_name": user.first_name}
    if user.last_name:
        data["last_name"] = user.last_name
    if user.username:
        data["username"] = user.username
    if user.language_code:
        data["language_code"] = user.language_code
    return data


def bot_json(bot_id: int, first_name: str, username: str) -> JSON:
    """The User object for the bot."""
    return {"id": bot_id, "is_bot": True, "first_name": first_name, "username": username}


def private_chat_json(user: SandboxUser) -> JSON:
    """The Chat object of a person's private chat with the bot."""
    chat: JSON = {"id": user.id, "type": "private", "first_name": user.first_name}
    if user.last_name:
        chat["last_name"] = user.last_name
    if user.username:
        chat["username"] = user.username
    return chat


# Client.cpp get_supergroup_chat_id is -1000000000000 - id and get_basic_group_chat_id is -id,
# with td's ChatId::MAX_CHAT_ID = 999999999999: the shape of an id tells the kind of chat.
SUPERGROUP_ID_BASE = -1_000_000_000_000


def is_supergroup_id(chat_id: int) -> bool:
    """A supergroup's (or channel's) id, -100…; a basic group's is -1 … -999999999999."""
    return chat_id < SUPERGROUP_ID_BASE


def group_json(chat_id: int, title: str) -> JSON:
    """The Chat object of a group: a supergroup, or a basic group (type "group")."""
    if is_supergroup_id(chat_id):
        return {"id": chat_id, "type": "supergroup", "title": title}
    # Client.cpp still writes the old all_members_are_administrators for basic groups.
    basic: JSON = {"id": chat_id, "type": "group", "title": title}
    return {**basic, "all_members_are_administrators": False}


def channel_json(chat_id: int, title: str) -> JSON:
    """The Chat object of a channel (the sender_chat of a message sent as the channel)."""
    return {"id": chat_id, "type": "channel", "title": title}


# The stand-ins Telegram puts in `from` when a message has no sender user (Client.cpp
# create_message; the ids are TDLib options, UserManager.cpp).
GROUP_ANONYMOUS_BOT_ID = 1087968824
CHANNEL_BOT_ID = 136817688
SERVICE_NOTIFICATIONS_ID = 777000
GROUP_ANONYMOUS_BOT: JSON = {
    "id": GROUP_ANONYMOUS_BOT_ID, "is_bot": True, "first_name": "Group",
    "username": "GroupAnonymousBot",
}  # fmt: skip
CHANNEL_BOT: JSON = {
    "id": CHANNEL_BOT_ID, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"
}  # fmt: skip
SERVICE_NOTIFICATIONS: JSON = {
    "id": SERVICE_NOTIFICATIONS_ID, "is_bot": False, "first_name": "Telegram"
}  # fmt: skip


def full_info_json(chat: JSON) -> JSON:
    """The ChatFullInfo object getChat answers with."""
    return {**chat, **_FULL_INFO_DEFAULTS}


def chat_member_json(
    user: JSON,
    status: str,
    *,
    rights: dict[str, bool] | None = None,
    until_date: int = 0,
    supergroup: bool = True,
) -> JSON:
    """The ChatMember object for one status ("creator", "administrator", "kicked", ...)."""
    if status == "creator":
        return {"status": status, "user": user, "is_anonymous": False}
    if status == "administrator":
        granted = rights or {}
        member = {
            "status": status,
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            **{right: granted.get(right, False) for right in ADMIN_RIGHTS},
        }
        if not supergroup:  # a basic group has no topics
            member.pop("can_manage_topics")
        return member
    if status == "kicked":
        return {"status": status, "user": user, "until_date": until_date}
    return {"status": status, "user": user}


# Message contents


def text_content(text: str, entities: list[JSON]) -> JSON:
    """The text fields of a text message."""
    content: JSON = {"text": text}
    if entities:
        content["entities"] = entities
    return content


def caption_content(caption: str | None, entities: list[JSON]) -> JSON:
    """The caption fields of a media message (empty when there is no caption)."""
    if not caption:
        return {}
    content: JSON = {"caption": caption}
    if entities:
        content["caption_entities"] = entities
    return content


def command_entities(text: str) -> list[JSON]:
    """The bot_command entity Telegram clients add to a text starting with "/"."""
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_length(command)}]


def _file_fields(file: StoredFile) -> JSON:
    return {
        "file_id": file.file_id,
        "file_unique_id": file.file_unique_id,
        "file_size": file.file_size,
    }


def document_json(file: StoredFile) -> JSON:
    """The Document object."""
    document = _file_fields(file)
    if file.file_name:
        document["file_name"] = file.file_name
    if file.mime_type:
        document["mime_type"] = file.mime_type
    return document


def voice_json(file: StoredFile, duration: int) -> JSON:
    """The Voice object."""
    return {**_file_fields(file), "duration": duration, "mime_type": file.mime_type or "audio/ogg"}


def video_note_json(file: StoredFile, duration: int) -> JSON:
    """The VideoNote object (round video, always square)."""
    return {**_file_fields(file), "length": 384, "duration": duration}


def photo_json(file: StoredFile) -> list[JSON]:
    """The photo sizes of a photo; the sandbox does not look inside images, so one size."""
    return [{**_file_fields(file), "width": 1280, "height": 960}]


# Updates (without update_id; delivering assigns it)


def chat_member_updated_json(
    *,
    chat: JSON,
    actor: JSON,
    date: datetime,
    old_member: JSON,
    new_member: JSON,
    invite_link: JSON | None = None,
    via_join_request: bool = False,
) -> JSON:
    """The ChatMemberUpdated object of chat_member and my_chat_member updates."""
    updated: JSON = {
        "chat": chat,
        "from": actor,
        "date": unix_time(date),
        "old_chat_member": old_member,
        "new_chat_member": new_member,
    }
    if invite_link is not None:
        updated["invite_link"] = invite_link
    if via_join_request:
        updated["via_join_request"] = True
    return updated


def join_request_json(
    *, chat: JSON, applicant: JSON, date: datetime, invite_link: JSON | None
) -> JSON:
    """The ChatJoinRequest object."""
    request: JSON = {
        "chat": chat,
        "from": applicant,
        "user_chat_id": applicant["id"],
        "date": unix_time(date),
    }
    if invite_link is not None:
        request["invite_link"] = invite_link
    return request


def callback_query_json(*, query_id: str, presser: JSON, message: JSON, data: str) -> JSON:
    """The CallbackQuery object of a press on an inline button."""
    return {
        "id": query_id,
        "from": presser,
        "message": message,
        # Telegram's chat_instance is an opaque per-chat string; derive a stable one.
        "chat_instance": str(abs(message["chat"]["id"]) * 7919),
        "data": data,
    }
