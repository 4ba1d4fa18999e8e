"""Recognising risk in a message: concepts found in each language's own words, then combined.

A lexicon (`prompts/library/risk-<code>.yaml`) lists, for every concept in RISK_CONCEPTS, the
phrases a language says it with; this module holds the rules that combine them, the same for
every language. Some concepts are a finding alone ("kill myself", "ritzen", "goodbye letter");
others only next to another: a wish and a death ("want" + "to not exist"), medication and
counting ("pills" + "saved up"), a place and an edge ("bridge" + "stood on"), others better
off and "without me". Then what takes a finding back: an idiom over the words ("this commute
is killing me"), a negation right before them ("not suicidal"), someone else as the subject
("my friend is suicidal"), a film or an article as the topic, a kitchen or a gym around "cut
myself". Everything is compiled once; `assess` runs on every message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from prompts.catalog import Library, RiskLexicon
from safety.normalise import Word, phrase_words, words


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


URGENT, CONCERNING = Level.URGENT, Level.CONCERNING

# The concepts that are a finding by themselves: their level and kind.
ALONE: dict[str, tuple[Level, str]] = {
    "intent": (URGENT, "intent"),
    "suicide": (URGENT, "intent"),
    "method": (URGENT, "plan"),
    "not_wake": (URGENT, "intent"),
    "overdose": (URGENT, "overdose"),
    "selfharm": (URGENT, "self-harm"),
    "selfharm_word": (URGENT, "self-harm"),
    "goodbye": (URGENT, "goodbye"),
    "burden": (URGENT, "burden"),
    "abuse": (URGENT, "harm-from-others"),
    "hopeless": (CONCERNING, "hopelessness"),
    "trapped": (CONCERNING, "entrapment"),
    "burden_word": (CONCERNING, "burden"),
    "goodbye_soft": (CONCERNING, "goodbye"),
}
# One concept, then another within `gap` words: (first, then, gap, level, kind).
IN_ORDER: tuple[tuple[str, str, int, Level, str], ...] = (
    ("want", "death", 3, URGENT, "intent"),
    ("think", "death", 3, URGENT, "intent"),
    ("think", "suicide", 2, URGENT, "intent"),
    ("point", "living", 3, URGENT, "intent"),
    ("want", "disappear", 3, CONCERNING, "hopelessness"),
    ("other", "harm_me", 3, URGENT, "harm-from-others"),
    ("reflexive", "sh_act", 3, URGENT, "self-harm"),
    ("swallow", "pills", 8, URGENT, "overdose"),
    ("sh_act", "body", 3, URGENT, "self-harm"),
    ("which", "place", 3, URGENT, "plan"),
    ("which", "tool", 3, URGENT, "plan"),
    ("want", "run_over", 6, URGENT, "intent"),
)
# The IN_ORDER rules whose two parts someone else can stand between ("told me she's been
# cutting": "me" then "cutting", but "she" is the one cutting).
ABOUT_BETWEEN = frozenset({"reflexive", "want", "think", "swallow", "sh_act", "which"})
# Two sets of concepts that meet within `window` words, in either order.
# What "if I'm not here tomorrow" is said with when it is a goodbye.
LEFT_BEHIND = {"sorry", "know_why", "forever", "bye", "loved", "thanks_all"}
TOGETHER: tuple[tuple[frozenset[str], frozenset[str], int, Level, str], ...] = tuple(
    (frozenset(first), frozenset(second), window, level, kind)
    for first, second, window, level, kind in (
        ({"pills"}, {"amass"}, 10, URGENT, "plan"),
        ({"tool"}, {"obtain"}, 8, URGENT, "plan"),
        ({"place"}, {"edge"}, 12, URGENT, "plan"),
        ({"plan"}, {"death", "pills", "tool", "place", "method"}, 12, URGENT, "plan"),
        ({"disappear"}, {"forever"}, 4, URGENT, "intent"),
        ({"better_off"}, {"without_me"}, 7, URGENT, "burden"),
        ({"burden_word"}, {"without_me"}, 10, URGENT, "burden"),
        ({"giveaway"}, {"belongings"}, 5, URGENT, "goodbye"),
        ({"careafter"}, {"when_gone"}, 14, URGENT, "goodbye"),
        ({"when_gone"}, {"bye", "belongings", "thanks_all"}, 14, URGENT, "goodbye"),
        ({"thanks_all"}, {"bye"}, 14, URGENT, "goodbye"),
        ({"tell"}, {"loved"}, 8, URGENT, "goodbye"),
        ({"plan"}, {"doit"}, 10, URGENT, "plan"),
        ({"letters"}, {"family"}, 5, URGENT, "goodbye"),
        ({"letters"}, {"when_gone", "absent"}, 10, URGENT, "goodbye"),
        ({"threat"}, {"serious"}, 6, URGENT, "harm-from-others"),
        ({"tell"}, {"when_gone"}, 14, URGENT, "goodbye"),
        ({"relapse"}, {"sh_context"}, 10, URGENT, "self-harm"),
        ({"fear"}, {"threat", "harm_me"}, 16, URGENT, "harm-from-others"),
        ({"threat", "harm_me"}, {"leave_cond"}, 10, URGENT, "harm-from-others"),
        ({"courage"}, {"pills", "tool", "place", "doit", "death", "method"}, 12, URGENT, "plan"),
        ({"absent"}, LEFT_BEHIND, 20, URGENT, "goodbye"),
        ({"know_why"}, {"timing", "absent"}, 12, URGENT, "goodbye"),
        ({"belongings", "giveaway"}, {"no_need"}, 14, URGENT, "goodbye"),
        ({"doit"}, {"unseen"}, 10, URGENT, "plan"),
        ({"tell"}, {"sorry"}, 8, URGENT, "goodbye"),
        ({"trapped", "hopeless"}, {"forever"}, 10, URGENT, "intent"),
        ({"only_way"}, {"death", "intent", "method"}, 14, URGENT, "intent"),
        ({"affairs"}, {"affairs_done", "no_need"}, 16, URGENT, "goodbye"),
        ({"affairs"}, {"affairs"}, 16, URGENT, "goodbye"),
        ({"passes"}, {"timetable"}, 14, URGENT, "plan"),  # "testament gemacht, passwörter"
        ({"tool", "sh_context"}, {"not_for"}, 12, URGENT, "self-harm"),
        ({"tool"}, {"body"}, 6, URGENT, "self-harm"),
        ({"numb"}, {"swallow", "overdose", "doit"}, 14, URGENT, "overdose"),
        ({"the_night"}, {"hopeless", "trapped", "bye", "sorry", "pretend"}, 16, URGENT, "plan"),
        ({"bye", "goodbye_soft", "giveaway"}, {"unnoticed"}, 12, URGENT, "goodbye"),
        ({"on_purpose"}, {"sh_act", "sh_context", "selfharm"}, 10, URGENT, "self-harm"),
        ({"on_purpose"}, {"swallow", "overdose"}, 10, URGENT, "overdose"),
    )
)
# A day named and settled, and little else: "on my birthday. that's the day", "i've decided,
# next friday". In a longer message the same words are a wedding or a last day at work.
DATE_CHOSEN_MOST = 9  # words
# Three sets of concepts that all meet within `window` words.
ALL_THREE: tuple[tuple[tuple[frozenset[str], ...], int, Level, str], ...] = tuple(
    (tuple(frozenset(part) for part in parts), window, level, kind)
    for parts, window, level, kind in (
        (({"how_many"}, {"pills"}, {"lethal"}), 10, URGENT, "plan"),
        (({"instructions"}, {"belongings", "letters"}, {"family", "tell"}), 14, URGENT, "goodbye"),
    )
)
# The kinds a person does to themselves: someone else as the subject of the parts takes them back.
OWN_DEEDS = frozenset({"plan", "overdose", "self-harm", "intent"})
# Three of these apart in one message are a farewell.
FAREWELLS = ("bye", "goodbye_soft", "thanks_all", "loved")
# What only points at someone, something or a context; never a finding itself.
MARKS = frozenset(
    {
        "negation", "self", "third", "other", "media", "accident", "idiom", "thing", "asked",
        "answer_no", "errand", "send_off", "past", "day", "chosen", "done", "what_for",
    }
)  # fmt: skip
# A negation right before these takes them back ("not suicidal", "never cut myself").
NEGATABLE = frozenset(ALONE) | frozenset({"want", "think", "harm_me", "point", "amass", "sh_act"})
# Someone else as their subject takes these back ("my friend is suicidal", "er will sterben").
SENTENCE_END = re.compile(r"[.!?;\n]")
ABOUT_SOMEONE = frozenset(
    {
        "suicide", "selfharm_word", "overdose", "want", "think", "hopeless", "trapped",
        "burden_word", "intent", "not_wake", "method", "selfharm",
    }
)  # fmt: skip
# The bare words that a film, an article or the news makes talk about, not of.
BARE = frozenset({"suicide", "selfharm_word", "overdose"})
# What an errand or a sport around the words turns into an everyday thing.
ERRANDS = frozenset(
    {
        "place",
        "edge",
        "tool",
        "obtain",
        "pills",
        "amass",
        "body",
        "giveaway",
        "belongings",
        "affairs",
    }
)
# A send-off (a colleague retiring, a leaving do) makes these everyday farewells.
FAREWELL_WORDS = frozenset({"goodbye", "goodbye_soft", "bye", "letters"})
# The things a "der" or "die" can be the article of.
NOUNS = frozenset({"place", "tool", "pills", "body", "belongings", "letters", "thing"})
SUBJECT_REACH = 3  # how many words back a subject still governs what follows
PAST_REACH = 8  # how many words back "a year ago" or "i used to" still governs what follows
# What is said between quotation marks after someone else is named is their words, reported.
QUOTED = re.compile(r'"[^"]+"|“[^”]+”|«[^»]+»|„[^“”]+[“”]')


@dataclass(frozen=True)
class _Hit:
    concept: str
    start: int  # index of its first word
    end: int  # one past its last word
    language: str = ""  # whose lexicon found it (of a rule's finding: its first part's)


@dataclass(eq=False)  # nodes are told apart by identity
class _Node:
    exact: dict[str, _Node] = field(default_factory=dict)
    prefix: dict[str, _Node] = field(default_factory=dict)  # "tablet*"
    stems: set[int] = field(default_factory=set)  # the lengths of the keys of `prefix`
    fuzzy: dict[str, _Node] = field(default_factory=dict)  # "suicide~": one typo allowed
    concepts: list[str] = field(default_factory=list)


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


FUZZY_MIN = 6  # shorter words differ by one letter from too many others
MAX_FILLERS = 2
MANY = 10  # a count of pills this high is a quantity, not a dose
MOST = 300  # past this a number is a phone number or a year ("i called 999")


class _Language:
    """One language's lexicon, compiled: a trie of its phrases, word by word."""

    def __init__(self, lexicon: RiskLexicon) -> None:
        self.code = lexicon.language
        self._spellings: dict[str, tuple[str, ...]] = {}
        for typed, meant in lexicon.spellings.items():
            key = phrase_words(typed)
            if len(key) == 1:
                self._spellings[key[0]] = tuple(phrase_words(meant))
        self._root = _Node()
        self.fillers = frozenset(
            word for phrase in lexicon.concepts.get("filler", ()) for word in self.spell(phrase)
        )
        for concept, phrases in lexicon.concepts.items():
            if concept != "filler":
                for phrase in phrases:
                    self._add(phrase, concept)

    def spell(self, text: str) -> list[str]:
        """A phrase of the lexicon as the words it matches, spellings applied."""
        out: list[str] = []
        for word in phrase_words(text):
            out.extend(self._spellings.get(word, (word,)))
        return out

    def _add(self, phrase: str, concept: str) -> None:
        node = self._root
        for token in phrase.split():
            marker = token[-1] if token[-1] in "*~" else ""
            pieces = self.spell(token.rstrip("*~"))
            for index, piece in enumerate(pieces):
                if marker == "*" and index == len(pieces) - 1:
                    node.stems.add(len(piece))
                    node = node.prefix.setdefault(piece, _Node())
                elif marker == "~" and index == len(pieces) - 1 and len(piece) >= FUZZY_MIN:
                    child = node.exact.setdefault(piece, _Node())
                    for variant in _deletions(piece):
                        node.fuzzy.setdefault(variant, child)
                    node = child
                else:
                    node = node.exact.setdefault(piece, _Node())
        if node is not self._root and concept not in node.concepts:
            node.concepts.append(concept)

    def read(self, found: Sequence[Word]) -> tuple[list[str], list[int]]:
        """The message's words as this language's lexicon writes them, and for each the index
        of the message's word it came from ("wanna" is two words, "want" "to")."""
        out: list[str] = []
        origin: list[int] = []
        for index, word in enumerate(found):
            spelled = self._spellings.get(word.text, (word.text,))
            out.extend(spelled)
            origin.extend([index] * len(spelled))
        return out, origin

    def hits(self, read: Sequence[str], origin: Sequence[int]) -> list[_Hit]:
        """Every phrase of every concept in the words, as spans of `origin` indices. Inside a
        phrase, up to MAX_FILLERS filler words are passed over ("I just really want to die")."""
        found: list[_Hit] = []
        deletions: dict[int, set[str]] = {}
        for start in range(len(read)):
            frontier: list[tuple[_Node, int]] = [(self._root, 0)]
            position = start
            while frontier and position < len(read):
                word = read[position]
                following: list[tuple[_Node, int]] = []
                for node, skipped in frontier:
                    for child in self._children(node, word, position, deletions):
                        following.append((child, skipped))
                        for concept in child.concepts:
                            # An idiom is said as it is: passing over a word could make one
                            # of "could not wake up" in "I could just not wake up".
                            if not (skipped and concept == "idiom"):
                                found.append(
                                    _Hit(concept, origin[start], origin[position] + 1, self.code)
                                )
                    if node is not self._root and skipped < MAX_FILLERS and word in self.fillers:
                        following.append((node, skipped + 1))
                position += 1
                frontier = following
            if read[start].isdigit() and MANY <= int(read[start]) <= MOST:  # "20 of my pills"
                found.append(_Hit("amass", origin[start], origin[start] + 1, self.code))
        return found

    def _children(
        self, node: _Node, word: str, position: int, deletions: dict[int, set[str]]
    ) -> list[_Node]:
        children: list[_Node] = []
        child = node.exact.get(word)
        if child is not None:
            children.append(child)
        elif "*" in word:  # a letter hidden: "s*icidio", "k*l myself"
            children.extend(
                nxt
                for key, nxt in node.exact.items()
                if len(key) == len(word)
                and all(c in ("*", k) for c, k in zip(word, key, strict=True))
            )
        elif node.fuzzy and len(word) >= FUZZY_MIN:
            if position not in deletions:
                deletions[position] = _deletions(word)
            children.extend({node.fuzzy[v] for v in deletions[position] if v in node.fuzzy})
        for length in node.stems:  # a look-up per stem length, not a scan of every stem
            nxt = node.prefix.get(word[:length]) if len(word) >= length else None
            if nxt is not None:
                children.append(nxt)
        return children


