"""Reading the prompt library from YAML, and checking it.

The words live in YAML under `prompts/library/` so the coach can edit them without touching
code. `check_library` names the file and line of every problem it finds, and `load_library`
refuses a library that has any, so a typo fails the tests instead of a morning broadcast.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from yaml.nodes import MappingNode, Node

from prompts.catalog import (
    DEFAULT_RESOURCES,
    REQUIRED_TOOLS,
    RISK_CONCEPTS,
    RISK_CONCEPTS_ALONE,
    RISK_LANGUAGES,
    THEMES,
    Agreement,
    CoreFeeling,
    Library,
    Prompt,
    Resource,
    RiskLexicon,
    Tool,
    Topic,
)
from prompts.checked_yaml import Fields, Problem, Seen, YamlFile, line_of, quoted_names
from prompts.text import normalise, whole, words_pattern

LIBRARY_DIR = Path(__file__).parent / "library"

PROMPTS_FILE = "prompts.yaml"
TOOLS_FILE = "tools.yaml"
FEELINGS_FILE = "feelings.yaml"
RISK_FILE = "risk.yaml"
TOPICS_FILE = "topics.yaml"
AGREEMENT_FILE = "agreement.yaml"
RISK_LANGUAGE_FILES = {language: f"risk-{language}.yaml" for language in RISK_LANGUAGES}
FILES = (
    PROMPTS_FILE,
    TOOLS_FILE,
    FEELINGS_FILE,
    RISK_FILE,
    *RISK_LANGUAGE_FILES.values(),
    TOPICS_FILE,
    AGREEMENT_FILE,
)
MAX_AGREEMENT_POINTS = 6

MIN_FEELING_WORDS = 100
MIN_PROMPTS_FOR_A_THEMED_WEEK = 7
MAX_PROMPT_CHARS = 600

_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FEELING_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")


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


def _read_library(directory: Path) -> tuple[Library | None, list[Problem]]:
    files = {name: YamlFile(directory, name) for name in FILES}
    if not (directory / AGREEMENT_FILE).exists():
        # A coach's copy from before the agreement existed: the built-in one stands in.
        files[AGREEMENT_FILE] = YamlFile(LIBRARY_DIR, AGREEMENT_FILE)
    for name in RISK_LANGUAGE_FILES.values():
        if not (directory / name).exists():
            # A copy from before the lexicon had a file per language: the built-in one.
            files[name] = YamlFile(LIBRARY_DIR, name)
    tools, tool_ids = _read_tools(files[TOOLS_FILE])
    prompts, themed_weeks = _read_prompts(files[PROMPTS_FILE], tool_ids)
    wheel, synonyms = _read_feelings(files[FEELINGS_FILE])
    resources = _read_resources_file(files[RISK_FILE])
    risk = {
        language: _read_risk_language(files[name], language)
        for language, name in RISK_LANGUAGE_FILES.items()
    }
    topics = _read_topics(files[TOPICS_FILE])
    agreement = _read_agreement(files[AGREEMENT_FILE])
    problems = [
        problem
        for name in FILES
        for problem in sorted(files[name].problems, key=lambda problem: problem.line)
    ]
    if problems or agreement is None:
        return None, problems
    library = Library(
        prompts=prompts,
        themed_weeks=themed_weeks,
        tools=tools,
        wheel=wheel,
        synonyms=synonyms,
        topics=topics,
        risk=risk,
        resources=resources,
        agreement=agreement,
    )
    return library, []


def _top_level(
    file: YamlFile, required: Sequence[str], optional: Sequence[str] = ()
) -> Fields | None:
    root = file.compose()
    if root is None:
        return None
    return file.fields(root, "the top level", required, optional)


# prompts.yaml


def _read_prompts(
    file: YamlFile, tool_ids: set[str] | None
) -> tuple[tuple[Prompt, ...], tuple[tuple[str, str], ...]]:
    top = _top_level(file, ["prompts"], ["themed_weeks"])
    if top is None or "prompts" not in top:
        return (), ()
    seen = Seen()
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
    file: YamlFile, node: Node, seen: Seen, tool_ids: set[str] | None
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
                f"unknown tool `{tool}`; {TOOLS_FILE} has {quoted_names(sorted(tool_ids))}",
            )
    if prompt_id is None or text is None:
        return None, theme
    return Prompt(id=prompt_id, text=text, theme=theme, tool=tool), theme


def _read_id(file: YamlFile, fields: Fields, seen: Seen) -> str | None:
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
    file: YamlFile, fields: Fields, name: str, choices: Sequence[str], plural: str
) -> str | None:
    if name not in fields:
        return None
    value = file.text(fields[name], f"`{name}`")
    if value is not None and value not in choices:
        file.problem(
            fields[name], f"unknown {name} `{value}`; the {plural} are {quoted_names(choices)}"
        )
        return None
    return value


def _read_themed_weeks(
    file: YamlFile, node: Node, per_theme: Counter[str]
) -> tuple[tuple[str, str], ...]:
    seen = Seen()
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


def _read_tools(file: YamlFile) -> tuple[dict[str, Tool], set[str] | None]:
    """The tools, and every id named (even on a broken tool) so prompts can be checked against it.

    The ids are None when the file cannot be read at all: then every prompt's tool would look
    unknown, which says nothing useful.
    """
    top = _top_level(file, ["tools"])
    if top is None or "tools" not in top:
        return {}, None
    seen = Seen()
    tools: dict[str, Tool] = {}
    ids: set[str] = set()
    for node in file.items(top["tools"], "tools"):
        fields = file.fields(
            node, "a tool", ["id", "title", "intro", "steps"], ["templates", "examples", "outro"]
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


def _read_tool(file: YamlFile, fields: Fields, tool_id: str | None) -> Tool | None:
    title = file.field_text(fields, "title")
    intro = file.field_text(fields, "intro")
    steps = file.field_texts(fields, "steps")
    # Optional lists: absent is an empty list; None means present but broken (and reported).
    templates = file.field_texts(fields, "templates") if "templates" in fields else []
    for template, node in templates or []:
        _check_template(file, template, node)
    examples = file.field_texts(fields, "examples") if "examples" in fields else []
    outro = file.field_text(fields, "outro") if "outro" in fields else None
    if tool_id is None or title is None or intro is None or steps is None:
        return None
    if templates is None or examples is None or ("outro" in fields and outro is None):
        return None
    return Tool(
        id=tool_id,
        title=title,
        intro=intro,
        steps=_values(steps),
        templates=_values(templates),
        examples=_values(examples),
        outro=outro,
    )


def _values(items: Iterable[tuple[str, Node]]) -> tuple[str, ...]:
    return tuple(value for value, _node in items)


def _check_template(file: YamlFile, template: str, node: Node) -> None:
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
    file: YamlFile,
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
    word_count = sum(word != core for word, (core, line_of) in where.items())
    if word_count < MIN_FEELING_WORDS:
        file.problem(
            top.key_nodes["wheel"],
            f"the wheel has {word_count} feeling words; it needs at least {MIN_FEELING_WORDS}",
        )
    synonyms = _read_synonyms(file, top["synonyms"], set(where)) if "synonyms" in top else {}
    return tuple(wheel), synonyms


def _read_core(
    file: YamlFile, node: Node, where: dict[str, tuple[str, int]]
) -> CoreFeeling | None:
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
    file: YamlFile, word: str, node: Node, core: str, where: dict[str, tuple[str, int]]
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
    where[word] = (core, line_of(node))
    return True


def _is_one_emoji(text: str) -> bool:
    # One emoji can be several code points (a flag, a skin tone, a ZWJ family), never letters.
    return len(text) <= 8 and not any(char.isalnum() or char.isspace() for char in text)


def _read_synonyms(file: YamlFile, node: Node, words: set[str]) -> dict[str, tuple[str, ...]]:
    synonyms: dict[str, tuple[str, ...]] = {}
    seen = Seen()
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


# risk.yaml: the crisis lines


def _read_resources_file(file: YamlFile) -> dict[str, tuple[Resource, ...]]:
    # `languages` and `exclude` are the lexicon of a copy from before risk-<code>.yaml; the
    # built-in files stand in for them, so they are accepted and not read.
    top = _top_level(file, ["resources"], ["languages", "exclude"])
    if top is None or "resources" not in top:
        return {}
    resources = _read_resources(file, top["resources"])
    if isinstance(top["resources"], MappingNode) and DEFAULT_RESOURCES not in resources:
        file.problem(
            top.key_nodes["resources"],
            "`resources` has no `default` entry (shown when a member's country is unknown)",
        )
    return resources


# risk-<code>.yaml: one language's lexicon


def _read_risk_language(file: YamlFile, language: str) -> RiskLexicon:
    lexicon = RiskLexicon(language=language, spellings={}, concepts={})
    top = _top_level(file, ["concepts"], ["spellings"])
    if top is None:
        return lexicon
    spellings: dict[str, str] = {}
    if "spellings" in top:
        for typed, _key_node, value_node in file.pairs(top["spellings"], "spellings"):
            meant = file.text(value_node, f"the spelling of `{typed}`")
            if meant is not None:
                spellings[typed.lower()] = meant.lower()
    concepts: dict[str, tuple[str, ...]] = {}
    phrase_nodes: list[tuple[str, Node]] = []
    idioms: list[tuple[str, Node]] = []
    if "concepts" in top:
        for name, key_node, value_node in file.pairs(top["concepts"], "concepts"):
            if name not in RISK_CONCEPTS:
                file.problem(
                    key_node,
                    f"`{name}` is not a concept the net knows (see RISK_CONCEPTS in"
                    " prompts/catalog.py)",
                )
                continue
            found = _read_phrases(file, value_node, f"the `{name}` phrases")
            concepts[name] = tuple(phrase for phrase, _node in found)
            if name == "idiom":
                idioms = found
            elif name in RISK_CONCEPTS_ALONE:
                phrase_nodes.extend(found)
        _check_exclusions(file, idioms, phrase_nodes)
    return RiskLexicon(
        language=language,
        spellings=spellings,
        concepts=concepts,
    )


def _read_phrases(file: YamlFile, node: Node, what: str) -> list[tuple[str, Node]]:
    seen = Seen()
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
    file: YamlFile, exclusions: Sequence[tuple[str, Node]], phrases: Sequence[tuple[str, Node]]
) -> None:
    """An idiom that covers a whole risk phrase would silence it everywhere: report it."""
    for exclusion, node in exclusions:
        pattern = re.compile(whole(words_pattern(exclusion.replace("*", ""))))
        for phrase, phrase_node in phrases:
            if pattern.search(normalise(phrase.replace("*", ""))):
                file.problem(
                    node,
                    f"excluding `{exclusion}` would hide the risk phrase `{phrase}`"
                    f" (line {line_of(phrase_node)})",
                )


def _read_resources(file: YamlFile, node: Node) -> dict[str, tuple[Resource, ...]]:
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


def _read_topics(file: YamlFile) -> tuple[Topic, ...]:
    top = _top_level(file, ["topics"])
    if top is None or "topics" not in top:
        return ()
    seen = Seen()
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


# agreement.yaml


def _read_agreement(file: YamlFile) -> Agreement | None:
    top = _top_level(file, ["agreement"])
    if top is None or "agreement" not in top:
        return None
    fields = file.fields(top["agreement"], "the agreement", ["title", "intro", "points", "accept"])
    if fields is None:
        return None
    title = file.field_text(fields, "title")
    intro = file.field_text(fields, "intro")
    points = file.field_texts(fields, "points")
    accept = file.field_text(fields, "accept")
    if points is not None and not 1 <= len(points) <= MAX_AGREEMENT_POINTS:
        file.problem(
            fields["points"],
            f"the agreement has {len(points)} points; keep it to 1 to {MAX_AGREEMENT_POINTS}",
        )
        return None
    if accept is not None and len(accept) > 40:
        file.problem(fields["accept"], "`accept` is a button: keep it under 40 characters")
        return None
    if title is None or intro is None or points is None or accept is None:
        return None
    return Agreement(title=title, intro=intro, points=_values(points), accept=accept)
