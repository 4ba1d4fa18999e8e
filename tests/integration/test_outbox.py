"""The outbox against the sandbox Bot API: Telegram's limits, 429s, crashes, blocked members."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from datetime import datetime

import pytest
from sqlmodel import col, select, update

from app.runtime import Runtime
from core.clock import SimulatedClock
from core.db import SessionFactory
from core.flood import TELEGRAM_LIMITS
from core.groups import find_group
from core.members import remember_member
from core.models import Member, OutboxLease, OutboxMessage, OutboxState, Seat, SeatStatus
from core.outbox import LEASE, RENEW_SECONDS, SENDER_LEASE, OutboxSender, enqueue
from sandbox.harness import COACH_ID
from sandbox.telegram import TelegramSandbox
from tests.integration.processes import WorkerProcess
from tests.integration.test_worker_stops import eventually
from tests.integration.world import GROUP, World

LIMITS = TELEGRAM_LIMITS.scaled(20)  # the same scale as the sandbox fixture


async def people(telegram: TelegramSandbox, how_many: int, first_id: int = 5000) -> list[int]:
    ids = list(range(first_id, first_id + how_many))
    for user_id in ids:
        telegram.add_user(user_id, f"Member {user_id}")
        await telegram.user_sends(user_id, text="hello")  # opens their private chat
    return ids


async def fill(
    sessions: SessionFactory, clock: SimulatedClock, chats: list[int], per_chat: int
) -> None:
    async with sessions() as session:
        for n in range(per_chat):
            for chat_id in chats:
                await enqueue(
                    session,
                    key=f"test:{chat_id}:{n}",
                    chat_id=chat_id,
                    text=f"note {n}",
                    now=clock.now(),
                )
        await session.commit()


def sender(runtime: Runtime, sessions: SessionFactory, clock: SimulatedClock) -> OutboxSender:
    return OutboxSender(sessions, runtime.telegram, clock, limits=LIMITS, idle_seconds=0.05)


def delivered(telegram: TelegramSandbox, chats: list[int]) -> dict[int, list[str | None]]:
    return {chat_id: [m.text for m in telegram.sent_by_bot(chat_id)] for chat_id in chats}


async def states(sessions: SessionFactory) -> Counter[str]:
    async with sessions() as session:
        rows = (await session.exec(select(OutboxMessage.state))).all()
    return Counter(str(state) for state in rows)


async def test_500_messages_to_100_chats_arrive_once_in_order_within_the_limits(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox, clock: SimulatedClock
) -> None:
    chats = await people(telegram, 100)
    await fill(sessions, clock, chats, per_chat=5)
    telegram.fail_next("sendMessage", status=429, retry_after=1)

    await asyncio.wait_for(sender(runtime, sessions, clock).drain(), timeout=60)

    expected = [f"note {n}" for n in range(5)]
    assert delivered(telegram, chats) == dict.fromkeys(chats, expected)
    assert await states(sessions) == Counter({"sent": 500})
    sends = [call for call in telegram.calls if call.method == "sendMessage"]
    refused = [call for call in sends if call.status == 429]
    assert refused, "the injected 429 was not seen"
    for call in refused:  # every 429 was honoured: that chat waited retry_after (the
        # sandbox's seconds, which pass as fast as the clock's waits)
        later = [
            c for c in sends if c.params["chat_id"] == call.params["chat_id"] and c.at > call.at
        ]
        assert later and later[0].at - call.at >= (call.retry_after or 0) / clock.pace - 0.01


async def test_a_sender_killed_half_way_and_restarted_delivers_every_message_once(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox, clock: SimulatedClock
) -> None:
    chats = await people(telegram, 100)
    await fill(sessions, clock, chats, per_chat=5)

    first = asyncio.create_task(sender(runtime, sessions, clock).run())
    for _ in range(3000):
        if len(telegram.sent_by_bot()) >= 250:
            break
        await asyncio.sleep(0.01)
    first.cancel()
    # A stop must stop: this once hung when the cancellation met a wake-up (wait_for on 3.11).
    async with asyncio.timeout(30):
        with contextlib.suppress(asyncio.CancelledError):
            await first
    assert 250 <= len(telegram.sent_by_bot()) < 500, "the sender was not stopped half-way"

    try:
        await asyncio.wait_for(sender(runtime, sessions, clock).drain(), timeout=60)
    except TimeoutError:  # (once seen on a loaded CI machine; pytest shows the log lines)
        pytest.fail(f"the second sender did not finish: {await states(sessions)}")

    texts = Counter((m.chat_id, m.text) for m in telegram.sent_by_bot())
    assert len(texts) == 500
    assert set(texts.values()) == {1}
    assert await states(sessions) == Counter({"sent": 500})


async def test_a_sender_that_loses_its_lease_and_takes_it_back_repeats_nothing_in_flight(
    runtime: Runtime,
    sessions: SessionFactory,
    telegram: TelegramSandbox,
    clock: SimulatedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A sender whose lease another held for a moment (its renewals failed, say) takes it back
    while its own message is still in flight: that message is its own, not a stopped
    sender's, so it is not handed out to go again (which the log would say, and which sends
    it twice whenever the copy goes before the next renewal sees the first was sent)."""
    chats = await people(telegram, 1)
    await fill(sessions, clock, chats, per_chat=1)
    telegram.stall("sendMessage")
    one = sender(runtime, sessions, clock)
    running = asyncio.create_task(one.run())
    try:
        await asyncio.wait_for(telegram.wait_for_stalled(1), 30)
        await lease_held_by(sessions, "elsewhere", until=clock.now() + LEASE)
        await asyncio.sleep(3 * RENEW_SECONDS / clock.pace)  # a renewal finds it held
        await lease_held_by(sessions, "elsewhere", until=clock.now() - LEASE)
        for _ in range(600):  # the sender takes it back
            if await lease_holder(sessions) != "elsewhere":
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(3 * RENEW_SECONDS / clock.pace)  # and claims what it finds
    finally:
        telegram.release_stalls()
    for _ in range(600):
        if (await states(sessions))["sent"] == 1:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(3 * RENEW_SECONDS / clock.pace)  # a repeat would go by now
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert delivered(telegram, chats) == {chats[0]: ["note 0"]}
    assert await states(sessions) == Counter({"sent": 1})
    assert "go again" not in caplog.text


