"""Telegram's formatted text: the HTML, MarkdownV2 and (legacy) Markdown parse modes.

Parsers that turn formatted text into what a person sees, plain text plus entities, with
offsets and lengths in UTF-16 code units as Telegram counts them. They are as strict as
Telegram's, because an unescaped member name must fail here exactly as it would in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.telegram.shapes import JSON, utf16_length


class EntityParseError(ValueError):
    """Formatted text Telegram refuses; the message follows "can't parse entities: "."""


class UnsupportedParseMode(ValueError):
    """A parse_mode Telegram does not know."""


def parse_formatted_text(source: str, parse_mode: str) -> tuple[str, list[JSON]]:
    """Plain text and entities of ``source`` in ``parse_mode`` (HTML, MarkdownV2, Markdown)."""
    mode = parse_mode.lower()
    if mode == "html":
        return _HtmlParser(source).parse()
    if mode == "markdownv2":
        return _MarkdownV2Parser(source).parse()
    if mode == "markdown":
        return _parse_legacy_markdown(source)
    raise UnsupportedParseMode(parse_mode)


def _sorted_entities(entities: list[JSON]) -> list[JSON]:
    return sorted(entities, key=lambda entity: (entity["offset"], -entity["length"]))


class _PlainText:
    """The visible text being built, tracking its length in UTF-16 units."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.utf16_length = 0

    def append(self, text: str) -> None:
        self._parts.append(text)
        self.utf16_length += utf16_length(text)

    @property
    def value(self) -> str:
        return "".join(self._parts)


@dataclass
class _OpenTag:
    name: str
    entity: JSON | None  # None: the tag formats nothing (e.g. <code> naming a <pre> language)
    offset: int
    byte_offset: int


# Telegram's HTML subset: tag → entity type.
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_CHARACTERS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[^\s>]*")
_ATTRIBUTE = re.compile(r"""([A-Za-z-]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")
_WHITESPACE = re.compile(r"\s*")
_CHARACTER_REFERENCE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]+));")


class _HtmlParser:
    """Telegram's HTML parse mode: a fixed tag subset, strictly nested."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.text = _PlainText()
        self.open_tags: list[_OpenTag] = []
        self.entities: list[JSON] = []

    def parse(self) -> tuple[str, list[JSON]]:
        while self.pos < len(self.source):
            if self.source.startswith("</", self.pos):
                self._end_tag()
            elif self.source[self.pos] == "<":
                self._start_tag()
            elif self.source[self.pos] == "&":
                self._character_reference()
            else:
                self.text.append(self.source[self.pos])
                self.pos += 1
        if self.open_tags:
            name = self.open_tags[-1].name
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{name}"')
        return self.text.value, _sorted_entities(self.entities)

    def _byte_offset(self) -> int:
        return len(self.source[: self.pos].encode("utf-8"))

    def _start_tag(self) -> None:
        # MessageEntity.cpp parse_html: the name runs up to whitespace or ">", so "<b/>" is
        # the unknown tag "b/", and a "<" the text ends in is an unclosed tag.
        byte_offset = self._byte_offset()
        name_match = _TAG_NAME.match(self.source, self.pos + 1)
        assert name_match is not None  # the pattern matches the empty string
        if name_match.end() >= len(self.source):
            raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset}")
        name = name_match.group().lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
        self.pos = name_match.end()
        attributes = self._attributes(byte_offset)
        entity = self._tag_entity(name, attributes)
        self.open_tags.append(_OpenTag(name, entity, self.text.utf16_length, byte_offset))

    def _attributes(self, tag_byte_offset: int) -> dict[str, str]:
        attributes: dict[str, str] = {}
        while True:
            self.pos = self._skip_whitespace(self.pos)
            if self.source.startswith(">", self.pos):
                self.pos += 1
                return attributes
            match = _ATTRIBUTE.match(self.source, self.pos)
            if match is None:
                raise EntityParseError(f"Unclosed start tag at byte offset {tag_byte_offset}")
            value = match.group(2) or ""
            if value[:1] in {'"', "'"}:
                value = value[1:-1]
            attributes[match.group(1).lower()] = _decode_references(value)
            self.pos = match.end()

    def _skip_whitespace(self, pos: int) -> int:
        match = _WHITESPACE.match(self.source, pos)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def _tag_entity(self, name: str, attributes: dict[str, str]) -> JSON | None:
        entity_type = _HTML_TAGS[name]
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        if name == "a":
            href = attributes.get("href")
            return {"type": entity_type, "url": href} if href else None
        if name == "code" and self._names_pre_language(attributes):
            return None
        if name == "blockquote" and "expandable" in attributes:
            return {"type": "expandable_blockquote"}
        if name == "tg-emoji":
            return {"type": entity_type, "custom_emoji_id": attributes.get("emoji-id", "")}
        return {"type": entity_type}

    def _names_pre_language(self, attributes: dict[str, str]) -> bool:
        """<pre><code class="language-x"> sets the pre block's language instead of nesting."""
        css_class = attributes.get("class", "")
        parent = self.open_tags[-1] if self.open_tags else None
        if parent is None or parent.name != "pre" or parent.entity is None:
            return False
        if not css_class.startswith("language-"):
            return False
        parent.entity["language"] = css_class.removeprefix("language-")
        return True

    def _end_tag(self) -> None:
        byte_offset = self._byte_offset()
        if not self.open_tags:
            raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset}")
        close = self.source.find(">", self.pos)
        if close == -1:
            raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset}")
        name = self.source[self.pos + 2 : close].strip().lower()
        tag = self.open_tags.pop()
        if name and name != tag.name:  # "</>" closes whatever is open
            raise EntityParseError(
                f'Unmatched end tag at byte offset {byte_offset}, expected "</{tag.name}>", '
                f'found "</{name}>"'
            )
        self.pos = close + 1
        length = self.text.utf16_length - tag.offset
        if tag.entity is not None and length > 0:
            self.entities.append({**tag.entity, "offset": tag.offset, "length": length})

    def _character_reference(self) -> None:
        match = _CHARACTER_REFERENCE.match(self.source, self.pos)
        character = _decode_reference(match) if match else None
        if match is None or character is None:
            # Telegram keeps a "&" that starts no known reference as it is.
            self.text.append("&")
            self.pos += 1
            return
        self.text.append(character)
        self.pos = match.end()


