"""Groups (cohorts): registering one, its settings, the admin rights the bot needs in it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from core.localtime import ScheduleError, describe_days, format_days, parse_days, parse_time
from core.models import Group, OutboxMessage, OutboxState

T = TypeVar("T")

# What the bot must be allowed to do in the group, in the words Telegram's app uses.
REQUIRED_RIGHTS = {
    "can_invite_users": "Invite users via link",
    "can_restrict_members": "Ban users",
}
# What it works better with: taking the coach's /highlight out of the group, pinning the
# group agreement and the Q&A reminders.
WANTED_RIGHTS = {
    "can_delete_messages": "Delete messages",
    "can_pin_messages": "Pin messages",
}


class GroupError(ValueError):
    """A group setting a coach can fix (unknown zone, bad capacity)."""


@dataclass(frozen=True)
class BotRights:
    is_admin: bool
    can_invite_users: bool = False
    can_restrict_members: bool = False
    can_delete_messages: bool = False
    can_pin_messages: bool = False


def missing_rights(rights: BotRights) -> list[str]:
    """The rights the bot still lacks, named as Telegram's app names them."""
    if not rights.is_admin:
        return ["Administrator", *REQUIRED_RIGHTS.values()]
    return [label for name, label in REQUIRED_RIGHTS.items() if not getattr(rights, name)]


def missing_wanted_rights(rights: BotRights) -> list[str]:
    """The rights the bot works better with and lacks (none asked of a non-admin yet)."""
    if not rights.is_admin:
        return []
    return [label for name, label in WANTED_RIGHTS.items() if not getattr(rights, name)]


def check_timezone(name: str) -> str:
    """An IANA zone name such as Europe/London, or a GroupError saying what is wrong."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise GroupError(
            f"unknown time zone {name!r}: use an IANA name like Europe/London"
        ) from None
    return name


async def register_group(
    session: AsyncSession,
    *,
    chat_id: int,
    title: str,
    now: datetime,
    capacity: int | None = None,
    timezone: str | None = None,
    rights: BotRights | None = None,
) -> Group:
    """Create the group or update it (title, settings, the bot's rights); idempotent."""
    group = await find_group(session, chat_id=chat_id)
    if group is None:
        group = Group(chat_id=chat_id, title=title, created_at=now)
    group.title = title
    if capacity is not None:
        resize_group(group, capacity)
    if timezone is not None:
        group.timezone = check_timezone(timezone)
    if rights is not None:
        group.bot_can_invite = rights.is_admin and rights.can_invite_users
        group.bot_can_restrict = rights.is_admin and rights.can_restrict_members
    session.add(group)
    await session.flush()
    return group


def resize_group(group: Group, capacity: int) -> None:
    """A new number of seats (seats taken beyond it stay; no new ones are offered)."""
    if capacity < 1:
        raise GroupError("capacity must be at least 1")
    group.capacity = capacity


@dataclass(frozen=True)
class Schedule:
    """The times a coach may change (None: leave as it is)."""

    prompt_time: str | None = None
    prompt_days: str | None = None
    country: str | None = None
    reply_days: str | None = None
    reply_by: str | None = None
    digest_time: str | None = None
    quiet_days: int | None = None
    qa_day: str | None = None
    qa_time: str | None = None
    qa_minutes: int | None = None
    summary_day: str | None = None
    summary_time: str | None = None
    summary_approval: bool | None = None


def change_schedule(group: Group, schedule: Schedule) -> None:
    """Check and apply new times; a GroupError says what is wrong with which."""
    if schedule.prompt_time is not None:
        group.prompt_time = _time(schedule.prompt_time, "prompt time")
    if schedule.prompt_days is not None:
        group.prompt_days = _days(schedule.prompt_days, "prompt days")
    if schedule.reply_days is not None:
        group.reply_days = _days(schedule.reply_days, "reply days")
    if schedule.reply_by is not None:
        group.reply_by = _time(schedule.reply_by, "reply-by time")
    if schedule.digest_time is not None:
        group.digest_time = _time(schedule.digest_time, "digest time")
    if schedule.quiet_days is not None:
        if not 1 <= schedule.quiet_days <= 60:
            raise GroupError("quiet days should be between 1 and 60")
        group.quiet_days = schedule.quiet_days
    if schedule.qa_day is not None:
        group.qa_weekday = _one_day(schedule.qa_day, "Q&A day")
    if schedule.qa_time is not None:
        group.qa_time = _time(schedule.qa_time, "Q&A time")
    if schedule.qa_minutes is not None:
        if not 15 <= schedule.qa_minutes <= 240:
            raise GroupError("the Q&A lasts between 15 and 240 minutes")
        group.qa_minutes = schedule.qa_minutes
    if schedule.summary_day is not None:
        group.summary_weekday = _one_day(schedule.summary_day, "summary day")
    if schedule.summary_time is not None:
        group.summary_time = _time(schedule.summary_time, "summary time")
    if schedule.summary_approval is not None:
        group.summary_needs_approval = schedule.summary_approval
    if schedule.country is not None:
        if len(schedule.country) != 2 or not schedule.country.isalpha():
            raise GroupError(f"country {schedule.country!r} should be a two-letter code like GB")
        group.country = schedule.country.upper()


def _one_day(text: str, what: str) -> int:
    days = _checked(parse_days, text, f"{what}: ")
    if len(days) != 1:
        raise GroupError(f"{what} {text!r} should be one day, like wed")
    return days[0]


def _days(text: str, what: str) -> str:
    return format_days(_checked(parse_days, text, f"{what}: "))


def _time(text: str, what: str) -> str:
    # "prompt time '9am' should look like 09:00"
    return _checked(parse_time, text, f"{what} ").strftime("%H:%M")


def _checked(parse: Callable[[str], T], text: str, prefix: str) -> T:
    try:
        return parse(text)
    except ScheduleError as error:
        raise GroupError(f"{prefix}{error}") from None


def reply_days(group: Group | None) -> str:
    """The days the coach answers, as a person says them ("Sunday to Thursday"); before any
    group exists, the default days."""
    days = group.reply_days if group else str(Group.model_fields["reply_days"].default)
    return describe_days(parse_days(days))


async def find_group(session: AsyncSession, *, chat_id: int) -> Group | None:
    result = await session.exec(select(Group).where(col(Group.chat_id) == chat_id))
    return result.first()


async def list_groups(session: AsyncSession) -> list[Group]:
    result = await session.exec(select(Group).order_by(col(Group.id)))
    return list(result.all())


async def migrate_group(session: AsyncSession, *, old_chat_id: int, new_chat_id: int) -> bool:
    """Telegram upgraded a basic group to a supergroup with a new chat id: the group, and the
    messages still waiting to go to it, follow. True when the group moved now (False: moved
    before, or not one of ours). Past messages keep their old chat id: their message ids
    belong to it."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.chat_id) == old_chat_id)
        .where(col(OutboxMessage.state).in_([OutboxState.PENDING, OutboxState.SENDING]))
        .values(chat_id=new_chat_id)
    )
    group = await find_group(session, chat_id=old_chat_id)
    if group is None:
        return False
    if await find_group(session, chat_id=new_chat_id) is not None:
        raise GroupError(f"both {old_chat_id} and its new id {new_chat_id} are registered")
    group.chat_id = new_chat_id
    session.add(group)
    await session.flush()
    return True
