"""The weekly rhythm as pure rules: when the live Q&A is, when summaries are drafted and sent,
and what a member's week adds up to."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.localtime import at_local, local_date
from core.localtime import zone as zone_of
from core.models import CoachReply, Entry, EntryKind
from practice.streaks import count_streak
from practice.words import Vocabulary

# The meeting is created (and announced) this long before it starts.
CREATE_AHEAD = timedelta(days=3)
REMINDERS = (("24h", timedelta(hours=24)), ("1h", timedelta(hours=1)))
QUESTIONS_BEFORE = timedelta(hours=2)
# Zoom's start_url lives two hours: sent an hour before, the host link works until an hour in.
HOST_LINK_BEFORE = timedelta(hours=1)
# A meeting Zoom would not create is tried again after these waits, then every four hours
# (each try is a create request, and Zoom allows a host 100 a day, shared by every app).
ZOOM_RETRY_DELAYS = (
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
)
# Drafts are made this long before summaries go out, for the coach to look at.
DRAFT_AHEAD = timedelta(hours=3)
# Check-ins are messages; a #win in the group is one too. Tool answers (/feel, /win) are not.
MESSAGE_KINDS = (
    EntryKind.TEXT,
    EntryKind.VOICE,
    EntryKind.VIDEO_NOTE,
    EntryKind.PHOTO,
    EntryKind.WIN,
)


def next_session(now: datetime, *, zone: str, weekday: int, at: time) -> datetime:
    """The next live Q&A that has not started yet, as an aware local datetime."""
    today = local_date(now, zone)
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    start = at_local(day, at, zone)
    return start if start > now else at_local(day + timedelta(days=7), at, zone)


def summary_moment(week_start: date, *, zone: str, weekday: int, at: time) -> datetime:
    """When the summaries of the week starting `week_start` go out."""
    return at_local(week_start + timedelta(days=weekday), at, zone)


def week_bounds(week_start: date, zone: str) -> tuple[datetime, datetime]:
    """The week's local Monday 00:00 to the next Monday 00:00, as aware datetimes."""
    return (
        at_local(week_start, time(0), zone),
        at_local(week_start + timedelta(days=7), time(0), zone),
    )


# "a hard week", "rough day", "tough nights": a member saying the week was heavy.
HARD_TIME = re.compile(
    r"\b(hard|rough|tough|bad|awful|terrible|heavy|horrible|brutal)\s+(week|day|days|night|nights)\b",
    re.IGNORECASE,
)
EXCERPT = 70
SAFETY_FLAG = "the safety net fired"


@dataclass(frozen=True)
class VoiceDay:
    """The voice notes of one day of the week."""

    day: str  # "Tuesday"
    notes: int
    minutes: float


@dataclass(frozen=True)
class Experience:
    """Something the member brought and the coach met: a reply, or an insight marked."""

    day: str  # "Wednesday"
    what: str  # the member's words (the start of them), or "your voice note (1.5 min)"
    how: str  # "in words", "by voice", "insight"


@dataclass(frozen=True)
class WeekFigures:
    """A member's week, as their summary tells it."""

    days_checked_in: int
    streak: int
    text_checkins: int
    voice_checkins: int
    voice_minutes: float
    prompts_answered: int
    wins: list[str] = field(default_factory=list)
    feelings: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    insights: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    questions: int = 0
    checkins: int = 0
    previous_checkins: int = 0
    voice_days: list[VoiceDay] = field(default_factory=list)
    experiences: list[Experience] = field(default_factory=list)
    # Why the coach should look at this draft first ("the safety net fired", "a hard week").
    flag: str | None = None

    @property
    def quiet(self) -> bool:
        return self.checkins == 0 and not (self.wins or self.feelings or self.next_steps)

    @property
    def voice_first(self) -> bool:
        return self.voice_checkins > 0 and self.voice_checkins >= self.text_checkins

    @property
    def change(self) -> int:
        return self.checkins - self.previous_checkins


def week_figures(
    entries: Sequence[Entry],
    *,
    highlights: Sequence[tuple[str, Entry]],
    questions: int,
    previous_checkins: int,
    history: Sequence[datetime],
    vocabulary: Vocabulary,
    zone: str,
    end: datetime,
    replies: Sequence[tuple[CoachReply, Entry | None]] = (),
    alerts: int = 0,
) -> WeekFigures:
    """Count a week of entries: check-ins, voice notes by day, wins, feelings, topics, next
    steps, and the experiences processed (what the coach answered or marked as an insight).

    `highlights` are (kind, entry) pairs the coach marked; `replies` the coach's replies to
    the member with the check-in each answered; `history` every check-in moment up to `end`,
    for the streak; `alerts` how often the safety net fired this week.
    """
    tz = zone_of(zone)
    messages = [e for e in entries if e.message_id is not None and e.kind in MESSAGE_KINDS]
    voices = [e for e in messages if e.kind in (EntryKind.VOICE, EntryKind.VIDEO_NOTE)]
    words = [e.text for e in entries if e.text and e.kind not in (EntryKind.FEELING,)]
    feelings: Counter[str] = Counter(
        e.text for e in entries if e.kind == EntryKind.FEELING and e.text
    )
    for text in words:
        feelings.update(vocabulary.feelings(text))
    topics: Counter[str] = Counter()
    for text in words:
        topics.update(topic.title for topic in vocabulary.topics(text))
    wins = [_win_text(e) for e in entries if e.kind == EntryKind.WIN]
    wins += [_said(e, tz) for kind, e in highlights if kind == "win" and e.kind != EntryKind.WIN]
    checkins = len(messages)
    return WeekFigures(
        days_checked_in=len({e.created_at.astimezone(tz).date() for e in entries}),
        streak=count_streak(history, zone, end - timedelta(seconds=1)),
        text_checkins=len(messages) - len(voices),
        voice_checkins=len(voices),
        voice_minutes=round(sum(e.duration_seconds or 0 for e in voices) / 60, 1),
        prompts_answered=len({e.prompt_id for e in messages if e.prompt_id}),
        wins=wins,
        feelings=[word for word, _ in feelings.most_common(8)],
        topics=[title for title, _ in topics.most_common(5)],
        insights=[_said(e, tz) for kind, e in highlights if kind == "insight"],
        next_steps=[e.text for e in entries if e.kind == EntryKind.NEXT_STEP and e.text],
        questions=questions,
        checkins=checkins,
        previous_checkins=previous_checkins,
        voice_days=voice_by_day(voices, tz),
        experiences=experiences(highlights, replies, tz),
        flag=week_flag(
            alerts=alerts,
            texts=[text for text in words if text],
            feelings=feelings,
            painful=vocabulary.painful,
            checkins=checkins,
            previous_checkins=previous_checkins,
        ),
    )


