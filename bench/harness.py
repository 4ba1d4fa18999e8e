"""What the benchmarks share: the databases they run on, a real Redis, the app running as its
own process against the sandboxes, and how figures are summarised and printed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import aiohttp
from redis.asyncio import Redis

from core.db import SessionFactory, create_engine, create_session_factory
from core.models import Group, Member, Seat, SeatStatus
from core.redis import redis_url_for
from core.settings import Settings
from sandbox.databases import scratch_database
from sandbox.harness import COACH_ID, coach_opens_group, create_price
from sandbox.stripe import StripeSandbox
from sandbox.telegram import SANDBOX_BOT_TOKEN, TelegramSandbox

GROUP_CHAT = -1001009000000  # a supergroup-shaped id, as Telegram gives them
TELEGRAM_SECRET = "bench-webhook-secret-0123456789"
STRIPE_SECRET = "whsec_bench_between"
STARTED_AT = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday


# --- where a benchmark runs -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A database to run on: SQLite (the embedded default) or a PostgreSQL server."""

    name: str
    postgres_url: str | None = None

    @contextlib.asynccontextmanager
    async def database(self, prefix: str) -> AsyncIterator[str]:
        """A fresh, migrated database for one measurement; dropped afterwards."""
        async with scratch_database(self.postgres_url, prefix) as url:
            yield url


def targets(postgres_url: str | None) -> list[Target]:
    """SQLite always; PostgreSQL too when a server URL is given."""
    found = [Target("SQLite")]
    if postgres_url:
        found.append(Target("PostgreSQL", postgres_url))
    return found


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A real Redis: REDIS_URL when set, else one embedded for the run."""
    with (
        tempfile.TemporaryDirectory() as directory,
        redis_url_for(os.environ.get("REDIS_URL"), Path(directory)) as url,
    ):
        yield url


# --- the app as its own process ---------------------------------------------------------------


@dataclass
class Stage:
    """The app (`between web`, a separate process) wired to the sandboxes and one database."""

    database_url: str
    redis_url: str
    settings: Settings
    sessions: SessionFactory
    telegram: TelegramSandbox
    stripe: StripeSandbox
    web_url: str
    group: Group


@contextlib.asynccontextmanager
async def stage(
    database_url: str,
    redis_url: str,
    *,
    capacity: int,
    rate_scale: float = 20,
    webhook_connections: int = 40,
) -> AsyncIterator[Stage]:
    """Start the sandboxes and `between web`, with the coach's group registered."""
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    telegram = TelegramSandbox(rate_scale=rate_scale, webhook_connections=webhook_connections)
    stripe = StripeSandbox()
    await telegram.start()
    await stripe.start()
    price_id = await create_price(stripe)
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            _env_file=None,
            database_url=database_url,
            redis_url=redis_url,
            data_dir=Path(data_dir),
            telegram_bot_token=SANDBOX_BOT_TOKEN,
            telegram_api_base=telegram.base_url,
            telegram_webhook_secret=TELEGRAM_SECRET,
            public_url=web_url,
            coach_telegram_ids=(COACH_ID,),
            stripe_secret_key=stripe.api_key,
            stripe_webhook_secret=STRIPE_SECRET,
            stripe_price_id=price_id,
            stripe_api_base=stripe.base_url,
        )
        engine = create_engine(database_url)
        sessions = create_session_factory(engine)
        try:
            async with web_process(settings, port):
                stripe.add_webhook_endpoint(f"{web_url}/stripe/webhook", STRIPE_SECRET)
                telegram.add_user(COACH_ID, "Coach", username="coach")
                group = await coach_opens_group(
                    telegram,
                    sessions,
                    chat_id=GROUP_CHAT,
                    title="Between circle",
                    capacity=capacity,
                    now=STARTED_AT,
                )
                yield Stage(
                    database_url, redis_url, settings, sessions, telegram, stripe, web_url, group
                )
        finally:
            await engine.dispose()
            await telegram.stop()
            await stripe.stop()


@contextlib.asynccontextmanager
async def web_process(settings: Settings, port: int) -> AsyncIterator[None]:
    """`between web` on `port`, configured by its environment as in production.

    With BENCH_PROFILE=path it runs under pyinstrument, which writes its report there.
    """
    between = Path(sys.executable).parent / "between"
    command = [str(between), "web", "--host", "127.0.0.1", "--port", str(port)]
    if profile := os.environ.get("BENCH_PROFILE"):
        pyinstrument = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", profile]
        command = [*pyinstrument, "--from-path", *command]
    async with serving(command, port, environment(settings)):
        yield


