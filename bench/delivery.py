"""Delivery against Telegram's limits: the outbox sending flat out to the sandbox Bot API.

    python -m bench.delivery [--postgres URL]

Two mixes, each enqueued into a fresh database and then delivered by one OutboxSender
(production settings, only the limits scaled) through the real TelegramGateway (aiogram,
HTTP) to the sandbox Bot API, which enforces Telegram's flood limits and answers 429 past them:

- private: 2,000 messages, one each to 2,000 people; the overall limit binds;
- group-heavy: 5 groups × 40 messages and 200 people × 2, interleaved; the groups' 20/min binds.

Everything runs in this one process and event loop: the sandbox, aiogram and the sender.
The sender gets TELEGRAM_LIMITS.scaled(k), the sandbox rate_scale=k; k=1 is Telegram's speed.

The limits, scaled by k as the sandbox scales them (the same ratios as Telegram's, every
window k times shorter): at most 30 sends in any 1/k s, one per chat in 1/k s, 20 per group
in any 60/k s. With W sends allowed per window of T seconds and at least `interval` between
two sends to the same chat, the greedy schedule (each send as early as the limits allow) is
the fastest, and its n-th send (from 0) goes at (n // W)·T + (n % W)·interval, as long as
W·interval ≤ T (true for all three). So N sends to one chat span at least
((N-1) // W)·T + ((N-1) % W)·interval, i.e. (⌈N/W⌉-1)·T plus the tail; the whole mix needs at
least the largest of these spans: overall (interval 0), each group, each private chat.
That is a lower bound on the time from the first send to the last; the fraction of the limit
is that bound over the measured time from the first send's arrival to drain() returning.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select

from bench.harness import STARTED_AT, Target, require, run_part, table
from bot.gateway import TelegramGateway, create_bot
from core.clock import SystemClock
from core.db import SessionFactory, create_engine, create_session_factory
from core.flood import BUSY, TELEGRAM_LIMITS, FloodControl, FloodLimits
from core.models import OutboxMessage, OutboxState
from core.outbox import OutboxSender, enqueue
from sandbox.harness import COACH_ID
from sandbox.telegram import SANDBOX_BOT_TOKEN, TelegramSandbox

PRIVATE_SCALES = [1, 3, 10]  # at ×1, Telegram's own speed, 2,000 messages take 66 s at least
MIX_SCALES = [10]
PRIVATE_PEOPLE = 2000
MIX_GROUPS = 5
MIX_PER_GROUP = 40
MIX_PEOPLE = 200
MIX_PER_PERSON = 2
FIRST_PERSON = 20_000
FIRST_GROUP = -1_001_009_100_000  # supergroup-shaped ids, as Telegram gives them
AIM = 0.95


# --- the limits -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """At most `count` sends in any `seconds` long stretch."""

    count: int
    seconds: float

    def span(self, sends: int, interval: float = 0.0) -> float:
        """The least time from the first of `sends` to the last (if count·interval ≤ seconds)."""
        full_windows, rest = divmod(sends - 1, self.count)
        return full_windows * self.seconds + rest * interval


@dataclass(frozen=True)
class Limits:
    """Telegram's limits `scale` times faster, as the sandbox enforces them."""

    scale: float
    overall: Window
    chat_interval: float
    group: Window

    @classmethod
    def of(cls, base: FloodLimits, scale: float) -> Limits:
        scaled = base.scaled(scale)
        return cls(
            scale,
            Window(scaled.overall, scaled.window),
            scaled.chat_interval,
            Window(scaled.per_group, scaled.group_window),
        )

    def minimum_seconds(self, chats: Sequence[int]) -> float:
        """The least time the sends to `chats` (one entry per message) can take."""
        spans = [self.overall.span(len(chats))]
        for chat_id, sends in Counter(chats).items():
            if chat_id < 0:
                spans.append(self.group.span(sends, self.chat_interval))
            else:
                spans.append((sends - 1) * self.chat_interval)
        return max(spans)


# --- what is sent -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    chat_id: int
    text: str


@dataclass(frozen=True)
class Mix:
    """Who exists in the sandbox and what goes to them, in the order it is enqueued."""

    name: str
    people: list[int]
    groups: list[int]
    messages: list[Message]


def private_mix() -> Mix:
    people = [FIRST_PERSON + n for n in range(PRIVATE_PEOPLE)]
    messages = [Message(person, f"message {n} to {person}") for n, person in enumerate(people)]
    return Mix("private", people, [], messages)


