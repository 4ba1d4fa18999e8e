"""The Zoom gateway against the sandbox Zoom: meetings, the token's life, and Zoom failing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from core.clock import SimulatedClock
from sandbox.zoom import ZoomSandbox
from scheduling.zoom import Meeting, ZoomError, ZoomGateway

NOW = datetime(2030, 6, 20, 9, 0, tzinfo=UTC)
# A Thursday in July: London is on summer time (UTC+1).
QA_START = datetime(2030, 7, 4, 18, 0, tzinfo=ZoneInfo("Europe/London"))
TOPIC = "Between: weekly Q&A"
MEETINGS_PATH = "/v2/users/me/meetings"

MakeGateway = Callable[..., ZoomGateway]


@pytest.fixture
async def sandbox() -> AsyncIterator[ZoomSandbox]:
    zoom = ZoomSandbox(token_ttl=3600)
    await zoom.start()
    yield zoom
    await zoom.stop()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
async def make_gateway(sandbox: ZoomSandbox, clock: SimulatedClock) -> AsyncIterator[MakeGateway]:
    """Gateways for the sandbox with its credentials, unless told otherwise; all closed after."""
    made: list[ZoomGateway] = []

    def make(**overrides: object) -> ZoomGateway:
        settings: dict[str, object] = {
            "account_id": sandbox.account_id,
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "api_base": sandbox.base_url + "/v2",
            "oauth_url": sandbox.base_url + "/oauth/token",
            "timeout": 5.0,
            "clock": clock.now,
        }
        settings.update(overrides)
        gateway = ZoomGateway(**settings)  # type: ignore[arg-type]
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.close()


async def schedule(gateway: ZoomGateway) -> Meeting:
    return await gateway.create_meeting(
        topic=TOPIC, start=QA_START, duration_minutes=60, timezone="Europe/London"
    )


async def refusal(gateway: ZoomGateway) -> str:
    """The message of the ZoomError that scheduling raises, checked to carry no secret."""
    with pytest.raises(ZoomError) as caught:
        await schedule(gateway)
    message = str(caught.value)
    assert "\n" not in message
    assert "zoom-secret" not in message and "Bearer" not in message
    return message


def meeting_calls(sandbox: ZoomSandbox) -> list[int]:
    """The statuses the sandbox answered to meeting creations, in order."""
    return [call.status for call in sandbox.requests if call.path == MEETINGS_PATH]


async def test_creates_a_meeting_starting_at_the_utc_instant(
    sandbox: ZoomSandbox, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    assert sandbox.tokens_issued == 0  # the token is fetched on first use, not when made

    meeting = await schedule(gateway)

    [created] = sandbox.meetings
    assert meeting == Meeting(
        id=str(created["id"]),
        join_url=created["join_url"],
        start=datetime(2030, 7, 4, 17, 0, tzinfo=UTC),
        duration_minutes=60,
    )
    assert meeting.join_url.startswith(f"https://zoom.us/j/{meeting.id}?pwd=")
    assert meeting.start.utcoffset() == timedelta(0)
    # What went over the wire: the instant in UTC with a Z, and the zone as given.
    [call] = [call for call in sandbox.requests if call.path == MEETINGS_PATH]
    assert call.params["start_time"] == "2030-07-04T17:00:00Z"
    assert call.params["timezone"] == "Europe/London"
    assert (call.params["topic"], call.params["type"], call.params["duration"]) == (TOPIC, 2, 60)
    assert created["start_time"] == "2030-07-04T17:00:00Z"


async def test_reuses_the_token_and_refreshes_it_before_it_expires(
    sandbox: ZoomSandbox, make_gateway: MakeGateway, clock: SimulatedClock
) -> None:
    gateway = make_gateway()
    await schedule(gateway)
    await schedule(gateway)
    assert sandbox.tokens_issued == 1

    clock.advance(timedelta(minutes=54))  # six minutes left: still good
    await schedule(gateway)
    assert sandbox.tokens_issued == 1

    clock.advance(timedelta(minutes=1, seconds=1))  # under five minutes left: refresh first
    await schedule(gateway)
    assert sandbox.tokens_issued == 2
    assert meeting_calls(sandbox) == [201, 201, 201, 201]  # never sent a dying token

    clock.advance(timedelta(minutes=30))  # the new token's hour runs from its own fetch
    await schedule(gateway)
    assert sandbox.tokens_issued == 2


async def test_a_token_refused_early_is_replaced_and_the_call_retried(
    sandbox: ZoomSandbox, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    await schedule(gateway)
    sandbox.expire_tokens()  # e.g. revoked, or the app's secret rotated

    meeting = await schedule(gateway)

    assert sandbox.tokens_issued == 2
    assert meeting_calls(sandbox) == [201, 401, 201]
    assert meeting.id == str(sandbox.meetings[-1]["id"])


async def test_an_outage_is_a_zoom_error_naming_the_status(
    sandbox: ZoomSandbox, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    sandbox.go_down(503)
    assert "503" in await refusal(gateway)  # before any token: the token request fails

    sandbox.come_back()
    await schedule(gateway)
    sandbox.go_down(503)
    message = await refusal(gateway)  # with a token: the meeting request fails
    assert message == "Zoom answered 503: Service is temporarily unavailable."

    sandbox.come_back()
    await schedule(gateway)
    assert len(sandbox.meetings) == 2


async def test_wrong_credentials_are_a_zoom_error_without_the_secret(
    sandbox: ZoomSandbox, make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    wrong_secret = make_gateway(client_secret="not-the-secret-42")
    message = await refusal(wrong_secret)
    assert "400" in message and "Invalid client_id or client_secret" in message
    assert "not-the-secret-42" not in message

    wrong_account = make_gateway(account_id="acc_someone_else")
    assert "400" in await refusal(wrong_account)

    assert sandbox.meetings == []
    assert "not-the-secret-42" not in caplog.text and "zoom-secret" not in caplog.text


async def test_an_unreachable_zoom_is_a_zoom_error(
    sandbox: ZoomSandbox, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    await sandbox.stop()  # nothing listens on its port any more

    message = await refusal(gateway)
    assert message.startswith("Zoom could not be reached")
    assert "refused" in message.lower()


@pytest.fixture
async def silent_zoom() -> AsyncIterator[str]:
    """A server that hangs on every request (until the test is over), except that it hands out
    tokens at /answering/oauth/token, so that the meeting request can be the one that hangs."""
    release = asyncio.Event()

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t0k3n", "expires_in": 3600})

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/answering/oauth/token", token)
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        release.set()  # let the hanging handlers finish, so the server shuts down at once
        await runner.cleanup()


@pytest.mark.parametrize(
    "token_path",
    [
        pytest.param("/oauth/token", id="token-request-hangs"),
        # zoomus rounds its own timeout up to whole seconds: asyncio.timeout must cut it short.
        pytest.param("/answering/oauth/token", id="meeting-request-hangs"),
    ],
)
async def test_a_zoom_that_never_answers_is_a_zoom_error_about_the_timeout(
    silent_zoom: str, make_gateway: MakeGateway, token_path: str
) -> None:
    gateway = make_gateway(
        api_base=silent_zoom + "/v2", oauth_url=silent_zoom + token_path, timeout=0.3
    )

    started = time.monotonic()
    message = await refusal(gateway)

    assert message == "Zoom did not answer within 0.3 s"
    assert "t0k3n" not in message
    assert time.monotonic() - started < 0.9
