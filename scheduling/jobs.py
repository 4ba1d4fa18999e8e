"""The worker's jobs, and when they run: thin edges that read their input, call one service and
report. They find what they need in arq's `ctx["services"]`, built once by the app."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

from arq import cron, func
from arq.connections import ArqRedis
from arq.cron import CronJob
from arq.worker import Function
from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import gifts, reconcile, stars
from billing.events import (
    events_to_retry,
    job_id,
    process_stripe_event,
    report_given_up,
)
from billing.membership import Membership
from billing.polling import poll_stripe_events
from billing.stripe_gateway import StripeGateway
from coaching import digest, profiles, promises
from core import privacy
from core.clock import Clock
from core.db import SessionFactory
from core.links import BotLinks
from core.models import ExternalEvent
from core.settings import Settings
from practice import daily
from practice.words import Vocabulary
from prompts.catalog import Library
from prompts.render import Templates
from safety.net import SafetyNet
from scheduling import qa, summaries
from scheduling.zoom import ZoomGateway

log = logging.getLogger(__name__)

# Telegram resends an unanswered update within a day; a week of ids is ample.
KEEP_UPDATE_IDS = timedelta(days=7)


class Services(Protocol):
    """What the jobs use (the app's runtime provides it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def sessions(self) -> SessionFactory: ...
    @property
    def redis(self) -> ArqRedis: ...
    @property
    def templates(self) -> Templates: ...
    @property
    def library(self) -> Library: ...
    @property
    def vocabulary(self) -> Vocabulary: ...
    @property
    def membership(self) -> Membership: ...
    @property
    def stripe(self) -> StripeGateway: ...
    @property
    def links(self) -> BotLinks: ...
    @property
    def zoom(self) -> ZoomGateway | None: ...
    @property
    def safety(self) -> SafetyNet: ...


def services_of(ctx: dict[str, Any]) -> Services:
    services: Services = ctx["services"]
    return services


async def apply_stripe_event(ctx: dict[str, Any], event_id: str) -> str | None:
    """Apply one stored Stripe event (enqueued by the webhook, the poll or the sweep)."""
    run = services_of(ctx)

    async def tell_the_coach(session: AsyncSession, event: ExternalEvent, now: datetime) -> None:
        coach_ids = run.settings.coach_telegram_ids
        await report_given_up(session, run.templates, coach_ids, event, now)

    status = await process_stripe_event(
        run.sessions, run.membership, event_id, run.clock, on_give_up=tell_the_coach
    )
    return status.value if status else None


async def retry_stripe_events(ctx: dict[str, Any]) -> int:
    """Every 15 s: enqueue stored events whose job was lost, whose worker died, or whose
    last failure has waited long enough."""
    run = services_of(ctx)
    async with run.sessions() as session:
        due = await events_to_retry(session, run.clock.now())
    for event_id, attempts in due:
        # One job id per try: a backlog enqueued again each minute stays one job.
        await run.redis.enqueue_job(
            "process_stripe_event", event_id, _job_id=job_id(event_id, attempts, again=True)
        )
    if due:
        log.info("enqueued %d stripe event(s) again", len(due))
    return len(due)


async def read_stripe_events(ctx: dict[str, Any]) -> int:
    """Every few seconds without a PUBLIC_URL (no webhook can reach us): Stripe's new events,
    read from its events API, stored once and queued like the webhook's."""
    run = services_of(ctx)
    if run.settings.webhook_mode:
        return 0

    async def enqueue(event_id: str) -> object:
        return await run.redis.enqueue_job(
            "process_stripe_event", event_id, _job_id=job_id(event_id, 0)
        )

    return await poll_stripe_events(run.sessions, run.stripe, enqueue, run.clock.now())


async def forget_old_update_ids(ctx: dict[str, Any]) -> int:
    """Daily: drop Telegram update ids older than a week (they only guard against resends)."""
    run = services_of(ctx)
    async with run.sessions() as session:
        result = await session.exec(
            delete(ExternalEvent)
            .where(col(ExternalEvent.source) == "telegram")
            .where(col(ExternalEvent.received_at) < run.clock.now() - KEEP_UPDATE_IDS)
        )
        await session.commit()
    return int(result.rowcount)


async def sweep_seats(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute: lapsed holds and offers go back, unpaid seats end after the grace period."""
    run = services_of(ctx)
    async with run.sessions() as session:
        unpaid = await run.membership.cancel_unpaid(session, run.clock.now())
        done = await run.membership.sweep_seats(session, run.clock.now(), unpaid=unpaid)
        done["stars_ended"] = await stars.end_unrenewed(session, run.membership, run.clock.now())
        done["gifts_ended"] = await gifts.end_gift_seats(session, run.membership, run.clock.now())
        await session.commit()
    if any(done.values()):
        log.info("seats swept: %s", done)
    return done


async def reconcile_billing(ctx: dict[str, Any]) -> int:
    """Nightly: bring seats in line with Stripe and tell the coach what changed."""
    run = services_of(ctx)
    async with run.sessions() as session:
        changes = await reconcile.reconcile(session, run.membership, run.clock.now(), apply=True)
        await reconcile.report_to_coaches(
            session, run.templates, run.settings.coach_telegram_ids, changes, run.clock.now()
        )
        await session.commit()
    return len(changes)


async def send_daily_prompts(ctx: dict[str, Any]) -> int:
    """Every minute: queue each group's prompt when its local hour comes (once a day)."""
    run = services_of(ctx)
    link = await run.links.to_bot()
    async with run.sessions() as session:
        sent = await daily.send_due_prompts(
            session, run.library, run.templates, run.clock.now(), link
        )
        await session.commit()
    for group, day, prompt in sent:
        log.info("prompt %s queued for group %s (%s)", prompt.id, group.id, day)
    return len(sent)


async def send_digests(ctx: dict[str, Any]) -> int:
    """Every minute: on reply days at the digest hour, each coach's digest (once a day)."""
    run = services_of(ctx)
    async with run.sessions() as session:
        sent = await digest.send_due_digests(
            session, run.templates, run.settings.coach_telegram_ids, run.clock.now()
        )
        await session.commit()
    return sent


async def repeat_safety_alerts(ctx: dict[str, Any]) -> int:
    """Every minute: an urgent alert nobody has reached out about, said again when due."""
    run = services_of(ctx)
    async with run.sessions() as session:
        sent = await run.safety.repeat_open_alerts(session, run.clock.now())
        await session.commit()
    return sent


async def send_gentle_checkins(ctx: dict[str, Any]) -> int:
    """Every minute: one gentle note per quiet spell, at a humane local hour."""
    run = services_of(ctx)
    async with run.sessions() as session:
        coach = await profiles.coach_name(session, run.settings.coach_telegram_ids)
        sent = await digest.send_gentle_checkins(session, run.templates, run.clock.now(), coach)
        await session.commit()
    return sent


async def keep_promises(ctx: dict[str, Any]) -> int:
    """Every minute: the coach's reminder before a reply-by time, the honest note after it."""
    run = services_of(ctx)
    coach_ids = run.settings.coach_telegram_ids
    async with run.sessions() as session:
        now = run.clock.now()
        reminded = await promises.remind_coaches(session, run.templates, coach_ids, now)
        name = await profiles.coach_name(session, coach_ids)
        told = await promises.tell_late(session, run.templates, name, now)
        await session.commit()
    return reminded + told


async def schedule_live_qa(ctx: dict[str, Any]) -> int:
    """Every minute: create each group's next Q&A a few days ahead (once per week), give the
    coach the host link an hour before, the questions two hours before."""
    run = services_of(ctx)
    coach_ids = run.settings.coach_telegram_ids
    # Zoom is asked outside any transaction; these manage their own.
    created = await qa.ensure_meetings(
        run.sessions,
        zoom=run.zoom,
        standing_url=run.settings.zoom_standing_url,
        templates=run.templates,
        coach_ids=coach_ids,
        now=run.clock.now(),
    )
    await qa.send_host_links(
        run.sessions,
        zoom=run.zoom,
        templates=run.templates,
        coach_ids=coach_ids,
        now=run.clock.now(),
    )
    async with run.sessions() as session:
        await qa.send_questions(session, run.templates, coach_ids, run.clock.now())
        await session.commit()
    return len(created)


async def weekly_summaries(ctx: dict[str, Any]) -> int:
    """Every minute: drafts some hours before, then the summaries and the recap, once."""
    run = services_of(ctx)
    coach_ids = run.settings.coach_telegram_ids
    async with run.sessions() as session:
        await summaries.draft_due_summaries(
            session, run.templates, run.vocabulary, coach_ids, run.clock.now()
        )
        sent = await summaries.send_due_summaries(
            session, run.templates, coach_ids, run.clock.now()
        )
        await session.commit()
    return sent


async def purge_old_words(ctx: dict[str, Any]) -> int:
    """Daily: what members wrote goes after the retention period; the counts stay."""
    run = services_of(ctx)
    async with run.sessions() as session:
        counts = await privacy.purge_old_words(
            session, run.clock.now(), days=run.settings.retention_days, dry_run=False
        )
        await session.commit()
    log.info("retention: %s", counts)
    return counts.entries


# How long applying one Stripe event may take (a few Stripe and Telegram calls, each with its
# own time limit); the claim is renewed meanwhile (billing.events).
STRIPE_EVENT_TIMEOUT = timedelta(minutes=2)

# The jobs queued by name (the Stripe webhook enqueues "process_stripe_event"). A job cut short
# by a stop is run again by arq (max_tries); a failure is retried by our own sweep, with backoff.
FUNCTIONS: list[Function] = [
    func(
        apply_stripe_event,
        name="process_stripe_event",
        max_tries=3,
        timeout=STRIPE_EVENT_TIMEOUT.total_seconds(),
    ),
]
# The clock-driven jobs: most look every minute (each at its own second) and act once per
# local day or week; the nightly ones run in the small hours (UTC).
CRON_JOBS: list[CronJob] = [
    # Every 15 s: a claim not renewed for billing.events.CLAIM_LEASE is taken back soon.
    cron(retry_stripe_events, second={0, 15, 30, 45}, run_at_startup=True),
    cron(read_stripe_events, second=set(range(0, 60, 10)), run_at_startup=True),
    cron(sweep_seats, second=30, run_at_startup=True),
    cron(send_daily_prompts, second=5, run_at_startup=True),
    cron(send_digests, second=15),
    cron(repeat_safety_alerts, second=25, run_at_startup=True),
    cron(send_gentle_checkins, second=45),
    cron(keep_promises, second=40),
    cron(schedule_live_qa, second=20),
    cron(weekly_summaries, second=50),
    cron(reconcile_billing, hour=3, minute=0),
    cron(forget_old_update_ids, hour=3, minute=30),
    cron(purge_old_words, hour=4, minute=0),
]
