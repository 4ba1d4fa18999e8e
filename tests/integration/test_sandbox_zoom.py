"""The Zoom sandbox, driven by the real (synchronous) zoomus client from a worker thread."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import zoomus

from sandbox.zoom import ZoomSandbox

QA_START = datetime(2030, 3, 7, 17, 0, tzinfo=UTC)


@pytest.fixture
async def sandbox() -> AsyncIterator[ZoomSandbox]:
    zoom_sandbox = ZoomSandbox()
    await zoom_sandbox.start()
    yield zoom_sandbox
    await zoom_sandbox.stop()


def connect(sandbox: ZoomSandbox, client_secret: str | None = None) -> Any:
    """A zoomus client for the sandbox; it fetches its token as it is made, so call in a thread."""
    return zoomus.ZoomClient(
        sandbox.client_id,
        client_secret or sandbox.client_secret,
        sandbox.account_id,
        base_uri=f"{sandbox.base_url}/v2",
        oauth_uri=f"{sandbox.base_url}/oauth/token",
        timeout=5,
    )


def create_weekly_qa(client: Any) -> Any:
    return client.meeting.create(
        user_id="me",
        topic="Between: weekly Q&A",
        type=2,
        start_time=QA_START,
        duration=60,
        timezone="UTC",
    )


async def test_zoomus_gets_a_token_and_creates_a_meeting(sandbox: ZoomSandbox) -> None:
    client = await asyncio.to_thread(connect, sandbox)
    assert sandbox.tokens_issued == 1

    created = await asyncio.to_thread(create_weekly_qa, client)

    assert created.status_code == 201
    meeting = created.json()
    assert meeting["join_url"].startswith(f"https://zoom.us/j/{meeting['id']}?pwd=")
    assert meeting["start_url"].startswith(f"https://zoom.us/s/{meeting['id']}")
    assert meeting["topic"] == "Between: weekly Q&A"
    assert meeting["start_time"] == "2030-03-07T17:00:00Z"
    assert (meeting["duration"], meeting["timezone"]) == (60, "UTC")
    assert meeting["password"]
    assert sandbox.meetings == [meeting]

    fetched = await asyncio.to_thread(client.meeting.get, id=meeting["id"])
    assert fetched.status_code == 200
    assert fetched.json()["join_url"] == meeting["join_url"]
    listed = await asyncio.to_thread(client.meeting.list, user_id="me")
    assert [m["id"] for m in listed.json()["meetings"]] == [meeting["id"]]

    deleted = await asyncio.to_thread(client.meeting.delete, id=meeting["id"])
    assert deleted.status_code == 204
    gone = await asyncio.to_thread(client.meeting.get, id=meeting["id"])
    assert (gone.status_code, gone.json()["code"]) == (404, 3001)


async def test_expired_tokens_are_refused_until_a_new_one_is_fetched(
    sandbox: ZoomSandbox,
) -> None:
    client = await asyncio.to_thread(connect, sandbox)

    sandbox.expire_tokens()
    refused = await asyncio.to_thread(create_weekly_qa, client)
    assert refused.status_code == 401
    assert refused.json() == {"code": 124, "message": "Invalid access token."}

    await asyncio.to_thread(client.refresh_token)
    accepted = await asyncio.to_thread(create_weekly_qa, client)
    assert accepted.status_code == 201
    assert sandbox.tokens_issued == 2


async def test_tokens_run_out_after_their_lifetime() -> None:
    short_lived = ZoomSandbox(token_ttl=0)
    await short_lived.start()
    try:
        client = await asyncio.to_thread(connect, short_lived)
        refused = await asyncio.to_thread(create_weekly_qa, client)
        assert refused.status_code == 401
    finally:
        await short_lived.stop()


async def test_wrong_credentials_get_no_token(sandbox: ZoomSandbox) -> None:
    client = await asyncio.to_thread(connect, sandbox, "not-the-secret")
    assert client.config["token"] is None
    assert sandbox.tokens_issued == 0
    refused = await asyncio.to_thread(create_weekly_qa, client)
    assert refused.status_code == 401

    wrong_credentials = base64.b64encode(f"{sandbox.client_id}:not-the-secret".encode()).decode()
    async with aiohttp.ClientSession() as http:
        answer = await http.post(
            f"{sandbox.base_url}/oauth/token",
            data={"grant_type": "account_credentials", "account_id": sandbox.account_id},
            headers={"Authorization": f"Basic {wrong_credentials}"},
        )
        async with answer:
            assert answer.status == 400  # as clients report Zoom's answer
            assert (await answer.json())["error"] == "invalid_client"


async def test_an_outage_fails_every_call_until_zoom_comes_back(sandbox: ZoomSandbox) -> None:
    client = await asyncio.to_thread(connect, sandbox)

    sandbox.go_down()
    during = await asyncio.to_thread(create_weekly_qa, client)
    assert during.status_code == 503
    reconnecting = await asyncio.to_thread(connect, sandbox)
    assert reconnecting.config["token"] is None
    assert sandbox.meetings == []

    sandbox.come_back()
    after = await asyncio.to_thread(create_weekly_qa, client)
    assert after.status_code == 201
    assert [call.status for call in sandbox.requests if call.path.endswith("/meetings")] == [
        503,
        201,
    ]


async def test_a_local_start_time_is_read_in_its_timezone(sandbox: ZoomSandbox) -> None:
    client = await asyncio.to_thread(connect, sandbox)
    token = client.config["token"]

    async with aiohttp.ClientSession() as http:
        answer = await http.post(
            f"{sandbox.base_url}/v2/users/me/meetings",
            json={
                "topic": "Q&A",
                "type": 2,
                "start_time": "2030-07-01T19:00:00",
                "duration": 45,
                "timezone": "Europe/Berlin",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        async with answer:
            assert answer.status == 201
            meeting = await answer.json()

    assert meeting["start_time"] == "2030-07-01T17:00:00Z"
    assert meeting["timezone"] == "Europe/Berlin"
