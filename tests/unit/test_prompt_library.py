"""The prompt library: the shipped words load cleanly, mistakes point at their line, and the
safety net catches risk in many phrasings without crying wolf at everyday idioms."""

import shutil
from collections import Counter
from pathlib import Path

import pytest

from practice.words import Vocabulary
from prompts.catalog import REQUIRED_TOOLS, THEMES, Library
from prompts.checked_yaml import Problem
from prompts.loader import FILES, LIBRARY_DIR, LibraryError, check_library, load_library
from safety.matcher import Finding, Level, RiskMatcher


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library()


@pytest.fixture(scope="module")
def risk(library: Library) -> RiskMatcher:
    return RiskMatcher(library)


@pytest.fixture(scope="module")
def vocabulary(library: Library) -> Vocabulary:
    return Vocabulary(library)


# --- the shipped library ----------------------------------------------------------------------


def test_the_shipped_library_has_no_problems() -> None:
    assert check_library() == []


def test_there_are_enough_prompts_for_every_theme(library: Library) -> None:
    assert len(library.prompts) >= 60
    per_theme = Counter(prompt.theme for prompt in library.prompts)
    assert {theme: per_theme[theme] for theme in THEMES if per_theme[theme] < 5} == {}


def test_prompts_are_short_and_point_at_real_tools(library: Library) -> None:
    for prompt in library.prompts:
        assert 0 < len(prompt.text) <= 600, prompt.id
        assert prompt.tool is None or prompt.tool in library.tools, prompt.id
    assert library.prompt("just-said-no").tool == "boundary"
    with pytest.raises(KeyError):
        library.prompt("no-such-prompt")


def test_themed_weeks_name_known_themes(library: Library) -> None:
    assert ("boundaries", "Boundaries week") in library.themed_weeks
    assert all(theme in THEMES for theme, _title in library.themed_weeks)


def test_all_five_tools_are_there(library: Library) -> None:
    assert set(REQUIRED_TOOLS) <= set(library.tools)
    assert {"breathe", "ground", "boundary", "inner-kid", "feel"} <= set(library.tools)
    for tool in library.tools.values():
        assert tool.title and tool.intro and tool.steps, tool.id


def test_the_boundary_builder_has_templates_and_examples(library: Library) -> None:
    boundary = library.tools["boundary"]
    assert "When {what}, I feel {feeling}. I need {need}." in boundary.templates
    assert any("{person}" in template for template in boundary.templates)
    assert 4 <= len(boundary.examples) <= 6
    filled = boundary.templates[0].format(what="plans change", feeling="dropped", need="notice")
    assert filled == "When plans change, I feel dropped. I need notice."


def test_the_wheel_has_enough_distinct_feeling_words(library: Library) -> None:
    assert 7 <= len(library.wheel) <= 9
    words = [word for core in library.wheel for word in core.words]
    assert len(words) >= 100
    assert len(words) == len(set(words))
    assert len(library.feeling_words()) >= 100
    assert {"abandoned", "anxious", "shame-hot", "lonely"} <= library.feeling_words()


def test_the_safety_net_reads_five_languages_in_their_own_words(library: Library) -> None:
    assert set(library.risk) == {"en", "es", "de", "fr", "pt"}
    for language, lexicon in library.risk.items():
        phrases = sum(len(phrases) for phrases in lexicon.concepts.values())
        assert phrases >= 400, language
        assert {"intent", "selfharm", "goodbye", "burden", "hopeless", "idiom"} <= set(
            lexicon.concepts
        ), language


def test_default_resources_name_988_samaritans_and_findahelpline(library: Library) -> None:
    contacts = " ".join(f"{r.name} {r.contact}" for r in library.resources["default"])
    assert "988" in contacts and "116 123" in contacts and "findahelpline.com" in contacts
    assert {"US", "GB", "IE", "CA", "AU", "DE", "ES", "IL"} <= set(library.resources)
    assert library.resources_for("gb") == library.resources["GB"]
    assert library.resources_for("FR") == library.resources["default"]
    assert library.resources_for(None) == library.resources["default"]


def test_topics_have_a_handful_of_keywords_each(library: Library) -> None:
    assert len(library.topics) >= 10
    for topic in library.topics:
        assert 6 <= len(topic.keywords) <= 15, topic.id


# --- broken copies point at the file and line ---------------------------------------------------


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """A copy of the real library with `old` replaced by `new` (once) in `file`."""
    directory = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, directory)
    path = directory / file
    source = path.read_text(encoding="utf-8")
    assert source.count(old) == 1, f"{old!r} should appear once in {file}"
    path.write_text(source.replace(old, new), encoding="utf-8")
    return directory


