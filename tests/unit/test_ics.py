"""The weekly session's calendar file, read back line by line as an iCalendar parser would."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduling.ics import weekly_session_ics

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2030, 6, 20, 9, 30, 15, tzinfo=UTC)
JOIN_URL = "https://zoom.us/j/81234567890?pwd=abc123"


def make(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "uid": "weekly-qa-2030-07-04@between",
        "title": "Between: weekly Q&A",
        "start": datetime(2030, 7, 4, 18, 0, tzinfo=LONDON),
        "duration_minutes": 60,
        "url": JOIN_URL,
        "description": "Bring a question.",
        "now": NOW,
    }
    fields.update(changes)
    return weekly_session_ics(**fields)  # type: ignore[arg-type]


def physical_lines(data: bytes) -> list[bytes]:
    """The file's lines, checking RFC 5545's framing: CRLF only, at most 75 octets, UTF-8."""
    assert data.endswith(b"\r\n")
    lines = data[: -len(b"\r\n")].split(b"\r\n")
    for line in lines:
        assert b"\r" not in line and b"\n" not in line
        assert len(line) <= 75, line
        line.decode()  # a fold inside a multi-byte character would not decode on its own
    return lines


def unfold(data: bytes) -> list[str]:
    """Content lines: a line starting with a space continues the one before it."""
    unfolded: list[str] = []
    for line in physical_lines(data):
        text = line.decode()
        if text.startswith(" "):
            unfolded[-1] += text[1:]
        else:
            unfolded.append(text)
    return unfolded


def unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars)
            out.append("\n" if following in "nN" else following)
        else:
            out.append(char)
    return "".join(out)


def components(data: bytes) -> dict[str, dict[str, str]]:
    """Properties per component (VCALENDAR, VEVENT, VALARM), checking BEGIN/END nesting."""
    stack: list[str] = []
    found: dict[str, dict[str, str]] = {}
    for line in unfold(data):
        name, sep, value = line.partition(":")
        assert sep and name and name == name.upper(), line
        if name == "BEGIN":
            stack.append(value)
            assert value not in found, f"two {value}s"
            found[value] = {}
        elif name == "END":
            assert stack.pop() == value
        else:
            assert stack, line
            properties = found[stack[-1]]
            assert name not in properties, f"{name} twice in {stack[-1]}"
            properties[name] = value
    assert stack == []
    return found


def test_is_one_event_in_a_calendar_with_times_in_utc() -> None:
    parsed = components(make())

    assert list(parsed) == ["VCALENDAR", "VEVENT", "VALARM"]
    assert parsed["VCALENDAR"] == {
        "VERSION": "2.0",
        "PRODID": "-//Between//Weekly Q&A//EN",
        "CALSCALE": "GREGORIAN",
        "METHOD": "PUBLISH",
    }
    event = parsed["VEVENT"]
    # 18:00 in London in July is British Summer Time, UTC+1.
    assert event["DTSTART"] == "20300704T170000Z"
    assert event["DTEND"] == "20300704T180000Z"
    assert event["DTSTAMP"] == "20300620T093015Z"
    assert event["UID"] == "weekly-qa-2030-07-04@between"
    assert event["URL"] == JOIN_URL
    assert event["LOCATION"] == JOIN_URL
    assert event["DESCRIPTION"] == "Bring a question."
    assert parsed["VALARM"] == {
        "ACTION": "DISPLAY",
        "DESCRIPTION": "Between: weekly Q&A",
        "TRIGGER": "-PT15M",
    }


def test_the_duration_is_real_time_across_a_clock_change() -> None:
    # 00:30 GMT on the night the clocks go forward at 01:00: 90 minutes later is 02:00 UTC.
    event = components(
        make(start=datetime(2030, 3, 31, 0, 30, tzinfo=LONDON), duration_minutes=90)
    )
    assert (event["VEVENT"]["DTSTART"], event["VEVENT"]["DTEND"]) == (
        "20300331T003000Z",
        "20300331T020000Z",
    )


def test_text_values_are_escaped() -> None:
    title = "Q&A, live; with Anna \\ the coach"
    description = "Line one\nLine two, with a comma\r\nLine three; done"
    event = components(make(title=title, description=description))["VEVENT"]

    assert event["SUMMARY"] == "Q&A\\, live\\; with Anna \\\\ the coach"
    assert unescape(event["SUMMARY"]) == title
    assert event["DESCRIPTION"] == "Line one\\nLine two\\, with a comma\\nLine three\\; done"
    assert unescape(event["DESCRIPTION"]) == description.replace("\r\n", "\n")


def test_a_url_with_commas_is_a_plain_uri_but_escaped_text_as_location() -> None:
    url = "https://example.com/join?a=1,2;b=3"
    event = components(make(url=url))["VEVENT"]
    assert event["URL"] == url
    assert event["LOCATION"] == "https://example.com/join?a=1\\,2\\;b=3"


def test_a_long_description_is_folded_and_unfolds_to_the_same_text() -> None:
    description = (
        "This week: what to do when the old feeling comes back, how to ask for help "
        "without apologising, and a short breathing practice. Ünïcödé, ещё и кириллица, "
        "日本語のテキスト — all welcome.\nBring one question, or just listen."
    ) * 3
    data = make(description=description)

    lines = physical_lines(data)
    description_lines = [
        line for line in lines if line.startswith(b"DESCRIPTION:Th") or line.startswith(b" ")
    ]
    assert len(description_lines) > 5
    assert all(len(line) <= 75 for line in description_lines)
    # Folding fills lines: only the last piece of a folded line may be short of the limit
    # (by at most one character's octets).
    assert all(len(line) >= 72 for line in description_lines[:-1])
    assert unescape(components(data)["VEVENT"]["DESCRIPTION"]) == description


@pytest.mark.parametrize("padding", range(58, 66))
def test_an_emoji_at_the_fold_is_not_split(padding: int) -> None:
    # "DESCRIPTION:" is 12 octets, so the 4-octet emoji straddles octet 75 for some paddings.
    description = "x" * padding + "🙂" + "y" * 80
    data = make(description=description)

    lines = physical_lines(data)  # each line decodes as UTF-8 on its own
    assert sum(line.count("🙂".encode()) for line in lines) == 1
    first = next(line for line in lines if line.startswith(b"DESCRIPTION:x"))
    assert len(first) > 75 - 4  # moved whole to the next line only when it did not fit
    assert components(data)["VEVENT"]["DESCRIPTION"] == description


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        make(start=datetime(2030, 7, 4, 18, 0))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="aware"):
        make(now=datetime(2030, 6, 20, 9, 30))  # noqa: DTZ001


def test_a_url_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="control"):
        make(url="https://zoom.us/j/1\r\nATTENDEE:mailto:x@example.com")