class RiskMatcher:
    """The risk lexicons compiled once; `assess` runs on every message."""

    def __init__(self, library: Library) -> None:
        self._languages = tuple(_Language(lexicon) for lexicon in library.risk.values())

    def assess(self, text: str) -> Finding | None:
        """The level, kind and words of the risk `text` shows, or None."""
        found = words(text)
        if not found:
            return None
        # Every language, every time: people mix them, and a short message can't tell. What
        # takes a finding back in one language (an idiom, "my friend") counts in all of them.
        hits: list[_Hit] = []
        for language in self._languages:
            read, origin = language.read(found)
            hits.extend(language.hits(read, origin))
        best: tuple[int, int, int, _Hit, Level, str] | None = None
        # Where a sentence begins: a person named in one sentence isn't the subject of the next.
        sentences = frozenset(
            i
            for i in range(1, len(found))
            if SENTENCE_END.search(text[found[i - 1].end : found[i].start])
        )
        quoted_spans = (
            [(q.start(), q.end()) for q in QUOTED.finditer(text)]
            if any(h.concept == "third" for h in hits)
            else []
        )
        for hit, level, kind in _findings(hits, sentences, len(found)):
            if any(
                a <= found[hit.start].start and found[hit.end - 1].end <= b
                for a, b in quoted_spans
            ):
                continue  # "my friend wrote 'i want to die', what do i say?"
            # Urgent first, then the earliest words, then the most of them.
            rank = (0 if level == URGENT else 1, hit.start, -hit.end, hit, level, kind)
            if best is None or rank[:3] < best[:3]:
                best = rank
        if best is None:
            return None
        _rank, _start, _end, hit, level, kind = best
        quoted = text[found[hit.start].start : found[hit.end - 1].end]
        return Finding(level, kind, quoted)

    def find(self, text: str) -> str | None:
        """The words of any risk `text` shows (either level), or None: `assess`, shorter."""
        finding = self.assess(text)
        return None if finding is None else finding.words


