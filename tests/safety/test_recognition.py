"""The safety net measured on messages as people write them, in five languages.

Kinds of set in messages/: dev-* (what the lexicon was written against, category by category),
eval-* and holdout-* (the evaluation set: written after the lexicon, in other registers; its
misses were then fixed by category, so it is no longer unseen; holdout-* holds the first
blind set, the probes, and the first half of the second blind set, each tuned on after its
first score, which its header keeps) and blind2-* (the second blind set's other half, written
by someone else and never read while tuning: the honest estimate for an unseen set, which the
README quotes), and writera-*, writerb-*, writerc-*, blind3-* (four more writers, never tuned
on, with N for everyday check-ins: the largest unseen measure, and the harshest).
The bars of issue 15 are asserted on the evaluation set per language; the blind set, when its
files are there, is held to a floor set from its first scoring, so a change can't quietly make
it worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from prompts.catalog import RISK_LANGUAGES
from prompts.loader import load_library
from safety.matcher import Level, RiskMatcher

MESSAGES = Path(__file__).parent / "messages"
LABELS = {
    "U": "urgent",
    "C": "concerning",
    "B": "benign",
    "T": "about someone else",
    "N": "an everyday check-in",
}
# Concerning messages flagged at either level: measured 0.96-1.0 per language.
CONCERNING_FLAGGED = 0.90
# The second blind set (blind2-<code>.txt, same format), held to floors set once it is first
# scored: urgent recall over its five languages together, and the share of its benign and
# third-person messages raised. A floor, not an aim: first scored at 0.62 of 177 urgent
# caught (en 0.62, es 0.62, de 0.42, fr 0.77, pt 0.66) and 0.04 of 117 raised.
BLIND_URGENT_RECALL = 0.60
BLIND_RAISED_AT_MOST = 0.05
# Four more writers, none of whom saw the net, never tuned on (writera-*, writerb-*, writerc-*:
# young people's slang, older people's understatement, the hardest indirect and misspelt
# messages; blind3-*: a held-out set in every register): 4,570 messages, N for everyday
# check-ins. First scored at 0.37 of 2,240 urgent caught as urgent (blind3 alone: en 0.66,
# es 0.62, de 0.33, fr 0.53, pt 0.56), 0.08 of 2,330 look-alikes, third-person and everyday
# messages raised.
WRITERS = ("writera", "writerb", "writerc", "blind3")
WRITERS_URGENT_RECALL = 0.35
WRITERS_RAISED_AT_MOST = 0.09


@dataclass(frozen=True)
class Message:
    label: str
    text: str
    where: str


def read(*kinds: str, language: str) -> list[Message]:
    found: list[Message] = []
    for kind in kinds:
        path = MESSAGES / f"{kind}-{language}.txt"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line and not line.startswith("#"):
                label, text = line.split(" | ", 1)
                assert label in LABELS, f"{path.name}:{number}"
                found.append(Message(label, text, f"{path.name}:{number}"))
    return found


@pytest.fixture(scope="module")
def matcher() -> RiskMatcher:
    return RiskMatcher(load_library())


def level(matcher: RiskMatcher, message: Message) -> Level | None:
    finding = matcher.assess(message.text)
    return None if finding is None else finding.level


def share(hits: list[Message], of: list[Message]) -> float:
    return len(hits) / len(of) if of else 1.0


@pytest.mark.parametrize("language", RISK_LANGUAGES)
def test_the_evaluation_set_is_big_enough_and_apart_from_the_development_set(
    language: str,
) -> None:
    evaluation = read("eval", "holdout", language=language)
    assert len(evaluation) >= 120
    assert {m.label for m in evaluation} == set(LABELS) - {"N"}
    development = {m.text.casefold() for m in read("dev", language=language)}
    assert [m.where for m in evaluation if m.text.casefold() in development] == []


@pytest.mark.parametrize("language", RISK_LANGUAGES)
def test_urgent_messages_are_caught_as_urgent(matcher: RiskMatcher, language: str) -> None:
    urgent = [m for m in read("eval", "holdout", language=language) if m.label == "U"]
    missed = [m for m in urgent if level(matcher, m) != Level.URGENT]
    assert 1 - share(missed, urgent) >= 0.95, [f"{m.where} {m.text}" for m in missed]


@pytest.mark.parametrize("language", RISK_LANGUAGES)
def test_benign_words_and_talk_about_others_rarely_raise_the_net(
    matcher: RiskMatcher, language: str
) -> None:
    benign = [m for m in read("eval", "holdout", language=language) if m.label in "BT"]
    raised = [m for m in benign if level(matcher, m) is not None]
    assert share(raised, benign) <= 0.03, [f"{m.where} {m.text}" for m in raised]


@pytest.mark.parametrize("language", RISK_LANGUAGES)
def test_concerning_messages_are_flagged(matcher: RiskMatcher, language: str) -> None:
    concerning = [m for m in read("eval", "holdout", language=language) if m.label == "C"]
    missed = [m for m in concerning if level(matcher, m) is None]
    assert 1 - share(missed, concerning) >= CONCERNING_FLAGGED, [m.text for m in missed]


@pytest.mark.parametrize("language", RISK_LANGUAGES)
def test_the_development_set_passes_whole(matcher: RiskMatcher, language: str) -> None:
    wrong = [
        m.where
        for m in read("dev", language=language)
        if (m.label == "U" and level(matcher, m) != Level.URGENT)
        or (m.label == "C" and level(matcher, m) is None)
        or (m.label in "BT" and level(matcher, m) is not None)
    ]
    # Known misses: a decision with a date and nothing else ("I've picked the date, it's the
    # 14th", "ich hab mir ein datum ausgesucht", "I'm going to do it this time") reads the same
    # as a wedding or a last day at work.
    assert len(wrong) <= 2, wrong


def test_the_blind_set_is_no_worse_than_when_first_scored(matcher: RiskMatcher) -> None:
    languages = [code for code in RISK_LANGUAGES if (MESSAGES / f"blind2-{code}.txt").exists()]
    assert languages == list(RISK_LANGUAGES)
    blind = [m for language in languages for m in read("blind2", language=language)]
    urgent = [m for m in blind if m.label == "U"]
    caught = [m for m in urgent if level(matcher, m) == Level.URGENT]
    benign = [m for m in blind if m.label in "BT"]
    raised = [m for m in benign if level(matcher, m) is not None]
    assert share(caught, urgent) >= BLIND_URGENT_RECALL
    assert share(raised, benign) <= BLIND_RAISED_AT_MOST


def test_the_writers_sets_are_no_worse_than_when_first_scored(matcher: RiskMatcher) -> None:
    written = [m for code in RISK_LANGUAGES for m in read(*WRITERS, language=code)]
    urgent = [m for m in written if m.label == "U"]
    caught = [m for m in urgent if level(matcher, m) == Level.URGENT]
    benign = [m for m in written if m.label in "BTN"]
    raised = [m for m in benign if level(matcher, m) is not None]
    assert len(urgent) >= 2000
    assert share(caught, urgent) >= WRITERS_URGENT_RECALL
    assert share(raised, benign) <= WRITERS_RAISED_AT_MOST


@pytest.mark.parametrize(
    "message",
    [
        "Another call with my dad. Nothing ever gets better.",
        "fight with my sister again! what's the point of waking up",
        "mi novio no me habla. ya nada tiene sentido",
    ],
)
def test_someone_named_in_an_earlier_sentence_does_not_take_the_words_back(
    matcher: RiskMatcher, message: str
) -> None:
    # "my dad" governs its own sentence, not the member's next one.
    assert matcher.assess(message) is not None
