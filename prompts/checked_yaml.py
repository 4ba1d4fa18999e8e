"""YAML read as nodes, so every problem can name its file and line (the library checker)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_STR_TAG = "tag:yaml.org,2002:str"
_TAG_NAMES = {
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true/false (put it in quotes)",
    "tag:yaml.org,2002:null": "nothing",
    "tag:yaml.org,2002:timestamp": "a date (put it in quotes)",
}


@dataclass(frozen=True)
class Problem:
    """Something wrong in a library file, at a 1-based line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


class YamlFile:
    """One library file: its YAML nodes and the problems found in it."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = name
        self.path = directory / name
        self.problems: list[Problem] = []

    def problem(self, at: Node | int, message: str) -> None:
        line = at if isinstance(at, int) else line_of(at)
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
    ) -> Fields | None:
        """The fields of a mapping node, reporting unknown, repeated and missing ones."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping with {quoted_names(required)}")
            return None
        known = (*required, *optional)
        found = Fields()
        seen = Seen()
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
            self.problem(node, f"{what} must be text, not {kind_of(node)}")
            return None
        value: str = node.value
        if not value.strip():
            self.problem(node, f"{what} is empty")
            return None
        return value.strip()

    def field_text(self, fields: Fields, name: str) -> str | None:
        """The text of field `name`, or None if it is absent (reported if required) or bad."""
        return self.text(fields[name], f"`{name}`") if name in fields else None

    def field_texts(self, fields: Fields, name: str) -> list[tuple[str, Node]] | None:
        """The list of texts in field `name`, or None if it is absent or not a list."""
        return self.texts(fields[name], f"`{name}`") if name in fields else None

    def texts(self, node: Node, what: str) -> list[tuple[str, Node]] | None:
        """A non-empty list of texts with their nodes; bad items are reported and skipped."""
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list, not {kind_of(node)}")
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
            self.problem(node, f"`{what}` must be a list, not {kind_of(node)}")
            return []
        items: list[Node] = node.value
        return items

    def pairs(self, node: Node, what: str) -> list[tuple[str, Node, Node]]:
        """The (key, key node, value node) of a mapping with free keys, such as language codes."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"`{what}` must be a mapping, not {kind_of(node)}")
            return []
        found: list[tuple[str, Node, Node]] = []
        pairs: list[tuple[Node, Node]] = node.value
        seen = Seen()
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


class Fields(dict[str, Node]):
    """A mapping's fields: name -> value node, and where each name itself was written."""

    def __init__(self) -> None:
        super().__init__()
        self.key_nodes: dict[str, Node] = {}


class Seen:
    """Remembers where each name was first seen, to report duplicates with both lines."""

    def __init__(self) -> None:
        self._lines: dict[str, int] = {}

    def first_line(self, name: str, node: Node) -> int | None:
        """The line `name` was first seen on, or None (and remember this one) if it is new."""
        if name in self._lines:
            return self._lines[name]
        self._lines[name] = line_of(node)
        return None


def quoted_names(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def kind_of(node: Node) -> str:
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
    return f"{message}; expected {quoted_names(known)}"
