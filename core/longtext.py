"""Telegram's length limits on a message, and long messages split to fit them.

A message's text is 1 to 4,096 characters and a caption at most 1,024, counted after the HTML
is parsed: tags don't count, `&amp;` counts as one character, and so does every code point
(telegram-bot-api get_formatted_text, TDLib MessageContent.cpp utf8_length). A text over the
limit is refused whole ("Bad Request: message is too long"), so a long one goes as several
messages: split at line breaks (a paragraph break when one is near), inside a line only when
a single line is too long (then at a space), and never inside a tag or a character reference;
every tag open at a split is closed at the end of one part and opened again at the start of
the next, so each part is balanced HTML on its own.

The HTML here is our own (rendered by the autoescaping templates), so it is well formed.
Pure functions: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024

_TOKEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>|&(?:#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);")


@dataclass(frozen=True)
class _Piece:
    """One token of the HTML: a tag (no visible length), a character reference (1) or text."""

    source: str
    visible: int
    opens: str | None = None  # the tag name a start tag opens
    closes: str | None = None  # the tag name an end tag closes


def _pieces(html: str) -> list[_Piece]:
    pieces: list[_Piece] = []
    position = 0
    for match in _TOKEN.finditer(html):
        pieces.extend(_Piece(char, 1) for char in html[position : match.start()])
        if match.group(2) is None:  # a character reference
            pieces.append(_Piece(match.group(), 1))
        elif match.group(1):
            pieces.append(_Piece(match.group(), 0, closes=match.group(2).lower()))
        else:
            pieces.append(_Piece(match.group(), 0, opens=match.group(2).lower()))
        position = match.end()
    pieces.extend(_Piece(char, 1) for char in html[position:])
    return pieces


def _has_words(html: str) -> bool:
    # Telegram trims the ends: a part of tags and blanks only would be "text must be non-empty".
    return any(piece.visible and not piece.source.isspace() for piece in _pieces(html))


def visible_length(html: str) -> int:
    """How long Telegram counts the message: the characters left once the HTML is parsed."""
    # A tag counts nothing, a character reference one.
    return len(_TOKEN.sub(lambda match: "" if match.group(2) else ".", html.strip()))


def fits(html: str, limit: int = MESSAGE_LIMIT) -> bool:
    # Parsing only shortens a text: most messages are short enough as written.
    return len(html) <= limit or visible_length(html) <= limit


def split_message(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The message as one or more parts, each at most `limit` characters once parsed."""
    if fits(html, limit):
        return [html]
    parts: list[str] = []
    opened: list[str] = []  # start tags open where the current part begins
    current: list[_Piece] = []
    length = 0
    for line in _lines(_pieces(html), limit):
        line_length = sum(piece.visible for piece in line)
        if current and length + 1 + line_length > limit:
            keep, carry = _at_paragraph(current, limit)
            if carry and sum(piece.visible for piece in carry) + 1 + line_length > limit:
                keep, carry = current, []
            parts.append(_closed(opened, keep))
            opened = _still_open(opened, keep)
            current = carry
            length = sum(piece.visible for piece in current)
        joiner = 1 if current else 0
        if joiner:
            current.append(_Piece("\n", 1))
        current.extend(line)
        length += joiner + line_length
    if current:
        parts.append(_closed(opened, current))
    return [part for part in parts if _has_words(part)]


def _lines(pieces: list[_Piece], limit: int) -> list[list[_Piece]]:
    """The text's lines (without their line breaks), any longer than `limit` cut into lines."""
    lines: list[list[_Piece]] = [[]]
    for piece in pieces:
        if piece.source == "\n":
            lines.append([])
        else:
            lines[-1].append(piece)
    cut: list[list[_Piece]] = []
    for line in lines:
        cut.extend(_cut_line(line, limit))
    return cut


def _cut_line(line: list[_Piece], limit: int) -> list[list[_Piece]]:
    """A line too long for one message, cut at the last space that fits (or hard)."""
    result: list[list[_Piece]] = []
    while sum(piece.visible for piece in line) > limit:
        seen = 0
        cut_at = 0
        last_space = -1
        for index, piece in enumerate(line):
            if seen + piece.visible > limit:
                break
            seen += piece.visible
            cut_at = index + 1
            if piece.source == " ":
                last_space = index
        if last_space > 0:
            result.append(line[:last_space])
            line = line[last_space + 1 :]
        else:
            result.append(line[:cut_at])
            line = line[cut_at:]
    result.append(line)
    return result


def _at_paragraph(current: list[_Piece], limit: int) -> tuple[list[_Piece], list[_Piece]]:
    """Split a full part at its last blank line, if that keeps most of it; else keep it all."""
    for index in range(len(current) - 1, 0, -1):
        if current[index].source == "\n" and current[index - 1].source == "\n":
            kept = current[: index - 1]
            if sum(piece.visible for piece in kept) >= limit // 2:
                return kept, current[index + 1 :]
            break
    return current, []


def _still_open(opened: list[str], pieces: list[_Piece]) -> list[str]:
    """The start tags open after `pieces`, given those open before them."""
    stack = list(opened)
    for piece in pieces:
        if piece.opens is not None:
            stack.append(piece.source)
        elif piece.closes is not None and stack:
            stack.pop()
    return stack


def _closed(opened: list[str], pieces: list[_Piece]) -> str:
    """One part: the tags open before it opened again, its pieces, what is open closed."""
    still_open = _still_open(opened, pieces)
    closing = "".join(f"</{_name(tag)}>" for tag in reversed(still_open))
    return ("".join(opened) + "".join(piece.source for piece in pieces) + closing).strip()


def _name(start_tag: str) -> str:
    match = _TOKEN.match(start_tag)
    assert match is not None and match.group(2) is not None
    return match.group(2).lower()


def cap(text: str, limit: int) -> str:
    """A quoted text cut to `limit` characters, at a word when one is near, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + "…"
