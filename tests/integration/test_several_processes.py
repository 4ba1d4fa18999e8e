"""Two `between web` and two `between worker` processes on one PostgreSQL and one Redis, as
`docker compose up --scale web=2 --scale worker=2` runs them behind a proxy: every update,
payment and clock-driven job is done once, each message sent once, within Telegram's limits.

PostgreSQL only: SQLite is one file on one host, and the README says to run one process
(`between run`) there, so several processes on it are not a set-up the project offers."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import IO

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlmodel import col, select

from app.supervise import read_heartbeats
from core.clock import SimulatedClock
from core.db import SessionFactory
from core.groups import register_group
from core.models import EventStatus, ExternalEvent, Group, Member, ReplyPromise, SeatStatus
from core.outbox import enqueue
from core.settings import Settings
from sandbox import harness
from sandbox.harness import COACH_ID, STRIPE_WEBHOOK_SECRET
from sandbox.stripe import StripeSandbox
from sandbox.telegram import TelegramSandbox
from tests.integration.faults import free_port
from tests.integration.processes import ROOT, environment
from tests.integration.world import GROUP

pytestmark = pytest.mark.slow

PAYERS = {7001 + n: f"Payer{n}" for n in range(4)}
READERS = {7101 + n: f"Reader{n}" for n in range(40)}
WELCOME = "Welcome to Between circle"
BROADCAST = "A note for everyone from the coach"
# How long the test waits for what the processes do (bounded; nothing is asserted on time).
PATIENCE = 120.0


@pytest.fixture
def clock() -> SimulatedClock:
    # The processes keep the real time; the sandboxes' clock starts there too.
    return SimulatedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def telegram(clock: SimulatedClock) -> AsyncIterator[TelegramSandbox]:
    """The sandbox Bot API with Telegram's own flood limits (the processes keep them), and
    its 40 webhook connections: both web processes get updates at once."""
    sandbox = TelegramSandbox(rate_scale=1, now=clock.now, webhook_connections=40)
    await sandbox.start()
    sandbox.add_user(COACH_ID, "Coach", username="coach")
    yield sandbox
    await sandbox.stop()


class RoundRobinProxy:
    """The proxy in front of the web processes: each new connection to the next one."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.port = free_port()
        self.connections: Counter[int] = Counter()
        self._server: asyncio.Server | None = None
        self._next = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = self.ports[self._next % len(self.ports)]
        self._next += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        self.connections[port] += 1
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        writer.close()


class Process:
    """One `between ...` process, as docker would start it."""

    def __init__(self, settings: Settings, log: IO[bytes], *args: str) -> None:
        self.args = args
        self._env = environment(settings)
        self._log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            *self.args,
            env=self._env,
            cwd=ROOT,
            stdout=self._log,
            stderr=self._log,
        )

    async def stop(self) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.terminate()
        try:
            return await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


@contextlib.asynccontextmanager
async def four_processes(settings: Settings) -> AsyncIterator[tuple[list[Process], str]]:
    """Two web processes behind a round-robin proxy (PUBLIC_URL) and two workers."""
    web_ports = [free_port(), free_port()]
    proxy = RoundRobinProxy(web_ports)
    await proxy.start()
    settings = settings.model_copy(update={"public_url": proxy.url})
    with contextlib.ExitStack() as files:
        logs = [files.enter_context(tempfile.TemporaryFile()) for _ in range(4)]
        processes = [
            Process(settings, logs[0], "web", "--host", "127.0.0.1", "--port", str(web_ports[0])),
            Process(settings, logs[1], "web", "--host", "127.0.0.1", "--port", str(web_ports[1])),
            Process(settings, logs[2], "worker"),
            Process(settings, logs[3], "worker"),
        ]
        try:
            for process in processes[:2]:
                await process.start()
            for port in web_ports:
                await _until_listening(port, processes)
            yield processes, proxy.url
            assert set(proxy.connections) == set(web_ports), proxy.connections  # both served
        finally:
            await asyncio.gather(*(process.stop() for process in processes))
            await proxy.stop()