def lines_of(directory: Path, file: str, text: str) -> list[int]:
    """The 1-based numbers of the lines in `file` that contain `text`, comments aside."""
    lines = (directory / file).read_text(encoding="utf-8").splitlines()
    return [
        number
        for number, line in enumerate(lines, start=1)
        if text in line and not line.lstrip().startswith("#")
    ]


def line_of(directory: Path, file: str, text: str) -> int:
    """The 1-based number of the one line in `file` that contains `text`."""
    [line] = lines_of(directory, file, text)
    return line


def problems_in(directory: Path) -> list[Problem]:
    """check_library's problems, after checking load_library raises with the same ones."""
    problems = check_library(directory)
    with pytest.raises(LibraryError) as raised:
        load_library(directory)
    assert raised.value.problems == problems
    assert str(raised.value).splitlines() == [str(problem) for problem in problems]
    return problems


def test_a_missing_field_points_at_its_item(tmp_path: Path) -> None:
    directory = broken_copy(
        tmp_path,
        "prompts.yaml",
        "    text: \"What's one feeling word for right now?",
        "    # text: \"What's one feeling word for right now?",
    )
    line = line_of(directory, "prompts.yaml", "- id: one-word-for-now")
    assert problems_in(directory) == [Problem("prompts.yaml", line, "a prompt is missing `text`")]


def test_a_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    directory = broken_copy(tmp_path, "prompts.yaml", "- id: where-it-sits", "- id: one-small-win")
    first, second = lines_of(directory, "prompts.yaml", "- id: one-small-win")
    assert problems_in(directory) == [
        Problem("prompts.yaml", second, f"duplicate id `one-small-win` (first at line {first})")
    ]
    assert str(problems_in(directory)[0]) == (
        f"prompts.yaml:{second}: duplicate id `one-small-win` (first at line {first})"
    )


def test_bad_yaml_names_its_line(tmp_path: Path) -> None:
    directory = broken_copy(
        tmp_path,
        "tools.yaml",
        "    title: 5-4-3-2-1 grounding\n",
        "    title: Ground: 5-4-3-2-1\n",
    )
    line = line_of(directory, "tools.yaml", "title: Ground: 5-4-3-2-1")
    assert problems_in(directory) == [
        Problem("tools.yaml", line, "YAML syntax error: mapping values are not allowed here")
    ]


def test_an_unknown_tool_is_reported_where_it_is_named(tmp_path: Path) -> None:
    directory = broken_copy(
        tmp_path,
        "prompts.yaml",
        "- id: yes-and-disappeared\n    theme: boundaries\n    tool: boundary",
        "- id: yes-and-disappeared\n    theme: boundaries\n    tool: boundry",
    )
    line = line_of(directory, "prompts.yaml", "tool: boundry")
    [problem] = problems_in(directory)
    assert (problem.file, problem.line) == ("prompts.yaml", line)
    assert problem.message.startswith("unknown tool `boundry`")


def test_an_unknown_field_is_reported_with_a_guess(tmp_path: Path) -> None:
    directory = broken_copy(tmp_path, "topics.yaml", "    title: Money\n", "    titel: Money\n")
    item = line_of(directory, "topics.yaml", "- id: money")
    field = line_of(directory, "topics.yaml", "titel: Money")
    assert problems_in(directory) == [
        Problem("topics.yaml", item, "a topic is missing `title`"),
        Problem(
            "topics.yaml", field, "a topic has an unknown field `titel`; did you mean `title`?"
        ),
    ]


