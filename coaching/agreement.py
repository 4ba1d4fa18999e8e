"""The group agreement in the group: posted and pinned when the coach sets the bot up, and
again only when its words change (the coach edits prompts/library/agreement.yaml)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from core.models import Group
from core.outbox import enqueue
from prompts.catalog import Agreement
from prompts.render import Templates


async def pin_agreement(
    session: AsyncSession, templates: Templates, agreement: Agreement, group: Group, now: datetime
) -> bool:
    """Post the agreement to the group, pinned; once per group and wording."""
    text = templates.render("group_agreement", agreement=agreement)
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return await enqueue(
        session,
        key=f"agreement:{group.id}:{version}",
        chat_id=group.chat_id,
        text=text,
        pin=True,
        now=now,
    )
