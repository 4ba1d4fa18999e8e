"""How a trial's end is named to a member: its length in words, its day where the group is."""

from datetime import UTC, datetime

import pytest

from billing.notices import trial_length
from core.localtime import format_local_day


@pytest.mark.parametrize(
    ("days", "words"),
    [(7, "free week"), (14, "free fortnight"), (10, "free 10-day trial"), (1, "free day")],
)
def test_a_trial_is_named_by_its_length(days: int, words: str) -> None:
    assert trial_length(days) == words


@pytest.mark.parametrize(
    ("moment", "zone", "day"),
    [
        # Late evening in London is already the next day in Auckland.
        (datetime(2026, 12, 28, 23, 30, tzinfo=UTC), "Europe/London", "Monday 28 December"),
        (datetime(2026, 12, 28, 23, 30, tzinfo=UTC), "Pacific/Auckland", "Tuesday 29 December"),
        # The night the clocks go back: 03:30 UTC is 23:30 on Saturday in New York.
        (datetime(2026, 11, 1, 3, 30, tzinfo=UTC), "America/New_York", "Saturday 31 October"),
    ],
)
def test_the_trial_s_last_day_is_the_group_s_day(moment: datetime, zone: str, day: str) -> None:
    assert format_local_day(moment, zone) == day
