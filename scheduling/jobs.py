"""The worker's jobs: thin edges that read their input, call one service and report."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlmodel import col, delete

from billing import membership, reconcile
from billing.events import events_to_retry, process_stripe_event
from bot.gateway import bot_link
from coaching import digest
from core import privacy
from core.models import ExternalEvent
from core.runtime import Runtime
from prompts import practice
from scheduling import qa, summaries

log = logging.getLogger(__name__)

# Telegram resends an unanswered update within a day; a week of ids is ample.
KEEP_UPDATE_IDS = timedelta(days=7)


def runtime_of(ctx: dict[str, Any]) -> Runtime:
    runtime: Runtime = ctx["runtime"]
    return runtime


async def apply_stripe_event(ctx: dict[str, Any], event_id: str) -> str | None:
    """Apply one stored Stripe event (enqueued by the webhook)."""
    runtime = runtime_of(ctx)
    status = await process_stripe_event(
        runtime.sessions, runtime.billing, event_id, runtime.clock.now()
    )
    return status.value if status else None


async def retry_stripe_events(ctx: dict[str, Any]) -> int:
    """Every minute: enqueue stored events whose job was lost or failed."""
    runtime = runtime_of(ctx)
    async with runtime.sessions() as session:
        event_ids = await events_to_retry(session, runtime.clock.now())
    for event_id in event_ids:
        await runtime.redis.enqueue_job("process_stripe_event", event_id)
    if event_ids:
        log.info("re-enqueued %d stripe event(s)", len(event_ids))
    return len(event_ids)


async def forget_old_update_ids(ctx: dict[str, Any]) -> int:
    """Daily: drop Telegram update ids older than a week (they only guard against resends)."""
    runtime = runtime_of(ctx)
    async with runtime.sessions() as session:
        result = await session.exec(
            delete(ExternalEvent)
            .where(col(ExternalEvent.source) == "telegram")
            .where(col(ExternalEvent.received_at) < runtime.clock.now() - KEEP_UPDATE_IDS)
        )
        await session.commit()
    return int(result.rowcount)


async def sweep_seats(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute: lapsed holds and offers go back, unpaid seats end after the grace period."""
    runtime = runtime_of(ctx)
    async with runtime.sessions() as session:
        done = await membership.sweep_seats(session, runtime.billing, runtime.clock.now())
        await session.commit()
    if any(done.values()):
        log.info("seats swept: %s", done)
    return done


async def reconcile_billing(ctx: dict[str, Any]) -> int:
    """Nightly: bring seats in line with Stripe and tell the coach what changed."""
    runtime = runtime_of(ctx)
    async with runtime.sessions() as session:
        changes = await reconcile.reconcile(
            session, runtime.billing, runtime.clock.now(), apply=True
        )
        await reconcile.report_to_coaches(session, runtime.billing, changes, runtime.clock.now())
        await session.commit()
    return len(changes)


async def send_daily_prompts(ctx: dict[str, Any]) -> int:
    """Every minute: queue each group's prompt when its local hour comes (once a day)."""
    runtime = runtime_of(ctx)
    link = await bot_link(runtime.bot)
    async with runtime.sessions() as session:
        sent = await practice.send_due_prompts(
            session, runtime.library, runtime.templates, runtime.clock.now(), link
        )
        await session.commit()
    for group, day, prompt in sent:
        log.info("prompt %s queued for group %s (%s)", prompt.id, group.id, day)
    return len(sent)


async def send_digests(ctx: dict[str, Any]) -> int:
    """Every minute: on reply days at the digest hour, each coach's digest (once a day)."""
    runtime = runtime_of(ctx)
    async with runtime.sessions() as session:
        sent = await digest.send_due_digests(
            session, runtime.templates, runtime.settings.coach_telegram_ids, runtime.clock.now()
        )
        await session.commit()
    return sent


async def send_gentle_checkins(ctx: dict[str, Any]) -> int:
    """Every minute: one gentle note per quiet spell, at a humane local hour."""
    runtime = runtime_of(ctx)
    async with runtime.sessions() as session:
        sent = await digest.send_gentle_checkins(session, runtime.templates, runtime.clock.now())
        await session.commit()
    return sent


async def schedule_live_qa(ctx: dict[str, Any]) -> int:
    """Every minute: create each group's next Q&A a few days ahead (once per week)."""
    runtime = runtime_of(ctx)
    async with runtime.sessions() as session:
        created = await qa.ensure_meetings(
            session,
            zoom=runtime.zoom,
            standing_url=runtime.settings.zoom_standing_url,
            templates=runtime.templates,
            coach_ids=runtime.settings.coach_telegram_ids,
            now=runtime.clock.now(),
        )
        await qa.send_questions(
            session, runtime.templates, runtime.settings.coach_telegram_ids, runtime.clock.now()
        )
        await session.commit()
    return len(created)


async def weekly_summaries(ctx: dict[str, Any]) -> int:
    """Every minute: drafts some hours before, then the summaries and the recap, once."""
    runtime = runtime_of(ctx)
    coach_ids = runtime.settings.coach_telegram_ids
    async with runtime.sessions() as session:
        await summaries.draft_due_summaries(
            session, runtime.templates, runtime.library, coach_ids, runtime.clock.now()
        )
        sent = await summaries.send_due_summaries(
            session, runtime.templates, coach_ids, runtime.clock.now()
        )
        await session.commit()
    return sent


async def purge_old_words(ctx: dict[str, Any]) -> int:
    """Daily: what members wrote goes after the retention period; the counts stay."""
    runtime = runtime_of(ctx)
    async with runtime.sessions() as session:
        counts = await privacy.purge_old_words(
            session, runtime.clock.now(), days=runtime.settings.retention_days, dry_run=False
        )
        await session.commit()
    log.info("retention: %s", counts)
    return counts.entries
