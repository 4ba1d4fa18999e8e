"""The bot in the chats Telegram really has: long texts split to fit, basic groups and their
upgrade to supergroups, co-admins who change the bot's rights, anonymous admins, channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import col, select

from core.clock import SimulatedClock
from core.db import SessionFactory
from core.groups import find_group, list_groups
from core.models import Entry, Member, OutboxMessage, Seat, SeatStatus, Summary
from core.outbox import enqueue
from core.settings import Settings
from sandbox.stripe import StripeSandbox
from sandbox.telegram import ChatMessage, TelegramSandbox
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World, open_world

MAYA = 6001
NOA = 6002
BEA = 6003  # a co-admin of the group, not a coach
BASIC = -4001234  # a basic group's id, as Telegram makes new groups
UPGRADED = -1004001234567
RISKY = "Some nights I think everyone would be better off without me."
LIMIT = 4096
MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
async def basic_world(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
    stripe_sandbox: StripeSandbox,
) -> AsyncIterator[World]:
    """The app, with the coach's group a basic group."""
    async for opened in open_world(
        settings, sessions, redis, clock, telegram, stripe_sandbox, group_chat_id=BASIC
    ):
        yield opened


def new_messages(world: World, chat_id: int, before: int) -> list[ChatMessage]:
    return world.telegram.sent_by_bot(chat_id)[before:]


def assert_fits(parts: list[ChatMessage]) -> None:
    # The sandbox has checked each part's HTML, as Telegram does; here, the lengths.
    assert all(0 < len(part.text or "") <= LIMIT for part in parts)


# 2. Long texts are split at line breaks, quoted entries capped


async def test_a_long_thread_comes_in_several_messages_and_replying_to_any_answers(
    world: World,
) -> None:
    await world.join_the_group(MAYA, "Maya")
    for day in range(12):
        await world.telegram.user_sends(
            MAYA, GROUP, text=f"Day {day}: <not a tag> & " + "so much to say " * 100
        )
    before = len(world.telegram.sent_by_bot(COACH_ID))

    await world.telegram.user_sends(COACH_ID, text="/thread @maya")

    parts = new_messages(world, COACH_ID, before)
    assert len(parts) >= 2
    assert_fits(parts)
    shown = "\n".join(part.text or "" for part in parts)
    assert all(f"Day {day}: <not a tag> &" in shown for day in range(12))
    assert "…" in shown  # each long entry is cut, not the whole thread
    await world.telegram.user_sends(
        COACH_ID, text="Thank you for all of this.", reply_to_message_id=parts[0].message_id
    )
    assert world.texts(MAYA)[-1] == "Coach\nThank you for all of this."  # under her name


async def test_the_member_list_is_split_when_the_group_is_large(world: World) -> None:
    async with world.sessions() as session:
        group = await find_group(session, chat_id=GROUP)
        assert group is not None and group.id is not None
        group.capacity = 80
        for n in range(70):
            member = Member(
                telegram_id=7_000_000 + n,
                first_name=f"Member number {n} with a rather long name",
                username=f"member_{n}_with_a_long_username",
                created_at=world.clock.now(),
            )
            session.add(member)
            await session.flush()
            assert member.id is not None
            session.add(
                Seat(
                    member_id=member.id,
                    group_id=group.id,
                    status=SeatStatus.COMPED,
                    created_at=world.clock.now(),
                    updated_at=world.clock.now(),
                )
            )
        await session.commit()
    before = len(world.telegram.sent_by_bot(COACH_ID))

    await world.telegram.user_sends(COACH_ID, text="/members")

    parts = new_messages(world, COACH_ID, before)
    assert len(parts) >= 2
    assert_fits(parts)
    shown = "\n".join(part.text or "" for part in parts)
    assert all(f"Member number {n} with" in shown for n in range(70))


async def test_a_long_weekly_summary_arrives_in_parts_and_so_does_its_draft(
    world: World,
) -> None:
    await world.join_the_group(MAYA, "Maya")
    for n in range(24):
        await world.telegram.user_sends(
            MAYA, text=f"/win Win {n}: I kept my word to myself " + "and it mattered " * 20
        )
    world.clock.set(MONDAY + timedelta(days=6, hours=6))  # Sunday 15:00: the drafts
    await jobs.weekly_summaries({"services": world.runtime})
    await world.deliver()
    drafts = [
        m
        for m in world.telegram.sent_by_bot(COACH_ID)
        if "Win 0:" in (m.text or "") or "Win 23:" in (m.text or "")
    ]
    world.clock.set(MONDAY + timedelta(days=6, hours=9))  # Sunday 18:00: they go out
    await jobs.weekly_summaries({"services": world.runtime})
    await world.deliver()

    parts = [m for m in world.telegram.sent_by_bot(MAYA) if "Win " in (m.text or "")]
    assert len(parts) >= 2
    assert_fits(parts)
    shown = "\n".join(part.text or "" for part in parts)
    assert all(f"Win {n}:" in shown for n in range(24))
    assert len(drafts) >= 2
    assert_fits(drafts)


