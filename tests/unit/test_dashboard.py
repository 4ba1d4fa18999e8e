"""The dashboard's pure parts: Telegram's signed launch data, the sealed session cookie, the
figures behind the numbers, the charts, and the one settings model the CLI and the form share."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from core.groups import Schedule, SettingsError, change_schedule, schedule_from_form
from core.models import Group
from dashboard import auth, charts, figures
from dashboard.auth import CoachSession, LoginRefused
from dashboard.figures import Tenure
from sandbox.telegram.mini_app import sign_init_data

TOKEN = "123456789:SANDBOX-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
COACH = 1001


def init_data(user_id: int = COACH, *, at: datetime = NOW, **extra: str) -> str:
    user = json.dumps({"id": user_id, "first_name": "Ada", "photo_url": "https://t.me/a.svg"})
    fields = {
        "query_id": "AAHq",
        "user": user.replace("/", "\\/"),
        "auth_date": str(int(at.timestamp())),
        "signature": "zL-ucjNy",
        **extra,
    }
    return sign_init_data(TOKEN, fields)


def test_launch_data_signed_with_the_bots_token_names_the_coach() -> None:
    coach, data_hash = auth.check_init_data(TOKEN, init_data(), now=NOW, coach_ids=(COACH,))
    assert coach == COACH and len(data_hash) == 64


def test_the_signature_field_is_part_of_what_telegram_hashed() -> None:
    # Hashed over every field but `hash` (signature included): dropping it breaks the hash.
    fields = dict(parse_qsl(init_data()))
    del fields["signature"]
    without = "&".join(f"{k}={v}" for k, v in fields.items())
    with pytest.raises(LoginRefused, match="not signed"):
        auth.check_init_data(TOKEN, without, now=NOW, coach_ids=(COACH,))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (init_data(2002), "coach only"),
        (init_data(at=NOW - timedelta(hours=1, minutes=1)), "too old"),
        (init_data(at=NOW + timedelta(minutes=10)), "too old"),
        (init_data().replace("Ada", "Eve"), "not signed"),
        (sign_init_data("42:another-bot-token-aaaaaaaaaaaaaaaa", {"auth_date": "1"}), "signed"),
        ("hash=abc", "not signed"),
        ("", "not signed"),
    ],
)
def test_launch_data_that_is_not_a_coachs_fresh_signed_data_is_refused(
    data: str, reason: str
) -> None:
    with pytest.raises(LoginRefused, match=reason):
        auth.check_init_data(TOKEN, data, now=NOW, coach_ids=(COACH,))


def test_a_sealed_session_opens_only_unchanged_unexpired_and_for_a_coach() -> None:
    key = auth.dashboard_key(TOKEN)
    sealed = auth.seal_session(key, CoachSession(COACH, NOW + timedelta(hours=12), False))
    assert auth.open_session(key, sealed, now=NOW, coach_ids=(COACH,)) == CoachSession(
        COACH, NOW + timedelta(hours=12), False
    )
    later = NOW + timedelta(hours=12)
    assert auth.open_session(key, sealed, now=later, coach_ids=(COACH,)) is None
    assert auth.open_session(key, sealed, now=NOW, coach_ids=(2002,)) is None
    forged = sealed.replace(f".{COACH}.", ".2002.")
    assert auth.open_session(key, forged, now=NOW, coach_ids=(COACH, 2002)) is None
    other_key = auth.dashboard_key("999:other")
    assert auth.open_session(other_key, sealed, now=NOW, coach_ids=(COACH,)) is None
    for junk in (None, "", "v1", "a.b.c.d.e.f"):
        assert auth.open_session(key, junk, now=NOW, coach_ids=(COACH,)) is None


def test_a_forms_csrf_token_belongs_to_its_session() -> None:
    key = auth.dashboard_key(TOKEN)
    token = auth.csrf_token(key, "cookie-a")
    assert auth.csrf_ok(key, "cookie-a", token)
    assert not auth.csrf_ok(key, "cookie-b", token)
    assert not auth.csrf_ok(key, "cookie-a", None)
    assert not auth.csrf_ok(key, "cookie-a", "")


# --- figures ----------------------------------------------------------------------------------


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def by_evening(start: datetime) -> datetime:
    """Promised: the same day at 20:00."""
    return start.replace(hour=20)


@pytest.mark.parametrize(
    ("messages", "replies", "median", "promised", "kept"),
    [
        ([], [], None, 0, 0),
        ([at(16)], [at(16, 13)], 4.0, 1, 1),  # answered the same afternoon
        ([at(16), at(16, 10)], [at(16, 21)], 12.0, 1, 0),  # one wait, answered late
        ([at(16), at(17)], [at(16, 11), at(17, 19)], 6.0, 2, 2),  # two waits, both in time
        ([at(16)], [], None, 1, 0),  # never answered, and the promise has passed
        ([at(18, 10)], [], None, 0, 0),  # waiting, but the promised time hasn't come
        ([at(16, 9)], [at(15)], None, 1, 0),  # a reply before the message answers nothing
    ],
)
def test_response_times(
    messages: list[datetime],
    replies: list[datetime],
    median: float | None,
    promised: int,
    kept: int,
) -> None:
    times = figures.response_times(messages, replies, promised_by=by_evening, now=NOW)
    assert (times.median_hours, times.promised, times.kept) == (median, promised, kept)


def test_the_strip_shows_the_last_four_weeks_oldest_first() -> None:
    today = date(2026, 11, 28)
    strip = figures.strip({today, today - timedelta(days=27), today - timedelta(days=40)}, today)
    assert len(strip) == 28 and strip[0] and strip[-1] and sum(strip) == 2


def test_who_is_drifting() -> None:
    today = NOW.date()
    steady = {today - timedelta(days=n) for n in range(28)}
    fading = {today - timedelta(days=n) for n in range(14, 28)} | {today - timedelta(days=2)}
    kwargs = {"today": today, "joined": NOW - timedelta(days=60), "quiet_days": 4, "now": NOW}
    assert figures.drifting(steady, last_check_in=NOW, **kwargs) is None  # type: ignore[arg-type]
    assert figures.drifting(
        fading,
        last_check_in=NOW - timedelta(days=2),
        **kwargs,  # type: ignore[arg-type]
    ) == ("1 days in the last two weeks, 14 in the two before")
    assert figures.drifting(
        steady,
        last_check_in=NOW - timedelta(days=5),
        **kwargs,  # type: ignore[arg-type]
    ) == ("quiet for 5 days")


def test_monthly_churn_counts_seats_held_at_the_start_that_ended_within() -> None:
    months = [
        (date(2026, 10, 1), datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)),
        (date(2026, 11, 1), datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    ]
    tenures = [
        Tenure(datetime(2026, 9, 1, tzinfo=UTC), None),
        Tenure(datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 11, 10, tzinfo=UTC)),
        Tenure(datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)),
    ]
    october, november = figures.monthly_churn(tenures, months)
    assert (october.at_start, october.ended) == (2, 0)  # the one who came and went in October
    assert (november.at_start, november.ended, november.rate) == (2, 1, 0.5)
    assert figures.month_firsts(date(2026, 3, 15), 3) == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]


def test_charts_escape_what_they_show_and_describe_themselves() -> None:
    chart = charts.bar_chart(
        "c", "<b>Weekly</b>", ["16 Nov"], [charts.Series("<script>", [3], "s1")]
    )
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    assert 'role="img"' in chart and "&lt;b&gt;Weekly&lt;/b&gt;" in chart
    assert "3 in the week of 16 Nov" in chart
    strip = charts.check_in_strip([True, False, True], name="<i>Sam</i>")
    assert 'aria-label="&lt;i&gt;Sam&lt;/i&gt;: checked in on 2 of the last 3 days"' in strip


# --- one settings model -----------------------------------------------------------------------


def group() -> Group:
    return Group(chat_id=-100, title="Circle", created_at=NOW)


def test_the_form_and_the_cli_share_the_checks_and_change_all_or_nothing() -> None:
    circle = group()
    with pytest.raises(SettingsError) as wrong:
        change_schedule(circle, Schedule(prompt_time="07:30", timezone="Mars/Base", qa_day="xyz"))
    assert set(wrong.value.problems) == {"timezone", "qa_day"}
    assert circle.prompt_time == "09:00"  # nothing was applied
    fields = {"prompt_time": "9am", "quiet_days": "four", "capacity": "0", "title": " "}
    with pytest.raises(SettingsError) as form:
        schedule_from_form(fields)
    assert form.value.problems == {
        "quiet_days": "quiet days 'four' should be a whole number",
        "prompt_time": "prompt time '9am' should look like 09:00",
        "capacity": "capacity should be between 1 and 500 seats",
    }
    change_schedule(
        circle,
        schedule_from_form({"prompt_time": "07:30", "qa_day": "thu", "summary_approval": "on"}),
    )
    assert (circle.prompt_time, circle.qa_weekday, circle.summary_needs_approval) == (
        "07:30",
        3,
        True,
    )
