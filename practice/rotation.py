"""The daily prompt's rules, pure: which prompt comes next, themed weeks, the week ahead."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from prompts.catalog import Prompt


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