@pytest.mark.parametrize(
    ("file", "old", "new", "at", "message"),
    [
        pytest.param(
            "prompts.yaml",
            "- id: shame-hot\n    theme: shame\n",
            "- id: shame-hot\n    theme: shames\n",
            "theme: shames",
            "unknown theme `shames`",
            id="unknown theme",
        ),
        pytest.param(
            "prompts.yaml",
            "- id: one-small-win",
            "- id: 42",
            "- id: 42",
            "`id` must be text, not a number",
            id="id not text",
        ),
        pytest.param(
            "prompts.yaml",
            "text: \"What's one small win",
            'text: "' + "x" * 600 + " What's",
            "x" * 600,
            "`text` has ",
            id="prompt too long",
        ),
        pytest.param(
            "prompts.yaml",
            'theme: rest\n    text: "What would',
            'theme: wins\n    text: "What would',
            "- theme: rest",
            "a `rest` week needs 7 prompts with that theme; there are 6",
            id="thin themed week",
        ),
        pytest.param(
            "tools.yaml",
            "When {what}, I feel",
            "When {what, I feel",
            "When {what, I feel",
            "template has an unbalanced",
            id="unbalanced template",
        ),
        pytest.param(
            "tools.yaml",
            "  - id: feel\n",
            "  - id: feeling\n",
            "tools:",
            "the `feel` tool is missing",
            id="required tool missing",
        ),
        pytest.param(
            "feelings.yaml",
            "      - glad\n",
            "      - anxious\n",
            "      - anxious",
            "`anxious` is under two cores: `scared`",
            id="word under two cores",
        ),
        pytest.param(
            "feelings.yaml",
            "      - hurt\n",
            "      - Hurt\n",
            "      - Hurt",
            "feeling word `Hurt` must be lower-case",
            id="capitalised word",
        ),
        pytest.param(
            "risk.yaml",
            "  default:\n",
            "  XX:\n",
            "resources:",
            "`resources` has no `default` entry",
            id="no default resources",
        ),
        pytest.param(
            "risk-en.yaml",
            "    - murder a pizza\n",
            "    - murder a pizza\n    - end it all\n",
            "    - end it all",
            "excluding `end it all` would hide",
            id="exclusion hides a phrase",
        ),
        pytest.param(
            "risk-de.yaml",
            "  overdose:\n",
            "  overdosis:\n",
            "  overdosis:",
            "`overdosis` is not a concept the net knows",
            id="unknown risk concept",
        ),
        pytest.param(
            "topics.yaml",
            "topics:\n",
            "subjects:\n",
            "subjects:",
            "the top level has an unknown field `subjects`",
            id="wrong top level",
        ),
    ],
)
def test_each_kind_of_mistake_points_at_its_line(
    tmp_path: Path, file: str, old: str, new: str, at: str, message: str
) -> None:
    directory = broken_copy(tmp_path, file, old, new)
    line = lines_of(directory, file, at)[-1]
    problems = problems_in(directory)
    assert any(
        (p.file, p.line) == (file, line) and p.message.startswith(message) for p in problems
    ), problems


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    directory = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, directory)
    (directory / "feelings.yaml").unlink()
    [problem] = problems_in(directory)
    assert (problem.file, problem.line) == ("feelings.yaml", 1)
    assert problem.message.startswith("file is missing")


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    directory = broken_copy(
        tmp_path,
        "prompts.yaml",
        "- id: where-it-sits\n    theme: naming-feelings\n    tool: feel",
        "- id: where-it-sits\n    theme: naming-feelings\n    tol: feel",
    )
    tools = directory / "tools.yaml"
    intro_renamed = tools.read_text(encoding="utf-8").replace("    intro: ", "    intra: ")
    tools.write_text(intro_renamed, encoding="utf-8")
    (directory / "risk.yaml").write_text("languages: [\n", encoding="utf-8")
    problems = problems_in(directory)
    assert {p.file for p in problems} == {"prompts.yaml", "tools.yaml", "risk.yaml"}
    assert sum("unknown field `tol`" in p.message for p in problems) == 1
    assert sum("unknown field `intra`" in p.message for p in problems) == len(REQUIRED_TOOLS)
    assert sum("missing `intro`" in p.message for p in problems) == len(REQUIRED_TOOLS)
    assert problems == sorted(problems, key=lambda p: (FILES.index(p.file), p.line))


# --- the safety net -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "I want to kill myself",
        "Honestly I don’t want to be here anymore",
        "I KEEP THINKING ABOUT ENDING IT ALL",
        "everyone would be better off without me",
        "I've been thinking about suicide again",
        "feeling suicidal tonight, sorry",
        "I want to take all my pills",
        "there’s no reason to live",
        "i just cant go on like this",
        "I cut myself again last night",
        "been self harming for a week",
        "Long day. The grocery line was awful, my ex texted, and honestly I wish I was dead.",
        "I'm scared he's going to hurt me",
        "im not safe at home",
        "kms",
        "I dont want to live anymore",
        "I'm afraid I might hurt my kids",
        "A veces quiero morirme",
        "Pienso en quitarme la vida",
        "No quiero seguir viviendo así",
        "Ich will nicht mehr leben",
        "Manchmal denke ich an Selbstmord",
        "ich mochte sterben",
    ],
)
def test_risk_is_caught(risk: RiskMatcher, message: str) -> None:
    assert risk.find(message) is not None


