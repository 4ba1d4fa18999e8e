"""Groups (cohorts): registering one, its settings, the admin rights the bot needs in it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    group.capacity = _capacity(capacity)


@dataclass(frozen=True)
class Schedule:
    """What a coach may change about a group, from the CLI (`between group set`) or the
    dashboard's settings form: one model, one set of checks (None: leave as it is)."""

    title: str | None = None
    capacity: int | None = None
    timezone: str | None = None
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
    trial_days: int | None = None
    promotion_codes: bool | None = None


class SettingsError(GroupError):
    """One or more settings are wrong; `problems` says which (by Schedule field) and why."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


def change_schedule(group: Group, schedule: Schedule) -> None:
    """Check every new value, then apply them all (or none: a SettingsError names each
    wrong one)."""
    changes, problems = _checked_changes(schedule)
    if problems:
        raise SettingsError(problems)
    for name, value in changes.items():
        setattr(group, name, value)


def _checked_changes(schedule: Schedule) -> tuple[dict[str, object], dict[str, str]]:
    """The group's columns to set, and what is wrong, by Schedule field."""
    checks: dict[str, tuple[str, Callable[[object], object]]] = {
        "title": ("title", _title),
        "capacity": ("capacity", _capacity),
        "timezone": ("timezone", lambda v: check_timezone(str(v))),
        "prompt_time": ("prompt_time", lambda v: _time(str(v), "prompt time")),
        "prompt_days": ("prompt_days", lambda v: _days(str(v), "prompt days")),
        "reply_days": ("reply_days", lambda v: _days(str(v), "reply days")),
        "reply_by": ("reply_by", lambda v: _time(str(v), "reply-by time")),
        "digest_time": ("digest_time", lambda v: _time(str(v), "digest time")),
        "quiet_days": ("quiet_days", _quiet_days),
        "qa_day": ("qa_weekday", lambda v: _one_day(str(v), "Q&A day")),
        "qa_time": ("qa_time", lambda v: _time(str(v), "Q&A time")),
        "qa_minutes": ("qa_minutes", _qa_minutes),
        "summary_day": ("summary_weekday", lambda v: _one_day(str(v), "summary day")),
        "summary_time": ("summary_time", lambda v: _time(str(v), "summary time")),
        "summary_approval": ("summary_needs_approval", bool),
        "country": ("country", _country),
        "trial_days": ("trial_days", _trial_days),
        "promotion_codes": ("promotion_codes", bool),
    }
    changes: dict[str, object] = {}
    problems: dict[str, str] = {}
    for name, (column, check) in checks.items():
        value = getattr(schedule, name)
        if value is None:
            continue
        try:
            changes[column] = check(value)
        except GroupError as error:
            problems[name] = str(error)
    return changes, problems


def schedule_from_form(fields: Mapping[str, str]) -> Schedule:
    """A Schedule from text fields as a web form sends them (every field present; the
    checkbox only when ticked); numbers that are not numbers are named like other errors."""
    problems: dict[str, str] = {}

    def number(name: str, what: str) -> int | None:
        text = fields.get(name, "").strip()
        if not text:
            return None
        if not text.isdigit():
            problems[name] = f"{what} {text!r} should be a whole number"
            return None
        return int(text)

    def words(name: str) -> str | None:
        text = fields.get(name, "").strip()
        return text or None

    schedule = Schedule(
        title=words("title"),
        capacity=number("capacity", "capacity"),
        timezone=words("timezone"),
        prompt_time=words("prompt_time"),
        prompt_days=words("prompt_days"),
        country=words("country"),
        reply_days=words("reply_days"),
        reply_by=words("reply_by"),
        digest_time=words("digest_time"),
        quiet_days=number("quiet_days", "quiet days"),
        qa_day=words("qa_day"),
        qa_time=words("qa_time"),
        qa_minutes=number("qa_minutes", "the Q&A's minutes"),
        summary_day=words("summary_day"),
        summary_time=words("summary_time"),
        summary_approval=fields.get("summary_approval") in ("on", "true", "1", "yes"),
        trial_days=number("trial_days", "trial days"),
        promotion_codes=fields.get("promotion_codes") in ("on", "true", "1", "yes"),
    )
    if problems:
        # Report these with whatever else is wrong, as one set.
        _, others = _checked_changes(schedule)
        raise SettingsError({**others, **problems})
    return schedule


def _title(value: object) -> str:
    title = str(value).strip()
    if not title or len(title) > 255:
        raise GroupError("the title should be 1 to 255 characters")
    return title


def _capacity(value: object) -> int:
    capacity = int(str(value))
    if not 1 <= capacity <= 500:
        raise GroupError("capacity should be between 1 and 500 seats")
    return capacity


def _quiet_days(value: object) -> int:
    days = int(str(value))
    if not 1 <= days <= 60:
        raise GroupError("quiet days should be between 1 and 60")
    return days


def _trial_days(value: object) -> int:
    days = int(str(value))
    # Stripe's subscription_data.trial_period_days: at least 1 and at most 730 (0 here: none).
    if not 0 <= days <= 730:
        raise GroupError("trial days should be between 0 (no trial) and 730")
    return days


def _qa_minutes(value: object) -> int:
    minutes = int(str(value))
    if not 15 <= minutes <= 240:
        raise GroupError("the Q&A lasts between 15 and 240 minutes")
    return minutes


def _country(value: object) -> str:
    code = str(value)
    if len(code) != 2 or not code.isalpha():
        raise GroupError(f"country {code!r} should be a two-letter code like GB")
    return code.upper()


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
