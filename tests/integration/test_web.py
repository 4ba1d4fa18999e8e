"""The HTTP contract: Telegram's webhook, Stripe's webhook, health."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlmodel import select

from app.runtime import Runtime
from app.supervise import (
    BACKING_OFF,
    HEARTBEAT_PREFIX,
    LoopState,
    Supervisor,
    beat,
    read_heartbeats,
    summary,
)
from app.web import create_app
from app.worker import create_worker
from core.db import SessionFactory
from core.models import EventStatus, ExternalEvent
from core.redis import EmbeddedRedis
from core.settings import Settings
from sandbox.harness import STRIPE_WEBHOOK_SECRET
from sandbox.harness import TELEGRAM_WEBHOOK_SECRET as WEBHOOK_SECRET
from sandbox.stripe import StripeSandbox
from sandbox.telegram import TelegramSandbox
from tests.integration.conftest import count

MEMBER_ID = 2001


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(runtime))) as test_client:
        yield test_client


def start_update(update_id: int = 1) -> dict[str, Any]:
    user = {"id": MEMBER_ID, "is_bot": False, "first_name": "Ana"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": MEMBER_ID, "type": "private", "first_name": "Ana"},
            "from": user,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


@pytest.mark.parametrize("header", [None, "", "wrong-secret-0123456789"])
async def test_telegram_webhook_refuses_a_wrong_secret(
    client: TestClient[Any, Any],
    sessions: SessionFactory,
    telegram: TelegramSandbox,
    header: str | None,
) -> None:
    headers = {} if header is None else {"X-Telegram-Bot-Api-Secret-Token": header}
    telegram.add_user(MEMBER_ID, "Ana")
    response = await client.post("/telegram/webhook", json=start_update(), headers=headers)
    assert response.status == 401
    assert telegram.sent_by_bot() == []
    assert await count(sessions, "members") == 0


async def test_telegram_webhook_handles_an_update_once(
    client: TestClient[Any, Any], sessions: SessionFactory, telegram: TelegramSandbox
) -> None:
    telegram.add_user(MEMBER_ID, "Ana")
    await telegram.user_sends(MEMBER_ID, text="hi")  # opens the private chat
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    for _ in range(3):  # Telegram resends an update it thinks was lost
        response = await client.post("/telegram/webhook", json=start_update(7), headers=headers)
        assert response.status == 200
    welcomes = telegram.sent_by_bot(MEMBER_ID)
    assert len(welcomes) == 1
    assert "Hello, Ana." in (welcomes[0].text or "")
    assert await count(sessions, "members") == 1


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"update_id": "x"}', b'{"update_id": 5, "message": 1}']
)
async def test_an_update_that_cant_be_read_is_answered_200_as_a_resend_cant_help(
    client: TestClient[Any, Any], sessions: SessionFactory, body: bytes
) -> None:
    # Telegram resends whatever isn't answered 2xx, for a day, holding back that chat meanwhile.
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    response = await client.post(
        "/telegram/webhook", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status == 200
    assert await count(sessions, "external_events") == 0


async def test_oversized_bodies_are_refused(client: TestClient[Any, Any]) -> None:
    response = await client.post("/stripe/webhook", data=io.BytesIO(b"x" * (2 * 1024 * 1024)))
    assert response.status == 413


def stripe_event(stripe_sandbox: StripeSandbox, type_: str = "invoice.paid") -> dict[str, Any]:
    return stripe_sandbox.make_event(type_, {"id": "in_123", "object": "invoice"})


async def post_stripe(
    client: TestClient[Any, Any],
    stripe_sandbox: StripeSandbox,
    event: dict[str, Any],
    *,
    secret: str = STRIPE_WEBHOOK_SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> int:
    body = json.dumps(event).encode()
    signature = header if header is not None else stripe_sandbox.sign(body, secret, timestamp)
    response = await client.post(
        "/stripe/webhook", data=body, headers={"Stripe-Signature": signature}
    )
    return response.status


@pytest.mark.parametrize(
    "forgery",
    ["wrong secret", "stale timestamp", "missing header", "tampered body"],
)
async def test_a_bad_stripe_signature_is_refused_and_nothing_stored(
    client: TestClient[Any, Any],
    sessions: SessionFactory,
    stripe_sandbox: StripeSandbox,
    forgery: str,
) -> None:
    event = stripe_event(stripe_sandbox)
    match forgery:
        case "wrong secret":
            status = await post_stripe(client, stripe_sandbox, event, secret="whsec_forged")
        case "stale timestamp":
            old = int(time.time()) - 3600
            status = await post_stripe(client, stripe_sandbox, event, timestamp=old)
        case "missing header":
            status = await post_stripe(client, stripe_sandbox, event, header="")
        case _:
            signed = stripe_sandbox.sign(json.dumps(event).encode(), STRIPE_WEBHOOK_SECRET)
            event["data"]["object"]["id"] = "in_forged"
            status = await post_stripe(client, stripe_sandbox, event, header=signed)
    assert status == 400
    assert await count(sessions, "external_events") == 0


async def test_the_same_event_five_times_is_stored_once_and_an_unknown_type_ignored(
    client: TestClient[Any, Any],
    runtime: Runtime,
    settings: Settings,
    sessions: SessionFactory,
    stripe_sandbox: StripeSandbox,
) -> None:
    event = stripe_event(stripe_sandbox, "customer.created")
    answers = [await post_stripe(client, stripe_sandbox, event) for _ in range(5)]
    assert answers == [200] * 5
    assert settings.redis_url is not None
    worker = create_worker(
        settings, redis_url=settings.redis_url, runtime=runtime, burst=True, cron=False
    )
    await worker.async_run()
    await worker.close()
    async with sessions() as session:
        stored = (await session.exec(select(ExternalEvent))).all()
    assert [(row.event_id, row.status, row.attempts) for row in stored] == [
        (event["id"], EventStatus.IGNORED, 1)
    ]


async def test_health_reports_both_services(client: TestClient[Any, Any]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
        "worker": "none",  # no worker process runs in this test
    }


async def test_health_is_503_while_a_worker_loop_is_not_running(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    supervisor = Supervisor(first_backoff=60.0)
    supervisor.loops["jobs"] = LoopState()
    supervisor.loops["outbox"] = LoopState()
    beating = asyncio.create_task(beat(redis, supervisor, name="box:1", every=0.01))
    try:
        assert (await _health(client)) == (200, "ok")
        supervisor.loops["jobs"] = LoopState(BACKING_OFF, restarts=3, error="ConnectionError")
        await asyncio.sleep(0.05)
        assert (await _health(client)) == (503, "down")
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
    # A stopped worker takes its heartbeat with it; a silent one would read as "down".
    assert (await _health(client)) == (200, "none")


async def test_a_worker_heartbeat_gone_silent_is_down(redis: Redis) -> None:
    supervisor = Supervisor()
    supervisor.loops["jobs"] = LoopState()
    await redis.set(HEARTBEAT_PREFIX + "box:2", json.dumps(supervisor.report(1000.0)))
    assert summary(await read_heartbeats(redis, wall=lambda: 1000.0 + 5)) == "ok"
    assert summary(await read_heartbeats(redis, wall=lambda: 1000.0 + 31)) == "down"
    await redis.delete(HEARTBEAT_PREFIX + "box:2")


async def _health(client: TestClient[Any, Any]) -> tuple[int, str]:
    response = await client.get("/healthz")
    return response.status, (await response.json()).get("worker")


async def test_health_is_503_when_redis_is_down(
    settings: Settings, sessions: SessionFactory, tmp_path: Any
) -> None:
    server = EmbeddedRedis(tmp_path / "doomed")
    url = server.start()
    runtime = await Runtime.open(settings, redis_url=url)
    try:
        async with TestClient(TestServer(create_app(runtime))) as client:
            assert (await client.get("/healthz")).status == 200
            server.stop(force=True)
            response = await client.get("/healthz")
            assert response.status == 503
            assert (await response.json())["redis"] == "down"
    finally:
        await runtime.close()


async def test_health_is_503_when_the_database_is_down(settings: Settings, redis_url: str) -> None:
    broken = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    )
    runtime = await Runtime.open(broken, redis_url=redis_url)
    try:
        async with TestClient(TestServer(create_app(runtime))) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            assert await response.json() == {
                "status": "down",
                "database": "down",
                "redis": "ok",
                "worker": "none",
            }
    finally:
        await runtime.close()
