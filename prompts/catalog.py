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
    risk_phrases: dict[str, tuple[str, ...]]  # language code -> phrases
    risk_exclusions: tuple[str, ...]
    resources: dict[str, tuple[Resource, ...]]  # country code or "default" -> crisis lines
    agreement: Agreement
    # The net's second level (risk-concerning.yaml): hopelessness, being done with everything.
    concerning_phrases: dict[str, tuple[str, ...]] = field(default_factory=dict)
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
