"""Words as people type them, brought to the one form the risk lexicon is written in.

Case and accents go ("MORIR" and "morír" are "morir"), English contractions join ("don't",
"dont") while other apostrophes split ("j'ai" is "j ai"), numbers that stand for words are read
("b4", "2nite"), leetspeak is undone inside words ("su1c1de"), and every run of one letter
becomes one letter ("soooo", "kill" and "kil" are all the same word). The lexicon goes through
the same steps, so it never has to spell the variants out. Each word keeps where it stood in
the original text, so a finding can quote what the member actually wrote.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_APOSTROPHES = frozenset("'’‘ʼ`´")
# The tails that English joins to a word; any other apostrophe separates two words.
_JOINED_TAILS = frozenset({"t", "s", "m", "re", "ve", "ll", "d"})
# Letters that no decomposition takes apart: "sœur" is "soeur".
_LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae"}
_LEET = str.maketrans("0134578@$!", "oieastbasi")
_LEET_CHARS = frozenset("0134578@$!")
# Numbers that people type for words; read before leetspeak so "b4" is not "ba".
_NUMBER_WORDS = {
    "b4": "before",
    "4ever": "forever",
    "4eva": "forever",
    "2day": "today",
    "2nite": "tonight",
    "2night": "tonight",
    "2morrow": "tomorrow",
    "2moro": "tomorrow",
    "2mrw": "tomorrow",
    "gr8": "great",
    "l8r": "later",
    "no1": "noone",
    "every1": "everyone",
    "some1": "someone",
    "any1": "anyone",
    "2": "to",
    "4": "for",
}
# A star between letters is a letter hidden ("s*icide", "k*ll"): the word keeps it, and a
# lexicon word with `~` matches it as one typo.
_WORD = re.compile(r"[\w@$!']+(?:\*+[\w@$!']+)*")
_RUNS = re.compile(r"([^\W\d_])\1+")  # letters only: "100" stays a hundred


@dataclass(frozen=True)
class Word:
    """One word in normal form, and where it stood in the original text."""

    text: str
    start: int
    end: int


def fold(text: str) -> tuple[str, list[int]]:
    """Lower case without accents, apostrophes straightened; and for each character of the
    result, the index of the character of `text` it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char in _APOSTROPHES:
            chars.append("'")
            origin.append(index)
            continue
        for part in unicodedata.normalize("NFKD", _LIGATURES.get(char, char).casefold()):
            if not unicodedata.combining(part):
                chars.append(part)
                origin.append(index)
    return "".join(chars), origin


def squeeze(word: str) -> str:
    """Every run of one letter as one letter: "soooo" is "so", "kill" is "kil"."""
    return _RUNS.sub(r"\1", word)


def _readable(piece: str) -> str:
    if piece in _NUMBER_WORDS:
        return _NUMBER_WORDS[piece]
    piece = piece.strip("!")
    letters = any(char.isalpha() for char in piece)
    if letters and any(char in _LEET_CHARS for char in piece):
        piece = piece.translate(_LEET)
    return squeeze(piece.strip("@$"))


def words(text: str) -> list[Word]:
    """The words of `text` in normal form, each with its span in `text`."""
    folded, origin = fold(text)
    found: list[Word] = []
    for match in _WORD.finditer(folded):
        pieces: list[tuple[str, int, int]] = []  # (text, start, end) in `folded`
        at = match.start()
        for number, part in enumerate(match.group().split("'")):
            if part and number > 0 and part in _JOINED_TAILS and pieces:
                text_, start, _end = pieces[-1]
                pieces[-1] = (text_ + part, start, at + len(part))
            elif part:
                pieces.append((part, at, at + len(part)))
            at += len(part) + 1
        for piece, start, end in pieces:
            readable = _readable(piece.replace("_", ""))
            if readable:
                found.append(Word(readable, origin[start], origin[end - 1] + 1))
    return found


def phrase_words(phrase: str) -> list[str]:
    """A lexicon phrase in the same normal form as a message's words."""
    return [word.text for word in words(phrase)]
