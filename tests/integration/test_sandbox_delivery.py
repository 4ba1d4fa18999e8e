"""The sandbox hands updates to a webhook as Telegram's Bot API server does (WebhookActor.cpp):
one queue per chat or person, resends with back-off, later updates held, old ones dropped."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.clock import SimulatedClock
from sandbox.telegram import SANDBOX_BOT_TOKEN, TelegramSandbox

ANN = 1001
BEN = 1002
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WRONG_500 = "Wrong response from the webhook: 500 Internal Server Error"


class Webhook:
    """A bot's webhook that answers what the test tells it to, and notes what it got."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.received: list[dict[str, Any]] = []
        self.stamps: list[datetime] = []  # when each request came, by the test's clock
        self.answers: list[web.Response] = []  # answered in turn; then 200

    def texts(self) -> list[str]:
        return [update["message"]["text"] for update in self.received if "message" in update]

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        self.stamps.append(self.clock.now())
        return self.answers.pop(0) if self.answers else web.json_response({})


@asynccontextmanager
async def webhook_world(
    clock: SimulatedClock,
) -> AsyncIterator[tuple[TelegramSandbox, Bot, Webhook, Callable[[], Any]]]:
    sandbox = TelegramSandbox(rate_scale=1_000_000.0, now=clock.now)
    base_url = await sandbox.start()
    bot = Bot(SANDBOX_BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    hook = Webhook(clock)
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    sandbox.add_user(ANN, "Ann", started=True)
    sandbox.add_user(BEN, "Ben", started=True)
    try:
        async with TestServer(app) as server:
            await bot.set_webhook(str(server.make_url("/hook")))
            yield sandbox, bot, hook, bot.get_webhook_info
    finally:
        await bot.session.close()
        await sandbox.stop()


def failing(count: int, status: int = 500, **headers: str) -> list[web.Response]:
    return [web.Response(status=status, headers=headers) for _ in range(count)]


async def test_a_failed_update_is_resent_at_once_then_with_back_off_holding_its_chat() -> None:
    clock = SimulatedClock(START)
    async with webhook_world(clock) as (sandbox, bot, hook, info):
        hook.answers = failing(2)

        first = await sandbox.user_sends(ANN, text="one")
        await sandbox.user_sends(ANN, text="two")  # the same chat: waits behind "one"
        await sandbox.user_sends(BEN, text="ben's")  # another chat: goes on
        await sandbox.settle()
        held = hook.texts()
        waiting = await info()

        clock.advance(timedelta(seconds=1))
        await sandbox.settle()
        not_yet = hook.texts()
        clock.advance(timedelta(seconds=1))  # 2 s after the second failure
        await sandbox.settle()

    assert held == ["one", "one", "ben's"]  # the first failure is retried at once
    assert not_yet == held
    assert hook.texts() == ["one", "one", "ben's", "one", "two"]
    assert {u["update_id"] for u in hook.received if u["message"]["text"] == "one"} == {
        first["update_id"]
    }
    assert waiting.pending_update_count == 2
    assert (
        waiting.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    )
    assert waiting.last_error_date == START


async def _until(
    sandbox: TelegramSandbox, clock: SimulatedClock, done: Callable[[], bool]
) -> None:
    """Let time pass a second at a time (at most a day) until `done`."""
    for _ in range(86400):
        if done():
            return
        clock.advance(timedelta(seconds=1))
        await sandbox.settle()


def gaps(hook: Webhook) -> list[float]:
    return [(b - a).total_seconds() for a, b in itertools.pairwise(hook.stamps)]


async def test_the_back_off_doubles_then_waits_one_to_two_minutes() -> None:
    clock = SimulatedClock(START)
    async with webhook_world(clock) as (sandbox, _, hook, info):
        hook.answers = failing(9)
        await sandbox.user_sends(ANN, text="one")
        await _until(sandbox, clock, lambda: len(hook.received) == 10)
        done = await info()

    waits = gaps(hook)
    assert waits[:6] == [0, 2, 4, 8, 16, 32]
    assert 60 <= waits[6] <= 64  # min(random 60..120, 64)
    assert all(60 <= wait <= 120 for wait in waits[7:])
    assert done.pending_update_count == 0
    # A later success does not clear the last error (Client.cpp webhook_error).
    assert done.last_error_message == WRONG_500


async def test_retry_after_from_the_webhook_sets_the_wait() -> None:
    clock = SimulatedClock(START)
    async with webhook_world(clock) as (sandbox, _, hook, _info):
        hook.answers = [*failing(2), *failing(1, 503, **{"Retry-After": "600"})]
        await sandbox.user_sends(ANN, text="one")
        await _until(sandbox, clock, lambda: len(hook.received) == 4)

    assert gaps(hook) == [0, 2, 600]


async def test_old_updates_are_dropped_a_button_press_after_150_seconds() -> None:
    clock = SimulatedClock(START)
    async with webhook_world(clock) as (sandbox, bot, hook, info):
        await bot.send_message(
            ANN,
            "Pick one",
            reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},  # type: ignore[arg-type]
        )
        hook.answers = failing(1000)
        await sandbox.user_presses(ANN, sandbox.sent_by_bot(ANN)[-1], "a")
        await sandbox.user_sends(ANN, text="hello")
        for _ in range(40):
            clock.advance(timedelta(seconds=5))
            await sandbox.settle()
        pressed_tries = sum("callback_query" in update for update in hook.received)
        after_press = (await info()).pending_update_count
        clock.advance(timedelta(hours=24, seconds=1))
        await sandbox.settle()
        after_a_day = (await info()).pending_update_count

    assert 2 <= pressed_tries <= 8
    assert after_press == 1  # the message is still waiting
    assert after_a_day == 0


