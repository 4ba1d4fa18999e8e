"""A group's price: a Stripe price the coach chose, checked and kept on the group.

`between group set --price-id` reads the price from Stripe and keeps its amount, currency and
interval on the group, so every text can name it without asking Stripe; `between doctor`
compares the two again.
"""

from __future__ import annotations

from typing import Any

from core.models import Group
from core.pricing import INTERVALS, Price


class PriceRefused(ValueError):
    """A Stripe price a group can't sell seats at, with what to do instead."""


def checked_price(found: dict[str, Any]) -> Price:
    """The Stripe price (as Stripe describes it) as a Price a seat can be sold at, or
    PriceRefused saying why not."""
    price_id = found.get("id", "?")
    recurring = found.get("recurring") or {}
    if not found.get("active"):
        raise PriceRefused(
            f"{price_id} is archived in Stripe: choose an active price, or make one with "
            "`between stripe setup --currency ... --amount ...`"
        )
    if found.get("type") != "recurring" or not recurring:
        raise PriceRefused(
            f"{price_id} is a one-time price: a seat needs a recurring one (e.g. monthly)"
        )
    if recurring.get("usage_type") == "metered":
        raise PriceRefused(f"{price_id} is metered (billed by usage): a seat needs a fixed price")
    amount = found.get("unit_amount")
    if not isinstance(amount, int) or found.get("billing_scheme") == "tiered":
        raise PriceRefused(
            f"{price_id} has no single amount (tiered, or chosen by the customer): a seat "
            "needs a fixed price"
        )
    interval = recurring.get("interval")
    if interval not in INTERVALS:
        raise PriceRefused(f"{price_id} renews every {interval!r}, which Between can't show")
    return Price(
        cents=amount,
        currency=str(found.get("currency", "")).lower(),
        interval=str(interval),
        interval_count=int(recurring.get("interval_count") or 1),
    )


def set_group_price(group: Group, price_id: str, price: Price) -> None:
    """The group sells its seats at this Stripe price from now on (seats paid already keep
    theirs: Stripe bills a subscription at the price it was made with)."""
    group.stripe_price_id = price_id
    group.price_cents = price.cents
    group.price_currency = price.currency
    group.price_interval = price.interval
    group.price_interval_count = price.interval_count


def price_drift(group: Group, found: dict[str, Any]) -> str | None:
    """What differs between the price kept on the group and the same price in Stripe now;
    None when they agree (for `between doctor`)."""
    try:
        now = checked_price(found)
    except PriceRefused as refused:
        return str(refused)
    kept = (
        group.price_cents,
        group.price_currency,
        group.price_interval,
        group.price_interval_count,
    )
    if kept != (now.cents, now.currency, now.interval, now.interval_count):
        return (
            f"the group says {_described(group)}, Stripe says {now.recurring}: "
            f"run `between group set --chat-id {group.chat_id} --price-id {group.stripe_price_id}`"
        )
    return None


def _described(group: Group) -> str:
    if group.price_cents is None or group.price_currency is None:
        return "no amount"
    return Price(
        group.price_cents,
        group.price_currency,
        group.price_interval or "month",
        group.price_interval_count or 1,
    ).recurring
