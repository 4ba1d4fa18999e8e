"""The prompt library: daily prompts, small tools, the feelings wheel, topics and the safety net.

The words live in YAML under `prompts/library/` so the coach can edit them without touching
code. `check_library` names the file and line of every problem it finds, and `load_library`
refuses a library that has any, so a typo fails the tests instead of a morning broadcast.
"""

from __future__ import annotations

import difflib
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

LIBRARY_DIR = Path(__file__).parent / "library"

PROMPTS_FILE = "prompts.yaml"
TOOLS_FILE = "tools.yaml"
FEELINGS_FILE = "feelings.yaml"
RISK_FILE = "risk.yaml"
TOPICS_FILE = "topics.yaml"
FILES = (PROMPTS_FILE, TOOLS_FILE, FEELINGS_FILE, RISK_FILE, TOPICS_FILE)

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
MIN_FEELING_WORDS = 100
MIN_PROMPTS_FOR_A_THEMED_WEEK = 7
MAX_PROMPT_CHARS = 600
DEFAULT_RESOURCES = "default"

# Endings a topic keyword may go on with: "famil" finds "family", "mom" does not find "moment".
TOPIC_ENDINGS = (
    *("s", "es", "e", "d", "y", "ies", "ing", "ed", "er", "ers", "ly", "less", "ful", "ness"),
)

_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FEELING_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
_STR_TAG = "tag:yaml.org,2002:str"
_TAG_NAMES = {
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true/false (put it in quotes)",
    "tag:yaml.org,2002:null": "nothing",
    "tag:yaml.org,2002:timestamp": "a date (put it in quotes)",
}


# --- what the library holds -------------------------------------------------------------------


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
class _Matchers:
    """The library's phrases compiled once, for the functions that search members' messages."""

    risk: tuple[tuple[re.Pattern[str], str], ...]
    exclusions: re.Pattern[str] | None
    feelings: re.Pattern[str] | None
    feeling_by_group: dict[str, str]
    topics: tuple[tuple[str, re.Pattern[str]], ...]


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
    _prompts_by_id: dict[str, Prompt] = field(init=False, repr=False, compare=False)
    _matchers: _Matchers = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: set the derived fields the way dataclasses documents for __post_init__.
        object.__setattr__(self, "_prompts_by_id", {p.id: p for p in self.prompts})
        object.__setattr__(self, "_matchers", _compile_matchers(self))

    def prompt(self, prompt_id: str) -> Prompt:
        """The prompt with this id; KeyError if there is none."""
        return self._prompts_by_id[prompt_id]

    def feeling_words(self) -> frozenset[str]:
        """Every word on the wheel, the core feelings included."""
        return frozenset(_wheel_words(self.wheel))

    def resources_for(self, country: str | None) -> tuple[Resource, ...]:
        """The crisis lines for a country code (any case), or the default ones."""
        if country and country.upper() in self.resources:
            return self.resources[country.upper()]
        return self.resources.get(DEFAULT_RESOURCES, ())


