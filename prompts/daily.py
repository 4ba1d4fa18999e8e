"""The daily prompt's rules, pure: when it is due in the group's zone, and which prompt is next."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from prompts.library import Prompt

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = ",".join(WEEKDAYS)
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ALIASES = {"daily": EVERY_DAY, "weekdays": "mon,tue,wed,thu,fri", "weekends": "sat,sun"}


class ScheduleError(ValueError):
    """A prompt time or day list a coach can correct."""


def parse_time(text: str) -> time:
    """A time like 09:00; anything else is a ScheduleError saying what is expected."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ScheduleError(f"prompt time {text!r} should look like 09:00") from None


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
        raise ScheduleError("the prompt needs at least one day")
    return tuple(sorted(set(days)))


def format_days(days: Sequence[int]) -> str:
    return ",".join(WEEKDAYS[day] for day in days)


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
        return f"{_FULL_NAMES[first].title()} to {_FULL_NAMES[last].title()}"
    return ", ".join(_FULL_NAMES[day].title() for day in sorted(chosen))


def due_date(
    now: datetime, *, zone: str, at: time, days: Sequence[int], planned: bool = False
) -> date | None:
    """The local day whose prompt is due at `now`: a prompt day whose hour has come.

    Wall-clock comparison makes both DST days work: when the clocks jump over `at`, the prompt
    goes at the first minute after the jump; when they fall back and `at` happens twice, the
    day's prompt was already sent the first time, and the caller sends once per day.
    `planned`: the coach chose a prompt for today.
    """
    local = now.astimezone(ZoneInfo(zone))
    # A day the coach planned a prompt for is a prompt day, even a day off.
    if (local.weekday() not in days and not planned) or local.time() < at:
        return None
    return local.date()


def local_today(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


@dataclass(frozen=True)
class ThemedWeek:
    theme: str
    title: str


def week_theme(day: date, themed_weeks: Sequence[tuple[str, str]]) -> ThemedWeek | None:
    """The theme of the week (Monday to Sunday) `day` is in, taking the themed weeks in turn."""
    if not themed_weeks:
        return None
    # Weeks counted without end (day 1 was a Monday), so New Year doesn't break the turn.
    week = (day.toordinal() - 1) // 7
    theme, title = themed_weeks[week % len(themed_weeks)]
    return ThemedWeek(theme, title)


def next_prompt(
    prompts: Sequence[Prompt],
    history: Sequence[str],
    *,
    theme: str | None,
    reserved: Collection[str] = (),
) -> Prompt:
    """The next prompt: none comes back before the whole library was used; a themed week
    takes its theme's prompts first. `history` is the ids already sent, oldest first;
    `reserved` the ones the coach planned for later days."""
    known = {prompt.id for prompt in prompts}
    used: set[str] = set()
    for prompt_id in history:
        if prompt_id in known:
            used.add(prompt_id)
            if used == known:  # a full round is over; the next one starts fresh
                used = set()
    fresh = [prompt for prompt in prompts if prompt.id not in used]
    free = [prompt for prompt in fresh if prompt.id not in reserved] or fresh
    themed = [prompt for prompt in free if theme is not None and prompt.theme == theme]
    return (themed or free)[0]


@dataclass(frozen=True)
class PlannedDay:
    day: date
    prompt: Prompt | None
    state: str  # "sent", "planned", "skipped", "rotation", "no prompt (day off)"
    theme: ThemedWeek | None


def plan_days(
    start: date,
    count: int,
    *,
    prompts: Sequence[Prompt],
    history: Sequence[str],
    fixed: Mapping[date, tuple[str, str | None]],
    days: Sequence[int],
    themed_weeks: Sequence[tuple[str, str]],
) -> list[PlannedDay]:
    """What the coming days will bring: what was sent or set, and the rotation for the rest.

    `fixed` maps a day to its stored (state, prompt id): sent, planned or skipped.
    """
    by_id = {prompt.id: prompt for prompt in prompts}
    history = list(history)
    plan = []
    for offset in range(count):
        day = start + timedelta(days=offset)
        theme = week_theme(day, themed_weeks)
        state, prompt_id = fixed.get(day, ("rotation", None))
        if state == "skipped" or (state == "rotation" and day.weekday() not in days):
            plan.append(
                PlannedDay(day, None, "skipped" if state == "skipped" else "day off", theme)
            )
            continue
        if state == "sent":  # already in the history; its prompt may have left the library
            plan.append(PlannedDay(day, by_id.get(prompt_id or ""), state, theme))
            continue
        if prompt_id in by_id:
            prompt = by_id[prompt_id]
        else:
            later = {pid for d, (st, pid) in fixed.items() if d > day and st == "planned" and pid}
            theme_name = theme.theme if theme else None
            prompt = next_prompt(prompts, history, theme=theme_name, reserved=later)
        history.append(prompt.id)
        plan.append(PlannedDay(day, prompt, state, theme))
    return plan
