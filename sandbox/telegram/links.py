"""Invite links, and how people come into a group: through a link, or by asking to join.

A bot with the right to invite users creates links (with a name cut to 32 characters, an
expiry date, and either a member limit or the need for an admin's approval) and may revoke
them; basic groups have links and join requests as supergroups do. Joining through a link
counts towards its limit. A link that needs approval makes a join request instead, which the
bot gets as a chat_join_request update and approves or declines (or another admin handles
first: then the bot's answer fails with HIDE_REQUESTER_MISSING, or USER_ALREADY_PARTICIPANT
once the person is in); while it waits, the bot may write to the applicant for five minutes.
Nobody comes into a group they are banned from or already in.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sandbox.telegram.api import flag, optional_int, optional_text
from sandbox.telegram.chats import IN_CHAT, ChatsMixin, Group
from sandbox.telegram.errors import ActionRefused, bad_request
from sandbox.telegram.shapes import (
    JSON,
    InviteLink,
    group_json,
    join_request_json,
    unix_time,
    user_json,
)

MAX_INVITE_LINK_NAME_LENGTH = 32
_NO_LINKS_IN_PRIVATE = "can't invite members to a private chat"
# A join request lets the bot write to the applicant for this long, until it is handled.
JOIN_REQUEST_CONTACT_WINDOW = timedelta(minutes=5)


class LinksMixin(ChatsMixin):
    """Invite links, joining, and join requests."""

    # Created in TelegramSandbox.__init__.
    _invite_links: dict[str, InviteLink]

    # People act

    async def join_request(
        self, user_id: int, chat_id: int, *, invite_link: str | None = None
    ) -> JSON:
        """The person asks to join the group, through one of the bot's links or without."""
        applicant = self.user(user_id)
        group = self._require_group(chat_id)
        self._require_may_enter(group, user_id)
        link = self._usable_link(chat_id, invite_link) if invite_link else None
        if link is not None and not link.creates_join_request:
            raise ActionRefused("this link lets people in directly; use user_joins()")
        group.join_requests[user_id] = invite_link
        self._applicant_contact_until[user_id] = self._now() + JOIN_REQUEST_CONTACT_WINDOW
        update = {
            "chat_join_request": join_request_json(
                chat=group_json(chat_id, group.title),
                applicant=user_json(applicant),
                date=self._now(),
                invite_link=self._link_json(link) if link else None,
            )
        }
        if self._bot_has_right(group, "can_invite_users"):
            await self.deliver(update)
        return update

    async def user_joins(
        self, user_id: int, chat_id: int, *, invite_link: str | None = None
    ) -> JSON:
        """The person joins the group directly (chat_member: left → member)."""
        self.user(user_id)
        group = self._require_group(chat_id)
        self._require_may_enter(group, user_id)
        link = self._usable_link(chat_id, invite_link) if invite_link else None
        if link is not None and link.creates_join_request:
            raise ActionRefused("this link needs an admin's approval; use join_request()")
        if link is not None:
            link.joined_count += 1
        old_member = self._member_json(group, user_id)
        group.statuses[user_id] = "member"
        update = self._member_update(
            "chat_member",
            group,
            user_id,
            old_member,
            self._member_json(group, user_id),
            invite_link=self._link_json(link) if link else None,
        )
        # The "joined" notice is in the chat before the bot can react to the arrival.
        notices = self._arrival_notice(group, user_id, by_user_id=user_id)
        if self._bot_is_admin(group):
            await self.deliver(update)
        for notice in notices:
            await self.deliver(notice)
        return update

    async def admin_handles_join_request(
        self, chat_id: int, user_id: int, *, by_user_id: int, approve: bool
    ) -> None:
        """Another admin approves or declines a pending request in Telegram's app; the bot's
        own answer to it then fails (USER_ALREADY_PARTICIPANT, HIDE_REQUESTER_MISSING)."""
        group = self._require_group(chat_id)
        self._require_admin(group, by_user_id)
        if user_id not in group.join_requests:
            raise ActionRefused(f"user {user_id} has no pending request in {chat_id}")
        url = group.join_requests.pop(user_id)
        self._applicant_contact_until.pop(user_id, None)
        if not approve:
            return
        link = self._invite_links.get(url) if url else None
        if link is not None:
            link.joined_count += 1
        old_member = self._member_json(group, user_id)
        group.statuses[user_id] = "member"
        update = self._member_update(
            "chat_member",
            group,
            by_user_id,
            old_member,
            self._member_json(group, user_id),
            invite_link=self._link_json(link) if link else None,
            via_join_request=True,
        )
        notices = self._arrival_notice(group, user_id, by_user_id=user_id)
        if self._bot_is_admin(group):
            await self.deliver(update)
        for notice in notices:
            await self.deliver(notice)

    # Helpers

    def _require_may_enter(self, group: Group, user_id: int) -> None:
        status = group.status(user_id)
        if status in IN_CHAT:
            raise ActionRefused(f"user {user_id} is already in group {group.chat_id}")
        if status == "kicked":
            raise ActionRefused(f"user {user_id} is banned from group {group.chat_id}")

    def _usable_link(self, chat_id: int, url: str) -> InviteLink:
        link = self._invite_links.get(url)
        if link is None or link.chat_id != chat_id:
            raise ActionRefused(f"{url} is not an invite link of {chat_id}")
        if link.is_revoked:
            raise ActionRefused(f"{url} was revoked")
        if link.expire_date is not None and unix_time(self._now()) >= link.expire_date:
            raise ActionRefused(f"{url} has expired")
        if link.member_limit is not None and link.joined_count >= link.member_limit:
            raise ActionRefused(f"{url} has reached its member limit")
        return link

    def _link_json(self, link: InviteLink) -> JSON:
        group = self._groups[link.chat_id]
        pending = sum(1 for url in group.join_requests.values() if url == link.invite_link)
        return link.to_json(pending)

    # Bot API: invite links and join requests

    async def _create_chat_invite_link(self, params: JSON) -> JSON:
        group = self._target_group(params, private_refusal=_NO_LINKS_IN_PRIVATE)
        self._require_bot_right(
            group, "can_invite_users", "not enough rights to manage chat invite link"
        )
        name = optional_text(params, "name")
        if name is not None:  # TDLib clean_name: cut, not refused
            name = name[:MAX_INVITE_LINK_NAME_LENGTH] or None
        # Clamped to 0..100000, and 0 means no limit.
        member_limit = min(max(optional_int(params, "member_limit") or 0, 0), 100_000) or None
        creates_join_request = flag(params, "creates_join_request")
        if member_limit is not None and creates_join_request:
            raise bad_request(
                "member limit can't be specified for links requiring administrator approval"
            )
        link = InviteLink(
            invite_link=self._new_invite_url(),
            chat_id=group.chat_id,
            creator=self._sender_json(self.bot_id),
            creates_join_request=creates_join_request,
            name=name,
            expire_date=optional_int(params, "expire_date"),
            member_limit=member_limit,
        )
        self._invite_links[link.invite_link] = link
        return self._link_json(link)

    def _new_invite_url(self) -> str:
        while True:
            url = f"https://t.me/+{secrets.token_urlsafe(12)}"
            if url not in self._invite_links:
                return url

    async def _revoke_chat_invite_link(self, params: JSON) -> JSON:
        group = self._target_group(params, private_refusal=_NO_LINKS_IN_PRIVATE)
        self._require_bot_right(
            group, "can_invite_users", "not enough rights to manage chat invite link"
        )
        link = self._invite_links.get(optional_text(params, "invite_link") or "")
        if link is None or link.chat_id != group.chat_id:
            raise bad_request("INVITE_HASH_EXPIRED")
        link.is_revoked = True
        return self._link_json(link)

    def _pending_applicant(self, params: JSON) -> tuple[Group, int]:
        group = self._target_group(params, private_refusal="the chat can't have join requests")
        self._require_bot_right(
            group, "can_invite_users", "not enough rights to manage chat join requests"
        )
        user_id = self._target_user(params)
        if user_id not in group.join_requests:
            if group.status(user_id) in IN_CHAT:
                raise bad_request("USER_ALREADY_PARTICIPANT")
            raise bad_request("HIDE_REQUESTER_MISSING")
        return group, user_id

    async def _approve_chat_join_request(self, params: JSON) -> bool:
        group, user_id = self._pending_applicant(params)
        url = group.join_requests.pop(user_id)
        self._applicant_contact_until.pop(user_id, None)
        link = self._invite_links.get(url) if url else None
        if link is not None:
            link.joined_count += 1
        await self._change_status(
            group,
            user_id,
            "member",
            invite_link=self._link_json(link) if link else None,
            via_join_request=True,
        )
        return True

    async def _decline_chat_join_request(self, params: JSON) -> bool:
        group, user_id = self._pending_applicant(params)
        del group.join_requests[user_id]
        self._applicant_contact_until.pop(user_id, None)
        return True
