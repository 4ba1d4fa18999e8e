"""A price as each language writes it, the "about a dollar a day" it works out to, and what a
seat brings in a month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.paying import Method, seat_method
from billing.prices import PriceRefused, checked_price
from core.models import AccessCode, CodeKind, Seat, SeatStatus
from core.pricing import Price, locale_of, parse_amount

NBSP = "\u00a0"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("price", "language", "recurring", "daily"),
    [
        (Price(3100, "gbp"), "en-GB", "£31 a month", "about £1 a day"),
        (Price(3100, "eur"), "es", f"31{NBSP}€ al mes", f"alrededor de 1{NBSP}€ al día"),
        (Price(3100, "usd"), "de", f"31{NBSP}$ pro Monat", f"etwa 1{NBSP}$ pro Tag"),
        (Price(2950, "eur"), "fr-FR", f"29,50{NBSP}€ par mois", f"environ 0,95{NBSP}€ par jour"),
        (Price(3100, "eur"), "pt", f"31{NBSP}€ por mês", f"cerca de 1{NBSP}€ por dia"),
        (Price(15000, "brl"), "pt-br", f"R${NBSP}150 por mês", f"cerca de R${NBSP}4,84 por dia"),
        (Price(2900, "eur"), None, "€29 a month", "about €0.94 a day"),
        (Price(4500, "chf"), "en", f"CHF{NBSP}45 a month", f"about CHF{NBSP}1.45 a day"),
        (Price(3100, "jpy"), "en", "¥3,100 a month", "about ¥100 a day"),
        (Price(31000, "gbp", "year"), "en", "£310 a year", "about £0.85 a day"),
        (Price(9000, "usd", "month", 3), "en", "$90 every 3 months", "about $0.97 a day"),
        (
            Price(120000, "eur", "year"),
            "de",
            f"1.200{NBSP}€ pro Jahr",
            f"etwa 3,28{NBSP}€ pro Tag",
        ),
    ],
)
def test_each_language_writes_the_price_its_way(
    price: Price, language: str | None, recurring: str, daily: str
) -> None:
    shown = price.in_locale(language)
    assert (shown.recurring, shown.daily) == (recurring, daily)


def test_a_language_the_table_lacks_reads_english() -> None:
    assert locale_of("uk") == "en" and locale_of("PT_br") == "pt-br" and locale_of("de-AT") == "de"


def test_what_a_price_brings_in_a_month() -> None:
    assert Price(3100, "gbp").per_month_cents == 3100
    assert Price(31200, "gbp", "year").per_month_cents == 2600
    assert Price(9000, "usd", "month", 3).per_month_cents == 3000
    assert Price(31200, "gbp", "year").month().times(3).amount == "£78"


@pytest.mark.parametrize(
    ("text", "currency", "cents"),
    [("31", "gbp", 3100), ("29.50", "eur", 2950), ("29,5", "eur", 2950), ("3100", "jpy", 3100)],
)
def test_an_amount_is_read_in_the_currency_s_smallest_unit(
    text: str, currency: str, cents: int
) -> None:
    assert parse_amount(text, currency) == cents


@pytest.mark.parametrize(
    ("text", "currency"),
    [("31.505", "gbp"), ("31.5", "jpy"), ("-3", "usd"), ("0", "usd"), ("ten", "usd")],
)
def test_an_amount_that_is_none_is_refused(text: str, currency: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text, currency)


def stripe_price(**changes: object) -> dict[str, object]:
    found: dict[str, object] = {
        "id": "price_1",
        "active": True,
        "type": "recurring",
        "billing_scheme": "per_unit",
        "currency": "gbp",
        "unit_amount": 3100,
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
    }
    return found | changes


def test_a_stripe_price_a_seat_can_be_sold_at() -> None:
    assert checked_price(stripe_price()) == Price(3100, "gbp")


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"active": False}, "archived"),
        ({"type": "one_time", "recurring": None}, "one-time"),
        ({"billing_scheme": "tiered", "unit_amount": None}, "no single amount"),
        (
            {"recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered"}},
            "metered",
        ),
    ],
)
def test_a_stripe_price_no_seat_can_be_sold_at_is_refused_saying_why(
    changes: dict[str, object], says: str
) -> None:
    with pytest.raises(PriceRefused, match=says):
        checked_price(stripe_price(**changes))


def seat(**changes: object) -> Seat:
    base = Seat(
        member_id=1,
        group_id=1,
        status=SeatStatus.ACTIVE,
        stripe_subscription_id="sub_1",
        stripe_status="active",
        current_period_end=NOW + timedelta(days=20),
        created_at=NOW,
        updated_at=NOW,
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def code(kind: CodeKind, redeemed_at: datetime | None = None) -> AccessCode:
    return AccessCode(code="X", kind=kind, created_at=NOW, redeemed_at=redeemed_at)


def test_how_a_seat_is_paid() -> None:
    free = {"stripe_subscription_id": None, "stripe_status": None, "status": SeatStatus.COMPED}
    assert seat_method(seat(), paid_in_stars=False, code=None, now=NOW) == Method.STRIPE
    trialing = seat(stripe_status="trialing")
    assert seat_method(trialing, paid_in_stars=False, code=None, now=NOW) == Method.TRIAL
    stars = seat(stripe_subscription_id=None, stripe_status=None)
    assert seat_method(stars, paid_in_stars=True, code=None, now=NOW) == Method.STARS
    assert seat_method(seat(**free), paid_in_stars=False, code=None, now=NOW) == Method.COMPED
    comp = code(CodeKind.COMP, NOW)
    assert seat_method(seat(**free), paid_in_stars=False, code=comp, now=NOW) == Method.CODE
    gift = code(CodeKind.GIFT, NOW)
    assert seat_method(seat(**free), paid_in_stars=False, code=gift, now=NOW) == Method.GIFT
    # A gift seat whose member already subscribed ("Stay on") is the gift's until it ends.
    staying = seat(status=SeatStatus.COMPED, stripe_status="trialing")
    assert seat_method(staying, paid_in_stars=False, code=gift, now=NOW) == Method.GIFT
    # A month-off code: the code's first month, then Stripe.
    month_off = code(CodeKind.MONTH_OFF, NOW - timedelta(days=10))
    assert seat_method(seat(), paid_in_stars=False, code=month_off, now=NOW) == Method.CODE
    renewed = seat(current_period_end=NOW + timedelta(days=50))
    assert seat_method(renewed, paid_in_stars=False, code=month_off, now=NOW) == Method.STRIPE
