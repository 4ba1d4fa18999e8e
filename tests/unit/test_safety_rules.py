"""When an unanswered urgent alert is said again: tables of datetimes, across a DST change."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from safety.rules import QuietHours, repeat_due, said_delay

NIGHT = QuietHours(time(22, 0), time(7, 0))
AT_NIGHT_TOO = QuietHours(time(22, 0), time(7, 0), at_night=True)


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created", "now", "quiet", "expected"),
    [
        (utc(17, 14), utc(17, 14, 59), NIGHT, None),
        (utc(17, 14), utc(17, 15), NIGHT, 1),
        (utc(17, 14), utc(17, 17, 59), NIGHT, 1),
        (utc(17, 14), utc(17, 18), NIGHT, 2),
        (utc(17, 14), utc(18, 9), NIGHT, 2),  # a worker away: the latest, once
        (utc(17, 21, 30), utc(17, 22, 30), NIGHT, None),  # held for the night
        (utc(17, 21, 30), utc(18, 6, 59), NIGHT, None),
        (utc(17, 21, 30), utc(18, 7), NIGHT, 2),  # both came due at night: one repeat
        (utc(17, 21, 30), utc(17, 22, 30), AT_NIGHT_TOO, 1),
        (utc(17, 5), utc(17, 7), NIGHT, 1),  # 06:00 was night: at 07:00
        (utc(17, 5), utc(17, 9), NIGHT, 2),
    ],
)
def test_repeat_due(
    created: datetime, now: datetime, quiet: QuietHours, expected: int | None
) -> None:
    assert repeat_due(created, now, quiet=quiet, zone_name="UTC") == expected


def test_the_night_ends_at_local_seven_across_the_clocks_going_back() -> None:
    # London, Sunday 25 October 2026: 02:00 BST becomes 01:00 GMT. 23:30 BST is 22:30 UTC.
    created = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)
    before_seven_local = datetime(2026, 10, 25, 6, 59, tzinfo=UTC)  # 06:59 GMT
    seven_local = datetime(2026, 10, 25, 7, 0, tzinfo=UTC)  # 07:00 GMT
    assert repeat_due(created, before_seven_local, quiet=NIGHT, zone_name="Europe/London") is None
    assert repeat_due(created, seven_local, quiet=NIGHT, zone_name="Europe/London") == 2


def test_quiet_hours_within_one_day_and_none() -> None:
    siesta = QuietHours(time(13, 0), time(15, 0))
    assert siesta.holds(utc(17, 14), "UTC") and not siesta.holds(utc(17, 15), "UTC")
    assert not QuietHours(time(0, 0), time(0, 0)).holds(utc(17, 3), "UTC")


@pytest.mark.parametrize(
    ("hours", "said"), [(1, "1 hour"), (4, "4 hours"), (9.5, "9 hours"), (0.5, "30 minutes")]
)
def test_said_delay(hours: float, said: str) -> None:
    from datetime import timedelta

    assert said_delay(timedelta(hours=hours)) == said
