"""Local time, the one place for it: times and days as a coach writes them, and moments in a
group's zone. Storage is UTC; a zone is used only to decide "09:00 local" and to display."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = ",".join(WEEKDAYS)
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ALIASES = {"daily": EVERY_DAY, "weekdays": "mon,tue,wed,thu,fri", "weekends": "sat,sun"}


class ScheduleError(ValueError):
    """A time or a list of days a coach can correct."""


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name` (looked up once per process)."""
    return ZoneInfo(name)


def parse_time(text: str) -> time:
    """A time like 09:00; anything else is a ScheduleError saying what is expected."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ScheduleError(f"{text!r} should look like 09:00") from None


def parse_days(text: str) -> tuple[int, ...]:
    """Days like mon,wed,fri or Monday, Friday or weekdays or daily, as numbers (Monday 0)."""
    names = _DAY_ALIASES.get(text.strip().lower(), text.strip().lower())
    days = []
    for name in (part.strip() for part in names.split(",") if part.strip()):
        short = name[:3]
        if short not in WEEKDAYS or name not in (short, _FULL_NAMES[WEEKDAYS.index(short)]):
            raise ScheduleError(f"unknown day {name!r}: use mon,tue,... or weekdays or daily")
        days.append(WEEKDAYS.index(short))
    if not days:
        raise ScheduleError("at least one day is needed")
    return tuple(sorted(set(days)))


def format_days(days: Sequence[int]) -> str:
    return ",".join(WEEKDAYS[day] for day in days)


def day_name(weekday: int) -> str:
    """Monday for 0, Sunday for 6."""
    return _FULL_NAMES[weekday].title()


def describe_days(days: Sequence[int]) -> str:
    """Days as a person says them: "every day", "Sunday to Thursday", "Monday, Friday"."""
    chosen = set(days)
    if len(chosen) == 7:
        return "every day"
    # The week is a circle: find where the run of chosen days starts (Sun-Thu wraps around).
    starts = [day for day in chosen if (day - 1) % 7 not in chosen]
    if len(starts) == 1 and len(chosen) >= 3:
        first = starts[0]
        last = (first + len(chosen) - 1) % 7
        return f"{day_name(first)} to {day_name(last)}"
    return ", ".join(day_name(day) for day in sorted(chosen))


def local_date(moment: datetime, zone_name: str) -> date:
    """The calendar day `moment` falls on in the zone."""
    return moment.astimezone(zone(zone_name)).date()


def at_local(day: date, at: time, zone_name: str) -> datetime:
    """The aware moment of wall-clock time `at` on `day` in the zone."""
    return datetime.combine(day, at, tzinfo=zone(zone_name))


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def day_due(
    now: datetime, *, zone_name: str, at: time, days: Sequence[int], any_day: bool = False
) -> date | None:
    """The local day whose wall-clock hour `at` has come at `now`, if it is one of `days`.

    Wall-clock comparison makes both DST days work: when the clocks jump over `at`, the day is
    due at the first minute after the jump; when they fall back and `at` happens twice, the
    caller acts once per day. `any_day`: due on this day even if it is not one of `days`.
    """
    local = now.astimezone(zone(zone_name))
    if (local.weekday() not in days and not any_day) or local.time() < at:
        return None
    return local.date()


def format_local(moment: datetime, zone_name: str) -> str:
    """A moment as the group reads it, e.g. "Monday 16 November, 09:00 (Europe/London)"."""
    return f"{moment.astimezone(zone(zone_name)):%A %-d %B, %H:%M} ({zone_name})"


def format_local_day(moment: datetime, zone_name: str) -> str:
    """The day a moment falls on where the group is, e.g. "Wednesday 9 December"."""
    return f"{moment.astimezone(zone(zone_name)):%A %-d %B}"
