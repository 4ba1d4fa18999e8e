"""The weekly Q&A against a Zoom sandbox that answers as the real API does: rate limits per
second and per host and day, meetings listed by type with their agenda, a create carried out
although the client gave up waiting, `me` and other hosts, the start_url."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from core.clock import SimulatedClock
from core.db import SessionFactory
from core.settings import Settings
from sandbox.stripe import StripeSandbox
from sandbox.telegram import TelegramSandbox
from sandbox.zoom import HOST_EMAIL, HOST_USER_ID, ZoomSandbox
from scheduling import jobs
from scheduling.zoom import ZoomError, ZoomGateway
from tests.integration.world import COACH_ID, GROUP, World, world_with_settings

MEETINGS = "/v2/users/me/meetings"
MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # the group's Q&A: Wednesday 18:00 UTC
SESSION = datetime(2026, 11, 18, 18, 0, tzinfo=UTC)

WorldWith = Callable[..., AbstractAsyncContextManager[World]]


@pytest.fixture
def world_with(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
) -> WorldWith:
    return functools.partial(
        world_with_settings, settings, sessions, redis, clock, telegram, stripe_sandbox
    )


async def schedule(world: World) -> int:
    done: int = await jobs.schedule_live_qa({"services": world.runtime})
    await world.deliver()
    return done


def creates(zoom: ZoomSandbox, path: str = MEETINGS) -> int:
    return sum(1 for call in zoom.requests if call.method == "POST" and call.path == path)


def announcements(world: World) -> list[str]:
    return [m.text or "" for m in world.telegram.sent_by_bot(GROUP) if m.kind == "document"]


async def test_a_refused_meeting_is_tried_again_with_backoff_not_every_minute(
    world: World, zoom_sandbox: ZoomSandbox
) -> None:
    zoom_sandbox.go_down(503)
    for _ in range(120):  # the job runs every minute, for two hours
        await schedule(world)
        world.clock.advance(timedelta(minutes=1))
    # Six tries at most, not 120: Zoom's limits are per account and host, shared by every app.
    assert len(zoom_sandbox.requests) <= 6
    problem = [t for t in world.texts(COACH_ID) if "couldn't create this week's Zoom" in t]
    assert len(problem) == 1 and "I'll try again, next at" in problem[0]

    zoom_sandbox.come_back()
    for _ in range(240):
        if await schedule(world):
            break
        world.clock.advance(timedelta(minutes=1))
    [meeting] = zoom_sandbox.meetings
    assert meeting["join_url"] in announcements(world)[-1]


async def test_a_create_that_timed_out_is_found_rather_than_made_twice(
    world: World, zoom_sandbox: ZoomSandbox
) -> None:
    assert world.runtime.zoom is not None
    # A Zoom slower than our time limit: it makes the meeting, we stop waiting for it.
    world.runtime.zoom = ZoomGateway(
        account_id=zoom_sandbox.account_id,
        client_id=zoom_sandbox.client_id,
        client_secret=zoom_sandbox.client_secret,
        api_base=zoom_sandbox.base_url + "/v2",
        oauth_url=zoom_sandbox.base_url + "/oauth/token",
        timeout=0.5,
        clock=world.clock.now,
    )
    zoom_sandbox.answer_late(1.5)
    assert await schedule(world) == 0
    assert len(zoom_sandbox.meetings) == 1  # made on Zoom's side all the same
    await asyncio.sleep(1.5)  # the late answer goes out to nobody

    for _ in range(10):
        world.clock.advance(timedelta(minutes=1))
        await schedule(world)

    assert len(zoom_sandbox.meetings) == 1 and creates(zoom_sandbox) == 1
    assert zoom_sandbox.meetings[0]["join_url"] in announcements(world)[-1]
    await world.runtime.zoom.close()


async def test_the_daily_limit_waits_for_midnight_gmt(
    world: World, zoom_sandbox: ZoomSandbox
) -> None:
    zoom_sandbox.daily_creates = 0  # the host's 100 creates today went elsewhere
    await schedule(world)
    assert creates(zoom_sandbox) == 1
    [refused] = [c for c in zoom_sandbox.requests if c.method == "POST" and c.path == MEETINGS]
    assert refused.status == 429
    zoom_sandbox.daily_creates = 100
    world.clock.set(MONDAY.replace(hour=23, minute=59))
    await schedule(world)
    assert creates(zoom_sandbox) == 1  # not before Zoom said
    world.clock.set(MONDAY + timedelta(days=1, minutes=1))  # 00:01 GMT
    assert await schedule(world) == 1


async def test_meetings_are_made_for_the_configured_host(
    world_with: WorldWith, zoom_sandbox: ZoomSandbox
) -> None:
    zoom_sandbox.add_user("coach-zoom-id", "rivka@clinic.example", "Rivka")
    async with world_with(zoom_host_user="rivka@clinic.example") as world:
        assert await schedule(world) == 1
    [meeting] = zoom_sandbox.meetings
    assert (meeting["host_id"], meeting["host_email"]) == ("coach-zoom-id", "rivka@clinic.example")


async def test_the_coach_gets_a_fresh_host_link_privately_an_hour_before(
    world: World, zoom_sandbox: ZoomSandbox
) -> None:
    assert await schedule(world) == 1
    [meeting] = zoom_sandbox.meetings
    assert all("zak=" not in text for text in announcements(world))  # never in the group

    world.clock.set(SESSION - timedelta(minutes=59))
    await schedule(world)
    world.clock.advance(timedelta(minutes=1))
    await schedule(world)

    links = [m for m in world.telegram.sent_by_bot(COACH_ID) if "host link" in (m.text or "")]
    assert len(links) == 1 and links[0].reply_markup is not None
    [[start]] = links[0].reply_markup["inline_keyboard"]
    assert start["url"].startswith(f"https://zoom.us/s/{meeting['id']}?zak=")
    gets = [c for c in zoom_sandbox.requests if c.path == f"/v2/meetings/{meeting['id']}"]
    assert len(gets) == 1  # asked for then, when it still has its two hours to live
    assert all("zak=" not in (m.text or "") for m in world.telegram.sent_by_bot(GROUP))


# --- the sandbox itself, as Zoom answers ------------------------------------------------------


@pytest.fixture
async def zoom() -> AsyncIterator[tuple[ZoomSandbox, ZoomGateway, SimulatedClock]]:
    clock = SimulatedClock(MONDAY)
    sandbox = ZoomSandbox(now=clock.now)
    await sandbox.start()
    gateway = ZoomGateway(
        account_id=sandbox.account_id,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        api_base=sandbox.base_url + "/v2",
        oauth_url=sandbox.base_url + "/oauth/token",
        timeout=5,
        clock=clock.now,
    )
    yield sandbox, gateway, clock
    await gateway.close()
    await sandbox.stop()


async def get(sandbox: ZoomSandbox, path: str, token: str) -> tuple[int, Any, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(sandbox.base_url + path, headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        return r.status, await r.json(), r.headers


async def test_zoom_limits_requests_per_second_and_creates_per_host_and_day(
    zoom: tuple[ZoomSandbox, ZoomGateway, SimulatedClock],
) -> None:
    # developers.zoom.us/docs/api/rate-limits: 429 with X-RateLimit-Type QPS or Daily-limit.
    sandbox, gateway, clock = zoom
    sandbox.qps = 3  # a free account's Medium label allows 2 a second, Pro 20
    for n in range(3):
        await gateway.create_meeting(
            topic=f"Q&A {n}", start=SESSION, duration_minutes=60, timezone="UTC"
        )
    with pytest.raises(ZoomError, match="429: You have reached the maximum per-second"):
        await gateway.create_meeting(
            topic="one too many", start=SESSION, duration_minutes=60, timezone="UTC"
        )

    clock.advance(timedelta(seconds=1))
    sandbox.daily_creates = 3
    with pytest.raises(ZoomError) as raised:
        await gateway.create_meeting(
            topic="4th", start=SESSION, duration_minutes=60, timezone="UTC"
        )
    assert "daily rate limit (3)" in str(raised.value)
    assert raised.value.retry_at == datetime(2026, 11, 17, tzinfo=UTC)  # Retry-After: 00:00 GMT


async def test_zoom_lists_coming_meetings_with_their_agenda_and_knows_its_users(
    zoom: tuple[ZoomSandbox, ZoomGateway, SimulatedClock],
) -> None:
    sandbox, gateway, clock = zoom
    past = await gateway.create_meeting(
        topic="last week", start=MONDAY - timedelta(days=5), duration_minutes=60, timezone="UTC"
    )
    coming = await gateway.create_meeting(
        topic="this week", start=SESSION, duration_minutes=60, timezone="UTC", agenda="x:1"
    )
    token = gateway._token.value if gateway._token else ""  # noqa: SLF001 (the token it holds)
    status, listed, _ = await get(sandbox, "/v2/users/me/meetings?type=upcoming", token)
    assert status == 200 and [m["id"] for m in listed["meetings"]] == [int(coming.id)]
    assert listed["meetings"][0]["agenda"] == "x:1"
    _, previous, _ = await get(sandbox, "/v2/users/me/meetings?type=previous_meetings", token)
    assert [m["id"] for m in previous["meetings"]] == [int(past.id)]
    found = await gateway.find_meeting(marker="x:1", topic="this week", start=SESSION)
    assert found is not None and found.id == coming.id

    for who in ("me", HOST_USER_ID, HOST_EMAIL):
        status, user, _ = await get(sandbox, f"/v2/users/{who}", token)
        assert (status, user["email"]) == (200, HOST_EMAIL)
    status, missing, _ = await get(sandbox, "/v2/users/nobody@example.org", token)
    assert (status, missing["code"]) == (404, 1001)
    assert await gateway.host() == HOST_EMAIL


async def test_zoom_refuses_an_unknown_account_as_it_does(
    zoom: tuple[ZoomSandbox, ZoomGateway, SimulatedClock],
) -> None:
    sandbox, _, clock = zoom
    wrong = ZoomGateway(
        account_id="acc_nobody",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        api_base=sandbox.base_url + "/v2",
        oauth_url=sandbox.base_url + "/oauth/token",
        clock=clock.now,
    )
    with pytest.raises(ZoomError, match="400: Account does not exist"):
        await wrong.host()