async def _until_listening(port: int, processes: list[Process]) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(int(PATIENCE * 10)):
            with contextlib.suppress(aiohttp.ClientError):
                async with client.get(f"http://127.0.0.1:{port}/healthz"):
                    return
            await asyncio.sleep(0.1)
    raise AssertionError("a web process never listened\n" + _outputs(processes))


def _outputs(processes: list[Process]) -> str:
    return "\n".join(f"--- {' '.join(p.args)}\n{p.output()[-4000:]}" for p in processes)


async def eventually(check: object, what: str, processes: list[Process]) -> None:
    for _ in range(int(PATIENCE * 5)):
        outcome = check() if callable(check) else check
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"never happened: {what}\n{_outputs(processes)}")


async def a_group_whose_day_is_due(
    telegram: TelegramSandbox, sessions: SessionFactory, now: datetime
) -> Group:
    """The coach adds the bot to the group (through the web processes); today's prompt,
    digest and summaries are all due already."""
    telegram.add_group(GROUP, "Between circle", admins=[COACH_ID])
    await telegram.user_sends(COACH_ID, text="/start")
    await telegram.bot_added_to_group(GROUP, by_user_id=COACH_ID)
    async with sessions() as session:
        group = await register_group(
            session, chat_id=GROUP, title="Between circle", capacity=10, now=now
        )
        group.prompt_time = group.digest_time = group.summary_time = "00:00"
        group.reply_days = group.prompt_days = "mon,tue,wed,thu,fri,sat,sun"
        group.summary_weekday = now.weekday()
        group.bot_can_invite = group.bot_can_restrict = True
        session.add(group)
        await session.commit()
        await session.refresh(group)
        return group


async def stripe_events(sessions: SessionFactory) -> list[ExternalEvent]:
    async with sessions() as session:
        found = await session.exec(
            select(ExternalEvent).where(col(ExternalEvent.source) == "stripe")
        )
        return list(found.all())


async def all_applied(sessions: SessionFactory) -> bool:
    found = await stripe_events(sessions)
    done = {EventStatus.PROCESSED, EventStatus.IGNORED}
    return bool(found) and {event.status for event in found} <= done


def sends(telegram: TelegramSandbox) -> list[tuple[float, int]]:
    """(when it arrived, chat) of each message the bot sent that Telegram accepted."""
    return [
        (call.at, int(call.params["chat_id"]))
        for call in telegram.calls
        if call.method.lower() == "sendmessage" and call.status == 200
    ]