async def test_any_2xx_is_success_and_a_reply_method_runs_unless_it_is_a_getter() -> None:
    clock = SimulatedClock(START)
    async with webhook_world(clock) as (sandbox, _, hook, info):
        hook.answers = [
            web.Response(status=204),
            web.json_response({"method": "sendMessage", "chat_id": ANN, "text": "pong"}),
            web.json_response({"method": "getMe"}),
        ]
        await sandbox.user_sends(ANN, text="a")
        await sandbox.user_sends(ANN, text="b")
        await sandbox.user_sends(ANN, text="c")
        await sandbox.settle()
        state = await info()

    assert hook.texts() == ["a", "b", "c"]
    assert [m.text for m in sandbox.sent_by_bot(ANN)] == ["pong"]
    assert state.pending_update_count == 0 and state.last_error_message is None


async def test_an_unreachable_webhook_keeps_the_updates_and_says_why() -> None:
    clock = SimulatedClock(START)
    sandbox = TelegramSandbox(now=clock.now)
    base_url = await sandbox.start()
    bot = Bot(SANDBOX_BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    try:
        sandbox.add_user(ANN, "Ann")
        await bot.set_webhook("http://127.0.0.1:9/nobody-listens")
        await sandbox.user_sends(ANN, text="hello?")
        info = await bot.get_webhook_info()
        await bot.delete_webhook()
        polled = await bot.get_updates(timeout=0)
    finally:
        await bot.session.close()
        await sandbox.stop()

    assert info.pending_update_count == 1
    assert info.last_error_message == "Connection refused"
    assert [update.message.text for update in polled if update.message] == ["hello?"]


async def test_get_updates_gives_an_unconfirmed_update_again_until_it_expires() -> None:
    clock = SimulatedClock(START)
    sandbox = TelegramSandbox(now=clock.now)
    base_url = await sandbox.start()
    bot = Bot(SANDBOX_BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    try:
        sandbox.add_user(ANN, "Ann")
        await sandbox.user_sends(ANN, text="hello")
        first = await bot.get_updates(timeout=0)
        again = await bot.get_updates(timeout=0)  # no higher offset: not confirmed
        clock.advance(timedelta(hours=24, seconds=1))
        expired = await bot.get_updates(timeout=0)
    finally:
        await bot.session.close()
        await sandbox.stop()

    assert [u.update_id for u in first] == [u.update_id for u in again] and len(first) == 1
    assert expired == []
