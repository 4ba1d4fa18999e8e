"""The membership rules: a seat follows its subscription; only a change tells anyone anything."""

from datetime import UTC, datetime, timedelta

import pytest

from billing.lifecycle import (
    Notice,
    SeatView,
    SubscriptionState,
    follow_subscription,
    grace_is_over,
    hold_until,
)
from core.models import SeatStatus

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(days=1)


def subscription(status: str, *, cancelling: bool = False) -> SubscriptionState:
    return SubscriptionState("sub_1", status, cancelling, NOW + timedelta(days=30), "cus_1", {})


@pytest.mark.parametrize(
    ("seat", "stripe", "status", "notices"),
    [
        (SeatView(SeatStatus.HELD), "active", SeatStatus.ACTIVE, (Notice.WELCOME,)),
        (SeatView(SeatStatus.ACTIVE), "active", SeatStatus.ACTIVE, ()),
        (SeatView(SeatStatus.ACTIVE), "past_due", SeatStatus.PAST_DUE, (Notice.PAYMENT_FAILED,)),
        (
            SeatView(SeatStatus.PAST_DUE, past_due_since=EARLIER),
            "past_due",
            SeatStatus.PAST_DUE,
            (),
        ),
        (
            SeatView(SeatStatus.PAST_DUE, past_due_since=EARLIER),
            "active",
            SeatStatus.ACTIVE,
            (Notice.PAYMENT_RECOVERED,),
        ),
        (SeatView(SeatStatus.ACTIVE), "canceled", SeatStatus.ENDED, (Notice.GOODBYE,)),
        (SeatView(SeatStatus.PAST_DUE), "canceled", SeatStatus.ENDED, (Notice.GOODBYE,)),
        # An ended seat stays ended, whatever late event arrives.
        (SeatView(SeatStatus.ENDED), "active", SeatStatus.ENDED, ()),
        (SeatView(SeatStatus.ENDED), "past_due", SeatStatus.ENDED, ()),
        # A comped seat has no subscription to follow.
        (SeatView(SeatStatus.COMPED), "canceled", SeatStatus.COMPED, ()),
        # Payment still being attempted: nothing to say yet.
        (SeatView(SeatStatus.HELD), "incomplete", SeatStatus.HELD, ()),
    ],
)
def test_a_seat_follows_its_subscription(
    seat: SeatView, stripe: str, status: SeatStatus, notices: tuple[Notice, ...]
) -> None:
    change = follow_subscription(seat, subscription(stripe), NOW)
    assert (change.status, change.notices) == (status, notices)


def test_a_payment_failure_starts_the_grace_period_once() -> None:
    change = follow_subscription(SeatView(SeatStatus.ACTIVE), subscription("past_due"), NOW)
    assert change.past_due_since == NOW
    later = follow_subscription(
        SeatView(SeatStatus.PAST_DUE, past_due_since=NOW),
        subscription("past_due"),
        NOW + timedelta(hours=5),
    )
    assert later.past_due_since == NOW


def test_cancelling_at_the_period_end_and_changing_ones_mind() -> None:
    scheduled = follow_subscription(
        SeatView(SeatStatus.ACTIVE), subscription("active", cancelling=True), NOW
    )
    assert scheduled.notices == (Notice.CANCEL_SCHEDULED,)
    undone = follow_subscription(
        SeatView(SeatStatus.ACTIVE, cancel_at_period_end=True), subscription("active"), NOW
    )
    assert undone.notices == (Notice.CANCEL_UNDONE,)


def test_a_subscription_ended_in_stripe_ends_the_seat_with_its_reason() -> None:
    # The seat's end is what takes the member out of the group (the integration test
    # test_a_subscription_ended_in_stripe_takes_the_member_out_of_the_group shows it).
    change = follow_subscription(SeatView(SeatStatus.ACTIVE), subscription("canceled"), NOW)
    assert (change.status, change.end_reason) == (SeatStatus.ENDED, "canceled")


@pytest.mark.parametrize(
    ("since", "now", "over"),
    [
        (None, NOW, False),
        (NOW, NOW + timedelta(days=2, hours=23), False),
        (NOW, NOW + timedelta(days=3), True),
    ],
)
def test_the_grace_period(since: datetime | None, now: datetime, over: bool) -> None:
    assert grace_is_over(since, timedelta(days=3), now) is over


def test_a_hold_lasts_the_checkout_or_the_longer_waitlist_offer() -> None:
    assert hold_until(NOW, checkout_minutes=60, offered_until=None) == NOW + timedelta(hours=1)
    offer_end = NOW + timedelta(hours=20)
    assert hold_until(NOW, checkout_minutes=60, offered_until=offer_end) == offer_end
