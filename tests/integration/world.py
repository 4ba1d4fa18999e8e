"""The app as it runs against the sandboxes, and what people do in it (shared by the tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from app.runtime import Runtime
from app.web import create_app
from app.worker import create_worker
from bot.dispatcher import ALLOWED_UPDATES
from core.clock import SimulatedClock
from core.db import SessionFactory
from core.flood import TELEGRAM_LIMITS
from core.models import Seat, SeatStatus
from core.outbox import OutboxSender
from core.settings import Settings
from sandbox import harness
from sandbox.harness import COACH_ID, STRIPE_WEBHOOK_SECRET, TELEGRAM_WEBHOOK_SECRET
from sandbox.stripe import StripeSandbox
from sandbox.telegram import ChatMessage, TelegramSandbox
from scheduling import jobs

__all__ = ["COACH_ID", "GROUP", "World", "open_world", "world_with_settings"]

GROUP = -1001009000000  # a supergroup (basic groups are -1 … -999999999999)


@dataclass
class World:
    """The app as it runs, wired to the sandboxes, with a few things people do."""

    runtime: Runtime
    telegram: TelegramSandbox
    stripe: StripeSandbox
    sessions: SessionFactory
    clock: SimulatedClock
    settings: Settings
    group_chat_id: int = GROUP

    async def settle(self) -> None:
        """Let the worker apply every queued event and the outbox deliver every message."""
        assert self.settings.redis_url is not None
        # No cron: a clock-driven job firing by wall-clock chance would make tests flaky;
        # the tests run those jobs themselves.
        worker = create_worker(
            self.settings,
            redis_url=self.settings.redis_url,
            runtime=self.runtime,
            burst=True,
            cron=False,
        )
        await worker.async_run()
        await worker.close()
        await self.deliver()
        await self.telegram.settle()

    async def deliver(self) -> None:
        sender = OutboxSender(
            self.sessions,
            self.runtime.telegram,
            self.clock,
            limits=TELEGRAM_LIMITS.scaled(self.clock.pace),
            idle_seconds=0.02,
        )
        await asyncio.wait_for(sender.drain(), timeout=30)

    async def sweep(self) -> None:
        await jobs.sweep_seats({"services": self.runtime})
        await self.deliver()

    def person(self, user_id: int, name: str) -> None:
        self.telegram.add_user(user_id, name, username=name.lower())

    async def ask_to_join(self, user_id: int) -> ChatMessage:
        """/join, then accept the not-for-crisis note; return the bot's answer."""
        return await harness.ask_to_join(self.telegram, user_id)

    async def pay(self, user_id: int) -> None:
        seat = await self.seat(user_id)
        assert seat is not None and seat.checkout_session_id is not None
        await self.stripe.complete_checkout(seat.checkout_session_id)
        await self.settle()

    async def join_the_group(self, user_id: int, name: str) -> Seat:
        """Join, pay, and come in by the personal link."""
        seat = await self.join_and_pay(user_id, name)
        await self.telegram.join_request(user_id, self.group_chat_id, invite_link=seat.invite_link)
        await self.telegram.settle()
        return seat

    async def join_and_pay(self, user_id: int, name: str) -> Seat:
        self.person(user_id, name)
        answer = await self.ask_to_join(user_id)
        assert answer.text is not None and "held for you" in answer.text
        await self.pay(user_id)
        seat = await self.seat(user_id)
        assert seat is not None and seat.status == SeatStatus.ACTIVE
        return seat

    async def seat(self, user_id: int) -> Seat | None:
        """The person's newest seat."""
        return await harness.newest_seat(self.sessions, user_id)

    def last(self, user_id: int) -> ChatMessage:
        return self.telegram.sent_by_bot(user_id)[-1]

    def texts(self, user_id: int) -> list[str]:
        return [m.text or "" for m in self.telegram.sent_by_bot(user_id)]

    def told(self, user_id: int, words: str) -> int:
        return sum(words in text for text in self.texts(user_id))


async def open_world(
    settings: Settings,
    sessions: SessionFactory,
    redis: Any,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
    *,
    group_chat_id: int = GROUP,
) -> AsyncIterator[World]:
    price_id = await harness.create_price(stripe_sandbox)
    settings = settings.model_copy(update={"stripe_price_id": price_id})
    assert settings.redis_url is not None
    runtime = await Runtime.open(settings, redis_url=settings.redis_url, clock=clock)
    async with TestClient(TestServer(create_app(runtime))) as client:
        base = str(client.make_url("")).rstrip("/")
        await runtime.bot.set_webhook(
            f"{base}/telegram/webhook",
            secret_token=TELEGRAM_WEBHOOK_SECRET,
            allowed_updates=ALLOWED_UPDATES,
        )
        stripe_sandbox.add_webhook_endpoint(f"{base}/stripe/webhook", STRIPE_WEBHOOK_SECRET)
        await harness.coach_opens_group(
            telegram,
            sessions,
            chat_id=group_chat_id,
            title="Between circle",
            capacity=3,
            now=clock.now(),
        )
        yield World(runtime, telegram, stripe_sandbox, sessions, clock, settings, group_chat_id)
        await stripe_sandbox.settle()
    await runtime.close()


@contextlib.asynccontextmanager
async def world_with_settings(
    settings: Settings,
    sessions: SessionFactory,
    redis: Any,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
    **changes: Any,
) -> AsyncIterator[World]:
    """The world with some settings changed (a coach's own .env)."""
    changed = settings.model_copy(update=changes)
    async for world in open_world(changed, sessions, redis, clock, telegram, stripe_sandbox):
        yield world