async def lease_held_by(sessions: SessionFactory, holder: str, *, until: datetime) -> None:
    async with sessions() as session:
        await session.exec(
            update(OutboxLease)
            .where(col(OutboxLease.name) == SENDER_LEASE)
            .values(holder=holder, until=until)
        )
        await session.commit()


async def lease_holder(sessions: SessionFactory) -> str:
    async with sessions() as session:
        return (await session.exec(select(OutboxLease.holder))).one()


async def test_a_member_who_blocked_the_bot_is_marked_unreachable_not_retried(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox, clock: SimulatedClock
) -> None:
    blocked, reachable = await people(telegram, 2)
    async with sessions() as session:
        for user_id in (blocked, reachable):
            await remember_member(
                session, telegram_id=user_id, first_name="M", now=clock.now(), started=True
            )
        await session.commit()
    telegram.block_bot(blocked)
    await fill(sessions, clock, [blocked, reachable], per_chat=2)

    await asyncio.wait_for(sender(runtime, sessions, clock).drain(), timeout=30)

    assert await states(sessions) == Counter({"unreachable": 2, "sent": 2})
    assert len([c for c in telegram.calls if c.params.get("chat_id") == blocked]) == 2
    async with sessions() as session:
        member = (
            await session.exec(select(Member).where(col(Member.telegram_id) == blocked))
        ).one()
    assert member.unreachable_since == clock.now()


async def test_telegram_failing_for_a_moment_is_retried_with_back_off(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox, clock: SimulatedClock
) -> None:
    [chat] = await people(telegram, 1)
    await fill(sessions, clock, [chat], per_chat=1)
    telegram.fail_next("sendMessage", status=500, count=2)

    await asyncio.wait_for(sender(runtime, sessions, clock).drain(), timeout=30)

    assert [m.text for m in telegram.sent_by_bot(chat)] == ["note 0"]
    async with sessions() as session:
        row = (await session.exec(select(OutboxMessage))).one()
    assert (row.state, row.attempts) == (OutboxState.SENT, 3)


async def test_a_message_telegram_refuses_is_failed_with_the_reason(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox, clock: SimulatedClock
) -> None:
    [chat] = await people(telegram, 1)
    async with sessions() as session:
        await enqueue(session, key="broken", chat_id=chat, text="<b>unclosed", now=clock.now())
        await session.commit()

    await asyncio.wait_for(sender(runtime, sessions, clock).drain(), timeout=30)

    async with sessions() as session:
        row = (await session.exec(select(OutboxMessage))).one()
    assert row.state == OutboxState.FAILED
    assert row.last_error is not None and "can't parse entities" in row.last_error


async def test_a_relay_whose_words_were_forgotten_meanwhile_does_not_stop_the_outbox(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox, clock: SimulatedClock
) -> None:
    """A member's /forget deletes their entry while its relay to the coach is on its way: the
    relay's answer can't be remembered (the entry is gone), and every other message still goes."""
    [chat] = await people(telegram, 1)
    async with sessions() as session:
        await enqueue(
            session,
            key="relay:gone",
            chat_id=chat,
            text="a relayed check-in",
            now=clock.now(),
            context={"relay": {"member_id": 10**9, "entry_id": 10**9}},  # both gone
        )
        await session.commit()
    await fill(sessions, clock, [chat], per_chat=2)

    await asyncio.wait_for(sender(runtime, sessions, clock).drain(), timeout=30)

    assert [m.text for m in telegram.sent_by_bot(chat)] == [
        "a relayed check-in",
        "note 0",
        "note 1",
    ]
    assert await states(sessions) == Counter({"sent": 3})


