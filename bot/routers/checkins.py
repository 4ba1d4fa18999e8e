"""Every message of a member, in the group or in private, is a check-in; each one passes the
safety net. The bot never answers in the group."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import Magic
from bot.people import person
from coaching import threads
from core.clock import Clock
from core.models import EntryKind, Group, Member
from core.settings import Settings
from prompts import practice, safety
from prompts.library import Library
from prompts.render import Templates

GROUPS = {ChatType.GROUP, ChatType.SUPERGROUP}
WIN_TAG = "#win"


def create_router() -> Router:
    """Check-ins and edits; commands are left to the routers before this one."""
    router = Router(name="checkins")
    not_a_command = Magic(~F.text.startswith("/"))
    router.message.register(check_in, not_a_command, Magic(F.from_user.is_bot.is_(False)))
    router.edited_message.register(edit, Magic(F.from_user.is_bot.is_(False)))
    return router


def kind_of(message: Message) -> EntryKind | None:
    """What kind of check-in a message is; None for what isn't one (stickers, bare photos)."""
    if message.voice:
        return EntryKind.VOICE
    if message.video_note:
        return EntryKind.VIDEO_NOTE
    if message.photo and message.caption:
        return EntryKind.PHOTO
    if message.text:
        return EntryKind.WIN if WIN_TAG in message.text.lower() else EntryKind.TEXT
    return None


async def _where(
    message: Message, session: AsyncSession, clock: Clock
) -> tuple[Member, Group | None]:
    """The sender, and their group if the message counts there: in private, their group;
    in a group chat, that group if they have a seat in it."""
    assert message.from_user is not None
    member = await person(session, message.from_user, clock)
    chat_id = message.chat.id if message.chat.type in GROUPS else None
    return member, await practice.home_group(session, member, chat_id=chat_id)


async def check_in(
    message: Message,
    bot: Bot,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    templates: Templates,
    library: Library,
) -> None:
    """Keep a member's message; anyone's words pass the safety net."""
    member, group = await _where(message, session, clock)
    kind = kind_of(message)
    if group is not None and kind is not None:
        await _keep(message, bot, member, group, kind, session, clock, settings, templates)
    await _safety_net(message, member, group, session, clock, settings, templates, library)


async def _keep(
    message: Message,
    bot: Bot,
    member: Member,
    group: Group,
    kind: EntryKind,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    templates: Templates,
) -> None:
    """Keep the check-in; a private one also reaches the coach and is acknowledged."""
    await practice.record_message(
        session,
        member=member,
        group=group,
        chat_id=message.chat.id,
        message_id=message.message_id,
        kind=kind,
        text=message.text or message.caption,
        file_id=_file_id(message),
        duration_seconds=_duration(message),
        now=clock.now(),
    )
    if message.chat.type in GROUPS:
        return
    await threads.relay_to_coaches(
        session,
        bot,
        templates,
        message=message,
        member=member,
        group=group,
        coach_ids=settings.coach_telegram_ids,
        now=clock.now(),
    )
    await threads.acknowledge(session, templates, member=member, group=group, now=clock.now())


async def edit(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    templates: Templates,
    library: Library,
) -> None:
    """An edit updates the kept entry and is checked again."""
    words = message.text or message.caption
    await practice.record_edit(
        session,
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=words,
        now=clock.now(),
    )
    member, group = await _where(message, session, clock)
    await _safety_net(message, member, group, session, clock, settings, templates, library)


def _file_id(message: Message) -> str | None:
    if message.voice:
        return message.voice.file_id
    if message.video_note:
        return message.video_note.file_id
    return message.photo[-1].file_id if message.photo else None


def _duration(message: Message) -> int | None:
    if message.voice:
        return message.voice.duration
    return message.video_note.duration if message.video_note else None


async def _safety_net(
    message: Message,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    templates: Templates,
    library: Library,
) -> None:
    await safety.check_message(
        session,
        text=message.text or message.caption,
        member=member,
        group=group,
        chat_id=message.chat.id,
        message_id=message.message_id,
        library=library,
        templates=templates,
        coach_ids=settings.coach_telegram_ids,
        now=clock.now(),
    )