# --- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something wrong in a library file, at a 1-based line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class LibraryError(Exception):
    """The library has problems; `problems` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def check_library(directory: Path = LIBRARY_DIR) -> list[Problem]:
    """Every problem in every library file, with its file name and line."""
    return _read_library(directory)[1]


def load_library(directory: Path = LIBRARY_DIR) -> Library:
    """The library in `directory`; LibraryError listing every problem if there is any."""
    library, problems = _read_library(directory)
    if problems or library is None:
        raise LibraryError(problems)
    return library


# --- searching members' messages --------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower case, straight apostrophes, no accents, single spaces: the form every search uses."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(text.split())


def find_risk(text: str, library: Library) -> str | None:
    """The risk phrase that `text` contains (the earliest), or None."""
    matchers = library._matchers
    searched = normalise(text)
    if matchers.exclusions is not None:
        # A bar, not a space, so the words either side of a removed idiom can't join into a phrase.
        searched = matchers.exclusions.sub(" | ", searched)
    found: list[tuple[int, int, str]] = []
    for pattern, phrase in matchers.risk:
        match = pattern.search(searched)
        if match:
            found.append((match.start(), -len(match.group()), phrase))
    return min(found)[2] if found else None


def find_feelings(text: str, library: Library) -> list[str]:
    """The feeling words `text` names (synonyms as their word), in order of first mention."""
    matchers = library._matchers
    if matchers.feelings is None:
        return []
    named: dict[str, None] = {}  # a dict keeps first-mention order and drops repeats
    for match in matchers.feelings.finditer(normalise(text)):
        if match.lastgroup:
            named.setdefault(matchers.feeling_by_group[match.lastgroup])
    return list(named)


def find_topics(text: str, library: Library) -> list[str]:
    """The ids of the topics whose keywords appear in `text`, in library order."""
    searched = normalise(text)
    return [topic_id for topic_id, pattern in library._matchers.topics if pattern.search(searched)]


_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})


def _words_pattern(words: str) -> str:
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


def _whole(source: str) -> str:
    """`source` matched as whole words only."""
    return rf"(?<!\w)(?:{source})(?!\w)"


def _any_of(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the whole-word phrases, longest first; None if there are none."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(_whole("|".join(_words_pattern(phrase) for phrase in ordered)))


def _wheel_words(wheel: Iterable[CoreFeeling]) -> list[str]:
    words: list[str] = []
    for core in wheel:
        words.append(core.core)
        words.extend(core.words)
    return words


def _compile_matchers(library: Library) -> _Matchers:
    feelings, feeling_by_group = _feelings_pattern(library.wheel, library.synonyms)
    return _Matchers(
        risk=tuple(
            (re.compile(_whole(_words_pattern(phrase))), phrase)
            for phrases in library.risk_phrases.values()
            for phrase in phrases
        ),
        exclusions=_any_of(library.risk_exclusions),
        feelings=feelings,
        feeling_by_group=feeling_by_group,
        topics=tuple(
            (topic.id, _topic_pattern(topic.keywords))
            for topic in library.topics
            if topic.keywords
        ),
    )


def _feelings_pattern(
    wheel: Iterable[CoreFeeling], synonyms: dict[str, tuple[str, ...]]
) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One pattern for every way of writing a feeling, and which word each named group means."""
    word_for = {word: word for word in _wheel_words(wheel)}
    for word, others in synonyms.items():
        word_for.update(dict.fromkeys(others, word))
    if not word_for:
        return None, {}
    # Longest first, so a longer form wins over a shorter one it starts with.
    forms = sorted(word_for, key=len, reverse=True)
    groups = [f"f{index}" for index in range(len(forms))]
    source = "|".join(
        f"(?P<{group}>{_words_pattern(form)})" for group, form in zip(groups, forms, strict=True)
    )
    word_by_group = {group: word_for[form] for group, form in zip(groups, forms, strict=True)}
    return re.compile(_whole(source)), word_by_group


def _topic_pattern(keywords: Iterable[str]) -> re.Pattern[str]:
    """Any keyword at the start of a word, going on with at most a common ending."""
    stems = "|".join(_words_pattern(keyword) for keyword in keywords)
    endings = "|".join(TOPIC_ENDINGS)
    return re.compile(_whole(f"(?:{stems})(?:{endings})?"))


