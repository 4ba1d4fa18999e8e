"""A basic group upgraded to a supergroup: a new chat id, and the old one refusing.

Telegram makes new groups as basic groups and upgrades them to supergroups (an admin turns on
a setting that needs one, or the group grows); the chat id changes from -N to -100…. What a
bot sees, in the order of a real getUpdates dump: my_chat_member in the new supergroup (the
bot's status there, `from` the person who upgraded it), a service message in the old group
with migrate_to_chat_id (Client.cpp messageChatUpgradeTo), and message 1 of the new
supergroup (ids start again at 1) with migrate_from_chat_id, sent by GroupAnonymousBot on
behalf of the supergroup. Afterwards every call that writes to the old group or reads its
members answers 400 "group chat was upgraded to a supergroup chat" with
parameters.migrate_to_chat_id (Client.cpp check_chat_access); getChat on it still works.
Members, admins, the bot's rights, invite links and pending join requests carry over.
"""

from __future__ import annotations

import copy

from sandbox.telegram.chats import Group
from sandbox.telegram.errors import ActionRefused
from sandbox.telegram.links import LinksMixin
from sandbox.telegram.shapes import GROUP_ANONYMOUS_BOT_ID, JSON, group_json, is_supergroup_id


class MigrationMixin(LinksMixin):
    """Upgrading a basic group to a supergroup."""

    async def upgrade_group(self, chat_id: int, *, by_user_id: int, new_chat_id: int) -> int:
        """An admin upgrades the basic group; returns the supergroup's id (`new_chat_id`)."""
        old = self._require_group(chat_id)
        if old.is_supergroup or old.migrated_to is not None:
            raise ActionRefused(f"{chat_id} is not a basic group")
        self._require_admin(old, by_user_id)
        if not is_supergroup_id(new_chat_id) or new_chat_id in self._groups:
            raise ValueError(f"not a free supergroup id: {new_chat_id}")
        new = Group(
            new_chat_id,
            old.title,
            statuses=dict(old.statuses),
            rights=copy.deepcopy(old.rights),
            join_requests=dict(old.join_requests),
        )
        self._groups[new_chat_id] = new
        bot_before = self._member_json(Group(new_chat_id, old.title), self.bot_id)
        old.migrated_to = new_chat_id
        old.join_requests.clear()
        for link in self._invite_links.values():
            if link.chat_id == chat_id:
                link.chat_id = new_chat_id
        updates: list[JSON] = []
        if new.status(self.bot_id) in {"administrator", "member"}:
            updates.append(
                self._member_update(
                    "my_chat_member",
                    new,
                    by_user_id,
                    bot_before,
                    self._member_json(new, self.bot_id),
                )
            )
        moved = self._store_message(
            chat_id, by_user_id, "migrate_to_chat_id", {"migrate_to_chat_id": new_chat_id}
        )
        arrived = self._store_message(
            new_chat_id,
            GROUP_ANONYMOUS_BOT_ID,
            "migrate_from_chat_id",
            {"sender_chat": group_json(new_chat_id, new.title), "migrate_from_chat_id": chat_id},
        )
        if self._bot_sees_messages(new_chat_id):
            updates += [{"message": copy.deepcopy(m.raw)} for m in (moved, arrived)]
        for update in updates:
            await self.deliver(update)
        return new_chat_id
