"""The coach's day as rules: when an answer comes, when a quiet member hears from us."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coaching.rules import (
    PromiseRecord,
    answer_by,
    gone_quiet,
    nudge_due,
    promise_figures,
    quiet_since,
    reminder_due,
    running_late,
    waited,
)
from core.localtime import describe_days, parse_days, parse_time

LONDON = "Europe/London"
SUN_TO_THU = parse_days("sun,mon,tue,wed,thu")
BY_EIGHT = parse_time("20:00")


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(LONDON))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-16 09:00", "2026-11-16 20:00"),  # Monday morning: tonight
        ("2026-11-16 20:30", "2026-11-17 20:00"),  # Monday, too late: Tuesday
        ("2026-11-19 21:00", "2026-11-22 20:00"),  # Thursday night: Sunday
        ("2026-11-20 10:00", "2026-11-22 20:00"),  # Friday: Sunday
        ("2027-03-27 12:00", "2027-03-28 20:00"),  # Saturday before the clocks go forward
        ("2026-10-24 12:00", "2026-10-25 20:00"),  # Saturday before they go back
    ],
)
def test_the_answer_comes_in_the_next_reply_window(now: str, expected: str) -> None:
    deadline = answer_by(london(now), zone=LONDON, days=SUN_TO_THU, by=BY_EIGHT)
    assert deadline == london(expected)


def test_the_window_on_a_dst_day_is_at_local_eight() -> None:
    spring = answer_by(london("2027-03-28 09:00"), zone=LONDON, days=SUN_TO_THU, by=BY_EIGHT)
    autumn = answer_by(london("2026-10-25 09:00"), zone=LONDON, days=SUN_TO_THU, by=BY_EIGHT)
    assert spring.astimezone(UTC).hour == 19  # BST
    assert autumn.astimezone(UTC).hour == 20  # GMT


JOINED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "nudged_at", "paused", "due"),
    [
        (JOINED + timedelta(days=3, hours=23), None, False, False),  # not quiet long enough
        (JOINED + timedelta(days=4), None, False, True),  # 12:00 London: humane
        (JOINED + timedelta(days=4, hours=10), None, False, False),  # 22:00: not now
        (JOINED + timedelta(days=4, hours=20), None, False, False),  # 08:00: not yet
        (JOINED + timedelta(days=4), None, True, False),  # /quiet
        (JOINED + timedelta(days=5), JOINED + timedelta(days=4), False, False),  # once a spell
        (JOINED + timedelta(days=8), None, False, False),  # long silence: the digest's turn
    ],
)
def test_a_gentle_check_in(
    now: datetime, nudged_at: datetime | None, paused: bool, due: bool
) -> None:
    assert (
        nudge_due(
            silent_since=JOINED,
            nudged_at=nudged_at,
            paused=paused,
            quiet_days=4,
            now=now,
            zone=LONDON,
        )
        is due
    )


def test_a_new_check_in_starts_a_new_spell() -> None:
    spoke = JOINED + timedelta(days=6)
    assert quiet_since(spoke, JOINED) == spoke
    assert quiet_since(None, JOINED) == JOINED
    nudged_in_the_last_spell = JOINED + timedelta(days=4)
    assert nudge_due(
        silent_since=spoke,
        nudged_at=nudged_in_the_last_spell,
        paused=False,
        quiet_days=4,
        now=spoke + timedelta(days=4),
        zone=LONDON,
    )
    assert gone_quiet(JOINED, quiet_days=4, now=JOINED + timedelta(days=4))


@pytest.mark.parametrize(
    ("minutes", "said"),
    [(30, "under an hour"), (150, "2 h"), (47 * 60, "47 h"), (72 * 60, "3 days")],
)
def test_how_long_someone_waited(minutes: int, said: str) -> None:
    assert waited(JOINED, JOINED + timedelta(minutes=minutes)) == said


@pytest.mark.parametrize(
    ("days", "said"),
    [
        ("sun,mon,tue,wed,thu", "Sunday to Thursday"),
        ("weekdays", "Monday to Friday"),
        ("daily", "every day"),
        ("fri,sat,sun,mon", "Friday to Monday"),
        ("mon,fri", "Monday, Friday"),
        ("mon,tue,thu,fri", "Monday, Tuesday, Thursday, Friday"),
    ],
)
def test_reply_days_said_as_a_person_would(days: str, said: str) -> None:
    assert describe_days(parse_days(days)) == said


# The reply promise: one reminder to the coach before the reply-by time, one honest note to
# the member after it, and the share kept.


@pytest.mark.parametrize(
    ("now", "due", "reminded", "expected"),
    [
        ("2026-11-16 17:59", "2026-11-16 20:00", False, False),  # too early
        ("2026-11-16 18:00", "2026-11-16 20:00", False, True),  # two hours before
        ("2026-11-16 19:59", "2026-11-16 20:00", False, True),
        ("2026-11-16 19:00", "2026-11-16 20:00", True, False),  # once
        ("2026-11-16 20:00", "2026-11-16 20:00", False, False),  # past: the late note's turn
        # Clocks go forward at 01:00 on 28 March 2027: 18:00 BST is still two hours before.
        ("2027-03-28 17:59", "2027-03-28 20:00", False, False),
        ("2027-03-28 18:00", "2027-03-28 20:00", False, True),
        # Clocks go back at 02:00 on 25 October 2026.
        ("2026-10-25 18:00", "2026-10-25 20:00", False, True),
        ("2026-10-25 17:30", "2026-10-25 20:00", False, False),
    ],
)
def test_the_coach_is_reminded_once_two_hours_before(
    now: str, due: str, reminded: bool, expected: bool
) -> None:
    assert reminder_due(london(due), london(now), reminded=reminded) is expected


def test_a_dst_reminder_is_two_real_hours_before_local_eight() -> None:
    # A member writes on the Saturday before each change; the promise is Sunday 20:00 local.
    for saturday, utc_hour in (("2027-03-27 12:00", 17), ("2026-10-24 12:00", 18)):
        due = answer_by(london(saturday), zone=LONDON, days=SUN_TO_THU, by=BY_EIGHT)
        start = next(
            london(saturday) + timedelta(minutes=15 * step)
            for step in range(400)
            if reminder_due(due, london(saturday) + timedelta(minutes=15 * step), reminded=False)
        )
        assert start.astimezone(UTC).hour == utc_hour
        assert due - start == timedelta(hours=2)


@pytest.mark.parametrize(
    ("now", "answered", "told", "late"),
    [
        ("2026-11-16 19:59", None, False, False),
        ("2026-11-16 20:00", None, False, True),
        ("2026-11-17 09:00", None, False, True),
        ("2026-11-17 09:00", None, True, False),  # told once
        ("2026-11-17 09:00", "2026-11-16 19:00", False, False),  # answered in time
        ("2026-11-17 09:00", "2026-11-17 08:00", False, False),  # answered late: no note now
    ],
)
def test_the_member_hears_once_that_the_coach_is_late(
    now: str, answered: str | None, told: bool, late: bool
) -> None:
    due = london("2026-11-16 20:00")
    answered_at = london(answered) if answered else None
    assert running_late(due, answered_at, london(now), told=told) is late


def test_the_share_kept_and_the_median_time_to_answer() -> None:
    now = london("2026-11-19 12:00")

    def record(made: str, due: str, answered: str | None) -> PromiseRecord:
        return PromiseRecord(london(made), london(due), london(answered) if answered else None)

    records = [
        record("2026-11-16 09:00", "2026-11-16 20:00", "2026-11-16 12:00"),  # kept, 3 h
        record("2026-11-17 07:00", "2026-11-17 20:00", "2026-11-18 08:00"),  # late, 25 h
        record("2026-11-18 10:00", "2026-11-18 20:00", None),  # broken, still open
        record("2026-11-19 09:00", "2026-11-19 20:00", None),  # not due yet
        record("2026-11-01 09:00", "2026-11-01 20:00", "2026-11-01 10:00"),  # weeks ago
    ]
    figures = promise_figures(records, now=now)
    assert (figures.kept, figures.due) == (1, 3)
    assert figures.share == pytest.approx(1 / 3)
    assert figures.median_answer == timedelta(hours=(3 + 25) / 2)
    assert figures.late_now == 1


def test_no_promises_yet_is_not_zero_percent() -> None:
    figures = promise_figures([], now=london("2026-11-19 12:00"))
    assert figures.share is None and figures.median_answer is None
