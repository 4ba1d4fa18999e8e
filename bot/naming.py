"""How a coach names a member or a group in a command: a name as the bot shows it ("Maya"),
an @username or an id. When the name finds nobody the coach is told how to name them; when it
finds several, the coach gets a button for each; either way the handler stops there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiogram.types import Message
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.groups import list_groups
from core.members import find_members, full_name
from core.models import Group, Member, Seat
from prompts.buttons import PickMember, button, markup
from prompts.render import Templates


@dataclass(frozen=True)
class Named:
    """A coach command's words: who (the name, perhaps several words) and which group."""

    who: str
    group_words: list[str]


def read_names(args: str | None) -> Named:
    """ "Maya Katz -1001234" → who "Maya Katz", group ["-1001234"]: a group's chat id is
    negative, a person's Telegram id never is."""
    words = (args or "").split()
    if words and words[-1].startswith("-") and words[-1][1:].isdigit():
        return Named(" ".join(words[:-1]), words[-1:])
    return Named(" ".join(words), [])


async def member_named(
    session: AsyncSession,
    handle: str,
    message: Message,
    templates: Templates,
    *,
    command: str = "",
    chat_id: int = 0,
) -> Member | None:
    """The member a coach command names; else the coach hears how to name them, or (several
    match) picks one with a button that runs `command` again for that person."""
    found = await find_members(session, handle)
    if len(found) == 1:
        return found[0]
    if not found or not command:
        await message.answer(templates.render("coach_no_member", handle=handle))
        return None
    rows = [
        [
            button(
                await _label(session, member),
                PickMember(command=command, member_id=member.id, chat_id=chat_id),
            )
        ]
        for member in found[:10]
        if member.id is not None
    ]
    await message.answer(
        templates.render("coach_which_member", handle=handle, count=len(found)),
        reply_markup=markup(*rows),
    )
    return None


async def _label(session: AsyncSession, member: Member) -> str:
    seat = (
        await session.exec(
            select(Seat.status)
            .where(col(Seat.member_id) == member.id)
            .order_by(col(Seat.id).desc())
        )
    ).first()
    handle = f" (@{member.username})" if member.username else ""
    return f"{full_name(member)}{handle} · {seat or 'no seat'}"


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
