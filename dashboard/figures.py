"""The dashboard's figures as pure rules: they take `now` and plain data, and do no I/O."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

STRIP_DAYS = 28  # the strip of check-in days on the members list: the last four weeks
DRIFT_WINDOW = 14  # days: fewer check-ins in the last two weeks than in the two before


def strip(days_checked_in: set[date], today: date, *, days: int = STRIP_DAYS) -> list[bool]:
    """Whether the member checked in on each of the last `days` local days, oldest first."""
    return [today - timedelta(days=back) in days_checked_in for back in range(days - 1, -1, -1)]


def week_starts(this_monday: date, weeks: int) -> list[date]:
    """The Mondays of the last `weeks` local weeks, oldest first, this week last."""
    return [this_monday - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]


def drifting(
    days_checked_in: set[date],
    *,
    today: date,
    last_check_in: datetime | None,
    joined: datetime,
    quiet_days: int,
    now: datetime,
) -> str | None:
    """Why a member seems to be drifting away, in a few plain words; None when they are not.

    Quiet for `quiet_days` or more (the digest's rule), or checking in on half as many days
    in the last two weeks as in the two before (at least three days before, so one busy
    week is not a trend).
    """
    silent_since = max(last_check_in, joined) if last_check_in else joined
    quiet = (now - silent_since).days
    if quiet >= quiet_days:
        return f"quiet for {quiet} days"
    recent = sum(today - timedelta(days=back) in days_checked_in for back in range(DRIFT_WINDOW))
    before = sum(
        today - timedelta(days=back) in days_checked_in
        for back in range(DRIFT_WINDOW, 2 * DRIFT_WINDOW)
    )
    if before >= 3 and recent * 2 <= before:
        return f"{recent} days in the last two weeks, {before} in the two before"
    return None


@dataclass(frozen=True)
class ResponseTimes:
    """How the coach's answers came: hours from a member's first unanswered private message
    to the reply, and how many replies came by the time the member was promised."""

    answered: int
    median_hours: float | None
    promised: int  # waits whose promised time has come
    kept: int  # ... answered by then

    @property
    def kept_share(self) -> float | None:
        return self.kept / self.promised if self.promised else None


def response_times(
    messages: Iterable[datetime],
    replies: Iterable[datetime],
    *,
    promised_by: Callable[[datetime], datetime],
    now: datetime,
) -> ResponseTimes:
    """One member's waits, from their private messages and the coach's replies to them.

    A wait starts with the first private message after the last reply and ends with the next
    reply. `promised_by(start)` is when the member was told the coach would answer (the reply
    window the acknowledgement named). Until promise tracking is stored (issue 17 builds it
    in coaching/), the promise is recomputed from the group's reply days and reply-by time as
    they are now; a stored promise can be passed in through `promised_by` instead.
    """
    waits = _waits(sorted(messages), sorted(replies))
    hours = [(end - start).total_seconds() / 3600 for start, end in waits if end is not None]
    promised = kept = 0
    for start, end in waits:
        deadline = promised_by(start)
        if end is None and deadline > now:
            continue  # still within its window: neither kept nor broken yet
        promised += 1
        kept += end is not None and end <= deadline
    return ResponseTimes(
        answered=len(hours),
        median_hours=statistics.median(hours) if hours else None,
        promised=promised,
        kept=kept,
    )


def combine(times: Sequence[ResponseTimes], hours: Sequence[float]) -> ResponseTimes:
    """The group's figures from every member's (the median over every answered wait)."""
    return ResponseTimes(
        answered=sum(t.answered for t in times),
        median_hours=statistics.median(hours) if hours else None,
        promised=sum(t.promised for t in times),
        kept=sum(t.kept for t in times),
    )


def wait_hours(messages: Iterable[datetime], replies: Iterable[datetime]) -> list[float]:
    """Hours of every answered wait (for the group's median)."""
    return [
        (end - start).total_seconds() / 3600
        for start, end in _waits(sorted(messages), sorted(replies))
        if end is not None
    ]


def _waits(
    messages: Sequence[datetime], replies: Sequence[datetime]
) -> list[tuple[datetime, datetime | None]]:
    waits: list[tuple[datetime, datetime | None]] = []
    reply_index = 0
    start: datetime | None = None
    for moment in messages:
        # Replies before this message close the wait that was open.
        while reply_index < len(replies) and replies[reply_index] < moment:
            if start is not None:
                waits.append((start, replies[reply_index]))
                start = None
            reply_index += 1
        if start is None:
            start = moment
    if start is not None:
        later = [reply for reply in replies[reply_index:] if reply >= start]
        waits.append((start, later[0] if later else None))
    return waits


@dataclass(frozen=True)
class Tenure:
    """A seat's life, for churn: from when it was taken to when it ended (None: still on)."""

    started: datetime
    ended: datetime | None


@dataclass(frozen=True)
class MonthChurn:
    month: date  # the first day
    at_start: int
    ended: int

    @property
    def rate(self) -> float | None:
        return self.ended / self.at_start if self.at_start else None


def monthly_churn(
    tenures: Sequence[Tenure], months: Sequence[tuple[date, datetime, datetime]]
) -> list[MonthChurn]:
    """For each month (its first day, and its start and end as moments): the seats held at
    its start and how many of those ended within it."""
    churn: list[MonthChurn] = []
    for first_day, start, end in months:
        held = [t for t in tenures if t.started < start and (t.ended is None or t.ended >= start)]
        ended = sum(1 for t in held if t.ended is not None and t.ended < end)
        churn.append(MonthChurn(first_day, len(held), ended))
    return churn


def month_firsts(today: date, count: int) -> list[date]:
    """The first days of the last `count` months, oldest first, this month last."""
    firsts = [today.replace(day=1)]
    while len(firsts) < count:
        previous = firsts[-1] - timedelta(days=1)
        firsts.append(previous.replace(day=1))
    return list(reversed(firsts))
