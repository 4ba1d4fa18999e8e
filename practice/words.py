"""The feeling words and topics in what members wrote (for their weekly summary)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from prompts.catalog import Library, Topic, wheel_words
from prompts.text import normalise, whole, words_pattern

# Endings a topic keyword may go on with: "famil" finds "family", "mom" does not find "moment".
TOPIC_ENDINGS = (
    *("s", "es", "e", "d", "y", "ies", "ing", "ed", "er", "ers", "ly", "less", "ful", "ness"),
)


# The wheel's cores whose words tell of a heavy time (a summary draft of a week full of them is
# flagged for the coach). A coach's own cores that are not here simply don't count.
PAINFUL_CORES = frozenset({"sad", "scared", "angry", "ashamed", "lonely"})


class Vocabulary:
    """The library's feeling words and topics, compiled once, found in a member's words."""

    def __init__(self, library: Library) -> None:
        self._feelings, self._feeling_by_group = _feelings_pattern(library)
        self.painful = frozenset(
            word
            for core in library.wheel
            if core.core in PAINFUL_CORES
            for word in (core.core, *core.words)
        )
        self._topics = tuple(
            (topic, _topic_pattern(topic.keywords)) for topic in library.topics if topic.keywords
        )

    def feelings(self, text: str) -> list[str]:
        """The feeling words `text` names (synonyms as their word), in order of first mention."""
        if self._feelings is None:
            return []
        named: dict[str, None] = {}  # a dict keeps first-mention order and drops repeats
        for match in self._feelings.finditer(normalise(text)):
            if match.lastgroup:
                named.setdefault(self._feeling_by_group[match.lastgroup])
        return list(named)

    def topics(self, text: str) -> list[Topic]:
        """The topics whose keywords appear in `text`, in library order."""
        searched = normalise(text)
        return [topic for topic, pattern in self._topics if pattern.search(searched)]


def _feelings_pattern(library: Library) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One pattern for every way of writing a feeling, and which word each named group means."""
    word_for = {word: word for word in wheel_words(library.wheel)}
    for word, others in library.synonyms.items():
        word_for.update(dict.fromkeys(others, word))
    if not word_for:
        return None, {}
    # Longest first, so a longer form wins over a shorter one it starts with.
    forms = sorted(word_for, key=len, reverse=True)
    groups = [f"f{index}" for index in range(len(forms))]
    source = "|".join(
        f"(?P<{group}>{words_pattern(form)})" for group, form in zip(groups, forms, strict=True)
    )
    word_by_group = {group: word_for[form] for group, form in zip(groups, forms, strict=True)}
    return re.compile(whole(source)), word_by_group


def _topic_pattern(keywords: Iterable[str]) -> re.Pattern[str]:
    """Any keyword at the start of a word, going on with at most a common ending."""
    stems = "|".join(words_pattern(keyword) for keyword in keywords)
    endings = "|".join(TOPIC_ENDINGS)
    return re.compile(whole(f"(?:{stems})(?:{endings})?"))
