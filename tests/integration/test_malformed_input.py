"""Malformed input anyone can send: a 4xx (or a 200 when a resend can't help), one line in the
log, never a 500 or a traceback."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from app.runtime import Runtime
from app.web import create_app
from core.clock import SimulatedClock
from core.db import SessionFactory
from sandbox.harness import STRIPE_WEBHOOK_SECRET, TELEGRAM_WEBHOOK_SECRET
from sandbox.stripe import StripeSandbox
from sandbox.telegram import TelegramSandbox
from tests.integration.conftest import count, feed

ANA = 2001
TELEGRAM = "/telegram/webhook"
STRIPE = "/stripe/webhook"
SECRET = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_WEBHOOK_SECRET}


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(runtime))) as test_client:
        yield test_client


def one_line(caplog: pytest.LogCaptureFixture) -> str:
    """The one warning the request left in the log; no traceback."""
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None
    return lines[0].getMessage()


async def test_a_non_ascii_secret_is_refused_401(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s\u00e9cret"}
    response = await client.post(TELEGRAM, data=b"{}", headers=headers)
    assert response.status == 401
    assert "secret" in one_line(caplog)


@pytest.mark.parametrize("body", [b"{", b"{}", b'{"message": {}}', b"\xff\xfe"])
async def test_a_body_that_is_no_update_behind_the_secret_is_answered_200(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    response = await client.post(TELEGRAM, data=body, headers=SECRET)
    assert response.status == 200  # Telegram would resend it for a day, holding the chat
    assert "can't be read" in one_line(caplog)


async def test_a_message_without_a_sender_is_answered_200_and_ignored(
    client: TestClient[Any, Any],
    caplog: pytest.LogCaptureFixture,
    telegram: TelegramSandbox,
    sessions: SessionFactory,
) -> None:
    update = {
        "update_id": 9,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": ANA, "type": "private", "first_name": "Ana"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    response = await client.post(TELEGRAM, json=update, headers=SECRET)
    assert response.status == 200
    assert "no sender" in one_line(caplog)
    assert telegram.sent_by_bot() == []
    assert await count(sessions, "members") == 0


async def test_a_button_pressed_long_ago_still_does_its_work(
    runtime: Runtime,
    telegram: TelegramSandbox,
    clock: SimulatedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Telegram resends a press the webhook failed (for up to 150 s), but the press can be
    # answered only for a few seconds: answerCallbackQuery then says "query is too old".
    telegram.add_user(ANA, "Ana")
    await feed(runtime, await telegram.user_sends(ANA, text="/start"))
    welcome = telegram.sent_by_bot(ANA)[-1]
    press = await telegram.user_presses(ANA, welcome, "help")
    clock.advance(timedelta(seconds=60))
    caplog.clear()
    await feed(runtime, press)
    assert (telegram.sent_by_bot(ANA)[-1].text or "").startswith("What you can do here")
    assert "answered too late" in one_line(caplog)


def signed(stripe_sandbox: StripeSandbox, event: Any) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    return body, stripe_sandbox.sign(body, STRIPE_WEBHOOK_SECRET)


@pytest.mark.parametrize(
    "case", ["non-ASCII v1", "no id", "created in words", "created too far", "long type", "a list"]
)
async def test_a_malformed_stripe_event_is_refused_400_and_nothing_stored(
    client: TestClient[Any, Any],
    caplog: pytest.LogCaptureFixture,
    stripe_sandbox: StripeSandbox,
    sessions: SessionFactory,
    case: str,
) -> None:
    event: Any = stripe_sandbox.make_event("invoice.paid", {"id": "in_1", "object": "invoice"})
    match case:
        case "no id":
            del event["id"]
        case "created in words":
            event["created"] = "yesterday"
        case "created too far":
            event["created"] = 10**20
        case "long type":
            event["type"] = "x" * 500
        case "a list":
            event = [event]
    body, signature = signed(stripe_sandbox, event)
    if case == "non-ASCII v1":
        signature = signature[:-3] + "\u00e9\u00e9\u00e9"
    response = await client.post(STRIPE, data=body, headers={"Stripe-Signature": signature})
    assert response.status == 400
    assert "stripe webhook refused" in one_line(caplog)
    assert await count(sessions, "external_events") == 0
