"""Long messages split to fit Telegram's limits, each part balanced HTML."""

from __future__ import annotations

import html

from core.longtext import cap, split_message, visible_length
from sandbox.telegram.formatting import parse_formatted_text


def parsed(part: str) -> str:
    """What Telegram shows: the sandbox's parser is as strict as Telegram's."""
    text, _ = parse_formatted_text(part, "HTML")
    return text


def test_a_short_message_is_left_alone() -> None:
    assert split_message("<b>Hi</b> &amp; welcome") == ["<b>Hi</b> &amp; welcome"]
    assert visible_length("<b>Hi</b> &amp; welcome") == len("Hi & welcome")


def test_lines_are_packed_into_parts_that_fit_after_parsing() -> None:
    lines = [f"<b>{n}</b> · {html.escape('<' * 50)}" for n in range(200)]
    parts = split_message("\n".join(lines), limit=1000)
    assert len(parts) > 1
    assert all(len(parsed(part)) <= 1000 for part in parts)
    assert "\n".join(parsed(part) for part in parts) == parsed("\n".join(lines))


def test_a_tag_open_across_a_split_is_closed_and_opened_again() -> None:
    quote = "<blockquote><i>" + "\n".join(f"line {n} " + "x" * 40 for n in range(60))
    parts = split_message(quote + "</i></blockquote>\nafter", limit=500)
    assert len(parts) > 2
    for part in parts:
        parse_formatted_text(part, "HTML")  # raises on unbalanced tags
    assert parts[0].startswith("<blockquote><i>") and parts[0].endswith("</i></blockquote>")
    assert parts[1].startswith("<blockquote><i>")
    assert parts[-1].endswith("after")


def test_a_paragraph_break_is_preferred_when_near() -> None:
    first = "\n".join("a" * 50 for _ in range(12))
    second = "\n".join("b" * 50 for _ in range(12))
    parts = split_message(first + "\n\n" + second, limit=800)
    assert parsed(parts[0]) == first


def test_one_very_long_line_is_cut_at_spaces_never_inside_a_reference() -> None:
    line = " ".join(["caf&#233;"] * 400) + " " + "&amp;" * 300
    parts = split_message(line, limit=300)
    assert all(len(parsed(part)) <= 300 for part in parts)
    assert "".join(parsed(part).replace(" ", "") for part in parts) == parsed(line).replace(
        " ", ""
    )


def test_parts_of_nothing_but_blanks_are_dropped() -> None:
    parts = split_message("x" * 10 + "\n" * 30 + "<b> </b>\n" + "y" * 10, limit=12)
    assert [parsed(part).strip() for part in parts] == ["x" * 10, "y" * 10]


def test_a_quote_is_capped_at_a_word() -> None:
    assert cap("short", 10) == "short"
    capped = cap("one two three four five six seven", 20)
    assert len(capped) <= 20 and capped.endswith("…") and capped.startswith("one two three")
