"""The matcher's two levels on the real library: concerning words in five languages, urgent
words winning over them, and everyday talk left alone."""

from __future__ import annotations

import pytest

from prompts.loader import load_library
from safety.matcher import Level, RiskMatcher

MATCHER = RiskMatcher(load_library())


@pytest.mark.parametrize(
    "text",
    [
        "Nothing ever gets better, does it",
        "honestly i'm so done with everything",
        "whats the point of anything",
        "estoy harta de todo, nada mejora nunca",
        "Ich kann nicht mehr.",
        "j'en ai marre de tout",
        "não aguento mais",
    ],
)
def test_hopelessness_is_concerning(text: str) -> None:
    finding = MATCHER.assess(text)
    assert finding is not None and finding.level == Level.CONCERNING


def test_urgent_words_win_over_concerning_ones() -> None:
    finding = MATCHER.assess("nothing ever gets better and I want to end it all")
    assert finding is not None and finding.level == Level.URGENT


@pytest.mark.parametrize(
    "text", ["This traffic is killing me", "Done with everything on my list, yay", "hello"]
)
def test_everyday_talk_is_neither(text: str) -> None:
    finding = MATCHER.assess(text)
    assert finding is None, finding
