"""The coach's day as pure rules: when replies come, when a quiet member gets a gentle note."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
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
    return said_duration(now - since)


# The reply promise ("you'll hear back by ..."): the coach is reminded once before it, the
# member is told honestly once after it, and the coach sees how many were kept.

# The coach's one reminder comes this long before a reply-by time.
REMIND_BEFORE = timedelta(hours=2)
# "This week" for the promise figures: the seven days up to now.
PROMISE_WINDOW = timedelta(days=7)


def reminder_due(due_at: datetime, now: datetime, *, reminded: bool) -> bool:
    """The coach's reminder: once, in the last two hours before the reply-by time.

    Two real hours (aware datetimes subtract in UTC), so on a DST day it is still 18:00 local
    before a 20:00 promise: the clocks change in the night, not in the evening.
    """
    return not reminded and due_at - REMIND_BEFORE <= now < due_at


def running_late(
    due_at: datetime, answered_at: datetime | None, now: datetime, *, told: bool
) -> bool:
    """The reply-by time has passed unanswered, and the member hasn't been told yet."""
    return answered_at is None and not told and now >= due_at


@dataclass(frozen=True)
class PromiseRecord:
    """A promise as the figures see it: when the member wrote, when they were promised an
    answer, when it came."""

    made_at: datetime
    due_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class PromiseFigures:
    """The coach's promises of the last seven days: how many came due, how many were kept,
    the median time to answer, and how many are late right now."""

    due: int
    kept: int
    median_answer: timedelta | None
    late_now: int

    @property
    def share(self) -> float | None:
        return self.kept / self.due if self.due else None


def promise_figures(records: Sequence[PromiseRecord], *, now: datetime) -> PromiseFigures:
    """A promise counts once it is settled: answered in time (kept), or its time passed."""
    start = now - PROMISE_WINDOW
    due = kept = late_now = 0
    waits: list[float] = []
    for record in records:
        on_time = record.answered_at is not None and record.answered_at <= record.due_at
        settled = record.answered_at if on_time else record.due_at
        if settled is not None and start < settled <= now:
            due += 1
            kept += on_time
        if record.answered_at is not None and start < record.answered_at <= now:
            waits.append((record.answered_at - record.made_at).total_seconds())
        if record.answered_at is None and record.due_at <= now:
            late_now += 1
    median_answer = timedelta(seconds=statistics.median(waits)) if waits else None
    return PromiseFigures(due=due, kept=kept, median_answer=median_answer, late_now=late_now)


def said_duration(length: timedelta) -> str:
    """A length of time as a person says it: "under an hour", "3 h", "2 days"."""
    hours = int(length.total_seconds() // 3600)
    if hours < 1:
        return "under an hour"
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"