def _findings(
    hits: list[_Hit], sentences: frozenset[int], length: int
) -> list[tuple[_Hit, Level, str]]:
    """The findings the concept hits make, after what takes them back."""
    marks = [hit for hit in hits if hit.concept in MARKS]
    live = [hit for hit in hits if _stands(hit, hits, marks, sentences)]
    by_concept: dict[str, list[_Hit]] = {}
    for hit in live:
        by_concept.setdefault(hit.concept, []).append(hit)
    out: list[tuple[_Hit, Level, str]] = []
    for hit in live:
        if hit.concept in ALONE:
            level, kind = ALONE[hit.concept]
            out.append((hit, level, kind))
    for first, then, gap, level, kind in IN_ORDER:
        for a in by_concept.get(first, ()):
            for b in by_concept.get(then, ()):
                if (
                    a.language == b.language  # "wanted to offer more": pt "morre" is no death
                    and 0 <= b.start - a.end <= gap
                    and not _negated_between(a.end, b.start, hits, a.language)
                    and not (first in ABOUT_BETWEEN and _someone_between(a.end, b.start, hits))
                ):
                    out.append((_Hit(kind, a.start, b.end, a.language), level, kind))
    farewells = sorted(
        (hit for name in FAREWELLS for hit in by_concept.get(name, ())), key=lambda h: h.start
    )
    apart = [h for i, h in enumerate(farewells) if all(h.start >= o.end for o in farewells[:i])]
    if len(apart) >= 3:  # "sorry everyone, I love you, goodbye"
        out.append((_Hit("goodbye", apart[0].start, apart[-1].end), URGENT, "goodbye"))
    if length <= DATE_CHOSEN_MOST:
        for day in by_concept.get("day", ()):
            for chosen in by_concept.get("chosen", ()):
                start, end = min(day.start, chosen.start), max(day.end, chosen.end)
                # The settled day ends what is said ("sunday. that's when."), not "friday,
                # that's when the movers come".
                if end == length or end in sentences:
                    out.append((_Hit("plan", start, end), URGENT, "plan"))
    for a in by_concept.get("timing", ()):
        for b in by_concept.get("doit", ()):
            # "ce soir je le fais.", "hoje eu faço, chega": said as the end of it, not
            # "tonight I do it, I'm asking her out".
            if b.start == a.end and (
                b.end == length
                or b.end in sentences
                or any(d.start - b.end in (0, 1) for d in by_concept.get("done", ()))
            ):
                out.append((_Hit("plan", a.start, b.end, a.language), URGENT, "plan"))
    for hit in by_concept.get("what_for", ()):  # "pra que", said as all there is to say
        if hit.start == 0 and (hit.end == length or hit.end in sentences):
            out.append((hit, CONCERNING, "hopelessness"))
    plans = by_concept.get("plan", [])
    for a in plans:
        for b in plans:
            if a.end <= b.start and b.start - a.end <= 12:
                out.append((_Hit("plan", a.start, b.end), URGENT, "plan"))
    present = frozenset(by_concept)
    for firsts, seconds, window, level, kind in TOGETHER:
        if firsts.isdisjoint(present) or seconds.isdisjoint(present):
            continue
        a_hits = [hit for name in firsts for hit in by_concept.get(name, ())]
        b_hits = [hit for name in seconds for hit in by_concept.get(name, ())]
        for a in a_hits:
            for b in b_hits:
                start, end = min(a.start, b.start), max(a.end, b.end)
                if end - start <= window + 1 and (a.start, a.end) != (b.start, b.end):
                    out.append((_Hit(kind, start, end, a.language), level, kind))
    for parts, window, level, kind in ALL_THREE:
        if any(part.isdisjoint(present) for part in parts):
            continue
        found = [[hit for name in part for hit in by_concept.get(name, ())] for part in parts]
        for a in found[0]:
            for b in found[1]:
                for c in found[2]:
                    start = min(a.start, b.start, c.start)
                    end = max(a.end, b.end, c.end)
                    if end - start <= window + 1:
                        out.append((_Hit(kind, start, end, a.language), level, kind))
    # What the rules made of several parts is someone else's when another person stands as
    # its subject ("she took a load of pills"); a harm from others is always someone else's.
    thirds = [hit for hit in marks if hit.concept == "third"]
    pasts = [hit for hit in marks if hit.concept == "past"]
    recent = [finding for finding in out if not _long_ago(finding[0], pasts, sentences)]
    return _own(recent, thirds, sentences, hits)


