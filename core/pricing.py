"""The price as members read it: one place renders it, so every text says the same amount."""

from __future__ import annotations

from dataclasses import dataclass

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$"}
# "A dollar a day": the monthly price over the longest month, so it never says too little.
_DAYS_IN_A_MONTH = 31


@dataclass(frozen=True)
class Price:
    """A monthly price in the smallest unit of its currency (3100 usd: $31 a month)."""

    cents: int = 3100
    currency: str = "usd"

    @property
    def amount(self) -> str:
        """ "$31", "€29.50", "45 CHF"."""
        return self._money(self.cents)

    @property
    def monthly(self) -> str:
        return f"{self.amount} a month"

    @property
    def daily(self) -> str:
        return f"{self._money(round(self.cents / _DAYS_IN_A_MONTH))} a day"

    def _money(self, cents: int) -> str:
        number = f"{cents // 100}" if cents % 100 == 0 else f"{cents / 100:.2f}"
        symbol = _SYMBOLS.get(self.currency.lower())
        return f"{symbol}{number}" if symbol else f"{number} {self.currency.upper()}"

    def __str__(self) -> str:
        return self.monthly
