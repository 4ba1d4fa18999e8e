"""The coach's day as pure rules: when replies come, when a quiet member gets a gentle note."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from core.localtime import at_local, local_date
from core.localtime import zone as zone_of

# A gentle check-in never arrives in the night or too early: between these local hours.
HUMANE_HOURS = (time(10, 0), time(19, 0))


def answer_by(now: datetime, *, zone: str, days: Sequence[int], by: time) -> datetime:
    """When the coach will have answered: today's window if it is still open, else the next."""
    today = local_date(now, zone)
    for offset in range(8):
        day = today + timedelta(days=offset)
        deadline = at_local(day, by, zone)
        if day.weekday() in days and deadline > now:
            return deadline
    raise ValueError("the coach has no reply days")


def quiet_since(last_entry: datetime | None, joined: datetime) -> datetime:
    """The start of a member's silence: their last check-in, or when they joined."""
    return max(last_entry, joined) if last_entry else joined


def nudge_due(
    *,
    silent_since: datetime,
    nudged_at: datetime | None,
    paused: bool,
    quiet_days: int,
    now: datetime,
    zone: str,
) -> bool:
    """One gentle note per quiet spell, after `quiet_days`, at a humane local hour.

    A silence twice as long goes on the coach's digest instead: more messages from a bot
    would not help.
    """
    if paused or (nudged_at is not None and nudged_at >= silent_since):
        return False
    silence = now - silent_since
    if silence < timedelta(days=quiet_days) or silence >= timedelta(days=2 * quiet_days):
        return False
    start, end = HUMANE_HOURS
    return start <= now.astimezone(zone_of(zone)).time() < end


def gone_quiet(silent_since: datetime, *, quiet_days: int, now: datetime) -> bool:
    """Quiet long enough for the coach to hear about it."""
    return now - silent_since >= timedelta(days=quiet_days)


def waited(since: datetime, now: datetime) -> str:
    """How long someone has waited, as a person would say it: "3 h", "2 days"."""
    hours = int((now - since).total_seconds() // 3600)
    if hours < 1:
        return "under an hour"
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"