def most_in_a_second(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_two_webs_and_two_workers_do_everything_once(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
    clock: SimulatedClock,
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share PostgreSQL; SQLite is for one process on one host")
    price_id = await harness.create_price(stripe_sandbox)
    settings = settings.model_copy(update={"stripe_price_id": price_id})

    async with four_processes(settings) as (processes, public_url):
        stripe_sandbox.add_webhook_endpoint(f"{public_url}/stripe/webhook", STRIPE_WEBHOOK_SECRET)
        group = await a_group_whose_day_is_due(telegram, sessions, datetime.now(UTC))
        # People join and pay through the web processes; nothing is applied until the
        # workers start.
        for user_id, name in PAYERS.items():
            telegram.add_user(user_id, name, username=name.lower())
            assert "held for you" in ((await harness.ask_to_join(telegram, user_id)).text or "")
            seat = await harness.newest_seat(sessions, user_id)
            assert seat is not None and seat.checkout_session_id is not None
            await stripe_sandbox.complete_checkout(seat.checkout_session_id)
        await stripe_sandbox.settle()
        for user_id, name in READERS.items():
            telegram.add_user(user_id, name, username=name.lower())
            await telegram.user_sends(user_id, text="/start")
        await telegram.settle()
        async with sessions() as session:
            now = datetime.now(UTC)
            for user_id in READERS:  # a broadcast, as the coach's /broadcast queues it
                await enqueue(
                    session, key=f"broadcast:{user_id}", chat_id=user_id, text=BROADCAST, now=now
                )
            payer = (
                await session.exec(select(Member).where(col(Member.telegram_id) == 7001))
            ).one()
            assert payer.id is not None and group.id is not None
            session.add(  # a member waits for the coach's reply, due in an hour
                ReplyPromise(
                    member_id=payer.id,
                    group_id=group.id,
                    made_at=now - timedelta(hours=5),
                    due_at=now + timedelta(hours=1),
                )
            )
            await session.commit()
        # What the web processes answered so far is theirs; from here on, the workers send.
        sent_before, limited_before = len(sends(telegram)), telegram.rate_limited

        for process in processes[2:]:
            await process.start()
        await eventually(lambda: all_applied(sessions), "every payment applied", processes)
        await eventually(
            lambda: all(_told(telegram, u, WELCOME) for u in PAYERS), "every welcome", processes
        )
        await eventually(
            lambda: all(_told(telegram, u, BROADCAST) for u in READERS),
            "the broadcast",
            processes,
        )
        await eventually(
            lambda: _healthy_workers(redis, 2), "both workers' heartbeats healthy", processes
        )
        # Every clock-driven job looks once a minute; a minute and more on, each has looked.
        await eventually(
            lambda: _told(telegram, COACH_ID, "still waiting") >= 1, "the reminder", processes
        )
        await eventually(
            lambda: len(_sent_to(telegram, GROUP)) >= 1, "the prompt of the day", processes
        )
        await asyncio.sleep(65)  # every cron job has had its turn on both workers
        await telegram.settle()
        outputs = _outputs(processes)

    # Each payer welcomed once, their seat active; each event applied once.
    for user_id in PAYERS:
        assert _told(telegram, user_id, WELCOME) == 1, outputs
        seat = await harness.newest_seat(sessions, user_id)
        assert seat is not None and seat.status == SeatStatus.ACTIVE
    events = await stripe_events(sessions)
    assert all(event.attempts == 1 for event in events), [(e.type, e.attempts) for e in events]
    # Each message of the broadcast sent once.
    assert {u: _told(telegram, u, BROADCAST) for u in READERS} == dict.fromkeys(READERS, 1)
    # The day's prompt in the group once, the coach's digest and reminder once each.
    to_group = Counter(text.split("\n")[0] for text in _sent_to(telegram, GROUP))
    assert to_group and max(to_group.values()) == 1, to_group
    to_coach = Counter(text for text in _sent_to(telegram, COACH_ID))
    assert max(to_coach.values()) == 1, to_coach
    assert _told(telegram, COACH_ID, "still waiting") == 1
    # Telegram's limits held across both workers: no 429, never more than 30 a second, never
    # two messages to one chat within a second.
    after = sends(telegram)[sent_before:]
    by_chat: dict[int, list[float]] = {}
    for moment, chat_id in after:
        by_chat.setdefault(chat_id, []).append(moment)
    busiest = most_in_a_second([moment for moment, _ in after])
    print(  # the figures the README quotes
        f"workers sent {len(after)} messages, at most {busiest} in a second, "
        f"{telegram.rate_limited - limited_before} answered 429"
    )
    assert telegram.rate_limited == limited_before
    assert busiest <= 30
    assert all(most_in_a_second(times) <= 1 for times in by_chat.values()), by_chat


async def _healthy_workers(redis: Redis, count: int) -> bool:
    heartbeats = await read_heartbeats(redis)
    return len(heartbeats) == count and all(beat["healthy"] for beat in heartbeats.values())


def _sent_to(telegram: TelegramSandbox, chat_id: int) -> list[str]:
    return [m.text or "" for m in telegram.sent_by_bot(chat_id)]


def _told(telegram: TelegramSandbox, chat_id: int, words: str) -> int:
    return sum(words in text for text in _sent_to(telegram, chat_id))
