"""Streaks, pure: days in a row with a check-in, in the group's zone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from core.localtime import local_date


def count_streak(moments: Iterable[datetime], zone_name: str, now: datetime) -> int:
    """Days in a row, ending today or yesterday (a streak lives until a whole day is missed)."""
    days = {local_date(moment, zone_name) for moment in moments}
    day = local_date(now, zone_name)
    if day not in days:
        day -= timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count
