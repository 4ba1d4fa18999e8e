"""Text as members write it, made searchable: one normal form and whole-word patterns."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})


def normalise(text: str) -> str:
    """Lower case, straight apostrophes, no accents, single spaces: the form every search uses."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(text.split())


def words_pattern(words: str) -> str:
    """Regex source for words as typed: apostrophes and hyphens optional, any spacing."""
    parts: list[str] = []
    for char in normalise(words):
        if char == "'":
            parts.append("'?")  # people type "cant" as often as "can't"
        elif char == "-":
            parts.append(r"[-\s]?")  # "self-harm", "self harm", "selfharm"
        elif char == " ":
            parts.append(r"\s+")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def whole(source: str) -> str:
    """`source` matched as whole words only."""
    return rf"(?<!\w)(?:{source})(?!\w)"


def any_of(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the whole-word phrases, longest first; None if there are none."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(whole("|".join(words_pattern(phrase) for phrase in ordered)))
