"""Telegram's flood limits as a schedule: when may the next message go."""

import pytest

from core.flood import BUSY, FloodControl, FloodLimits

PRIVATE = 42
OTHER = 43
GROUP = -100


def send(flood: FloodControl, chat_id: int, at: float) -> None:
    assert flood.wait_for(chat_id, at) == 0, f"chat {chat_id} was not free at {at}"
    flood.begin(chat_id)
    flood.end(chat_id, at)


def test_one_message_per_second_to_a_chat() -> None:
    flood = FloodControl()
    send(flood, PRIVATE, 0.0)
    assert flood.wait_for(PRIVATE, 0.4) == pytest.approx(0.6)
    assert flood.wait_for(OTHER, 0.4) == 0
    assert flood.wait_for(PRIVATE, 1.0) == 0


def test_thirty_messages_per_second_overall() -> None:
    flood = FloodControl()
    for chat in range(30):
        send(flood, chat, 0.01 * chat)
    assert flood.wait_for(500, 0.5) == pytest.approx(0.5)
    assert flood.wait_for(500, 1.0) == 0


def test_twenty_messages_per_minute_to_a_group() -> None:
    flood = FloodControl()
    for second in range(20):
        send(flood, GROUP, float(second))
    assert flood.wait_for(GROUP, 20.0) == pytest.approx(40.0)
    assert flood.wait_for(GROUP, 60.0) == 0


def test_a_chat_with_a_message_in_flight_waits_for_its_answer() -> None:
    flood = FloodControl()
    flood.begin(PRIVATE)
    assert flood.wait_for(PRIVATE, 5.0) == BUSY
    flood.end(PRIVATE, 5.0)
    assert flood.wait_for(PRIVATE, 6.0) == 0


def test_messages_in_flight_count_against_the_overall_limit() -> None:
    flood = FloodControl(FloodLimits(overall=2))
    flood.begin(1)
    flood.begin(2)
    assert flood.wait_for(3, 0.0) == BUSY


def test_a_send_counts_from_when_telegram_answered() -> None:
    flood = FloodControl()
    flood.begin(PRIVATE)
    flood.end(PRIVATE, 2.5)  # sent at 2.0, answered at 2.5
    assert flood.wait_for(PRIVATE, 3.0) == pytest.approx(0.5)


def test_retry_after_pauses_only_that_chat() -> None:
    flood = FloodControl()
    flood.pause(PRIVATE, until=7.0)
    assert flood.wait_for(PRIVATE, 2.0) == pytest.approx(5.0)
    assert flood.wait_for(OTHER, 2.0) == 0


@pytest.mark.parametrize(
    ("factor", "window", "interval", "group_window"),
    [(1, 1.0, 1.0, 60.0), (10, 0.1, 0.1, 6.0), (0.5, 2.0, 2.0, 120.0)],
)
def test_scaled_limits_shorten_every_window(
    factor: float, window: float, interval: float, group_window: float
) -> None:
    limits = FloodLimits().scaled(factor)
    assert (limits.overall, limits.per_group) == (30, 20)
    assert limits.window == pytest.approx(window)
    assert limits.chat_interval == pytest.approx(interval)
    assert limits.group_window == pytest.approx(group_window)


def test_scaled_limits_allow_no_burst_beyond_the_scaled_window() -> None:
    # Ten times faster means 30 in a tenth of a second, not 300 in a second.
    flood = FloodControl(FloodLimits().scaled(10))
    for chat in range(30):
        flood.begin(chat)
        flood.end(chat, 0.0)
    assert flood.wait_for(99, 0.0) == pytest.approx(0.1)


def test_an_abandoned_send_frees_the_chat_without_counting() -> None:
    flood = FloodControl(FloodLimits(overall=1))
    flood.begin(PRIVATE)
    flood.abandon(PRIVATE)
    assert flood.wait_for(PRIVATE, 0.0) == 0
    assert flood.wait_for(OTHER, 0.0) == 0
