"""The safety net: a message that may mean danger brings crisis lines to the member, at once,
in private, and an urgent alert to the coach. Nothing about it is said in the group."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import insert_if_new
from core.links import message_link
from core.models import Group, Member, SafetyAlert
from core.outbox import enqueue
from prompts.catalog import Library
from prompts.render import Templates
from safety.matcher import RiskMatcher


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
        alert = self._templates.render(
            "safety_alert",
            member=member,
            phrase=phrase,
            link=message_link(chat_id, message_id),
            group=group,
            # In a private chat the coach can't follow a link, so the words come with the alert.
            quoted=text if chat_id > 0 else None,
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
