"""Recognising risk in a message: the lexicon's phrases, minus the idioms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from prompts.catalog import Library
from prompts.text import any_of, normalise, whole, words_pattern


class Level(StrEnum):
    """How much a message worries the net. Urgent: intent, a plan or means, self-harm, a
    goodbye. Concerning: hopelessness, being done with everything."""

    URGENT = "urgent"
    CONCERNING = "concerning"


@dataclass(frozen=True)
class Finding:
    """What the matcher saw in a message: how worrying, of which kind, and the words."""

    level: Level
    category: str
    words: str


class RiskMatcher:
    """The risk lexicon compiled once; `find` runs on every message."""

    def __init__(self, library: Library) -> None:
        self._phrases = tuple(
            (re.compile(whole(words_pattern(phrase))), phrase)
            for phrases in library.risk_phrases.values()
            for phrase in phrases
        )
        self._exclusions = any_of(library.risk_exclusions)
        self._concerning = any_of(
            phrase for phrases in library.concerning_phrases.values() for phrase in phrases
        )

    def assess(self, text: str) -> Finding | None:
        """The level, kind and words of the risk `text` shows, or None."""
        phrase = self.find(text)
        if phrase is not None:
            return Finding(Level.URGENT, "intent", phrase)
        # The second level (risk-concerning.yaml), only when nothing urgent is there.
        searched = normalise(text)
        if self._exclusions is not None:
            searched = self._exclusions.sub(" | ", searched)
        found = self._concerning.search(searched) if self._concerning else None
        return None if found is None else Finding(Level.CONCERNING, "hopelessness", found[0])

    def find(self, text: str) -> str | None:
        """The risk phrase that `text` contains (the earliest), or None."""
        searched = normalise(text)
        if self._exclusions is not None:
            # A bar, not a space, so the words either side of a removed idiom can't join into
            # a phrase.
            searched = self._exclusions.sub(" | ", searched)
        found: list[tuple[int, int, str]] = []
        for pattern, phrase in self._phrases:
            match = pattern.search(searched)
            if match:
                found.append((match.start(), -len(match.group()), phrase))
        return min(found)[2] if found else None
