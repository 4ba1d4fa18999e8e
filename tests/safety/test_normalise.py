"""The normal form the lexicon and every message share."""

from __future__ import annotations

import pytest

from safety.normalise import phrase_words, words


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("I WANT TO DIEEEE", ["i", "want", "to", "die"]),
        ("soooo tired", ["so", "tired"]),
        ("kill", ["kil"]),
        ("su1c1de", ["suicide"]),
        ("k!ll mys3lf!!!", ["kil", "myself"]),
        ("don't", ["dont"]),
        ("I’m", ["im"]),
        ("j'ai envie d'en finir", ["j", "ai", "envie", "d", "en", "finir"]),
        ("estarían mejor sin mí", ["estarian", "mejor", "sin", "mi"]),
        ("Selbstmord, Überdosis, müde", ["selbstmord", "uberdosis", "mude"]),
        ("schließen", ["schliesen"]),
        ("see u 2nite b4 the show", ["se", "u", "tonight", "before", "the", "show"]),
        ("took 100 pills", ["tok", "100", "pils"]),
        ("#sewerslide", ["sewerslide"]),
    ],
)
def test_what_people_type_becomes_one_form(typed: str, normal: list[str]) -> None:
    assert phrase_words(typed) == normal


def test_each_word_keeps_where_it_stood_in_the_original() -> None:
    text = "Honestly… I wánt to DIE"
    assert [text[w.start : w.end] for w in words(text)] == ["Honestly", "I", "wánt", "to", "DIE"]