def _long_ago(hit: _Hit, pasts: Sequence[_Hit], sentences: frozenset[int]) -> bool:
    """A time long past ("a year ago", "i used to", "faz 3 anos que") just before the words,
    in the same sentence: a story of getting better, told as progress."""
    return any(
        p.end <= hit.start
        and hit.start - p.end <= PAST_REACH
        and not any(p.end <= start <= hit.start for start in sentences)
        for p in pasts
    )


def _own(
    out: list[tuple[_Hit, Level, str]],
    thirds: list[_Hit],
    sentences: frozenset[int],
    hits: Sequence[_Hit],
) -> list[tuple[_Hit, Level, str]]:
    return [
        (hit, level, kind)
        for hit, level, kind in out
        if hit.concept in ALONE
        or kind not in OWN_DEEDS
        or _subject(hit, [m for m in thirds if m.language == hit.language], sentences, hits)
        != "third"
    ]


def _stands(
    hit: _Hit, hits: Sequence[_Hit], others: Sequence[_Hit], sentences: frozenset[int]
) -> bool:
    """Whether nothing around the hit (`others`: the marks among `hits`) takes it back."""
    if hit.concept in MARKS:
        return True
    if any(o.concept == "idiom" and o.start < hit.end and hit.start < o.end for o in others):
        return False
    if hit.concept in NEGATABLE and _negated(hit, hits):
        return False
    if hit.concept in ABOUT_SOMEONE and _subject(hit, others, sentences, hits) in (
        "third",
        "other",
    ):
        return False
    if hit.concept in BARE and any(o.concept == "media" for o in others):
        return False
    if hit.concept in BARE | {"intent"} and _asked_and_denied(hit, others, sentences):
        return False  # "my therapist asked if I had suicidal thoughts, I said no"
    if hit.concept in ERRANDS and any(o.concept == "errand" for o in others):
        return False  # "up on the roof to fix the aerial", "a rope for the climbing gym"
    if hit.concept in FAREWELL_WORDS and any(o.concept == "send_off" for o in others):
        return False  # "a goodbye card for my colleague who is retiring"
    if hit.concept in ("hopeless", "trapped") and any(
        o.concept == "thing" and o.start == hit.end for o in others
    ):
        return False  # "I can't take this heat any more"
    if hit.concept in ("selfharm", "selfharm_word", "sh_act"):
        # An accident word inside the words themselves is part of them ("bis die knöchel
        # offen waren": "ofen", an oven; "até abrir a mão": a hand).
        return not any(
            o.concept == "accident" and not (hit.start <= o.start and o.end <= hit.end)
            for o in others
        )
    return True


