"""Members' data rights: see everything kept (/mydata), be forgotten (/forget), and the
retention that deletes old words while keeping the counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.models import (
    AccessCode,
    CoachReply,
    Entry,
    EntryKind,
    Group,
    Highlight,
    Member,
    MemberNote,
    OutboxMessage,
    OutboxState,
    PendingPost,
    Question,
    Relay,
    ReplyPromise,
    SafetyAlert,
    SafetyPlan,
    Seat,
    StarsSubscription,
    Summary,
    WaitlistEntry,
)

FORGOTTEN = "(forgotten)"


async def export_member(session: AsyncSession, member: Member) -> dict[str, Any]:
    """Everything stored about one member, as plain data (the JSON of /mydata)."""
    assert member.id is not None
    entries = await _all(session, select(Entry).where(col(Entry.member_id) == member.id))
    entry_ids = [entry.id for entry in entries]
    return {
        "profile": {
            "telegram_id": member.telegram_id,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "username": member.username,
            "language_code": member.language_code,
            "started_at": _when(member.started_at),
            "crisis_note_accepted_at": _when(member.crisis_note_accepted_at),
            "group_agreement_accepted_at": _when(member.agreement_accepted_at),
            "gentle_checkins_paused": member.checkins_paused,
            "welcome_in_group": member.welcome_in_group,
        },
        "membership": [
            {
                "group": await _group_title(session, seat.group_id),
                "status": str(seat.status),
                "since": _when(seat.created_at),
                "renews_or_ends": _when(seat.current_period_end),
                "cancelling": seat.cancel_at_period_end,
                "free_trial_until": _when(seat.trial_ends_at),
                "ended": _when(seat.ended_at),
                "stripe_customer": seat.stripe_customer_id,
                "stripe_subscription": seat.stripe_subscription_id,
                "stripe_status": seat.stripe_status,
                "billed_a_month": (
                    f"{seat.billed_cents} {seat.billed_currency}" if seat.billed_cents else None
                ),
            }
            for seat in await _all(session, select(Seat).where(col(Seat.member_id) == member.id))
        ],
        "waitlist": [
            {"status": str(entry.status), "since": _when(entry.created_at)}
            for entry in await _all(
                session, select(WaitlistEntry).where(col(WaitlistEntry.member_id) == member.id)
            )
        ],
        "check_ins": [
            {
                "when": _when(entry.created_at),
                "kind": str(entry.kind),
                "text": entry.text,
                "voice_seconds": entry.duration_seconds,
                "prompt": entry.prompt_id,
                "edited": _when(entry.edited_at),
            }
            for entry in sorted(entries, key=lambda e: e.created_at)
        ],
        "highlights_by_coach": [
            {"kind": highlight.kind, "when": _when(highlight.created_at)}
            for highlight in await _all(
                session, select(Highlight).where(col(Highlight.entry_id).in_(entry_ids))
            )
        ],
        "coach_replies": [
            {
                "when": _when(reply.created_at),
                "kind": str(reply.kind),
                "text": reply.text,
                "voice_seconds": reply.duration_seconds,
            }
            for reply in await _all(
                session, select(CoachReply).where(col(CoachReply.member_id) == member.id)
            )
        ],
        "reply_promises": [
            {
                "wrote": _when(promise.made_at),
                "promised_by": _when(promise.due_at),
                "told_late_at": _when(promise.late_told_at),
                "new_time": _when(promise.late_by),
                "answered": _when(promise.answered_at),
            }
            for promise in await _all(
                session, select(ReplyPromise).where(col(ReplyPromise.member_id) == member.id)
            )
        ],
        "weekly_summaries": [
            {
                "week_of": str(summary.week_start),
                "state": str(summary.state),
                "coach_note": summary.coach_note,
                "text": summary.text,
            }
            for summary in await _all(
                session, select(Summary).where(col(Summary.member_id) == member.id)
            )
        ],
        "questions": [
            {"when": _when(question.created_at), "text": question.text}
            for question in await _all(
                session, select(Question).where(col(Question.member_id) == member.id)
            )
        ],
        "safety_alerts": [
            {
                "when": _when(alert.created_at),
                "matched": alert.phrase,
                "level": alert.level,
                "coach_reached_out": _when(alert.handled_at),
            }
            for alert in await _all(
                session, select(SafetyAlert).where(col(SafetyAlert.member_id) == member.id)
            )
        ],
        # Their own safety plan (/plan): what /sos shows them.
        "safety_plan": [
            {
                "warning_signs": plan.warning_signs,
                "what_helps": plan.what_helps,
                "people_to_call": plan.people,
                "updated": _when(plan.updated_at),
            }
            for plan in await _all(
                session, select(SafetyPlan).where(col(SafetyPlan.member_id) == member.id)
            )
        ],
        # How their seats were paid for besides Stripe: Telegram Stars, a code or a gift.
        "stars_subscriptions": [
            {
                "stars_a_month": stars.amount,
                "payments": stars.payments,
                "paid_until": _when(stars.expires_at),
                "refunded": _when(stars.refunded_at),
            }
            for stars in await _all(
                session,
                select(StarsSubscription).where(col(StarsSubscription.member_id) == member.id),
            )
        ],
        "codes_redeemed": [
            {"kind": code.kind, "months": code.months, "when": _when(code.redeemed_at)}
            for code in await _all(
                session, select(AccessCode).where(col(AccessCode.redeemed_by) == member.id)
            )
        ],
        # What the coach wrote about them on the dashboard: theirs to read too.
        "coach_notes": [
            {"when": _when(note.created_at), "text": note.text}
            for note in await _all(
                session,
                select(MemberNote)
                .where(col(MemberNote.member_id) == member.id)
                .order_by(col(MemberNote.created_at)),
            )
        ],
    }


@dataclass(frozen=True)
class Forgotten:
    entries: int
    summaries: int
    questions: int
    replies: int
    messages: int
    still_paying: bool


async def forget_member(session: AsyncSession, member: Member, now: datetime) -> Forgotten:
    """Delete what the member wrote and what was written about them; keep only what billing
    law needs (Stripe ids and dates on their seats)."""
    assert member.id is not None
    entry_ids = select(Entry.id).where(col(Entry.member_id) == member.id)
    await session.exec(delete(Highlight).where(col(Highlight.entry_id).in_(entry_ids)))
    # What the coach was sent about them: drafts of their summaries, safety alerts quoting them.
    summaries = await session.exec(select(Summary.id).where(col(Summary.member_id) == member.id))
    summary_ids = list(summaries.all())
    about_them = [col(OutboxMessage.key).startswith(f"safety:{member.telegram_id}:")] + [
        col(OutboxMessage.key).startswith(f"summary-draft:{summary_id}:")
        for summary_id in summary_ids
    ]
    # Their messages relayed to the coach, the coach's notes about an undelivered summary,
    # and alerts that quote a group message (a basic group has no link to give instead).
    about_them += [col(OutboxMessage.key).startswith(f"relay:{member.id}:")] + [
        col(OutboxMessage.key).startswith(f"summary-undelivered:{summary_id}:")
        for summary_id in summary_ids
    ]
    alerts = await session.exec(
        select(SafetyAlert.chat_id, SafetyAlert.message_id).where(
            col(SafetyAlert.member_id) == member.id
        )
    )
    about_them += [
        col(OutboxMessage.key).startswith(f"safety:{chat_id}:{message_id}:")
        for chat_id, message_id in alerts.all()
    ]
    await session.exec(delete(OutboxMessage).where(or_(*about_them)))
    await session.exec(delete(Relay).where(col(Relay.member_id) == member.id))
    await session.exec(delete(ReplyPromise).where(col(ReplyPromise.member_id) == member.id))
    # The coach's replies go first: they point at the check-ins they answered.
    replies = await _delete(
        session,
        CoachReply,
        or_(col(CoachReply.member_id) == member.id, col(CoachReply.entry_id).in_(entry_ids)),
    )
    counts = Forgotten(
        entries=await _delete(session, Entry, col(Entry.member_id) == member.id),
        summaries=await _delete(session, Summary, col(Summary.member_id) == member.id),
        questions=await _delete(session, Question, col(Question.member_id) == member.id),
        replies=replies,
        # Messages to them (summaries, notes) and relayed copies in the coach's chat.
        messages=await _delete(
            session, OutboxMessage, col(OutboxMessage.chat_id) == member.telegram_id
        ),
        still_paying=bool(
            (
                await session.exec(
                    select(Seat.id)
                    .where(col(Seat.member_id) == member.id)
                    .where(col(Seat.stripe_subscription_id).is_not(None))
                    .where(col(Seat.status).in_(["active", "past_due"]))
                    .where(col(Seat.cancel_at_period_end).is_(False))
                )
            ).first()
        ),
    )
    await session.exec(delete(SafetyAlert).where(col(SafetyAlert.member_id) == member.id))
    await session.exec(delete(SafetyPlan).where(col(SafetyPlan.member_id) == member.id))
    await session.exec(delete(MemberNote).where(col(MemberNote.member_id) == member.id))
    await session.exec(
        delete(WaitlistEntry)
        .where(col(WaitlistEntry.member_id) == member.id)
        .where(col(WaitlistEntry.status).not_in(["waiting", "offered"]))
    )
    await session.exec(
        update(Seat).where(col(Seat.member_id) == member.id).values(invite_link=None)
    )
    member.first_name, member.last_name, member.username = FORGOTTEN, None, None
    member.language_code = None
    member.nudged_at = None
    member.agreement_accepted_at, member.welcome_in_group = None, True
    session.add(member)
    await session.flush()
    return counts


@dataclass(frozen=True)
class Purge:
    entries: int
    replies: int
    messages: int
    summaries: int
    questions: int
    notes: int = 0


async def purge_old_words(
    session: AsyncSession, now: datetime, *, days: int, dry_run: bool
) -> Purge:
    """After `days`, the words go; the kind, the time and the voice length stay (the counts)."""
    before = now - timedelta(days=days)
    old_entries = (col(Entry.created_at) < before) & or_(
        col(Entry.text).is_not(None), col(Entry.file_id).is_not(None)
    )
    old_replies = (col(CoachReply.created_at) < before) & or_(
        col(CoachReply.text).is_not(None), col(CoachReply.file_id).is_not(None)
    )
    old_messages = (col(OutboxMessage.created_at) < before) & col(OutboxMessage.state).in_(
        [OutboxState.SENT, OutboxState.FAILED, OutboxState.UNREACHABLE]
    )
    old_summaries = col(Summary.created_at) < before
    old_questions = col(Question.created_at) < before
    old_notes = col(MemberNote.created_at) < before
    counts = Purge(
        entries=await _count(session, Entry, old_entries),
        replies=await _count(session, CoachReply, old_replies),
        messages=await _count(session, OutboxMessage, old_messages),
        summaries=await _count(session, Summary, old_summaries),
        questions=await _count(session, Question, old_questions),
        notes=await _count(session, MemberNote, old_notes),
    )
    if dry_run:
        return counts
    await session.exec(
        update(Entry)
        .where(old_entries)
        .where(col(Entry.kind) != EntryKind.FEELING)  # a feeling word is a count, not a story
        .values(text=None, file_id=None)
    )
    await session.exec(update(CoachReply).where(old_replies).values(text=None, file_id=None))
    await session.exec(delete(OutboxMessage).where(old_messages))
    await session.exec(delete(Summary).where(old_summaries))
    await session.exec(delete(Question).where(old_questions))
    # A /post the coach never sent anywhere: their words, kept no longer than members'.
    await session.exec(delete(PendingPost).where(col(PendingPost.created_at) < before))
    await session.exec(delete(MemberNote).where(old_notes))
    return counts


async def _all(session: AsyncSession, query: Any) -> list[Any]:
    return list((await session.exec(query)).all())


async def _delete(session: AsyncSession, model: Any, condition: Any) -> int:
    result = await session.exec(delete(model).where(condition))
    return int(result.rowcount)


async def _count(session: AsyncSession, model: Any, condition: Any) -> int:
    result = await session.exec(select(func.count()).select_from(model).where(condition))
    return int(result.one())


async def _group_title(session: AsyncSession, group_id: int) -> str:
    group = await session.get(Group, group_id)
    return group.title if group else "?"


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