def group_heavy_mix() -> Mix:
    """Round by round: each group's next message, then a share of the private ones."""
    people = [FIRST_PERSON + n for n in range(MIX_PEOPLE)]
    groups = [FIRST_GROUP - n for n in range(MIX_GROUPS)]
    private = [person for _ in range(MIX_PER_PERSON) for person in people]
    share = len(private) // MIX_PER_GROUP
    chats: list[int] = []
    for round_ in range(MIX_PER_GROUP):
        chats.extend(groups)
        chats.extend(private[round_ * share : (round_ + 1) * share])
    chats.extend(private[MIX_PER_GROUP * share :])
    messages = [Message(chat_id, f"message {n} to {chat_id}") for n, chat_id in enumerate(chats)]
    return Mix("group-heavy mix", people, groups, messages)


def populate(telegram: TelegramSandbox, mix: Mix) -> None:
    """Everyone has started the bot; the bot is an admin of every group."""
    telegram.add_user(COACH_ID, "Coach")
    for person in mix.people:
        telegram.add_user(person, f"Member {person}", started=True)
    for group in mix.groups:
        telegram.add_group(group, f"Circle {-group}", admins=[COACH_ID])


async def add_bot_to_groups(telegram: TelegramSandbox, mix: Mix) -> None:
    for group in mix.groups:  # no webhook is set: the update is only queued
        await telegram.bot_added_to_group(group, by_user_id=COACH_ID)


async def fill(sessions: SessionFactory, mix: Mix) -> None:
    async with sessions() as session:
        for n, message in enumerate(mix.messages):
            await enqueue(
                session,
                key=f"bench:{mix.name}:{n}",
                chat_id=message.chat_id,
                text=message.text,
                now=STARTED_AT,
            )
        await session.commit()


# --- one run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    mix: str
    database: str
    limits: Limits
    messages: int
    minimum_seconds: float
    seconds: float
    cpu_seconds: float
    refused: int
    lost: int
    repeated: int
    unsent_rows: int
    bare_seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def limit_per_second(self) -> float:
        return self.messages / self.minimum_seconds

    @property
    def cpu_ms_per_message(self) -> float:
        return 1000 * self.cpu_seconds / self.messages

    @property
    def fraction(self) -> float:
        return self.minimum_seconds / self.seconds

    @property
    def bare_fraction(self) -> float:
        return self.minimum_seconds / self.bare_seconds

    @property
    def to_bare(self) -> float:
        """Between's speed over the yardstick's, measured in the same run (load shared)."""
        return self.bare_seconds / self.seconds

    @property
    def met(self) -> bool:
        return self.fraction >= AIM and not (self.lost or self.repeated or self.unsent_rows)


async def deliver_bare(mix: Mix, scale: float) -> float:
    """The yardstick: the same mix through the same aiogram gateway and flood control, from a
    list in memory (no database, no claims, no cap on what is in flight), to a fresh sandbox;
    seconds from the first send's arrival to the last answer."""
    async with TelegramSandbox(rate_scale=scale) as telegram:
        populate(telegram, mix)
        await add_bot_to_groups(telegram, mix)
        bot = create_bot(SANDBOX_BOT_TOKEN, telegram.base_url)
        gateway = TelegramGateway(bot)
        flood = FloodControl(TELEGRAM_LIMITS.scaled(scale))
        queue = list(mix.messages)
        sending: set[asyncio.Task[None]] = set()
        wake = asyncio.Event()

        async def send(message: Message) -> None:
            await gateway.deliver(message.chat_id, message.text, None, pin=False)
            flood.end(message.chat_id, time.monotonic())
            wake.set()

        try:
            while queue or sending:
                now = time.monotonic()
                overall = flood.overall_wait(now)
                next_in: float | None = overall if 0 < overall < BUSY else None
                full = overall > 0
                kept: list[Message] = []
                skipped: set[int] = set()
                for index, message in enumerate(queue):
                    if full:
                        kept.extend(queue[index:])
                        break
                    wait = (
                        BUSY
                        if message.chat_id in skipped
                        else flood.wait_for(message.chat_id, now)
                    )
                    if wait > 0:
                        skipped.add(message.chat_id)
                        if wait != BUSY:
                            next_in = wait if next_in is None else min(next_in, wait)
                        kept.append(message)
                        continue
                    flood.begin(message.chat_id)
                    task = asyncio.create_task(send(message))
                    sending.add(task)
                    task.add_done_callback(sending.discard)
                    full = flood.overall_wait(now) > 0
                queue = kept
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5 if next_in is None else next_in):
                        await wake.wait()
            finished = time.monotonic()
        finally:
            await bot.session.close()
        first = min(call.at for call in telegram.calls if call.method == "sendMessage")
        require(telegram.rate_limited == 0, "the yardstick was refused (429)")
        return finished - first


