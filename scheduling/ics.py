"""A calendar file (iCalendar, RFC 5545) for the weekly session, to add it with one tap.

Times are written in UTC (`...Z`), so the file needs no VTIMEZONE and every calendar app shows
the session at the right local time for whoever opens it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

CRLF = "\r\n"
# RFC 5545 3.1: lines SHOULD NOT be longer than 75 octets, excluding the line break.
MAX_LINE_OCTETS = 75
REMINDER_MINUTES = 15


def weekly_session_ics(
    *,
    uid: str,
    title: str,
    start: datetime,
    duration_minutes: int,
    url: str,
    description: str,
    now: datetime,
) -> bytes:
    """One VEVENT (with a 15-minute reminder) for the session, as UTF-8 iCalendar bytes."""
    if duration_minutes <= 0:
        raise ValueError("duration_minutes must be positive")
    if any(_is_control(char) for char in url):
        raise ValueError("url must not contain control characters")
    # Add the duration in UTC: aware arithmetic in a local zone would ignore a DST change.
    start_utc = _utc(start, "start")
    end_utc = start_utc + timedelta(minutes=duration_minutes)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Between//Weekly Q&A//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{_text(uid)}",
        f"DTSTAMP:{_stamp(_utc(now, 'now'))}",
        f"DTSTART:{_stamp(start_utc)}",
        f"DTEND:{_stamp(end_utc)}",
        f"SUMMARY:{_text(title)}",
        f"DESCRIPTION:{_text(description)}",
        # URL is a URI value (written as is); LOCATION is TEXT, so its commas get escaped.
        f"URL:{url}",
        f"LOCATION:{_text(url)}",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{_text(title)}",
        f"TRIGGER:-PT{REMINDER_MINUTES}M",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + CRLF for line in lines).encode()


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.astimezone(UTC)


def _stamp(moment: datetime) -> str:
    """A DATE-TIME in UTC form, e.g. 20300704T170000Z."""
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11): backslash, `;`, `,` and line breaks."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    # Other control characters are not allowed in TEXT (tab is); drop them rather than fail.
    return "".join(char for char in value if char == "\t" or not _is_control(char))


def _is_control(char: str) -> bool:
    return ord(char) < 0x20 or ord(char) == 0x7F


def _fold(line: str) -> str:
    """Fold a content line into pieces of at most 75 octets, never inside a UTF-8 character."""
    pieces: list[str] = []
    piece: list[str] = []
    used = 0
    room = MAX_LINE_OCTETS
    for char in line:
        size = len(char.encode())
        if used + size > room:
            pieces.append("".join(piece))
            piece, used = [], 0
            room = MAX_LINE_OCTETS - 1  # a continuation line spends one octet on its space
        piece.append(char)
        used += size
    pieces.append("".join(piece))
    return (CRLF + " ").join(pieces)