def voice_by_day(voices: Sequence[Entry], tz: ZoneInfo) -> list[VoiceDay]:
    """How many voice notes, and how many minutes, on each day that had any."""
    days: dict[date, list[Entry]] = {}
    for entry in sorted(voices, key=lambda e: e.created_at):
        days.setdefault(entry.created_at.astimezone(tz).date(), []).append(entry)
    return [
        VoiceDay(
            day=f"{day:%A}",
            notes=len(notes),
            minutes=round(sum(e.duration_seconds or 0 for e in notes) / 60, 1),
        )
        for day, notes in days.items()
    ]


def experiences(
    highlights: Sequence[tuple[str, Entry]],
    replies: Sequence[tuple[CoachReply, Entry | None]],
    tz: ZoneInfo,
) -> list[Experience]:
    """What was processed with the coach this week: each check-in the coach answered (once,
    however many replies) and each one marked as an insight, in the order they happened."""
    found: dict[object, tuple[datetime, Experience]] = {}
    for reply, answered in replies:
        spoken = reply.kind in (EntryKind.VOICE, EntryKind.VIDEO_NOTE)
        how = "by voice" if spoken else "in words"
        if answered is not None:
            found.setdefault(
                answered.id,
                (
                    answered.created_at,
                    Experience(_day(answered.created_at, tz), _brief(answered, tz), how),
                ),
            )
        else:  # a reply to their thread as a whole
            moment = reply.created_at
            found.setdefault(
                ("reply", moment.astimezone(tz).date()),
                (moment, Experience(_day(moment, tz), "what you wrote", how)),
            )
    for kind, entry in highlights:
        if kind == "insight":
            found[entry.id] = (
                entry.created_at,
                Experience(_day(entry.created_at, tz), _brief(entry, tz), "insight"),
            )
    return [experience for _, experience in sorted(found.values(), key=lambda pair: pair[0])]


def week_flag(
    *,
    alerts: int,
    texts: Sequence[str],
    feelings: Counter[str],
    painful: frozenset[str],
    checkins: int,
    previous_checkins: int,
) -> str | None:
    """Why a draft should be read first: the safety net fired, the member said it was a hard
    week, most feelings they named were heavy ones, or they went much quieter than usual."""
    if alerts:
        return SAFETY_FLAG
    if any(HARD_TIME.search(text) for text in texts):
        return "a hard week"
    heavy = sum(count for word, count in feelings.items() if word in painful)
    if heavy >= 2 and heavy * 3 >= 2 * sum(feelings.values()):
        return "a hard week"
    if previous_checkins >= 3 and checkins * 3 <= previous_checkins:
        return "much quieter than last week"
    return None


def _day(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%A}"


def _brief(entry: Entry, tz: ZoneInfo) -> str:
    if entry.text:
        flat = " ".join(entry.text.split())
        if len(flat) > EXCERPT:
            flat = flat[:EXCERPT].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
        return f"“{flat}”"
    return _voice_said(entry)


def _voice_said(entry: Entry) -> str:
    minutes = round((entry.duration_seconds or 0) / 60, 1)
    kind = "video note" if entry.kind == EntryKind.VIDEO_NOTE else "voice note"
    return f"your {kind} ({minutes} min)" if minutes else f"your {kind}"


def _win_text(entry: Entry) -> str:
    text = (entry.text or "").replace("#win", "").replace("#WIN", "").strip(" :-")
    return text or "a win"


def _said(entry: Entry, tz: ZoneInfo) -> str:
    if entry.text:
        return entry.text
    return f"{_voice_said(entry)} on {entry.created_at.astimezone(tz):%A}"


def next_zoom_try(attempts: int, now: datetime, retry_at: datetime | None) -> datetime:
    """When to ask Zoom again after `attempts` refused tries: when Zoom said (a 429's
    Retry-After, the daily limit's midnight), and never sooner than the backoff."""
    delay = ZOOM_RETRY_DELAYS[min(max(attempts, 1), len(ZOOM_RETRY_DELAYS)) - 1]
    return max(now + delay, retry_at) if retry_at else now + delay