# --- reading and checking the files -----------------------------------------------------------


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _File:
    """One library file: its YAML nodes and the problems found in it."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = name
        self.path = directory / name
        self.problems: list[Problem] = []

    def problem(self, at: Node | int, message: str) -> None:
        line = at if isinstance(at, int) else _line(at)
        self.problems.append(Problem(self.name, line, message))

    def compose(self) -> Node | None:
        """The file's YAML as nodes (which know their line), or None after reporting why not."""
        try:
            source = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.problem(1, f"file is missing (expected {self.path})")
            return None
        except (OSError, UnicodeDecodeError) as error:
            self.problem(1, f"cannot read the file: {error}")
            return None
        try:
            root = yaml.compose(source, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else 1
            self.problem(line, f"YAML syntax error: {error.problem or error.context}")
            return None
        except yaml.YAMLError as error:
            self.problem(1, f"YAML syntax error: {error}")
            return None
        if root is None:
            self.problem(1, "file is empty")
        return root

    def fields(
        self, node: Node, what: str, required: Sequence[str], optional: Sequence[str] = ()
    ) -> _Fields | None:
        """The fields of a mapping node, reporting unknown, repeated and missing ones."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping with {_names(required)}")
            return None
        known = (*required, *optional)
        found = _Fields()
        seen = _Seen()
        pairs: list[tuple[Node, Node]] = node.value
        for key_node, value_node in pairs:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self.problem(key_node, f"{what} has a field that is not a name")
            elif (first := seen.first_line(key, key_node)) is not None:
                self.problem(key_node, f"{what} has `{key}` twice (first at line {first})")
            elif key not in known:
                self.problem(key_node, _unknown_field(what, key, known))
            else:
                found[key] = value_node
                found.key_nodes[key] = key_node
        for name in required:
            if name not in found:
                self.problem(node, f"{what} is missing `{name}`")
        return found

    def text(self, node: Node, what: str) -> str | None:
        """A non-empty string scalar, or None after reporting what it is instead."""
        if not isinstance(node, ScalarNode) or node.tag != _STR_TAG:
            self.problem(node, f"{what} must be text, not {_kind(node)}")
            return None
        value: str = node.value
        if not value.strip():
            self.problem(node, f"{what} is empty")
            return None
        return value.strip()

    def field_text(self, fields: _Fields, name: str) -> str | None:
        """The text of field `name`, or None if it is absent (reported if required) or bad."""
        return self.text(fields[name], f"`{name}`") if name in fields else None

    def field_texts(self, fields: _Fields, name: str) -> list[tuple[str, Node]] | None:
        """The list of texts in field `name`, or None if it is absent or not a list."""
        return self.texts(fields[name], f"`{name}`") if name in fields else None

    def texts(self, node: Node, what: str) -> list[tuple[str, Node]] | None:
        """A non-empty list of texts with their nodes; bad items are reported and skipped."""
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list, not {_kind(node)}")
            return None
        items: list[Node] = node.value
        if not items:
            self.problem(node, f"{what} is an empty list")
            return None
        found: list[tuple[str, Node]] = []
        for item in items:
            value = self.text(item, f"an item of {what}")
            if value is not None:
                found.append((value, item))
        return found

    def items(self, node: Node, what: str) -> list[Node]:
        """The items of a list node (reporting it if it is not one)."""
        if not isinstance(node, SequenceNode):
            self.problem(node, f"`{what}` must be a list, not {_kind(node)}")
            return []
        items: list[Node] = node.value
        return items

    def pairs(self, node: Node, what: str) -> list[tuple[str, Node, Node]]:
        """The (key, key node, value node) of a mapping with free keys, such as language codes."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"`{what}` must be a mapping, not {_kind(node)}")
            return []
        found: list[tuple[str, Node, Node]] = []
        pairs: list[tuple[Node, Node]] = node.value
        seen = _Seen()
        for key_node, value_node in pairs:
            key = self.text(key_node, f"a key of `{what}`")
            if key is None:
                continue
            first = seen.first_line(key, key_node)
            if first is not None:
                self.problem(key_node, f"`{what}` has `{key}` twice (first at line {first})")
                continue
            found.append((key, key_node, value_node))
        return found


class _Fields(dict[str, Node]):
    """A mapping's fields: name -> value node, and where each name itself was written."""

    def __init__(self) -> None:
        super().__init__()
        self.key_nodes: dict[str, Node] = {}


class _Seen:
    """Remembers where each name was first seen, to report duplicates with both lines."""

    def __init__(self) -> None:
        self._lines: dict[str, int] = {}

    def first_line(self, name: str, node: Node) -> int | None:
        """The line `name` was first seen on, or None (and remember this one) if it is new."""
        if name in self._lines:
            return self._lines[name]
        self._lines[name] = _line(node)
        return None


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return _TAG_NAMES.get(node.tag, "text")


def _unknown_field(what: str, key: str, known: Sequence[str]) -> str:
    message = f"{what} has an unknown field `{key}`"
    guess = difflib.get_close_matches(key, known, n=1)
    if guess:
        return f"{message}; did you mean `{guess[0]}`?"
    return f"{message}; expected {_names(known)}"


def _read_library(directory: Path) -> tuple[Library | None, list[Problem]]:
    files = {name: _File(directory, name) for name in FILES}
    tools, tool_ids = _read_tools(files[TOOLS_FILE])
    prompts, themed_weeks = _read_prompts(files[PROMPTS_FILE], tool_ids)
    wheel, synonyms = _read_feelings(files[FEELINGS_FILE])
    risk_phrases, exclusions, resources = _read_risk(files[RISK_FILE])
    topics = _read_topics(files[TOPICS_FILE])
    problems = [
        problem
        for name in FILES
        for problem in sorted(files[name].problems, key=lambda problem: problem.line)
    ]
    if problems:
        return None, problems
    library = Library(
        prompts=prompts,
        themed_weeks=themed_weeks,
        tools=tools,
        wheel=wheel,
        synonyms=synonyms,
        topics=topics,
        risk_phrases=risk_phrases,
        risk_exclusions=exclusions,
        resources=resources,
    )
    return library, []


def _top_level(
    file: _File, required: Sequence[str], optional: Sequence[str] = ()
) -> _Fields | None:
    root = file.compose()
    if root is None:
        return None
    return file.fields(root, "the top level", required, optional)


# prompts.yaml


def _read_prompts(
    file: _File, tool_ids: set[str] | None
) -> tuple[tuple[Prompt, ...], tuple[tuple[str, str], ...]]:
    top = _top_level(file, ["prompts"], ["themed_weeks"])
    if top is None or "prompts" not in top:
        return (), ()
    seen = _Seen()
    prompts: list[Prompt] = []
    # Themes are counted even on a broken prompt, so one typo doesn't also fail its week.
    per_theme: Counter[str] = Counter()
    for node in file.items(top["prompts"], "prompts"):
        prompt, theme = _read_prompt(file, node, seen, tool_ids)
        if prompt is not None:
            prompts.append(prompt)
        if theme is not None:
            per_theme[theme] += 1
    weeks: tuple[tuple[str, str], ...] = ()
    if "themed_weeks" in top:
        weeks = _read_themed_weeks(file, top["themed_weeks"], per_theme)
    return tuple(prompts), weeks


def _read_prompt(
    file: _File, node: Node, seen: _Seen, tool_ids: set[str] | None
) -> tuple[Prompt | None, str | None]:
    """The prompt (None if it is broken) and its theme (None if it has no valid one)."""
    fields = file.fields(node, "a prompt", ["id", "text"], ["theme", "tool"])
    if fields is None:
        return None, None
    prompt_id = _read_id(file, fields, seen)
    text = file.field_text(fields, "text")
    if text is not None and len(text) > MAX_PROMPT_CHARS:
        file.problem(
            fields["text"], f"`text` has {len(text)} characters; keep it under {MAX_PROMPT_CHARS}"
        )
    theme = _read_choice(file, fields, "theme", THEMES, "themes")
    tool = None
    if "tool" in fields:
        tool = file.text(fields["tool"], "`tool`")
        if tool is not None and tool_ids is not None and tool not in tool_ids:
            file.problem(
                fields["tool"],
                f"unknown tool `{tool}`; {TOOLS_FILE} has {_names(sorted(tool_ids))}",
            )
    if prompt_id is None or text is None:
        return None, theme
    return Prompt(id=prompt_id, text=text, theme=theme, tool=tool), theme


def _read_id(file: _File, fields: _Fields, seen: _Seen) -> str | None:
    """The item's kebab-case `id`, reporting a bad or repeated one."""
    if "id" not in fields:
        return None
    node = fields["id"]
    item_id = file.text(node, "`id`")
    if item_id is None:
        return None
    if not _KEBAB.fullmatch(item_id):
        file.problem(node, f"id `{item_id}` must be kebab-case: lower-case words joined by -")
    first = seen.first_line(item_id, node)
    if first is not None:
        file.problem(node, f"duplicate id `{item_id}` (first at line {first})")
        return None
    return item_id


def _read_choice(
    file: _File, fields: _Fields, name: str, choices: Sequence[str], plural: str
) -> str | None:
    if name not in fields:
        return None
    value = file.text(fields[name], f"`{name}`")
    if value is not None and value not in choices:
        file.problem(fields[name], f"unknown {name} `{value}`; the {plural} are {_names(choices)}")
        return None
    return value


def _read_themed_weeks(
    file: _File, node: Node, per_theme: Counter[str]
) -> tuple[tuple[str, str], ...]:
    seen = _Seen()
    weeks: list[tuple[str, str]] = []
    for item in file.items(node, "themed_weeks"):
        fields = file.fields(item, "a themed week", ["theme", "title"])
        if fields is None:
            continue
        theme = _read_choice(file, fields, "theme", THEMES, "themes")
        title = file.field_text(fields, "title")
        if theme is None or title is None:
            continue
        first = seen.first_line(theme, fields["theme"])
        if first is not None:
            file.problem(fields["theme"], f"a second `{theme}` week (first at line {first})")
            continue
        count = per_theme[theme]
        if count < MIN_PROMPTS_FOR_A_THEMED_WEEK:
            file.problem(
                fields["theme"],
                f"a `{theme}` week needs {MIN_PROMPTS_FOR_A_THEMED_WEEK} prompts with that theme;"
                f" there are {count}",
            )
            continue
        weeks.append((theme, title))
    return tuple(weeks)


# tools.yaml


def _read_tools(file: _File) -> tuple[dict[str, Tool], set[str] | None]:
    """The tools, and every id named (even on a broken tool) so prompts can be checked against it.

    The ids are None when the file cannot be read at all: then every prompt's tool would look
    unknown, which says nothing useful.
    """
    top = _top_level(file, ["tools"])
    if top is None or "tools" not in top:
        return {}, None
    seen = _Seen()
    tools: dict[str, Tool] = {}
    ids: set[str] = set()
    for node in file.items(top["tools"], "tools"):
        fields = file.fields(
            node, "a tool", ["id", "title", "intro", "steps"], ["templates", "examples"]
        )
        if fields is None:
            continue
        tool_id = _read_id(file, fields, seen)
        if tool_id is not None:
            ids.add(tool_id)
        tool = _read_tool(file, fields, tool_id)
        if tool is not None:
            tools[tool.id] = tool
    for required in REQUIRED_TOOLS:
        if required not in ids:
            file.problem(
                top.key_nodes["tools"],
                f"the `{required}` tool is missing; the bot offers it by id",
            )
    return tools, ids


def _read_tool(file: _File, fields: _Fields, tool_id: str | None) -> Tool | None:
    title = file.field_text(fields, "title")
    intro = file.field_text(fields, "intro")
    steps = file.field_texts(fields, "steps")
    # Optional lists: absent is an empty list; None means present but broken (and reported).
    templates = file.field_texts(fields, "templates") if "templates" in fields else []
    for template, node in templates or []:
        _check_template(file, template, node)
    examples = file.field_texts(fields, "examples") if "examples" in fields else []
    if tool_id is None or title is None or intro is None or steps is None:
        return None
    if templates is None or examples is None:
        return None
    return Tool(
        id=tool_id,
        title=title,
        intro=intro,
        steps=_values(steps),
        templates=_values(templates),
        examples=_values(examples),
    )


def _values(items: Iterable[tuple[str, Node]]) -> tuple[str, ...]:
    return tuple(value for value, _node in items)


def _check_template(file: _File, template: str, node: Node) -> None:
    """Report a template that str.format could not fill: an unbalanced brace or an empty {}."""
    try:
        placeholders = [name for _text, name, _spec, _conv in string.Formatter().parse(template)]
    except ValueError:
        file.problem(node, f"template has an unbalanced `{{` or `}}`: {template!r}")
        return
    for name in placeholders:
        if name is not None and not name.isidentifier():
            file.problem(node, f"template placeholder `{{{name}}}` needs a name like {{person}}")


# feelings.yaml


def _read_feelings(
    file: _File,
) -> tuple[tuple[CoreFeeling, ...], dict[str, tuple[str, ...]]]:
    top = _top_level(file, ["wheel"], ["synonyms"])
    if top is None or "wheel" not in top:
        return (), {}
    where: dict[str, tuple[str, int]] = {}  # word -> (its core, its line)
    wheel: list[CoreFeeling] = []
    for node in file.items(top["wheel"], "wheel"):
        core = _read_core(file, node, where)
        if core is not None:
            wheel.append(core)
    # Count every word placed, even under a broken core, so one typo doesn't also fail the count.
    word_count = sum(word != core for word, (core, _line) in where.items())
    if word_count < MIN_FEELING_WORDS:
        file.problem(
            top.key_nodes["wheel"],
            f"the wheel has {word_count} feeling words; it needs at least {MIN_FEELING_WORDS}",
        )
    synonyms = _read_synonyms(file, top["synonyms"], set(where)) if "synonyms" in top else {}
    return tuple(wheel), synonyms


def _read_core(file: _File, node: Node, where: dict[str, tuple[str, int]]) -> CoreFeeling | None:
    fields = file.fields(node, "a core feeling", ["core", "emoji", "words"])
    if fields is None:
        return None
    core = file.field_text(fields, "core")
    if core is not None and not _claim_word(file, core, fields["core"], core, where):
        core = None
    emoji = file.field_text(fields, "emoji")
    if emoji is not None and not _is_one_emoji(emoji):
        file.problem(fields["emoji"], f"`emoji` must be one emoji, not {emoji!r}")
        emoji = None
    listed = file.field_texts(fields, "words")
    words: list[str] = []
    for word, word_node in listed or []:
        if _claim_word(file, word, word_node, core or "?", where):
            words.append(word)
    if core is None or emoji is None or not words:
        return None
    return CoreFeeling(core=core, emoji=emoji, words=tuple(words))


def _claim_word(
    file: _File, word: str, node: Node, core: str, where: dict[str, tuple[str, int]]
) -> bool:
    """Record `word` under `core`; False (and a problem) if it is malformed or already taken."""
    if not _FEELING_WORD.fullmatch(word):
        file.problem(node, f"feeling word `{word}` must be lower-case letters, hyphens between")
        return False
    if word in where:
        first_core, first_line = where[word]
        if first_core == core:
            file.problem(
                node, f"`{word}` is listed twice under `{core}` (first at line {first_line})"
            )
        else:
            file.problem(
                node,
                f"`{word}` is under two cores: `{first_core}` (line {first_line}) and `{core}`",
            )
        return False
    where[word] = (core, _line(node))
    return True


def _is_one_emoji(text: str) -> bool:
    # One emoji can be several code points (a flag, a skin tone, a ZWJ family), never letters.
    return len(text) <= 8 and not any(char.isalnum() or char.isspace() for char in text)


def _read_synonyms(file: _File, node: Node, words: set[str]) -> dict[str, tuple[str, ...]]:
    synonyms: dict[str, tuple[str, ...]] = {}
    seen = _Seen()
    for word, key_node, value_node in file.pairs(node, "synonyms"):
        if word not in words:
            file.problem(key_node, f"synonyms for `{word}`, which is not a word on the wheel")
            continue
        forms: list[str] = []
        for form, form_node in file.texts(value_node, f"the synonyms of `{word}`") or []:
            if form != form.lower():
                file.problem(form_node, f"synonym `{form}` must be lower-case")
            elif form in words:
                file.problem(form_node, f"`{form}` is already a word on the wheel")
            elif (first := seen.first_line(form, form_node)) is not None:
                file.problem(form_node, f"synonym `{form}` appears twice (first at line {first})")
            else:
                forms.append(form)
        synonyms[word] = tuple(forms)
    return synonyms


# risk.yaml


def _read_risk(
    file: _File,
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...], dict[str, tuple[Resource, ...]]]:
    top = _top_level(file, ["languages", "resources"], ["exclude"])
    if top is None:
        return {}, (), {}
    phrases: dict[str, tuple[str, ...]] = {}
    phrase_nodes: list[tuple[str, Node]] = []
    if "languages" in top:
        for language, key_node, value_node in file.pairs(top["languages"], "languages"):
            if not _LANGUAGE_CODE.fullmatch(language):
                file.problem(key_node, f"language `{language}` must be a two-letter code like en")
            found = _read_phrases(file, value_node, f"the `{language}` phrases")
            phrases[language] = tuple(phrase for phrase, _node in found)
            phrase_nodes.extend(found)
        if not phrases:
            file.problem(top.key_nodes["languages"], "`languages` has no phrases")
    exclusions: list[tuple[str, Node]] = []
    if "exclude" in top:
        exclusions = _read_phrases(file, top["exclude"], "`exclude`")
        _check_exclusions(file, exclusions, phrase_nodes)
    resources: dict[str, tuple[Resource, ...]] = {}
    if "resources" in top:
        resources = _read_resources(file, top["resources"])
        if isinstance(top["resources"], MappingNode) and DEFAULT_RESOURCES not in resources:
            file.problem(
                top.key_nodes["resources"],
                "`resources` has no `default` entry (shown when a member's country is unknown)",
            )
    return phrases, _values(exclusions), resources


