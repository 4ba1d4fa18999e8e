"""When a failed Stripe event or a refused Zoom meeting is tried again: pure rules."""

from datetime import UTC, datetime, timedelta

from billing.events import MAX_ATTEMPTS, RETRY_DELAYS, retry_delay
from scheduling.weekly import next_zoom_try

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_stripe_retries_grow_from_a_minute_to_a_day_beyond_stripes_three_days() -> None:
    delays = [retry_delay(attempt) for attempt in range(1, MAX_ATTEMPTS)]
    assert delays == list(RETRY_DELAYS)
    assert delays[0] == timedelta(minutes=1) and max(RETRY_DELAYS) == timedelta(days=1)
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)  # never shorter than the one before
    assert sum(RETRY_DELAYS, timedelta()) > timedelta(days=3)
    assert retry_delay(MAX_ATTEMPTS) is None  # the last try: the coach is told instead
    assert retry_delay(0) is None


def test_zoom_backs_off_and_waits_for_what_zoom_said() -> None:
    assert next_zoom_try(1, NOW, None) == NOW + timedelta(minutes=2)
    assert next_zoom_try(3, NOW, None) == NOW + timedelta(minutes=15)
    assert next_zoom_try(40, NOW, None) == NOW + timedelta(hours=4)
    midnight = datetime(2026, 11, 17, tzinfo=UTC)  # a daily-limit 429's Retry-After
    assert next_zoom_try(1, NOW, midnight) == midnight
    soon = NOW + timedelta(seconds=1)  # never sooner than the backoff
    assert next_zoom_try(2, NOW, soon) == NOW + timedelta(minutes=5)
