"""The tables. Every datetime is aware and stored in UTC."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime


class GroupBase(SQLModel):
    chat_id: int = Field(sa_type=BigInteger, unique=True)
    title: str = Field(max_length=255)
    capacity: int = Field(default=12, ge=1, le=500)
    timezone: str = Field(default="UTC", max_length=64)
    # The daily prompt: local time "HH:MM" and days ("mon,tue,..." in order).
    prompt_time: str = Field(default="09:00", max_length=5)
    prompt_days: str = Field(default="mon,tue,wed,thu,fri,sat,sun", max_length=27)
    # ISO country code choosing the crisis lines members are given; none: the default list.
    country: str | None = Field(default=None, max_length=2)
    # The coach's day: when replies come (days, "by" hour), the digest's hour, and after how
    # many days without a check-in a member gets a gentle note.
    reply_days: str = Field(default="sun,mon,tue,wed,thu", max_length=27)
    reply_by: str = Field(default="20:00", max_length=5)
    digest_time: str = Field(default="08:00", max_length=5)
    quiet_days: int = Field(default=4, ge=1, le=60)
    # The weekly rhythm: the live Q&A (weekday 0 = Monday) and the weekly summaries.
    qa_weekday: int = Field(default=2, ge=0, le=6)
    qa_time: str = Field(default="18:00", max_length=5)
    qa_minutes: int = Field(default=60, ge=15, le=240)
    summary_weekday: int = Field(default=6, ge=0, le=6)
    summary_time: str = Field(default="18:00", max_length=5)
    summary_needs_approval: bool = False
    # Billing: days of free trial a newcomer's Checkout starts with (0: none), and whether
    # Checkout takes the coach's Stripe promotion codes.
    trial_days: int = Field(default=0, ge=0, le=730)
    promotion_codes: bool = False


class Group(GroupBase, table=True):
    """A private Telegram group the program runs in (one cohort)."""

    __tablename__ = "groups"

    id: int | None = Field(default=None, primary_key=True)
    bot_can_invite: bool = False
    bot_can_restrict: bool = False
    # When the coach's last round (the digest) was queued: the next one covers what came since.
    last_round_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The group's own Stripe price, as Stripe described it when the coach chose it (`between
    # group set --price-id`); none: the default (STRIPE_PRICE_ID, PRICE_CENTS, PRICE_CURRENCY).
    stripe_price_id: str | None = Field(default=None, max_length=255)
    price_cents: int | None = None
    price_currency: str | None = Field(default=None, max_length=3)
    price_interval: str | None = Field(default=None, max_length=8)  # day, week, month, year
    price_interval_count: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)


class Member(SQLModel, table=True):
    """A person the bot knows: anyone who started it or joined a group."""

    __tablename__ = "members"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_type=BigInteger, unique=True)
    first_name: str = Field(max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    username: str | None = Field(default=None, max_length=64)
    language_code: str | None = Field(default=None, max_length=16)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When they confirmed that Between is not a crisis service (asked at /join).
    crisis_note_accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When they accepted the group agreement (asked at /join, with the crisis note).
    agreement_accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # False: they asked to come into the group quietly, without a welcome there.
    welcome_in_group: bool = True
    # Set when Telegram answers 403 (blocked the bot); cleared when they write again.
    unreachable_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # /quiet: no gentle check-ins. nudged_at: the last one sent.
    checkins_paused: bool = False
    nudged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class EventStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class ExternalEvent(SQLModel, table=True):
    """An event from outside (a Stripe event, a Telegram update), stored once by its id."""

    __tablename__ = "external_events"
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)
    event_id: str = Field(max_length=255)
    type: str = Field(max_length=128)
    # Stripe's payload (billing data); never a member's message text.
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    occurred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    status: EventStatus = Field(default=EventStatus.RECEIVED, sa_type=String(16))
    attempts: int = 0
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, max_length=1000)
    # When a worker took it up (a claim older than the lease is a crashed worker's), and when
    # a failed one may be tried again.
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    UNREACHABLE = "unreachable"
    FAILED = "failed"


class OutboxMessage(SQLModel, table=True):
    """One broadcast message, delivered exactly once by the outbox sender."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    chat_id: int = Field(sa_type=BigInteger)
    text: str
    reply_markup: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    pin: bool = False
    # Delivered without a sound (disable_notification): the coach's quiet notes.
    silent: bool = False
    # A file sent with the text as its caption (the .ics of the weekly Q&A).
    attachment_name: str | None = Field(default=None, max_length=255)
    attachment: bytes | None = Field(default=None, sa_type=LargeBinary)
    # A copy of a message (copyMessage) instead of the text: a member's message to the coach.
    copy_from_chat_id: int | None = Field(default=None, sa_type=BigInteger)
    copy_from_message_id: int | None = None
    # What the message stands for, acted on once Telegram answers: {"relay": {"member_id",
    # "entry_id"}} (a reply to it reaches that member), {"summary_id": N}. Ids only, no words.
    context: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    state: OutboxState = Field(default=OutboxState.PENDING, sa_type=String(16))
    attempts: int = 0
    not_before: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    telegram_message_id: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)


