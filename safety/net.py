"""The safety net: a message that may mean danger brings crisis lines to the member, at once,
in private, and an urgent alert to the coach. Nothing about it is said in the group."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import insert_if_new
from core.links import message_link
from core.longtext import cap
from core.models import Group, Member, SafetyAlert
from core.outbox import enqueue
from prompts.catalog import Library
from prompts.render import Templates
from safety.matcher import RiskMatcher

# The coach's alert quotes the words when there is no link to them (a private chat, a basic
# group); a long message is cut so the alert always fits one Telegram message.
QUOTE_LIMIT = 1000


class SafetyNet:
    """Checks every message with words; built once (the lexicon is compiled once)."""

    def __init__(
        self, *, library: Library, templates: Templates, coach_ids: tuple[int, ...]
    ) -> None:
        self._matcher = RiskMatcher(library)
        self._library = library
        self._templates = templates
        self._coach_ids = coach_ids

    async def check(
        self,
        session: AsyncSession,
        *,
        text: str | None,
        member: Member,
        group: Group | None,
        chat_id: int,
        message_id: int,
        now: datetime,
    ) -> bool:
        """Raise the alert if the message matches the risk lexicon; once per message."""
        phrase = self._matcher.find(text or "")
        if phrase is None or member.id is None:
            return False
        values = {
            "member_id": member.id,
            "chat_id": chat_id,
            "message_id": message_id,
            "phrase": phrase,
            "created_at": now,
        }
        if not await insert_if_new(session, SafetyAlert, values, ["chat_id", "message_id"]):
            return False
        resources = self._library.resources_for(group.country if group else None)
        await enqueue(
            session,
            key=f"safety:{chat_id}:{message_id}:member",
            chat_id=member.telegram_id,
            text=self._templates.render(
                "safety_resources", first_name=member.first_name, resources=resources
            ),
            now=now,
        )
        link = message_link(chat_id, message_id)
        alert = self._templates.render(
            "safety_alert",
            member=member,
            phrase=phrase,
            link=link,
            group=group,
            # Without a link to follow (a private chat, a basic group), the words come along.
            quoted=_quoted(text) if link is None else None,
        )
        for coach_id in self._coach_ids:
            await enqueue(
                session,
                key=f"safety:{chat_id}:{message_id}:coach:{coach_id}",
                chat_id=coach_id,
                text=alert,
                now=now,
            )
        return True

    async def check_unnamed(
        self,
        session: AsyncSession,
        *,
        text: str | None,
        sender: str,
        anonymous_admin: bool,
        signature: str | None,
        group: Group | None,
        chat_id: int,
        message_id: int,
        now: datetime,
    ) -> bool:
        """A message sent as a chat (an anonymous admin, a channel): no person to send the
        crisis lines to, so the coach alone is alerted, with who it seems to be; once."""
        phrase = self._matcher.find(text or "")
        if phrase is None:
            return False
        link = message_link(chat_id, message_id)
        alert = self._templates.render(
            "safety_alert_unnamed",
            phrase=phrase,
            sender=sender,
            anonymous_admin=anonymous_admin,
            signature=signature,
            group=group,
            link=link,
            quoted=_quoted(text) if link is None else None,
        )
        sent = False
        for coach_id in self._coach_ids:
            sent |= await enqueue(
                session,
                key=f"safety:{chat_id}:{message_id}:coach:{coach_id}",
                chat_id=coach_id,
                text=alert,
                now=now,
            )
        return sent


def _quoted(text: str | None) -> str | None:
    return cap(text, QUOTE_LIMIT) if text else None