async def deliver(
    sessions: SessionFactory, telegram: TelegramSandbox, limits: Limits
) -> tuple[float, float]:
    """Drain the outbox into the sandbox: seconds from the first send's arrival to the end,
    and the CPU seconds this process used meanwhile (the sandbox's share included)."""
    bot = create_bot(SANDBOX_BOT_TOKEN, telegram.base_url)
    flood = TELEGRAM_LIMITS.scaled(limits.scale)
    sender = OutboxSender(sessions, TelegramGateway(bot), SystemClock(), limits=flood)
    cpu_before = time.process_time()
    try:
        await sender.drain()
        finished = time.monotonic()
        cpu_seconds = time.process_time() - cpu_before
    finally:
        await bot.session.close()
    first = min(call.at for call in telegram.calls if call.method == "sendMessage")
    return finished - first, cpu_seconds


def lost_and_repeated(telegram: TelegramSandbox, mix: Mix) -> tuple[int, int]:
    """Messages that never arrived, and arrivals beyond the first of the same message."""
    expected = Counter((m.chat_id, m.text) for m in mix.messages)
    arrived = Counter((m.chat_id, m.text) for m in telegram.sent_by_bot())
    lost = sum(1 for key in expected if key not in arrived)
    repeated = sum(count - 1 for count in arrived.values())
    return lost, repeated


async def unsent_rows(sessions: SessionFactory) -> int:
    async with sessions() as session:
        states = (await session.exec(select(OutboxMessage.state))).all()
    return sum(state != OutboxState.SENT for state in states)


async def run(target: Target, mix: Mix, scale: float) -> Result:
    limits = Limits.of(TELEGRAM_LIMITS, scale)
    async with (
        target.database("bench_delivery") as database_url,
        TelegramSandbox(rate_scale=scale) as telegram,
    ):
        populate(telegram, mix)
        await add_bot_to_groups(telegram, mix)
        engine = create_engine(database_url)
        sessions = create_session_factory(engine)
        try:
            await fill(sessions, mix)
            seconds, cpu_seconds = await deliver(sessions, telegram, limits)
            lost, repeated = lost_and_repeated(telegram, mix)
            unsent = await unsent_rows(sessions)
        finally:
            await engine.dispose()
        refused = telegram.rate_limited
    bare_seconds = await deliver_bare(mix, scale)  # the yardstick, right after, same load
    chats = [message.chat_id for message in mix.messages]
    return Result(
        mix.name,
        target.name,
        limits,
        len(mix.messages),
        limits.minimum_seconds(chats),
        seconds,
        cpu_seconds,
        refused,
        lost,
        repeated,
        unsent,
        bare_seconds,
    )


# --- the part ---------------------------------------------------------------------------------


async def measure(targets: list[Target], redis_url: str) -> None:
    print("## 2. Delivery against Telegram's limits\n")
    runs = [(private_mix(), scale) for scale in PRIVATE_SCALES]
    runs += [(group_heavy_mix(), scale) for scale in MIX_SCALES]
    results = [await run(target, mix, scale) for target in targets for mix, scale in runs]
    print(
        table(
            [
                "scenario",
                "database",
                "scale",
                "messages",
                "limit msg/s",
                "seconds",
                "msg/s",
                "fraction of limit",
                "yardstick's fraction",
                "× yardstick",
                "429s",
                "lost",
                "repeated",
            ],
            [
                [
                    r.mix,
                    r.database,
                    f"×{r.limits.scale:g}",
                    r.messages,
                    r.limit_per_second,
                    r.seconds,
                    r.per_second,
                    r.fraction,
                    r.bare_fraction,
                    r.to_bare,
                    r.refused,
                    r.lost,
                    r.repeated,
                ]
                for r in results
            ],
        )
    )
    print()
    print(
        "The yardstick runs right after each run, in the same process: the same mix through "
        "the same gateway and flood control from a list in memory. The machine was shared "
        "with other work, so the ratio to the yardstick says more than either figure alone.\n"
    )
    for r in results:
        print(
            f"- {r.mix}, {r.database}, ×{r.limits.scale:g}: {r.fraction:.2f} of the limit "
            f"(at least {r.minimum_seconds:.2f} s, took {r.seconds:.2f} s), {r.lost} lost, "
            f"{r.repeated} repeated, {r.unsent_rows} rows not sent "
            f"(aim ≥ {AIM:.2f}, none lost or repeated: {'met' if r.met else 'missed'}); "
            f"{r.to_bare:.2f} × the yardstick's speed (it reached {r.bare_fraction:.2f}); "
            f"{r.cpu_ms_per_message:.1f} ms of CPU per message in this process "
            "(the sandbox's share included)"
        )
        lost = r.lost or r.repeated or r.unsent_rows
        require(not lost, f"{r.mix}, {r.database}: messages lost, repeated or left unsent")
    print()


if __name__ == "__main__":
    run_part(measure, __doc__.splitlines()[0])