@pytest.mark.parametrize(
    "message",
    [
        "this traffic is killing me",
        "I'm dying to see the new film",
        "I could kill for a coffee",
        "my phone died",
        "I felt dead tired after work",
        "I'll kill myself laughing if he wears that hat again",
        "I need to cut myself some slack",
        "I shot myself in the foot at the meeting",
        "I can't go on the trip this weekend",
        "I didn't want to hurt someone's feelings",
        "quitting now would be career suicide",
        "I wanted to die of embarrassment",
        "She hit me up last night",
        "I'm killing it at work this week",
        "I'm taking my life back, one boundary at a time",
        "I'm going to burn myself out if I keep this up",
        "I never wake up before eight",
        "me muero de ganas de verte",
        "mañana voy a cortarme el pelo",
        "Bist du lebensmüde?",
        "I said no today and didn't explain myself",
    ],
)
def test_everyday_idioms_are_not_risk(risk: RiskMatcher, message: str) -> None:
    assert risk.find(message) is None


def test_a_finding_quotes_the_members_own_words(risk: RiskMatcher) -> None:
    assert risk.assess("Some nights I want to die.") == Finding(
        Level.URGENT, "intent", "want to die"
    )
    assert risk.assess("I can’t go on") == Finding(Level.CONCERNING, "hopelessness", "can’t go on")
    assert risk.find("estarían mejor sin mi") == "estarían mejor sin mi"
    assert risk.find("I WANT TO DIEEEE") == "WANT TO DIEEEE"


def test_an_idiom_does_not_hide_real_risk_in_the_same_message(risk: RiskMatcher) -> None:
    message = "This traffic is killing me. Honestly I want to kill myself."
    assert risk.assess(message) == Finding(Level.URGENT, "intent", "want to kill myself")


def test_urgent_words_win_over_concerning_ones_earlier_in_the_message(risk: RiskMatcher) -> None:
    finding = risk.assess("nothing ever gets better. I've been saving up my pills")
    assert finding == Finding(Level.URGENT, "plan", "saving up my pills")


# --- feelings and topics ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "feelings"),
    [
        (
            "In the grocery line I suddenly felt abandoned, then anxious. Shame-hot too.",
            ["abandoned", "anxious", "shame-hot"],
        ),
        ("So much anxiety today, and some grief about my dad.", ["anxious", "grieving"]),
        ("I felt left out at dinner, then kind of numb.", ["left-out", "numb"]),
        ("Anxious, then calm, then ANXIOUS again.", ["anxious", "calm"]),
        ("I said no and I'm PROUD. Relieved too!", ["proud", "relieved"]),
        ("The madness of the week, with the calmest sea.", []),
        ("Had pasta for dinner.", []),
    ],
)
def test_find_feelings(vocabulary: Vocabulary, message: str, feelings: list[str]) -> None:
    assert vocabulary.feelings(message) == feelings


@pytest.mark.parametrize(
    ("message", "topics"),
    [
        (
            "My boss criticised me in the meeting and I went quiet, like with my dad.",
            ["work", "family"],
        ),
        ("Couldn't sleep again, up at 3am worrying about rent.", ["sleep", "money"]),
        ("I said no to my sister. Didn't explain myself.", ["family", "boundaries"]),
        ("Both our families came over and my kids were wild.", ["family", "parenting"]),
        ("A quiet moment with my inner kid on the couch.", []),
    ],
)
def test_find_topics(vocabulary: Vocabulary, message: str, topics: list[str]) -> None:
    assert [topic.id for topic in vocabulary.topics(message)] == topics


# --- the group agreement and the way back from a tool ------------------------------------------


def test_the_group_agreement_is_short_and_covers_the_container(library: Library) -> None:
    agreement = library.agreement
    assert 3 <= len(agreement.points) <= 6
    text = " ".join(agreement.points).lower()
    for idea in ("stays here", "kind", "crisis"):
        assert idea in text, idea
    assert agreement.accept


def test_a_broken_agreement_points_at_its_line(tmp_path: Path) -> None:
    directory = broken_copy(tmp_path, "agreement.yaml", "  accept:", "  acept:")
    problems = problems_in(directory)
    assert any(
        (p.file, p.line) == ("agreement.yaml", line_of(directory, "agreement.yaml", "acept:"))
        and "unknown field `acept`" in p.message
        for p in problems
    ), problems


def test_an_older_copy_without_an_agreement_uses_the_built_in_one(tmp_path: Path) -> None:
    directory = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, directory)
    (directory / "agreement.yaml").unlink()
    assert check_library(directory) == []
    assert load_library(directory).agreement == load_library().agreement


def test_the_inner_kid_ends_with_a_way_back(library: Library) -> None:
    assert "/ground" in (library.tools["inner-kid"].outro or "")