async def test_a_summary_that_cannot_be_delivered_is_not_marked_sent_and_the_coach_hears(
    world: World,
) -> None:
    await world.join_the_group(MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="/win I rested.")
    world.telegram.block_bot(MAYA)  # after the last check-in: nobody knows yet
    world.clock.set(MONDAY + timedelta(days=6, hours=9))

    await jobs.weekly_summaries({"services": world.runtime})
    await world.deliver()
    await jobs.weekly_summaries({"services": world.runtime})  # the next minute's run
    await world.deliver()

    async with world.sessions() as session:
        [summary] = (await session.exec(select(Summary))).all()
    assert summary.state != "sent"
    told = world.texts(COACH_ID)[-1]
    assert "Maya" in told and "summary" in told


async def test_the_question_list_for_the_live_qa_is_split_and_each_question_capped(
    world: World,
) -> None:
    await world.join_the_group(MAYA, "Maya")
    await jobs.schedule_live_qa({"services": world.runtime})
    await world.deliver()
    for n in range(14):
        await world.telegram.user_sends(
            MAYA, text=f"/ask Question {n}: " + "how do I hold this when it gets loud " * 30
        )
    before = len(world.telegram.sent_by_bot(COACH_ID))
    world.clock.set(MONDAY + timedelta(days=2, hours=7))  # Wednesday 16:00, 2 h before

    await jobs.schedule_live_qa({"services": world.runtime})
    await world.deliver()

    parts = new_messages(world, COACH_ID, before)
    assert len(parts) >= 2
    assert_fits(parts)
    shown = "\n".join(part.text or "" for part in parts)
    assert all(f"Question {n}:" in shown for n in range(14))


async def test_an_urgent_alert_about_a_long_private_message_still_reaches_the_coach(
    world: World,
) -> None:
    await world.join_the_group(MAYA, "Maya")
    long_message = "I don't know how to say this. " * 80 + RISKY + " " + "Sorry. " * 200

    await world.telegram.user_sends(MAYA, text=long_message[:4000])
    await world.deliver()

    alerts = [m for m in world.telegram.sent_by_bot(COACH_ID) if "Urgent" in (m.text or "")]
    assert len(alerts) == 1
    assert_fits(alerts)


# 3. A basic group upgraded to a supergroup


async def test_after_the_group_becomes_a_supergroup_everything_follows_it(
    basic_world: World,
) -> None:
    world = basic_world
    await world.join_the_group(MAYA, "Maya")
    async with world.sessions() as session:  # a reminder queued for later, to the old id
        await enqueue(
            session,
            key="later",
            chat_id=BASIC,
            text="See you tomorrow",
            now=world.clock.now(),
            not_before=world.clock.now() + timedelta(hours=1),
        )
        await session.commit()

    await world.telegram.upgrade_group(BASIC, by_user_id=COACH_ID, new_chat_id=UPGRADED)
    world.clock.advance(timedelta(hours=2))
    await world.deliver()
    await jobs.send_daily_prompts({"services": world.runtime})
    await world.deliver()
    seat = await world.join_and_pay(NOA, "Noa")
    await world.telegram.join_request(NOA, UPGRADED, invite_link=seat.invite_link)
    await world.telegram.settle()

    async with world.sessions() as session:
        groups = await list_groups(session)
    assert [group.chat_id for group in groups] == [UPGRADED]
    texts = [m.text or "" for m in world.telegram.sent_by_bot(UPGRADED)]
    assert "See you tomorrow" in texts
    assert len(texts) >= 2  # and the prompt of the day
    assert world.telegram.members(UPGRADED)[NOA] == "member"


async def test_an_upgrade_by_a_co_admin_keeps_the_bot_in_the_new_supergroup(
    basic_world: World,
) -> None:
    world = basic_world
    await world.join_the_group(MAYA, "Maya")
    await world.telegram.admin_promotes(BASIC, MAYA, by_user_id=COACH_ID)

    await world.telegram.upgrade_group(BASIC, by_user_id=MAYA, new_chat_id=UPGRADED)
    await world.settle()

    assert world.telegram.members(UPGRADED)[world.telegram.bot_id] == "administrator"
    async with world.sessions() as session:
        assert [group.chat_id for group in await list_groups(session)] == [UPGRADED]


