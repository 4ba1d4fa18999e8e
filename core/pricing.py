"""The price as members read it: one place renders it, so every text says the same amount.

A group's price comes from its Stripe price (amount, currency, interval); a group without one
has the default (`PRICE_CENTS`, `PRICE_CURRENCY`, a month). It is written as the reader's
language writes money ("£31 a month", "31 € al mes", "31 $ pro Monat"): a small table per
language, enough for the five the program speaks, instead of a locale library.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.models import Group

# Currencies Stripe counts in whole units, or in thousandths (docs.stripe.com/currencies).
_ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
_THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
_SYMBOLS = {
    "usd": "$",
    "eur": "€",
    "gbp": "£",
    "cad": "CA$",
    "aud": "A$",
    "nzd": "NZ$",
    "brl": "R$",
    "mxn": "MX$",
    "jpy": "¥",
    "inr": "₹",
}
# "About a dollar a day": the price over the longest period, so the daily figure never says
# more than a day costs.
_DAYS = {"day": 1, "week": 7, "month": 31, "year": 366}
_PER_YEAR = {"day": 365, "week": 52, "month": 12, "year": 1}
INTERVALS = tuple(_DAYS)
# Between the figure and a symbol after it: a no-break space, so "31 €" never breaks.
_NBSP = "\u00a0"


@dataclass(frozen=True)
class _Style:
    """How one language writes money and a price's period."""

    symbol_first: bool
    spaced: bool  # a space between the symbol and the figure
    decimal: str
    thousands: str
    each: dict[str, str]  # interval -> "a month"
    every: dict[str, str]  # interval -> "every {n} months"
    about: str  # "about {money} a day"


_STYLES = {
    "en": _Style(
        True,
        False,
        ".",
        ",",
        {"day": "a day", "week": "a week", "month": "a month", "year": "a year"},
        {
            "day": "every {n} days",
            "week": "every {n} weeks",
            "month": "every {n} months",
            "year": "every {n} years",
        },
        "about {money} a day",
    ),
    "es": _Style(
        False,
        True,
        ",",
        ".",
        {"day": "al día", "week": "a la semana", "month": "al mes", "year": "al año"},
        {
            "day": "cada {n} días",
            "week": "cada {n} semanas",
            "month": "cada {n} meses",
            "year": "cada {n} años",
        },
        "alrededor de {money} al día",
    ),
    "de": _Style(
        False,
        True,
        ",",
        ".",
        {"day": "pro Tag", "week": "pro Woche", "month": "pro Monat", "year": "pro Jahr"},
        {
            "day": "alle {n} Tage",
            "week": "alle {n} Wochen",
            "month": "alle {n} Monate",
            "year": "alle {n} Jahre",
        },
        "etwa {money} pro Tag",
    ),
    "fr": _Style(
        False,
        True,
        ",",
        "\u202f",
        {"day": "par jour", "week": "par semaine", "month": "par mois", "year": "par an"},
        {
            "day": "tous les {n} jours",
            "week": "toutes les {n} semaines",
            "month": "tous les {n} mois",
            "year": "tous les {n} ans",
        },
        "environ {money} par jour",
    ),
    "pt": _Style(
        False,
        True,
        ",",
        ".",
        {"day": "por dia", "week": "por semana", "month": "por mês", "year": "por ano"},
        {
            "day": "a cada {n} dias",
            "week": "a cada {n} semanas",
            "month": "a cada {n} meses",
            "year": "a cada {n} anos",
        },
        "cerca de {money} por dia",
    ),
}
# Brazil writes the symbol first ("R$ 31"); Portugal after ("31 €").
_STYLES["pt-br"] = replace(_STYLES["pt"], symbol_first=True)
LOCALES = tuple(_STYLES)


def locale_of(language_code: str | None) -> str:
    """Telegram's language code ("en-GB", "pt-br", "de") as one of LOCALES; English else."""
    code = (language_code or "").lower().replace("_", "-")
    if code in _STYLES:
        return code
    return code.split("-")[0] if code.split("-")[0] in _STYLES else "en"


