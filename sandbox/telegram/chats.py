"""People, groups, and who is in which chat with what status.

A group is a basic group (type "group", ids -1 … -999999999999) or a supergroup (type
"supergroup", ids -100…): Client.cpp get_basic_group_chat_id / get_supergroup_chat_id, so the
id alone tells them apart, and the sandbox makes a group of the kind its id says. In either
kind everyone has a status: creator, administrator (with a set of rights), member, left, or
kicked (banned, until a date or for good; supergroups only: Client.cpp
process_ban_chat_member_query in a basic group only removes the person, who may come back by
link, and unbanChatMember answers "method is available for supergroup and channel chats
only"). Each change of status is a chat_member update, which a bot gets only while it is an
administrator (my_chat_member for its own status, always, with `from` set to whoever made
the change: another admin who only changes the bot's rights included), and coming or going
also writes a "joined" or "left" service message into the group. A bot may write to a person
only once they have started a chat with it (or, for five minutes, once they asked to join a
group) and until they block it, and it may act in a group only as far as its status and
rights allow; the refusals name the kind of group ("bot was kicked from the group chat" /
"...supergroup chat"). A basic group upgraded to a supergroup (sandbox.telegram.migration)
refuses every call that writes to it or reads its members with its new id. This module answers
those questions for the other areas and serves the Bot API methods about chats and members
(getChat, getChatMember, banChatMember, leaveChat, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sandbox.telegram.api import chat_id_param, flag, optional_int
from sandbox.telegram.delivery import DeliveryMixin
from sandbox.telegram.errors import ActionRefused, bad_request, forbidden, group_upgraded
from sandbox.telegram.shapes import (
    ADMIN_RIGHTS,
    CHANNEL_BOT,
    GROUP_ANONYMOUS_BOT,
    JSON,
    SERVICE_NOTIFICATIONS,
    SandboxUser,
    bot_json,
    chat_member_json,
    chat_member_updated_json,
    full_info_json,
    group_json,
    is_supergroup_id,
    private_chat_json,
    unix_time,
    user_json,
)

if TYPE_CHECKING:
    from sandbox.telegram.messages import ChatMessage


BOT_FIRST_NAME = "Between (sandbox)"
BOT_USERNAME = "between_sandbox_bot"

# Statuses of someone who is in the chat.
IN_CHAT = frozenset({"creator", "administrator", "member"})
# Senders that are not people: `from` of messages sent as a chat (see sandbox.telegram.senders).
STAND_INS = {
    user["id"]: user for user in (GROUP_ANONYMOUS_BOT, CHANNEL_BOT, SERVICE_NOTIFICATIONS)
}


@dataclass
class Group:
    chat_id: int
    title: str
    statuses: dict[int, str] = field(default_factory=dict)  # user id (or the bot's) → status
    rights: dict[int, dict[str, bool]] = field(default_factory=dict)  # administrators only
    until_dates: dict[int, int] = field(default_factory=dict)  # banned ("kicked") users
    join_requests: dict[int, str | None] = field(default_factory=dict)  # applicant → link
    migrated_to: int | None = None  # a basic group upgraded to this supergroup

    @property
    def is_supergroup(self) -> bool:
        return is_supergroup_id(self.chat_id)

    @property
    def kind(self) -> str:
        """How refusals name it: "supergroup chat" or "group chat"."""
        return "supergroup chat" if self.is_supergroup else "group chat"

    def status(self, user_id: int) -> str:
        return self.statuses.get(user_id, "left")


class ChatsMixin(DeliveryMixin):
    """People and groups: statuses and rights, what the bot may do where, the member methods."""

    # Created in TelegramSandbox.__init__.
    bot_id: int
    _users: dict[int, SandboxUser]
    _open_private_chats: set[int]
    _blocked_by: set[int]
    _applicant_contact_until: dict[int, datetime]
    _groups: dict[int, Group]

    if TYPE_CHECKING:
        # Provided by MessagesMixin, which keeps every chat's messages, service messages too.
        def _store_message(
            self, chat_id: int, sender_id: int, kind: str, content: JSON
        ) -> ChatMessage: ...

    # The world

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
        started: bool = False,
    ) -> SandboxUser:
        """Create a person; they have no chat with the bot until they write to it, unless
        `started` (they pressed Start some time ago)."""
        if user_id <= 0 or user_id == self.bot_id or user_id in STAND_INS:
            raise ValueError(f"user ids are positive and not the bot's: {user_id}")
        user = SandboxUser(user_id, first_name, last_name, username, language_code)
        self._users[user_id] = user
        if started:
            self._open_private_chats.add(user_id)
        return user

    def add_group(self, chat_id: int, title: str, *, admins: Iterable[int] = ()) -> None:
        """Create a group of the kind its id says: -100… a supergroup, else a basic group.
        The first admin is its creator. The bot is not in it yet."""
        if chat_id >= 0 or chat_id == -1_000_000_000_000:
            raise ValueError(f"not a group chat id: {chat_id}")
        group = Group(chat_id, title)
        for position, admin_id in enumerate(admins):
            self.user(admin_id)
            group.statuses[admin_id] = "creator" if position == 0 else "administrator"
            group.rights[admin_id] = dict.fromkeys(ADMIN_RIGHTS, True)
        self._groups[chat_id] = group

    def block_bot(self, user_id: int) -> None:
        """The person blocks the bot: sends to them fail until they write again."""
        self.user(user_id)
        self._blocked_by.add(user_id)

    def members(self, chat_id: int) -> dict[int, str]:
        """Everyone the group knows, the bot included: user id → status."""
        return dict(self._require_group(chat_id).statuses)

    def chat_title(self, chat_id: int) -> str:
        """A group's title, or the person's name for a private chat."""
        if chat_id in self._groups:
            return self._groups[chat_id].title
        return self.user(chat_id).full_name

    def user(self, user_id: int) -> SandboxUser:
        """The person with this id."""
        try:
            return self._users[user_id]
        except KeyError:
            raise KeyError(f"unknown user {user_id}; add_user() them first") from None

    # People act

    async def bot_added_to_group(
        self,
        chat_id: int,
        *,
        by_user_id: int,
        as_admin: bool = True,
        can_invite_users: bool = True,
        can_restrict_members: bool = True,
        can_delete_messages: bool = True,
        can_pin_messages: bool = True,
    ) -> JSON:
        """An admin adds the bot to the group (my_chat_member), as administrator or member;
        with the bot already in, this changes its rights (no "joined" message then)."""
        group = self._require_group(chat_id)
        self._require_admin(group, by_user_id)
        was_in = group.status(self.bot_id) in IN_CHAT
        old_member = self._member_json(group, self.bot_id)
        if as_admin:
            rights = dict.fromkeys(ADMIN_RIGHTS, True)
            rights.update(
                can_invite_users=can_invite_users,
                can_restrict_members=can_restrict_members,
                can_delete_messages=can_delete_messages,
                can_pin_messages=can_pin_messages,
            )
            group.statuses[self.bot_id] = "administrator"
            group.rights[self.bot_id] = rights
        else:
            group.statuses[self.bot_id] = "member"
            group.rights.pop(self.bot_id, None)
        update = self._member_update(
            "my_chat_member", group, by_user_id, old_member, self._member_json(group, self.bot_id)
        )
        await self.deliver(update)
        if not was_in:
            for notice in self._arrival_notice(group, self.bot_id, by_user_id=by_user_id):
                await self.deliver(notice)
        return update

    async def admin_promotes(self, chat_id: int, user_id: int, *, by_user_id: int) -> None:
        """An admin makes someone in the group an administrator with every right."""
        group = self._require_group(chat_id)
        self._require_admin(group, by_user_id)
        self._require_person_in_group(user_id, chat_id)
        old_member = self._member_json(group, user_id)
        group.statuses[user_id] = "administrator"
        group.rights[user_id] = dict.fromkeys(ADMIN_RIGHTS, True)
        update = self._member_update(
            "chat_member", group, by_user_id, old_member, self._member_json(group, user_id)
        )
        if self._bot_is_admin(group):
            await self.deliver(update)

    async def admin_changes_bot_rights(
        self, chat_id: int, *, by_user_id: int, **rights: bool
    ) -> JSON:
        """Another admin changes only the bot's rights (administrator → administrator): a
        my_chat_member from that admin, and no service message (JsonChatMemberUpdated)."""
        group = self._require_group(chat_id)
        self._require_admin(group, by_user_id)
        if group.status(self.bot_id) != "administrator":
            raise ActionRefused(f"the bot is not an administrator of {chat_id}")
        unknown = set(rights) - set(ADMIN_RIGHTS)
        if unknown:
            raise ValueError(f"unknown rights: {sorted(unknown)}")
        old_member = self._member_json(group, self.bot_id)
        group.rights[self.bot_id] = {**group.rights[self.bot_id], **rights}
        update = self._member_update(
            "my_chat_member", group, by_user_id, old_member, self._member_json(group, self.bot_id)
        )
        await self.deliver(update)
        return update

    async def admin_removes_bot(self, chat_id: int, *, by_user_id: int) -> JSON:
        """An admin removes the bot: "kicked" from a supergroup, "left" a basic group."""
        group = self._require_group(chat_id)
        self._require_admin(group, by_user_id)
        if group.status(self.bot_id) not in IN_CHAT:
            raise ActionRefused(f"the bot is not in {chat_id}")
        old_member = self._member_json(group, self.bot_id)
        group.statuses[self.bot_id] = "kicked" if group.is_supergroup else "left"
        group.rights.pop(self.bot_id, None)
        update = self._member_update(
            "my_chat_member", group, by_user_id, old_member, self._member_json(group, self.bot_id)
        )
        await self.deliver(update)
        return update

    # People and the world, helpers

    def _require_group(self, chat_id: int) -> Group:
        try:
            return self._groups[chat_id]
        except KeyError:
            raise KeyError(f"unknown group {chat_id}; add_group() it first") from None

    def _require_admin(self, group: Group, user_id: int) -> None:
        if group.status(user_id) not in {"creator", "administrator"}:
            raise ActionRefused(f"user {user_id} is not an admin of {group.chat_id}")

    def _require_person_in_group(self, user_id: int, chat_id: int) -> None:
        group = self._require_group(chat_id)
        if group.migrated_to is not None:
            raise ActionRefused(f"{chat_id} is now the supergroup {group.migrated_to}")
        if group.status(user_id) not in IN_CHAT:
            raise ActionRefused(f"user {user_id} is not in group {chat_id}")

    def _arrival_notice(self, group: Group, user_id: int, *, by_user_id: int) -> list[JSON]:
        """Write "X joined the group"; returns the updates the bot gets for it (none or one)."""
        joined = {"new_chat_members": [self._sender_json(user_id)]}
        return self._service_message(group, by_user_id, "new_chat_members", joined)

    def _departure_notice(self, group: Group, user_id: int, *, by_user_id: int) -> list[JSON]:
        """Write "X left the group"; returns the updates the bot gets for it (none or one)."""
        left = {"left_chat_member": self._sender_json(user_id)}
        return self._service_message(group, by_user_id, "left_chat_member", left)

    def _service_message(
        self, group: Group, sender_id: int, kind: str, content: JSON
    ) -> list[JSON]:
        message = self._store_message(group.chat_id, sender_id, kind, content)
        if not self._bot_sees_messages(group.chat_id):
            return []
        return [{"message": copy.deepcopy(message.raw)}]

    def _member_json(self, group: Group, user_id: int) -> JSON:
        return chat_member_json(
            self._sender_json(user_id),
            group.status(user_id),
            rights=group.rights.get(user_id),
            until_date=group.until_dates.get(user_id, 0),
            supergroup=group.is_supergroup,
        )

    def _member_update(
        self,
        update_type: str,
        group: Group,
        actor_id: int,
        old_member: JSON,
        new_member: JSON,
        *,
        invite_link: JSON | None = None,
        via_join_request: bool = False,
    ) -> JSON:
        return {
            update_type: chat_member_updated_json(
                chat=group_json(group.chat_id, group.title),
                actor=self._sender_json(actor_id),
                date=self._now(),
                old_member=old_member,
                new_member=new_member,
                invite_link=invite_link,
                via_join_request=via_join_request,
            )
        }

    async def _change_status(
        self,
        group: Group,
        user_id: int,
        status: str,
        *,
        invite_link: JSON | None = None,
        via_join_request: bool = False,
    ) -> None:
        """Set a member's status, with the chat_member update and join/leave notice."""
        old_status = group.status(user_id)
        old_member = self._member_json(group, user_id)
        group.statuses[user_id] = status
        if status != "kicked":
            group.until_dates.pop(user_id, None)
        update = self._member_update(
            "chat_member",
            group,
            self.bot_id,
            old_member,
            self._member_json(group, user_id),
            invite_link=invite_link,
            via_join_request=via_join_request,
        )
        updates = [update] if self._bot_is_admin(group) else []
        if old_status not in IN_CHAT and status in IN_CHAT:
            updates += self._arrival_notice(group, user_id, by_user_id=user_id)
        elif old_status in IN_CHAT and status not in IN_CHAT:
            updates += self._departure_notice(group, user_id, by_user_id=self.bot_id)
        for each_update in updates:
            await self._emit(each_update)

    def _bot_sees_messages(self, chat_id: int) -> bool:
        group = self._groups.get(chat_id)
        return group is None or group.status(self.bot_id) in IN_CHAT

    def _bot_is_admin(self, group: Group) -> bool:
        return group.status(self.bot_id) == "administrator"

    def _bot_has_right(self, group: Group, right: str) -> bool:
        return self._bot_is_admin(group) and group.rights.get(self.bot_id, {}).get(right, False)

    def _sender_json(self, sender_id: int) -> JSON:
        if sender_id == self.bot_id:
            return bot_json(self.bot_id, BOT_FIRST_NAME, BOT_USERNAME)
        if sender_id in STAND_INS:
            return dict(STAND_INS[sender_id])
        return user_json(self.user(sender_id))

    def _chat_json(self, chat_id: int) -> JSON:
        if chat_id in self._groups:
            return group_json(chat_id, self._groups[chat_id].title)
        return private_chat_json(self.user(chat_id))

    # Bot API: access checks

    def _require_bot_in_group(self, group: Group, *, write: bool = True) -> None:
        if write and group.migrated_to is not None:
            raise group_upgraded(group.migrated_to)
        status = group.status(self.bot_id)
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {group.kind}")
        if status not in IN_CHAT:
            raise forbidden(f"bot is not a member of the {group.kind}")

    def _require_bot_right(self, group: Group, right: str, refusal: str) -> None:
        self._require_bot_in_group(group)
        if not self._bot_has_right(group, right):
            raise bad_request(refusal)

    def _require_chat_access(self, chat_id: int, *, write: bool = True) -> None:
        """The chat exists for the bot and it may act there (read, edit, delete)."""
        if chat_id in self._groups:
            self._require_bot_in_group(self._groups[chat_id], write=write)
            return
        if chat_id not in self._users or not self._may_write_privately(chat_id):
            raise bad_request("chat not found")
        if chat_id in self._blocked_by:
            raise forbidden("bot was blocked by the user")

    def _writable_chat(self, params: JSON) -> int:
        """The chat_id parameter, once sure the bot may send there."""
        chat_id = chat_id_param(params)
        if chat_id in self._groups:
            self._require_bot_in_group(self._groups[chat_id])
            return chat_id
        if chat_id not in self._users:
            raise bad_request("chat not found")
        if chat_id in self._blocked_by:
            raise forbidden("bot was blocked by the user")
        if not self._may_write_privately(chat_id):
            raise forbidden("bot can't initiate conversation with a user")
        return chat_id

    def _may_write_privately(self, user_id: int) -> bool:
        if user_id in self._open_private_chats:
            return True
        contact_until = self._applicant_contact_until.get(user_id)
        return contact_until is not None and self._now() < contact_until

    def _target_group(self, params: JSON, *, private_refusal: str | None = None) -> Group:
        chat_id = chat_id_param(params)
        if chat_id in self._groups:
            group = self._groups[chat_id]
            self._require_bot_in_group(group)
            return group
        if chat_id in self._users:
            raise bad_request(
                private_refusal or "method is available for supergroup and channel chats only"
            )
        raise bad_request("chat not found")

    def _target_user(self, params: JSON) -> int:
        user_id = optional_int(params, "user_id")
        if not user_id:  # Client.cpp get_user_id
            raise bad_request("invalid user_id specified")
        if user_id != self.bot_id and user_id not in self._users:
            raise bad_request("user not found")
        return user_id

    # Bot API: members

    def _member_to_restrict(
        self, params: JSON, *, private_refusal: str | None = None
    ) -> tuple[Group, int]:
        group = self._target_group(params, private_refusal=private_refusal)
        self._require_bot_right(
            group, "can_restrict_members", "not enough rights to restrict/unrestrict chat member"
        )
        return group, self._target_user(params)

    @staticmethod
    def _refuse_removing_admin(group: Group, user_id: int) -> None:
        status = group.status(user_id)
        if status == "creator":
            raise bad_request("can't remove chat owner")
        if status == "administrator":
            raise bad_request("user is an administrator of the chat")

    async def _ban_chat_member(self, params: JSON) -> bool:
        group, user_id = self._member_to_restrict(
            params, private_refusal="can't ban members in private chats"
        )
        self._refuse_removing_admin(group, user_id)
        group.join_requests.pop(user_id, None)
        if not group.is_supergroup:
            # TDLib ban_dialog_participant → delete_chat_participant: removed, not banned.
            if group.status(user_id) in IN_CHAT:
                await self._change_status(group, user_id, "left")
            return True
        until = optional_int(params, "until_date") or 0
        now = unix_time(self._now())
        # Telegram treats bans shorter than 30 s or longer than 366 days as forever.
        if until and not now + 30 <= until <= now + 366 * 86400:
            until = 0
        group.until_dates[user_id] = until
        await self._change_status(group, user_id, "kicked")
        return True

    async def _unban_chat_member(self, params: JSON) -> bool:
        group, user_id = self._member_to_restrict(params)
        if not group.is_supergroup:  # process_unban_chat_member_query
            raise bad_request("method is available for supergroup and channel chats only")
        status = group.status(user_id)
        if status == "kicked":
            await self._change_status(group, user_id, "left")
        elif not flag(params, "only_if_banned"):
            # Without only_if_banned, Telegram removes a current member too.
            self._refuse_removing_admin(group, user_id)
            if status == "member":
                await self._change_status(group, user_id, "left")
        return True

    async def _get_chat(self, params: JSON) -> JSON:
        chat_id = chat_id_param(params)
        self._require_chat_access(chat_id, write=False)
        return full_info_json(self._chat_json(chat_id))

    async def _get_chat_member(self, params: JSON) -> JSON:
        chat_id = chat_id_param(params)
        self._require_chat_access(chat_id)
        user_id = self._target_user(params)
        if chat_id in self._groups:
            return self._member_json(self._groups[chat_id], user_id)
        if user_id not in {chat_id, self.bot_id}:
            raise bad_request("user not found")
        return chat_member_json(self._sender_json(user_id), "member")

    async def _get_chat_administrators(self, params: JSON) -> list[JSON]:
        chat_id = chat_id_param(params)
        self._require_chat_access(chat_id)
        if chat_id not in self._groups:
            raise bad_request("there are no administrators in the private chat")
        group = self._groups[chat_id]
        return [
            self._member_json(group, user_id)
            for user_id, status in group.statuses.items()
            if status in {"creator", "administrator"}
        ]

    async def _get_chat_member_count(self, params: JSON) -> int:
        chat_id = chat_id_param(params)
        self._require_chat_access(chat_id)
        if chat_id not in self._groups:
            return 2
        return sum(1 for status in self._groups[chat_id].statuses.values() if status in IN_CHAT)

    async def _leave_chat(self, params: JSON) -> bool:
        chat_id = chat_id_param(params)
        if chat_id not in self._groups:
            self._require_chat_access(chat_id)
            raise bad_request("chat member status can't be changed in private chats")
        group = self._groups[chat_id]
        self._require_bot_in_group(group)
        old_member = self._member_json(group, self.bot_id)
        group.statuses[self.bot_id] = "left"
        group.rights.pop(self.bot_id, None)
        new_member = self._member_json(group, self.bot_id)
        await self._emit(
            self._member_update("my_chat_member", group, self.bot_id, old_member, new_member)
        )
        return True
