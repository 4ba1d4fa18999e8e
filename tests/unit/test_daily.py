"""The daily prompt's rules: once per local day (DST too), which days, which prompt, streaks."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.localtime import ScheduleError, day_due, format_days, parse_days, parse_time
from practice.rotation import next_prompt, plan_days, week_theme
from practice.streaks import count_streak
from prompts.catalog import Prompt

MINUTE = timedelta(minutes=1)
DAILY = parse_days("daily")
WEEKDAYS = parse_days("weekdays")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(zone: str, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def simulate_cron(
    zone: str, at: str, first: str, last: str, days: Sequence[int]
) -> list[tuple[date, datetime]]:
    """Run the worker's every-minute tick from local midnight of `first` to the end of `last`,
    sending once per local date as the unique (group, local_date) row does: (date, UTC instant)."""
    now = local(zone, f"{first} 00:00").astimezone(UTC)
    end = local(zone, f"{last} 00:00").astimezone(UTC) + timedelta(days=1)
    sent: set[date] = set()
    sends = []
    while now < end:
        day = day_due(now, zone_name=zone, at=parse_time(at), days=days)
        if day is not None and day not in sent:
            sent.add(day)
            sends.append((day, now))
        now += MINUTE
    return sends


def in_year(year: str, month_day_time: str) -> datetime:
    """ "03-28 01:00" in `year`, UTC: the tables below stay short."""
    return utc(f"{year}-{month_day_time}")


# --- exactly once per local day ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "at", "first", "sends"),
    [
        # London springs forward 01:00 GMT -> 02:00 BST on 2027-03-28.
        ("Europe/London", "09:00", "2027-03-27", ["03-27 09:00", "03-28 08:00", "03-29 08:00"]),
        # 01:30 never happens that day: the prompt goes at 02:00 BST, the first minute after.
        ("Europe/London", "01:30", "2027-03-27", ["03-27 01:30", "03-28 01:00", "03-29 00:30"]),
        # London falls back 02:00 BST -> 01:00 GMT on 2026-10-25.
        ("Europe/London", "09:00", "2026-10-24", ["10-24 08:00", "10-25 09:00", "10-26 09:00"]),
        # 01:30 happens twice: only the first one (BST, 00:30 UTC) sends.
        ("Europe/London", "01:30", "2026-10-24", ["10-24 00:30", "10-25 00:30", "10-26 01:30"]),
        # New York springs forward 02:00 EST -> 03:00 EDT on 2027-03-14.
        ("America/New_York", "09:00", "2027-03-13", ["03-13 14:00", "03-14 13:00", "03-15 13:00"]),
        ("America/New_York", "02:30", "2027-03-13", ["03-13 07:30", "03-14 07:00", "03-15 06:30"]),
        # New York falls back 02:00 EDT -> 01:00 EST on 2026-11-01.
        ("America/New_York", "09:00", "2026-10-31", ["10-31 13:00", "11-01 14:00", "11-02 14:00"]),
        ("America/New_York", "01:30", "2026-10-31", ["10-31 05:30", "11-01 05:30", "11-02 06:30"]),
        # Auckland's morning is the previous UTC evening; it springs forward on 2026-09-27.
        ("Pacific/Auckland", "09:00", "2027-01-14", ["01-13 20:00", "01-14 20:00", "01-15 20:00"]),
        ("Pacific/Auckland", "09:00", "2026-09-26", ["09-25 21:00", "09-26 20:00", "09-27 20:00"]),
        # Half-hour offset, no DST.
        ("Asia/Kolkata", "09:00", "2026-06-09", ["06-09 03:30", "06-10 03:30", "06-11 03:30"]),
    ],
)
def test_one_prompt_per_local_day_at_the_right_instant(
    zone: str, at: str, first: str, sends: list[str]
) -> None:
    start = date.fromisoformat(first)
    last = (start + timedelta(days=2)).isoformat()
    expected = [(start + timedelta(days=i), in_year(first[:4], s)) for i, s in enumerate(sends)]
    assert simulate_cron(zone, at, first, last, DAILY) == expected


@pytest.mark.parametrize(
    ("zone", "at", "last", "sends"),
    [
        # Auckland: Monday 09:00 is Sunday 20:00 UTC (sent); Saturday 09:00 is Friday in UTC.
        (
            "Pacific/Auckland",
            "09:00",
            "2027-01-19",
            {"01-15": "01-14 20:00", "01-18": "01-17 20:00", "01-19": "01-18 20:00"},
        ),
        # Los Angeles: Friday 18:00 is Saturday in UTC (sent); Sunday 18:00 is Monday in UTC.
        (
            "America/Los_Angeles",
            "18:00",
            "2027-01-18",
            {"01-15": "01-16 02:00", "01-18": "01-19 02:00"},
        ),
    ],
)
def test_weekdays_follow_the_local_calendar(
    zone: str, at: str, last: str, sends: dict[str, str]
) -> None:
    # From local Friday 2027-01-15: the weekend is local, whatever day it is in UTC.
    expected = [
        (date.fromisoformat(f"2027-{day}"), in_year("2027", s)) for day, s in sends.items()
    ]
    assert simulate_cron(zone, at, "2027-01-15", last, WEEKDAYS) == expected


# --- what a coach types -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "parsed"), [("09:00", time(9)), ("7:05", time(7, 5))])
def test_parse_time_accepts_hours_and_minutes(text: str, parsed: time) -> None:
    assert parse_time(text) == parsed


@pytest.mark.parametrize("text", ["9am", "25:00", "", "09:60", "nine"])
def test_parse_time_says_what_it_expects(text: str) -> None:
    with pytest.raises(ScheduleError, match="should look like 09:00"):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "days", "formatted"),
    [
        ("daily", (0, 1, 2, 3, 4, 5, 6), "mon,tue,wed,thu,fri,sat,sun"),
        ("weekdays", (0, 1, 2, 3, 4), "mon,tue,wed,thu,fri"),
        ("Weekends", (5, 6), "sat,sun"),
        ("mon,wed,fri", (0, 2, 4), "mon,wed,fri"),
        ("Monday, Friday", (0, 4), "mon,fri"),
        ("fri,mon,fri, MON", (0, 4), "mon,fri"),  # duplicates collapse, order is the week's
    ],
)
def test_parse_days_and_format_days_round_trip(
    text: str, days: tuple[int, ...], formatted: str
) -> None:
    assert parse_days(text) == days
    assert format_days(days) == formatted
    assert parse_days(format_days(days)) == days


@pytest.mark.parametrize(
    ("text", "message"),
    [("mon,xyz", "unknown day 'xyz'"), ("mo", "unknown day 'mo'"), (" , ", "at least one day")],
)
def test_parse_days_names_the_bad_day(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_days(text)


# --- which prompt -------------------------------------------------------------------------------


def prompt(prompt_id: str, theme: str | None) -> Prompt:
    return Prompt(prompt_id, f"text of {prompt_id}", theme, None)


LIBRARY = (
    *(prompt("rest-1", "rest"), prompt("rest-2", "rest")),
    *(prompt("wins-1", "wins"), prompt("wins-2", "wins")),
    *(prompt("shame-1", "shame"), prompt("loose", None)),
)
ALL_IDS = sorted(p.id for p in LIBRARY)


def rotate(history: Sequence[str], theme: str | None, count: int) -> list[str]:
    """Pick `count` prompts, feeding each back into the history the way a sent day does."""
    history = list(history)
    for _ in range(count):
        history.append(next_prompt(LIBRARY, history, theme=theme).id)
    return history[-count:]


@pytest.mark.parametrize("theme", [None, "rest", "wins", "shame", "no-such-theme"])
def test_each_round_uses_every_prompt_once_themed_ones_first(theme: str | None) -> None:
    themed = sorted(p.id for p in LIBRARY if theme is not None and p.theme == theme)
    picks = rotate([], theme, 3 * len(LIBRARY))
    for start in range(0, len(picks), len(LIBRARY)):
        one_round = picks[start : start + len(LIBRARY)]
        assert sorted(one_round) == ALL_IDS
        assert sorted(one_round[: len(themed)]) == themed


def test_an_exhausted_theme_falls_back_to_the_rest_in_library_order() -> None:
    picks = rotate(["rest-1"], "rest", 5)
    assert picks == ["rest-2", "wins-1", "wins-2", "shame-1", "loose"]


def test_prompts_removed_from_the_library_are_ignored_in_the_history() -> None:
    # "gone" was in the round; without it the current round is short by the 4 unused prompts.
    assert sorted(rotate(["gone", "rest-1", "wins-1"], None, 4)) == sorted(
        ["rest-2", "wins-2", "shame-1", "loose"]
    )
    # Every prompt still in the library was used: a new round starts, "gone" or not.
    assert rotate([*ALL_IDS, "gone"], None, 1) == ["rest-1"]


THEMED_WEEKS = [("rest", "Rest week"), ("wins", "Wins week"), ("shame", "Shame week")]


def test_no_themed_weeks_means_no_theme() -> None:
    assert week_theme(date(2027, 1, 11), []) is None


def test_a_whole_iso_week_has_one_theme() -> None:
    monday = date(2027, 1, 11)
    themes = {week_theme(monday + timedelta(days=i), THEMED_WEEKS) for i in range(7)}
    assert len(themes) == 1


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("first_monday", [date(2026, 11, 2), date(2027, 11, 1)])
def test_consecutive_weeks_take_the_themes_in_turn(count: int, first_monday: date) -> None:
    # Spans a new year: 2026 has 53 ISO weeks, 2027 has 52.
    themed_weeks = THEMED_WEEKS[:count]
    titles = [title for _, title in themed_weeks]
    previous = None
    for week in range(12):
        theme = week_theme(first_monday + timedelta(weeks=week), themed_weeks)
        assert theme is not None
        index = titles.index(theme.title)
        if previous is not None:
            assert index == (previous + 1) % count, f"week {week} after {previous}"
        previous = index


# --- the coach's plan ---------------------------------------------------------------------------

MONDAY = date(2027, 1, 11)


def plan(
    history: Sequence[str], fixed: dict[int, tuple[str, str | None]], days: Sequence[int]
) -> list[tuple[str, str | None]]:
    """(state, prompt id) for a week from MONDAY; `fixed` is keyed by day offset."""
    planned = plan_days(
        MONDAY,
        7,
        prompts=LIBRARY,
        history=history,
        fixed={MONDAY + timedelta(days=i): row for i, row in fixed.items()},
        days=days,
        themed_weeks=[],
    )
    assert [p.day for p in planned] == [MONDAY + timedelta(days=i) for i in range(7)]
    return [(p.state, p.prompt.id if p.prompt else None) for p in planned]


def test_the_plan_shows_sent_planned_skipped_days_off_and_the_rotation() -> None:
    fixed = {0: ("sent", "rest-1"), 1: ("planned", "loose"), 2: ("skipped", None)}
    assert plan(["rest-1"], fixed, WEEKDAYS) == [
        ("sent", "rest-1"),  # already in the history: not used up a second time
        ("planned", "loose"),
        ("skipped", None),
        ("rotation", "rest-2"),
        ("rotation", "wins-1"),
        ("day off", None),
        ("day off", None),
    ]


def test_the_rotation_does_not_send_a_prompt_planned_for_later_in_the_round() -> None:
    # The coach planned rest-2 for Wednesday; members should not get it on Tuesday as well.
    shown = [prompt_id for _, prompt_id in plan([], {2: ("planned", "rest-2")}, DAILY)][:6]
    assert len(set(shown)) == len(shown), shown


def test_a_planned_day_is_a_day_the_worker_sends() -> None:
    # What the plan promises the coach must be what day_due lets the worker send.
    at = parse_time("09:00")
    for offset, (state, prompt_id) in enumerate(plan([], {5: ("planned", "loose")}, WEEKDAYS)):
        day = MONDAY + timedelta(days=offset)
        noon = local("Europe/London", f"{day.isoformat()} 12:00")
        planned = state == "planned"
        sends = (
            day_due(noon, zone_name="Europe/London", at=at, days=WEEKDAYS, any_day=planned) == day
        )
        assert sends == (prompt_id is not None), f"{day:%A}: {state} {prompt_id}"


# --- streaks ------------------------------------------------------------------------------------


NY = "America/New_York"


@pytest.mark.parametrize(
    ("entries", "zone", "now", "streak"),
    [
        ([], NY, "11-10 20:00", 0),
        (["11-08 12:00", "11-09 12:00", "11-10 12:00"], NY, "11-10 20:00", 3),
        # Today has nothing yet: yesterday's streak is still alive.
        (["11-08 12:00", "11-09 12:00"], NY, "11-10 08:00", 2),
        # Tuesday was missed: only Wednesday counts.
        (["11-08 12:00", "11-10 12:00"], NY, "11-11 08:00", 1),
        # Yesterday and today missed: the streak is over.
        (["11-07 12:00", "11-08 12:00"], NY, "11-10 08:00", 0),
        # Two entries on Monday count once.
        (["11-09 08:00", "11-09 21:00", "11-10 07:00"], NY, "11-10 20:00", 2),
        # Across the fall-back day: a 25-hour day is still one day.
        (["10-31 12:00", "11-01 12:00", "11-02 12:00"], NY, "11-02 20:00", 3),
        # 23:30 and 00:30 New York time, an hour apart: two days there...
        (["11-09 23:30", "11-10 00:30"], NY, "11-10 20:00", 2),
        # ...but 04:30 and 05:30 UTC: one day in UTC.
        (["11-09 23:30", "11-10 00:30"], "UTC", "11-10 20:00", 1),
    ],
)
def test_count_streak(entries: list[str], zone: str, now: str, streak: int) -> None:
    # Entries and the clock are New York wall times in 2026; the streak is counted in `zone`.
    moments = [local(NY, f"2026-{entry}") for entry in entries]
    assert count_streak(moments, zone, local(NY, f"2026-{now}")) == streak
