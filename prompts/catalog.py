"""What the prompt library holds: daily prompts, small tools, the feelings wheel, topics, the
risk lexicon and crisis lines. Plain data, read from YAML by `prompts.loader`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

THEMES = (
    "naming-feelings",
    "inner-kid",
    "boundaries",
    "loneliness",
    "triggers-and-spirals",
    "shame",
    "self-talk",
    "wins",
    "rest",
    "relationships",
)
# The bot offers these by id (buttons, /tools), so the library must have every one.
REQUIRED_TOOLS = ("breathe", "ground", "boundary", "inner-kid", "feel")
DEFAULT_RESOURCES = "default"
# The safety net reads these languages, each from its own `risk-<code>.yaml`.
RISK_LANGUAGES = ("en", "es", "de", "fr", "pt")
# The concepts a language's risk lexicon may name (safety/matcher.py combines them). Some say
# enough alone; the parts only count next to another part; the last ones take a finding back.
RISK_CONCEPTS = {
    # enough alone: urgent
    "intent": "a wish or intent to die or to kill oneself, said outright",
    "suicide": "the bare word (suicide, suicidal): urgent unless about someone or something else",
    "method": "a way of dying named with oneself (hang myself, jump off a bridge)",
    "not_wake": "wanting not to wake up, to sleep for ever",
    "overdose": "an overdose, taken or meant",
    "selfharm": "hurting oneself, in the language's own words (cut myself, ritzen)",
    "selfharm_word": "the bare word for self-harm: urgent unless about someone else",
    "goodbye": "a farewell: notes, a last message, 'it was nice knowing you'",
    "burden": "others better off without me, nobody would miss me",
    "abuse": "being hurt or threatened by someone else, said outright",
    # enough alone: concerning
    "hopeless": "nothing will change, what's the point, done with everything",
    "trapped": "no way out, can't take it any more, want it all to stop",
    "burden_word": "being a burden",
    "goodbye_soft": "quieter goodbyes: deleting accounts, sorry for everything",
    # parts, combined by the matcher's rules
    "want": "want, wish, going to, ready to (first person)",
    "think": "thinking about, keep imagining",
    "death": "to die, to be dead, to stop existing, to end it (what `want` reaches for)",
    "disappear": "to disappear, to vanish, to be gone",
    "forever": "for ever, for good, permanently",
    "point": "what's the point, why bother",
    "living": "living, waking up, going on, being here (what `point` doubts)",
    "pills": "tablets, pills, medication",
    "amass": "counting, saving up, stockpiling, enough, the whole bottle",
    "tool": "rope, blade, gun: means that are bought or readied",
    "obtain": "bought, got hold of, tied, tested, hid",
    "place": "bridge, roof, ledge, tracks",
    "edge": "standing on, looking down, jumping from, stepping in front of",
    "timing": "tonight, this weekend, when they are asleep",
    "plan": "a plan, a date, decided how",
    "giveaway": "giving away, handing out",
    "belongings": "my things, my stuff, everything I own",
    "careafter": "take care of my, look after my",
    "when_gone": "when I'm gone, when I'm no longer here",
    "thanks_all": "thank you for everything",
    "bye": "goodbye, farewell, I'll miss you",
    "better_off": "better off, happier, easier (of others)",
    "without_me": "without me, if I wasn't here",
    "relapse": "relapsed, fell back",
    "sh_context": "the context of self-harm: blade, scars, cuts, urges",
    "other": "another person as the one acting: he, she, my partner",
    "harm_me": "hit me, beats me, choked me (the act, done to me)",
    "threat": "will hurt me, will kill me (a harm to come)",
    "fear": "scared, afraid, terrified",
    "tell": "tell them, tell my mom (a message left for someone)",
    "loved": "that I loved them (said as if for the last time)",
    "sh_act": "cut, burned, hurt: the act of self-harm after a reflexive (mich ... geritzt)",
    "reflexive": "myself, mich, me: the self as the object of a verb",
    "swallow": "take all my, swallowed: taking medication in a quantity",
    "doit": "do it, lo hago, mach ich es (what a decided plan leads to)",
    "letters": "letters, notes (left for someone)",
    "family": "my kids, my family, everyone (whom letters are left for)",
    "serious": "for real, next time, I believe him (a threat meant)",
    "courage": "find the guts, the nerve, the courage (to use a means or a plan)",
    "absent": "if I'm not here tomorrow, if you don't hear from me",
    "know_why": "you'll know why",
    "sorry": "I'm sorry, forgive me (said to those left behind)",
    "no_need": "won't need them any more, they'll look after it better",
    "unseen": "when everyone is out, when no one is home",
    "leave_cond": "if I leave him, if I tell anyone (what a threat is tied to)",
    "on_purpose": "on purpose, deliberately (of an injury)",
    "body": "my arms, my legs, my wrists, my skin (where self-harm is done)",
    "which": "I know which, I already know which (a means or a place chosen)",
    "run_over": "a car hitting me, run over (what a passive wish reaches for)",
    "how_many": "how many, how much (of a medication)",
    "lethal": "it takes, would be needed (to die, said of a quantity)",
    "instructions": "what to do with my things, left instructions",
    "only_way": "the only way out (what it leads to is a death)",
    "affairs": "debts paid off, contracts cancelled: affairs being put in order",
    "affairs_done": "nothing left to sort: affairs said to be in order",
    "not_for": "and not for shaving: a blade's everyday use denied",
    "numb": "drinking until I can't feel anything (before taking something)",
    "the_night": "tonight's the night: a time said to have come",
    "pretend": "done pretending",
    "unnoticed": "without them realising (of a goodbye)",
    "past": "a time long past before the words: a year ago, i used to (takes a finding back)",
    "day": "a day named for something: on my birthday, sunday, next friday (of a date chosen)",
    "chosen": "a day settled: that is the day, it is chosen, i have decided (of a date chosen)",
    "passes": "a train that does not stop where one stands (of a place scouted)",
    "timetable": "its times looked up or known by heart (of a place scouted)",
    "done": "it is over, right after the deed: i am done, chega, c est fini (of tonight i do it)",
    "what_for": "what for, as the whole of what is said: para que, pra que (hopelessness)",
    "filler": "words passed over inside a phrase: just, really, einfach, tan, vraiment",
    # taking a finding back
    "thing": "this heat, this traffic: what a complaint is about, when it is not life",
    "negation": "not, never, no longer, right before the words",
    "self": "I, me, my: the member as the one speaking",
    "third": "someone else as the subject: my friend, he, she, a client",
    "media": "a film, article, book, the news, a class: talk about, not of",
    "accident": "cooking, the gym, an accident: how people hurt themselves by chance",
    "asked": "asked if, asked me whether: a question someone put (a therapist's screening)",
    "answer_no": "I said no, hab ich nicht: the question answered no",
    "errand": "to fix the aerial, for the climbing gym, the week's pill box: an everyday purpose",
    "send_off": "a colleague retiring, a leaving do: a farewell that is someone else's",
    "idiom": "everyday expressions that only sound like risk (this commute is killing me)",
}
# The concepts that are a finding by themselves (an idiom must never hide one of their phrases).
RISK_CONCEPTS_ALONE = frozenset({
    "intent", "suicide", "method", "not_wake", "overdose", "selfharm", "selfharm_word",
    "goodbye", "burden", "abuse", "hopeless", "trapped", "burden_word", "goodbye_soft",
})  # fmt: skip


@dataclass(frozen=True)
class Prompt:
    """One daily prompt."""

    id: str
    text: str
    theme: str | None
    tool: str | None


@dataclass(frozen=True)
class Tool:
    """A small tool: an intro, steps, and for the boundary builder fill-in templates."""

    id: str
    title: str
    intro: str
    steps: tuple[str, ...]
    templates: tuple[str, ...]
    examples: tuple[str, ...] = ()
    # The way back, said at the end (the inner kid ends with /ground).
    outro: str | None = None


@dataclass(frozen=True)
class CoreFeeling:
    """A big feeling on the wheel and the more exact words under it."""

    core: str
    emoji: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Topic:
    """A part of life a message can touch, found by its keywords."""

    id: str
    title: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Resource:
    """A crisis line or service."""

    name: str
    contact: str


@dataclass(frozen=True)
class RiskLexicon:
    """One language's words for the safety net (`risk-<code>.yaml`)."""

    language: str
    # How people type a word -> the word (or words) the lexicon is written with.
    spellings: dict[str, str]
    concepts: dict[str, tuple[str, ...]]  # a name in RISK_CONCEPTS -> its phrases