def minor_units(currency: str) -> int:
    """How many decimals Stripe counts the currency in (2 for usd, 0 for jpy)."""
    currency = currency.lower()
    if currency in _ZERO_DECIMAL:
        return 0
    return 3 if currency in _THREE_DECIMAL else 2


def parse_amount(text: str, currency: str) -> int:
    """ "31" or "29.50" of `currency` in its smallest unit (3100, 2950); ValueError saying
    what is wrong."""
    decimals = minor_units(currency)
    whole, _, part = text.strip().replace(",", ".").partition(".")
    if not whole.isdigit() or (part and not part.isdigit()) or len(part) > decimals:
        places = f"at most {decimals} decimals" if decimals else "no decimals"
        raise ValueError(f"{text!r} is not an amount of {currency.upper()} ({places})")
    cents = int(whole + part.ljust(decimals, "0"))
    if cents <= 0:
        raise ValueError("a price is more than nothing")
    return cents


@dataclass(frozen=True)
class Price:
    """A recurring price in the smallest unit of its currency (3100 usd a month: $31 a
    month), and the language it is written in."""

    cents: int = 3100
    currency: str = "usd"
    interval: str = "month"
    interval_count: int = 1
    locale: str = "en"

    def in_locale(self, language_code: str | None) -> Price:
        """The same price, written as the reader's language writes it."""
        return replace(self, locale=locale_of(language_code))

    def times(self, count: int) -> Price:
        """`count` of it at once (a gift of three months)."""
        return replace(self, cents=self.cents * count)

    def month(self) -> Price:
        """What one month of it costs, as a price of its own (a gift is bought by the month)."""
        return replace(self, cents=self.per_month_cents, interval="month", interval_count=1)

    @property
    def amount(self) -> str:
        """ "$31", "29,50 €", "CHF 45"."""
        return self.money(self.cents)

    @property
    def recurring(self) -> str:
        """ "$31 a month", "31 € al mes", "£300 a year", "$80 every 3 months"."""
        style = _STYLES[self.locale]
        if self.interval_count == 1:
            period = style.each[self.interval]
        else:
            period = style.every[self.interval].format(n=self.interval_count)
        return f"{self.amount} {period}"

    # The name the templates knew before prices had an interval of their own.
    monthly = recurring

    @property
    def daily(self) -> str:
        """ "about $1 a day": the program's "$1/day", as this price works out."""
        days = _DAYS[self.interval] * self.interval_count
        return _STYLES[self.locale].about.format(money=self.money(round(self.cents / days)))

    @property
    def per_month_cents(self) -> int:
        """What the price brings in a month, in its currency's smallest unit."""
        return round(self.cents * _PER_YEAR[self.interval] / self.interval_count / 12)

    def money(self, cents: int) -> str:
        """An amount of this currency, as the locale writes it: "$1,200", "1.200 €"."""
        style = _STYLES[self.locale]
        decimals = minor_units(self.currency)
        whole, part = divmod(abs(cents), 10**decimals)
        number = f"{whole:,}".replace(",", style.thousands)
        if part:
            number += style.decimal + f"{part:0{decimals}d}"
        if cents < 0:
            number = "-" + number
        symbol = _SYMBOLS.get(self.currency.lower())
        if symbol is None:
            symbol, spaced = self.currency.upper(), True
        else:
            spaced = style.spaced
        gap = _NBSP if spaced else ""
        return f"{symbol}{gap}{number}" if style.symbol_first else f"{number}{gap}{symbol}"

    def __str__(self) -> str:
        return self.recurring


def price_of(group: Group | None, default: Price) -> Price:
    """The group's own price (from its Stripe price), or the default when it has none."""
    if group is None or group.price_cents is None or group.price_currency is None:
        return default
    return Price(
        cents=group.price_cents,
        currency=group.price_currency,
        interval=group.price_interval or "month",
        interval_count=group.price_interval_count or 1,
        locale=default.locale,
    )