async def test_the_same_key_is_queued_once(
    sessions: SessionFactory, clock: SimulatedClock
) -> None:
    async with sessions() as session:
        first = await enqueue(session, key="prompt:1", chat_id=-100, text="a", now=clock.now())
        again = await enqueue(session, key="prompt:1", chat_id=-100, text="a", now=clock.now())
        await session.commit()
    assert (first, again) == (True, False)
    assert await states(sessions) == Counter({"pending": 1})


async def test_a_message_for_later_waits_for_its_time(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox, clock: SimulatedClock
) -> None:
    from datetime import timedelta

    [chat] = await people(telegram, 1)
    async with sessions() as session:
        await enqueue(
            session,
            key="later",
            chat_id=chat,
            text="later",
            now=clock.now(),
            not_before=clock.now() + timedelta(hours=1),
        )
        await session.commit()
    await asyncio.wait_for(sender(runtime, sessions, clock).drain(), timeout=30)
    assert telegram.sent_by_bot(chat) == []
    clock.advance(timedelta(hours=1))
    await asyncio.wait_for(sender(runtime, sessions, clock).drain(), timeout=30)
    assert [m.text for m in telegram.sent_by_bot(chat)] == ["later"]


# --- a real worker process killed mid-broadcast ------------------------------------------------

BROADCAST = "Zoom moves to Thursday this week."
# What the kill may leave in doubt: messages Telegram carried out but whose answer the dead
# worker never recorded. The README promises at most this many in all, one per chat.
IN_DOUBT_AT_MOST = 10


async def seated_members(world: World, how_many: int) -> list[int]:
    """`how_many` people with a comped seat in the group, each of whom started the bot."""
    ids = [8_000_000 + n for n in range(how_many)]
    async with world.sessions() as session:
        group = await find_group(session, chat_id=GROUP)
        assert group is not None and group.id is not None
        group.capacity = how_many + 5
        for user_id in ids:
            world.telegram.add_user(user_id, f"Member {user_id}", started=True)
            member = Member(telegram_id=user_id, first_name="M", created_at=world.clock.now())
            session.add(member)
            await session.flush()
            assert member.id is not None
            now = world.clock.now()
            status = SeatStatus.COMPED
            session.add(
                Seat(
                    member_id=member.id,
                    group_id=group.id,
                    status=status,
                    created_at=now,
                    updated_at=now,
                )
            )
        await session.commit()
    return ids


async def all_sent(sessions: SessionFactory) -> bool:
    return set(await states(sessions)) == {"sent"}


def got_it(world: World, members: list[int]) -> dict[int, int]:
    return {user_id: world.told(user_id, BROADCAST) for user_id in members}


@pytest.mark.slow
async def test_a_worker_killed_mid_broadcast_and_restarted_at_once_reaches_everyone(
    world: World, worker: WorkerProcess
) -> None:
    members = await seated_members(world, 60)
    await world.telegram.user_sends(COACH_ID, text=f"/broadcast {BROADCAST}")
    # When the kill comes, two messages are still on their way to Telegram (and so never
    # arrive), and two more were carried out but their answers are on their way back: those
    # are the one kind the outbox may send twice.
    world.telegram.arrive_late("sendMessage", 20.0, count=2)
    world.telegram.answer_late("sendMessage", 20.0, count=2)

    await worker.start()
    await eventually(lambda: sum(got_it(world, members).values()) >= 20, "a start", worker)
    assert await worker.stop(signal.SIGKILL) == -signal.SIGKILL
    assert sum(got_it(world, members).values()) < len(members), "the kill came too late"
    await worker.start()  # at once, as a restart policy does

    await eventually(lambda: all_sent(world.sessions), "every message sent", worker)
    assert await worker.stop(signal.SIGTERM) == 0
    await world.telegram.settle()
    counts = got_it(world, members)
    assert min(counts.values()) == 1 and max(counts.values()) <= 2, counts
    repeats = sum(count - 1 for count in counts.values())
    assert repeats <= IN_DOUBT_AT_MOST, repeats
    print(f"after kill -9: 0 lost, {repeats} repeated (at most one per member)")


async def test_two_senders_at_once_keep_one_chats_order_and_its_limit(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox, clock: SimulatedClock
) -> None:
    [chat] = await people(telegram, 1)
    await fill(sessions, clock, [chat], per_chat=20)

    # Two workers' senders on one database: each counts Telegram's limits in its own memory,
    # so only one may send at a time, or together they would go past one chat's 1/s.
    await asyncio.wait_for(
        asyncio.gather(*(sender(runtime, sessions, clock).drain() for _ in range(2))),
        timeout=60,
    )

    assert [m.text for m in telegram.sent_by_bot(chat)] == [f"note {n}" for n in range(20)]
    assert telegram.rate_limited == 0
    assert await states(sessions) == Counter({"sent": 20})