class OutboxLease(SQLModel, table=True):
    """Which sender may send now (`name` "sender"): one at a time, so Telegram's flood limits
    and each chat's order hold however many workers run. Held until `until`, renewed by its
    holder every few seconds; no member data."""

    __tablename__ = "outbox_leases"

    name: str = Field(max_length=32, primary_key=True)
    holder: str = Field(max_length=128)
    until: datetime = Field(sa_type=UTCDateTime)


class SeatStatus(StrEnum):
    HELD = "held"  # a Checkout Session or a waitlist offer is open
    ACTIVE = "active"  # paying (also while cancelling at the period's end)
    PAST_DUE = "past_due"  # a payment failed; the grace period runs
    COMPED = "comped"  # a free seat from the coach (a scholarship)
    ENDED = "ended"


# Statuses that hold a seat for good; a HELD seat holds it only until hold_expires_at.
SEATED = (SeatStatus.ACTIVE, SeatStatus.PAST_DUE, SeatStatus.COMPED)
LIVE = (SeatStatus.HELD, *SEATED)


class Seat(SQLModel, table=True):
    """One member's place in one group, from the hold to its end."""

    __tablename__ = "seats"
    __table_args__ = (
        Index("ix_seats_group_status", "group_id", "status"),
        Index(
            "uq_seats_live_member",
            "member_id",
            "group_id",
            unique=True,
            sqlite_where=text("status IN ('held', 'active', 'past_due', 'comped')"),
            postgresql_where=text("status IN ('held', 'active', 'past_due', 'comped')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id")
    group_id: int = Field(foreign_key="groups.id")
    status: SeatStatus = Field(sa_type=String(16))
    hold_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checkout_session_id: str | None = Field(default=None, max_length=255, unique=True)
    checkout_url: str | None = Field(default=None, max_length=1000)
    stripe_customer_id: str | None = Field(default=None, max_length=255)
    stripe_subscription_id: str | None = Field(default=None, max_length=255, index=True)
    # The subscription's status as Stripe last gave it ("trialing": the seat is on a trial),
    # and what it bills a month before discounts (a seat keeps the price it was sold at).
    stripe_status: str | None = Field(default=None, max_length=32)
    billed_cents: int | None = None
    billed_currency: str | None = Field(default=None, max_length=3)
    current_period_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_at_period_end: bool = False
    past_due_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the free trial this seat started with ends (set: the member has had their trial).
    trial_ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    invite_link: str | None = Field(default=None, max_length=255)
    joined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    end_reason: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # a seat is held for them until offered_until
    SEATED = "seated"
    LEFT = "left"
    LAPSED = "lapsed"  # the offer ran out


class WaitlistEntry(SQLModel, table=True):
    """A place in a full group's queue."""

    __tablename__ = "waitlist"
    __table_args__ = (
        Index(
            "uq_waitlist_open_member",
            "member_id",
            "group_id",
            unique=True,
            sqlite_where=text("status IN ('waiting', 'offered')"),
            postgresql_where=text("status IN ('waiting', 'offered')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id")
    group_id: int = Field(foreign_key="groups.id", index=True)
    status: WaitlistStatus = Field(default=WaitlistStatus.WAITING, sa_type=String(16))
    seat_id: int | None = Field(default=None, foreign_key="seats.id")
    offered_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class EntryKind(StrEnum):
    TEXT = "text"
    VOICE = "voice"
    VIDEO_NOTE = "video_note"
    PHOTO = "photo"
    FEELING = "feeling"  # a word chosen on the feelings wheel
    WIN = "win"
    NEXT_STEP = "next_step"


class Entry(SQLModel, table=True):
    """One check-in: a member's message (group or private) or a tool's answer."""

    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("chat_id", "message_id"),
        Index("ix_entries_member_time", "member_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id")
    group_id: int | None = Field(default=None, foreign_key="groups.id")
    chat_id: int = Field(sa_type=BigInteger)
    # None for what a tool recorded (a /feel word, a /win); else the Telegram message.
    message_id: int | None = None
    kind: EntryKind = Field(sa_type=String(16))
    text: str | None = None
    file_id: str | None = Field(default=None, max_length=255)
    duration_seconds: int | None = None
    prompt_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PromptState(StrEnum):
    PLANNED = "planned"  # the coach chose it for that day
    SENT = "sent"
    SKIPPED = "skipped"


class PromptDay(SQLModel, table=True):
    """A group's prompt for one local day: planned, sent (once) or skipped."""

    __tablename__ = "prompt_days"
    __table_args__ = (UniqueConstraint("group_id", "local_date"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="groups.id")
    local_date: date
    prompt_id: str | None = Field(default=None, max_length=64)
    state: PromptState = Field(sa_type=String(16))
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SafetyAlert(SQLModel, table=True):
    """A message that matched the risk lexicon: the member got resources, the coach an alert."""

    __tablename__ = "safety_alerts"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id")
    chat_id: int = Field(sa_type=BigInteger)
    message_id: int
    phrase: str = Field(max_length=255)
    # "urgent" (the coach is alerted at once, and again until someone reaches out) or
    # "concerning" (a gentle note to the member, a flagged line in the coach's next round).
    level: str = Field(default="urgent", max_length=16)
    # What kind of risk (the matcher's category), or "sos": the member asked for the coach.
    category: str = Field(default="intent", max_length=32)
    # Where it was said, for the group's zone and title (None: a private chat, no seat).
    group_id: int | None = Field(default=None, foreign_key="groups.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    # When a coach reached out ("I've reached out", or a reply to the member), and who.
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    handled_by: int | None = Field(default=None, sa_type=BigInteger)


class CoachReply(SQLModel, table=True):
    """What the coach said: a reply to one member, or feedback in the group."""

    __tablename__ = "coach_replies"
    __table_args__ = (
        UniqueConstraint("chat_id", "message_id"),
        Index("ix_coach_replies_member_time", "member_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    coach_id: int = Field(sa_type=BigInteger)
    member_id: int | None = Field(default=None, foreign_key="members.id")
    group_id: int | None = Field(default=None, foreign_key="groups.id")
    # Where the coach wrote it (their private chat with the bot, or the group).
    chat_id: int = Field(sa_type=BigInteger)
    message_id: int
    kind: EntryKind = Field(sa_type=String(16))
    text: str | None = None
    file_id: str | None = Field(default=None, max_length=255)
    duration_seconds: int | None = None
    # The member's check-in it answers, when the coach replied to one (for the summary).
    entry_id: int | None = Field(default=None, foreign_key="entries.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class Relay(SQLModel, table=True):
    """A member's message as copied into a coach's chat, so a reply finds its way back."""

    __tablename__ = "relays"
    __table_args__ = (UniqueConstraint("coach_chat_id", "coach_message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    coach_chat_id: int = Field(sa_type=BigInteger)
    coach_message_id: int
    member_id: int = Field(foreign_key="members.id")
    entry_id: int | None = Field(default=None, foreign_key="entries.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class Highlight(SQLModel, table=True):
    """A member's message the coach marked as a win or an insight, for the weekly summary."""

    __tablename__ = "highlights"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entries.id", unique=True)
    kind: str = Field(max_length=16)  # "win" or "insight"
    coach_id: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Meeting(SQLModel, table=True):
    """A group's live Q&A for one week: created once, announced, reminded."""

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("group_id", "week_start"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="groups.id")
    week_start: date  # the Monday of the session's local week
    starts_at: datetime = Field(sa_type=UTCDateTime)
    duration_minutes: int
    join_url: str = Field(max_length=1000)
    zoom_meeting_id: str | None = Field(default=None, max_length=64)
    # The standing link was used (no Zoom app, or Zoom failed).
    fallback: bool = False
    questions_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The coach's private host link (Zoom's start_url lives two hours, so it is sent late).
    host_link_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class MeetingAttempt(SQLModel, table=True):
    """Creating a group's Zoom meeting for one week: tries so far, and when to try again."""

    __tablename__ = "meeting_attempts"
    __table_args__ = (UniqueConstraint("group_id", "week_start"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="groups.id")
    week_start: date
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)


class Question(SQLModel, table=True):
    """A member's question for the live Q&A (/ask)."""

    __tablename__ = "questions"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id")
    group_id: int = Field(foreign_key="groups.id")
    text: str
    created_at: datetime = Field(sa_type=UTCDateTime)


class SummaryState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENT = "sent"
    UNDELIVERED = "undelivered"  # Telegram refused it, or the member can't be reached


class Summary(SQLModel, table=True):
    """A member's weekly summary: drafted, perhaps edited or approved by the coach, sent once."""

    __tablename__ = "summaries"
    __table_args__ = (UniqueConstraint("member_id", "group_id", "week_start"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id")
    group_id: int = Field(foreign_key="groups.id")
    week_start: date
    text: str
    # The coach's personal line, shown at the top (a reply to the draft).
    coach_note: str | None = None
    figures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    state: SummaryState = Field(sa_type=String(16))
    created_at: datetime = Field(sa_type=UTCDateTime)
    # When the coach replaced the draft's words (the dashboard shows "edited").
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReplyPromise(SQLModel, table=True):
    """ "You'll hear back by ...": what a member was promised when they wrote in private, and
    whether it was kept. One open promise per member, closed by the coach's reply."""

    __tablename__ = "reply_promises"
    __table_args__ = (Index("ix_reply_promises_group_due", "group_id", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    group_id: int = Field(foreign_key="groups.id")
    # The first unanswered message, and the reply-by time it was given.
    made_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The honest "running late" note, and the new time it gave.
    late_told_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    late_by: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CoachProfile(SQLModel, table=True):
    """Who the coach is, as members see it: a name, two lines about them, a photo."""

    __tablename__ = "coach_profiles"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_type=BigInteger, unique=True)
    name: str | None = Field(default=None, max_length=64)
    bio: str | None = Field(default=None, max_length=400)
    photo_file_id: str | None = Field(default=None, max_length=255)
    # The coach's night, in the group's zone ("HH:MM"): an urgent alert's repeats wait for its
    # end, unless the coach asked for them at night too (/quiethours).
    quiet_from: str = Field(default="22:00", max_length=5)
    quiet_until: str = Field(default="07:00", max_length=5)
    repeats_at_night: bool = False
    updated_at: datetime = Field(sa_type=UTCDateTime)


class CoachQuestion(SQLModel, table=True):
    """Something the bot asked the coach (their name, new words for a summary): replying to
    that message answers it."""

    __tablename__ = "coach_questions"
    __table_args__ = (UniqueConstraint("coach_chat_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    coach_chat_id: int = Field(sa_type=BigInteger)
    message_id: int
    kind: str = Field(max_length=32)
    # What the answer is about (a summary's id), when it is about something.
    ref_id: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)


class PendingPost(SQLModel, table=True):
    """A /post or /broadcast waiting for the coach to choose the group; gone once sent."""

    __tablename__ = "pending_posts"

    id: int | None = Field(default=None, primary_key=True)
    coach_id: int = Field(sa_type=BigInteger)
    kind: str = Field(max_length=16)  # "post" or "broadcast"
    text: str | None = None
    # The coach's message that carries it (the command, or the voice note /post replied to).
    from_chat_id: int = Field(sa_type=BigInteger)
    message_id: int
    source_kind: str = Field(max_length=16)
    duration_seconds: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)


class MemberNote(SQLModel, table=True):
    """A coach's private note about a member, kept on the dashboard; the member can see it
    in /mydata, and /forget deletes it."""

    __tablename__ = "member_notes"
    __table_args__ = (Index("ix_member_notes_member_time", "member_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id")
    coach_id: int = Field(sa_type=BigInteger)
    text: str
    created_at: datetime = Field(sa_type=UTCDateTime)


class DashboardLogin(SQLModel, table=True):
    """A way into the dashboard used once: a login link the bot sent (by its token's hash),
    or a Mini App's signed launch data (by its hash), so neither works a second time."""

    __tablename__ = "dashboard_logins"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)  # "link" or "mini_app"
    coach_id: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SafetyPlan(SQLModel, table=True):
    """A member's own safety plan, written with the bot (/plan) and shown with /sos. Theirs:
    /mydata shows it, /forget deletes it; the coach never sees it."""

    __tablename__ = "safety_plans"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id", unique=True)
    warning_signs: str | None = Field(default=None, max_length=1000)
    what_helps: str | None = Field(default=None, max_length=1000)
    people: str | None = Field(default=None, max_length=1000)
    # The part /plan asked for and waits to hear (None: not writing the plan now).
    asking: str | None = Field(default=None, max_length=16)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class CodeKind(StrEnum):
    COMP = "comp"  # a free seat for as long as the coach keeps it (a scholarship)
    MONTH_OFF = "month_off"  # a paid seat whose first month costs nothing
    GIFT = "gift"  # someone bought `months` for someone else; the seat ends after them


class AccessCode(SQLModel, table=True):
    """A single-use code for a seat: the coach's (`/code new`) or a gift someone bought.

    Redeemed by `/join CODE` or a `t.me/<bot>?start=CODE` link; the seat it gave is
    `redeemed_seat_id` (how that seat is paid for: by this code's kind).
    """

    __tablename__ = "access_codes"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    kind: CodeKind = Field(sa_type=String(16))
    # A gift: how many months it pays for (30 days each).
    months: int | None = None
    # Who made it: the coach's Telegram id, or for a gift the buyer's (None: bought on the web).
    created_by: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # A gift exists from the moment its Checkout Session opens; it works once paid.
    checkout_session_id: str | None = Field(default=None, max_length=255, unique=True)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    redeemed_by: int | None = Field(default=None, foreign_key="members.id")
    redeemed_seat_id: int | None = Field(default=None, foreign_key="seats.id")
    redeemed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A gift seat: when the member was told it ends soon (once).
    ending_told_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StarsSubscription(SQLModel, table=True):
    """A seat paid in Telegram Stars: a 30-day subscription Telegram renews by itself.

    One row per seat; every payment (first and renewals) moves `expires_at` on.
    """

    __tablename__ = "stars_subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    seat_id: int = Field(foreign_key="seats.id", unique=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    # The invoice's payload names the seat ("seat:<id>"); the last payment's charge id is what
    # refundStarPayment and editUserStarSubscription take.
    charge_id: str | None = Field(default=None, max_length=255)
    amount: int = 0  # Stars per period
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    payments: int = 0
    refunded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class StarsPayment(SQLModel, table=True):
    """One Stars payment as Telegram reported it (successful_payment), kept once by its
    charge id: what the reconcile and refunds work from."""

    __tablename__ = "stars_payments"

    id: int | None = Field(default=None, primary_key=True)
    charge_id: str = Field(max_length=255, unique=True)
    subscription_id: int = Field(foreign_key="stars_subscriptions.id", index=True)
    amount: int
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paid_at: datetime = Field(sa_type=UTCDateTime)
    refunded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