def _asked_and_denied(hit: _Hit, marks: Sequence[_Hit], sentences: frozenset[int]) -> bool:
    """A question someone asked about the words, answered no, in the same sentence."""
    asked = any(
        m.concept == "asked"
        and m.end <= hit.start
        and not any(m.end <= start <= hit.start for start in sentences)
        for m in marks
    )
    return asked and any(m.concept == "answer_no" and m.start >= hit.end for m in marks)


def _subject(
    hit: _Hit, marks: Sequence[_Hit], sentences: frozenset[int], hits: Sequence[_Hit]
) -> str | None:
    """Who the words are about: the nearest self, third or other person just before them,
    in the same sentence. A word that begins a longer phrase, or stands right before a
    noun, is no person there: German "die" in "die arme", "der" in "auf der brücke"."""
    articles = {
        (h.start, h.end)
        for h in marks
        if any(
            (o.start == h.start and o.end > h.end and o.concept not in MARKS)
            or (o.start == h.end and o.concept in NOUNS)
            for o in hits
        )
    }
    before = [
        m
        for m in marks
        if m.concept in ("self", "third", "other")
        and (m.start, m.end) not in articles
        and m.end <= hit.start
        and hit.start - m.end <= SUBJECT_REACH
        and not any(m.end <= start <= hit.start for start in sentences)
    ]
    if not before:
        return None
    nearest = max(before, key=lambda m: (m.end, m.concept == "self"))
    return nearest.concept


def _negated(hit: _Hit, hits: Sequence[_Hit]) -> bool:
    """A negation right before the words, or before the wish or thought that leads to them
    ("not thinking about suicide")."""
    for other in hits:
        if other.end != hit.start:
            continue
        if other.concept == "negation":
            return True
        if other.concept in ("want", "think") and any(
            n.concept == "negation" and n.end == other.start for n in hits
        ):
            return True
    return False


def _someone_between(start: int, end: int, hits: Sequence[_Hit]) -> bool:
    """Someone else named between two parts, not as the owner of a thing ("took a handful of
    my nan's tablets")."""
    return any(
        h.concept == "third"
        and start <= h.start
        and h.end <= end
        and not any(o.start == h.end and o.concept in NOUNS for o in hits)
        for h in hits
    )


def _negated_between(start: int, end: int, hits: Sequence[_Hit], language: str) -> bool:
    """A negation of the rule's own language between its parts (Portuguese "no" is "in the")."""
    return any(
        h.concept == "negation" and h.language == language and start <= h.start and h.end <= end
        for h in hits
    )