@dataclass(frozen=True)
class Agreement:
    """The group's agreement: accepted at /join, pinned in the group."""

    title: str
    intro: str
    points: tuple[str, ...]
    accept: str  # the button that accepts it


@dataclass(frozen=True)
class Library:
    """Everything in `prompts/library/`, checked."""

    prompts: tuple[Prompt, ...]
    themed_weeks: tuple[tuple[str, str], ...]  # (theme, title)
    tools: dict[str, Tool]
    wheel: tuple[CoreFeeling, ...]
    synonyms: dict[str, tuple[str, ...]]  # feeling word -> other ways people write it
    topics: tuple[Topic, ...]
    risk: dict[str, RiskLexicon]  # language code -> its lexicon
    resources: dict[str, tuple[Resource, ...]]  # country code or "default" -> crisis lines
    agreement: Agreement
    _prompts_by_id: dict[str, Prompt] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: set the derived fields the way dataclasses documents for __post_init__.
        object.__setattr__(self, "_prompts_by_id", {p.id: p for p in self.prompts})

    def prompt(self, prompt_id: str) -> Prompt:
        """The prompt with this id; KeyError if there is none."""
        return self._prompts_by_id[prompt_id]

    def feeling_words(self) -> frozenset[str]:
        """Every word on the wheel, the core feelings included."""
        return frozenset(wheel_words(self.wheel))

    def resources_for(self, country: str | None) -> tuple[Resource, ...]:
        """The crisis lines for a country code (any case), or the default ones."""
        if country and country.upper() in self.resources:
            return self.resources[country.upper()]
        return self.resources.get(DEFAULT_RESOURCES, ())


def wheel_words(wheel: Iterable[CoreFeeling]) -> list[str]:
    """Every word on the wheel, each core feeling before its words."""
    words: list[str] = []
    for core in wheel:
        words.append(core.core)
        words.extend(core.words)
    return words