def _decode_reference(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_CHARACTERS.get(name)
    code_point = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code_point == 0 or code_point > 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
        return None
    return chr(code_point)


def _decode_references(value: str) -> str:
    return _CHARACTER_REFERENCE.sub(lambda match: _decode_reference(match) or match[0], value)


_MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_MARKERS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}
_ENTITY_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}


@dataclass
class _OpenMarker:
    entity_type: str
    marker: str
    offset: int
    byte_offset: int


class _MarkdownV2Parser:
    """Telegram's MarkdownV2: every reserved character outside an entity must be escaped."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.text = _PlainText()
        self.open: list[_OpenMarker] = []
        self.entities: list[JSON] = []
        self.quote_start: int | None = None

    def parse(self) -> tuple[str, list[JSON]]:
        while self.pos < len(self.source):
            self._step()
        self._end_blockquote()
        if self.open:
            marker = self.open[-1]
            name = _ENTITY_NAMES[marker.entity_type]
            raise EntityParseError(
                f"Can't find end of {name} entity at byte offset {marker.byte_offset}"
            )
        return self.text.value, _sorted_entities(self.entities)

    def _byte_offset(self) -> int:
        return len(self.source[: self.pos].encode("utf-8"))

    def _step(self) -> None:
        source, pos = self.source, self.pos
        char = source[pos]
        if char == "\\":
            self._escaped()
        elif source.startswith("```", pos):
            self._code_block()
        elif char == "`":
            self._inline_code()
        elif source.startswith(("__", "||"), pos):
            self._marker(source[pos : pos + 2])
        elif char in "*_~":
            self._marker(char)
        elif char == "[":
            self.open.append(
                _OpenMarker("text_link", "[", self.text.utf16_length, self._byte_offset())
            )
            self.pos += 1
        elif char == "]" and self.open and self.open[-1].marker == "[":
            self._link_end()
        elif char == ">" and (pos == 0 or source[pos - 1] == "\n"):
            self._blockquote_line()
        elif char in _MARKDOWN_V2_RESERVED:
            raise EntityParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            if char == "\n" and not source.startswith(">", pos + 1):
                self._end_blockquote()
            self.text.append(char)
            self.pos += 1

    def _escaped(self) -> None:
        escaped = self.source[self.pos + 1 : self.pos + 2]
        if not escaped:
            raise EntityParseError(
                "Character '\\' is reserved and must be escaped with the preceding '\\'"
            )
        self.text.append(escaped)
        self.pos += 2

    def _marker(self, marker: str) -> None:
        entity_type = _MARKDOWN_V2_MARKERS[marker]
        self.pos += len(marker)
        if self.open and self.open[-1].marker == marker:
            opened = self.open.pop()
            length = self.text.utf16_length - opened.offset
            if length > 0:
                self.entities.append(
                    {"type": entity_type, "offset": opened.offset, "length": length}
                )
            return
        if any(opened.marker == marker for opened in self.open):
            inner = self.open[-1]
            raise EntityParseError(
                f"Can't find end of {_ENTITY_NAMES[inner.entity_type]} entity "
                f"at byte offset {inner.byte_offset}"
            )
        byte_offset = len(self.source[: self.pos - len(marker)].encode("utf-8"))
        self.open.append(_OpenMarker(entity_type, marker, self.text.utf16_length, byte_offset))

    def _read_until(self, terminator: str, entity_name: str) -> str:
        """Text up to an unescaped terminator; inside, only "\\" escapes anything."""
        start_byte_offset = self._byte_offset()
        content: list[str] = []
        while not self.source.startswith(terminator, self.pos):
            if self.pos >= len(self.source):
                raise EntityParseError(
                    f"Can't find end of {entity_name} entity at byte offset {start_byte_offset}"
                )
            if self.source[self.pos] == "\\" and self.pos + 1 < len(self.source):
                self.pos += 1
            content.append(self.source[self.pos])
            self.pos += 1
        self.pos += len(terminator)
        return "".join(content)

    def _inline_code(self) -> None:
        self.pos += 1
        code = self._read_until("`", "Code")
        self._add_literal_entity(code, {"type": "code"})

    def _code_block(self) -> None:
        self.pos += 3
        body = self._read_until("```", "Pre")
        entity: JSON = {"type": "pre"}
        first_line, newline, rest = body.partition("\n")
        if newline and first_line and not any(char.isspace() for char in first_line):
            entity["language"] = first_line
            body = rest
        self._add_literal_entity(body, entity)

    def _add_literal_entity(self, content: str, entity: JSON) -> None:
        offset = self.text.utf16_length
        self.text.append(content)
        if content:
            self.entities.append({**entity, "offset": offset, "length": utf16_length(content)})

    def _link_end(self) -> None:
        opened = self.open.pop()
        self.pos += 1
        if not self.source.startswith("(", self.pos):
            return  # "[text]" without a URL is plain text
        self.pos += 1
        url = self._read_until(")", "TextUrl")
        length = self.text.utf16_length - opened.offset
        if length > 0:
            self.entities.append(
                {"type": "text_link", "url": url, "offset": opened.offset, "length": length}
            )

    def _blockquote_line(self) -> None:
        if self.quote_start is None:
            self.quote_start = self.text.utf16_length
        self.pos += 1

    def _end_blockquote(self) -> None:
        if self.quote_start is None:
            return
        length = self.text.utf16_length - self.quote_start
        if length > 0:
            self.entities.append(
                {"type": "blockquote", "offset": self.quote_start, "length": length}
            )
        self.quote_start = None


_LEGACY_MARKERS = {"*": "bold", "_": "italic", "`": "code"}
_LEGACY_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")


def _parse_legacy_markdown(source: str) -> tuple[str, list[JSON]]:
    """Telegram's legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url)."""
    text = _PlainText()
    entities: list[JSON] = []
    pos = 0
    while pos < len(source):
        char = source[pos]
        if char == "\\" and source[pos + 1 : pos + 2] in {"_", "*", "`", "["}:
            text.append(source[pos + 1])
            pos += 2
            continue
        marker = "```" if source.startswith("```", pos) else char
        if marker in _LEGACY_MARKERS or marker == "```":
            end = source.find(marker, pos + len(marker))
            if end == -1:
                byte_offset = len(source[:pos].encode("utf-8"))
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {byte_offset}"
                )
            content = source[pos + len(marker) : end]
            entity_type = _LEGACY_MARKERS.get(marker, "pre")
            if content:
                entities.append(
                    {
                        "type": entity_type,
                        "offset": text.utf16_length,
                        "length": utf16_length(content),
                    }
                )
            text.append(content)
            pos = end + len(marker)
            continue
        link = _LEGACY_LINK.match(source, pos)
        if link is not None and link.group(1):
            entities.append(
                {
                    "type": "text_link",
                    "url": link.group(2),
                    "offset": text.utf16_length,
                    "length": utf16_length(link.group(1)),
                }
            )
            text.append(link.group(1))
            pos = link.end()
            continue
        text.append(char)
        pos += 1
    return text.value, _sorted_entities(entities)
