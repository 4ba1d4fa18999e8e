"""When an urgent alert nobody has answered is said again (pure: takes `now`, returns a decision).

An urgent alert is repeated 1 hour and 4 hours after it came, until a coach presses "I've
reached out". The coach's quiet hours (their night, in the group's zone) hold a repeat back
until they end, unless the coach asked for repeats at night too. Repeats that come due
together (a night's worth, or a worker that was away) are said once, as the latest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from core.localtime import zone

REPEATS = (timedelta(hours=1), timedelta(hours=4))
# Something said in the window after a risk message that the bot cannot read (a voice note)
# is worth the coach's ear.
VOICE_AFTER_RISK = timedelta(days=7)


@dataclass(frozen=True)
class QuietHours:
    """A coach's night, as local wall-clock times; `at_night`: repeat anyway."""

    start: time
    end: time
    at_night: bool = False

    def holds(self, moment: datetime, zone_name: str) -> bool:
        """Whether `moment` falls in the quiet hours (which may run past midnight)."""
        if self.at_night or self.start == self.end:
            return False
        local = moment.astimezone(zone(zone_name)).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def after(self, moment: datetime, zone_name: str) -> datetime:
        """`moment`, or the end of the quiet hours it falls in."""
        if not self.holds(moment, zone_name):
            return moment
        local = moment.astimezone(zone(zone_name))
        end = datetime.combine(local.date(), self.end, tzinfo=local.tzinfo)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=local.tzinfo)
        # Wall-clock arithmetic through ZoneInfo: a DST change at night still ends at `end`.
        return end.astimezone(moment.tzinfo)


def repeat_due(
    created_at: datetime, now: datetime, *, quiet: QuietHours, zone_name: str
) -> int | None:
    """The number (1, 2) of the latest repeat due at `now`, or None."""
    due = None
    for number, delay in enumerate(REPEATS, start=1):
        when = quiet.after(created_at + delay, zone_name)
        if when <= now and not quiet.holds(now, zone_name):
            due = number
    return due


def said_delay(delay: timedelta) -> str:
    """How long ago, as the repeat says it: "1 hour", "4 hours", "9 hours"."""
    hours = int(delay.total_seconds() // 3600)
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, int(delay.total_seconds() // 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
