"""How Stripe writes ids and times, and how its billing intervals add up.

An object's id is a prefix naming its type and random characters (cus_..., sub_...), a time is
whole seconds since the epoch, and a monthly or yearly interval keeps the day of the month,
falling back to the month's last day: a subscription started on 31 January renews on 30 April.
"""

from __future__ import annotations

import calendar
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

JSON = dict[str, Any]


def new_id(prefix: str) -> str:
    """A Stripe-looking object id, e.g. `cus_3f9a...`."""
    return f"{prefix}_{secrets.token_hex(12)}"


def unix_time(moment: datetime) -> int:
    """Seconds since the epoch, as Stripe writes every time."""
    return int(moment.timestamp())


def from_unix_time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def add_interval(start: datetime, interval: str, count: int) -> datetime:
    """`start` moved on by `count` billing intervals, keeping the day of month like Stripe."""
    if interval == "day":
        return start + timedelta(days=count)
    if interval == "week":
        return start + timedelta(weeks=count)
    months = count * (12 if interval == "year" else 1)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    # A subscription started on the 31st renews on the last day of shorter months.
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)