@contextlib.asynccontextmanager
async def serving(command: list[str], port: int, env: dict[str, str]) -> AsyncIterator[None]:
    """Run `command` as a server process until the block ends; ready once /healthz says 200."""
    with tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            *command, env={**os.environ, **env}, stdout=log, stderr=log
        )
        try:
            await _wait_healthy(f"http://127.0.0.1:{port}/healthz", process, log)
            yield
        finally:
            if process.returncode is None:
                process.terminate()
                await process.wait()


def environment(settings: Settings) -> dict[str, str]:
    """The settings as the environment variables `between` reads."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, tuple):
            value = ",".join(str(item) for item in value)
        elif hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[name.upper()] = str(value)
    return env


async def _wait_healthy(url: str, process: asyncio.subprocess.Process, log: IO[bytes]) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(300):
            if process.returncode is not None:
                log.seek(0)
                error = log.read().decode(errors="replace")
                raise RuntimeError(f"{url} exited:\n{error}")
            with contextlib.suppress(aiohttp.ClientError):
                async with client.get(url) as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def seat_members(sessions: SessionFactory, group: Group, count: int) -> list[int]:
    """`count` members with active seats in `group`, written directly; their Telegram ids."""
    telegram_ids = [20_000 + n for n in range(count)]
    async with sessions() as session:
        members = [
            Member(telegram_id=telegram_id, first_name=f"Member {n}", created_at=STARTED_AT)
            for n, telegram_id in enumerate(telegram_ids)
        ]
        session.add_all(members)
        await session.flush()
        assert group.id is not None
        session.add_all(
            Seat(
                member_id=member.id or 0,
                group_id=group.id,
                status=SeatStatus.ACTIVE,
                created_at=STARTED_AT,
                updated_at=STARTED_AT,
            )
            for member in members
        )
        await session.commit()
    return telegram_ids


# --- figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latencies:
    """Response times in seconds, summarised in milliseconds."""

    seconds: Sequence[float]

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.seconds)

    @property
    def p99_ms(self) -> float:
        return 1000 * statistics.quantiles(self.seconds, n=100, method="inclusive")[98]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, numbers right-aligned, so the output can go into bench/README.md."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    numeric = [all(not isinstance(row[i], str) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = (
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (width + 1) + (":" if right else "-")
            for width, right in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# --- load ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Load:
    """What a burst of POSTs got back: how long it took, each response's time and status."""

    seconds: float
    latencies: Latencies
    statuses: list[int]

    @property
    def per_second(self) -> float:
        return len(self.statuses) / self.seconds

    @property
    def failed(self) -> int:
        return sum(not 200 <= status < 300 for status in self.statuses)


async def post_flat_out(url: str, requests: Sequence[Request], connections: int) -> Load:
    """POST every request, `connections` at a time, each as soon as a connection is free."""
    pending = iter(requests)
    times: list[float] = []
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def one_connection() -> None:
            for request in pending:
                sent = time.perf_counter()
                async with client.post(url, data=request.body, headers=request.headers) as answer:
                    await answer.read()
                times.append(time.perf_counter() - sent)
                statuses.append(answer.status)

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        seconds = time.perf_counter() - started
    return Load(seconds, Latencies(times), statuses)


async def post_paced(url: str, requests: Sequence[Request], per_second: float) -> Load:
    """POST the requests at a steady rate, whatever the answers; each time counts from when
    its request was due, so a slow server can't hide its queue by slowing the sender."""
    times: list[float] = []
    statuses: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:

        async def one(request: Request, due: float) -> None:
            async with client.post(url, data=request.body, headers=request.headers) as answer:
                await answer.read()
            times.append(time.perf_counter() - due)
            statuses.append(answer.status)

        started = time.perf_counter()
        tasks = []
        for n, request in enumerate(requests):
            due = started + n / per_second
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(request, due)))
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - started
    return Load(seconds, Latencies(times), statuses)


def require(holds: bool, failure: str) -> None:
    """Stop the run (exit 1) when a benchmark's correctness check fails: its figures would
    not be worth printing. Aims on time are reported, never enforced."""
    if not holds:
        raise SystemExit(f"benchmark check failed: {failure}")


# --- running a part ---------------------------------------------------------------------------

Part = Callable[[list[Target], str], Coroutine[Any, Any, None]]


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL"),
        help="a PostgreSQL server URL, to run on PostgreSQL as well as SQLite (a database is "
        "made and dropped); default: $BENCH_POSTGRES_URL",
    )
    return parser


def run_part(part: Part, description: str) -> None:
    """A part's command line: `python -m bench.<part> [--postgres URL]`."""
    args = arguments(description).parse_args()
    with redis_server() as redis_url:
        asyncio.run(part(targets(args.postgres), redis_url))