def _read_phrases(file: _File, node: Node, what: str) -> list[tuple[str, Node]]:
    seen = _Seen()
    phrases: list[tuple[str, Node]] = []
    for phrase, phrase_node in file.texts(node, what) or []:
        if phrase != phrase.lower():
            file.problem(phrase_node, f"`{phrase}` must be lower-case")
        elif (first := seen.first_line(phrase, phrase_node)) is not None:
            file.problem(phrase_node, f"`{phrase}` appears twice (first at line {first})")
        else:
            phrases.append((phrase, phrase_node))
    return phrases


def _check_exclusions(
    file: _File, exclusions: Sequence[tuple[str, Node]], phrases: Sequence[tuple[str, Node]]
) -> None:
    """An idiom that covers a whole risk phrase would silence it everywhere: report it."""
    for exclusion, node in exclusions:
        pattern = re.compile(_whole(_words_pattern(exclusion)))
        for phrase, phrase_node in phrases:
            if pattern.search(normalise(phrase)):
                file.problem(
                    node,
                    f"excluding `{exclusion}` would hide the risk phrase `{phrase}`"
                    f" (line {_line(phrase_node)})",
                )


def _read_resources(file: _File, node: Node) -> dict[str, tuple[Resource, ...]]:
    resources: dict[str, tuple[Resource, ...]] = {}
    for country, key_node, value_node in file.pairs(node, "resources"):
        if country != DEFAULT_RESOURCES and not _COUNTRY_CODE.fullmatch(country):
            file.problem(
                key_node, f"`{country}` must be a two-letter country code like US, or default"
            )
        found: list[Resource] = []
        for item in file.items(value_node, f"resources.{country}"):
            fields = file.fields(item, "a resource", ["name", "contact"])
            if fields is None:
                continue
            name = file.field_text(fields, "name")
            contact = file.field_text(fields, "contact")
            if name is not None and contact is not None:
                found.append(Resource(name=name, contact=contact))
        resources[country] = tuple(found)
    return resources


# topics.yaml


def _read_topics(file: _File) -> tuple[Topic, ...]:
    top = _top_level(file, ["topics"])
    if top is None or "topics" not in top:
        return ()
    seen = _Seen()
    topics: list[Topic] = []
    for node in file.items(top["topics"], "topics"):
        fields = file.fields(node, "a topic", ["id", "title", "keywords"])
        if fields is None:
            continue
        topic_id = _read_id(file, fields, seen)
        title = file.field_text(fields, "title")
        keywords = (
            _read_phrases(file, fields["keywords"], "`keywords`") if "keywords" in fields else []
        )
        if topic_id is not None and title is not None and keywords:
            topics.append(Topic(id=topic_id, title=title, keywords=_values(keywords)))
    return tuple(topics)