async def test_a_message_still_addressed_to_the_old_id_is_delivered_to_the_new_one(
    basic_world: World,
) -> None:
    world = basic_world
    await world.telegram.upgrade_group(BASIC, by_user_id=COACH_ID, new_chat_id=UPGRADED)
    await world.settle()
    async with world.sessions() as session:  # written by a job that read the old id
        await enqueue(session, key="late", chat_id=BASIC, text="Hello", now=world.clock.now())
        await session.commit()

    await world.deliver()

    assert [m.text for m in world.telegram.sent_by_bot(UPGRADED)][-1:] == ["Hello"]
    assert "Hello" not in [m.text for m in world.telegram.sent_by_bot(BASIC)]
    async with world.sessions() as session:
        row = await session.exec(select(OutboxMessage).where(col(OutboxMessage.key) == "late"))
        assert row.one().chat_id == UPGRADED


# 4. Basic groups: removal, the removed person's note, the alert without a link


async def test_an_intruder_in_a_basic_group_is_removed_and_told_why(basic_world: World) -> None:
    world = basic_world
    world.person(NOA, "Noa")
    await world.telegram.user_sends(NOA, text="/start")

    await world.telegram.user_joins(NOA, BASIC)
    await world.deliver()  # taken out after the arrival's commit, by the outbox
    await world.telegram.settle()

    assert world.telegram.members(BASIC)[NOA] == "left"
    assert "take you out of it" in world.texts(NOA)[-1]
    assert (await world.runtime.bot.get_webhook_info()).pending_update_count == 0


async def test_the_coach_removes_a_member_of_a_basic_group(basic_world: World) -> None:
    world = basic_world
    await world.join_the_group(MAYA, "Maya")

    await world.telegram.user_sends(COACH_ID, text="/remove @maya")
    await world.settle()

    assert world.telegram.members(BASIC)[MAYA] == "left"
    assert "ended your seat" in world.texts(MAYA)[-1]
    assert world.told(COACH_ID, "Maya is out") == 1


async def test_an_alert_from_a_basic_group_quotes_the_words_as_there_is_no_link(
    basic_world: World,
) -> None:
    world = basic_world
    await world.join_the_group(MAYA, "Maya")

    await world.telegram.user_sends(MAYA, BASIC, text=RISKY)
    await world.deliver()

    alert = next(t for t in world.texts(COACH_ID) if "Urgent" in t)
    assert RISKY in alert
    assert "t.me/c/" not in alert


# 5. A co-admin changing the bot's rights


async def test_a_co_admin_changing_the_bots_rights_leaves_it_in_and_the_coach_hears(
    world: World,
) -> None:
    await world.join_the_group(BEA, "Bea")
    await world.telegram.admin_promotes(GROUP, BEA, by_user_id=COACH_ID)

    await world.telegram.admin_changes_bot_rights(
        GROUP, by_user_id=BEA, can_restrict_members=False
    )

    assert world.telegram.members(GROUP)[world.telegram.bot_id] == "administrator"
    async with world.sessions() as session:
        group = await find_group(session, chat_id=GROUP)
    assert group is not None and group.bot_can_restrict is False and group.bot_can_invite
    assert "Ban users" in world.texts(COACH_ID)[-1]


# 6. Anonymous admins, channels, automatic forwards


async def test_an_anonymous_admins_words_pass_the_safety_net(world: World) -> None:
    await world.telegram.admin_sends_anonymously(COACH_ID, GROUP, text=RISKY)
    await world.deliver()

    alert = next(t for t in world.texts(COACH_ID) if "Urgent" in t)
    assert "anonymous" in alert.lower()
    assert "t.me/c/1009000000/" in alert


async def test_words_sent_as_a_channel_pass_the_safety_net(world: World) -> None:
    await world.join_the_group(MAYA, "Maya")

    await world.telegram.user_sends_as_channel(
        MAYA, GROUP, channel_id=-1009990001111, channel_title="Maya writes", text=RISKY
    )
    await world.deliver()

    alert = next(t for t in world.texts(COACH_ID) if "Urgent" in t)
    assert "Maya writes" in alert


async def test_automatic_forwards_from_a_linked_channel_are_nobodys_check_ins(
    world: World,
) -> None:
    await world.telegram.channel_post_forwarded(
        GROUP, channel_id=-1009990002222, channel_title="Between news", text="A new post"
    )
    await world.deliver()

    async with world.sessions() as session:
        people = await session.exec(select(Member.telegram_id))
        entries = await session.exec(select(func.count()).select_from(Entry))
        assert 777000 not in people.all()
        assert entries.one() == 0
