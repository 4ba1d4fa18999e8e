"""How a coach names a member or a group in a command: when the name finds nobody (or is
missing), the coach is told how to name them, and the handler stops."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from core.groups import list_groups
from core.members import find_member
from core.models import Group, Member
from prompts.render import Templates


async def member_named(
    session: AsyncSession, handle: str, message: Message, templates: Templates
) -> Member | None:
    """The member a coach command names (@username or id); else the coach hears how to."""
    member = await find_member(session, handle)
    if member is None:
        await message.answer(templates.render("coach_no_member", handle=handle))
    return member


async def group_named(
    session: AsyncSession, words: Sequence[str], message: Message, templates: Templates
) -> Group | None:
    """The group a coach command names by chat id (none needed when there is one group)."""
    groups = await list_groups(session)
    if words:
        chosen = [g for g in groups if str(g.chat_id) == words[0]]
    else:
        chosen = groups if len(groups) == 1 else []
    if len(chosen) != 1:
        await message.answer(templates.render("coach_which_group", groups=groups))
        return None
    return chosen[0]
