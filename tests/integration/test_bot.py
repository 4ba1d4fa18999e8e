"""The bot in private chats and groups, driven by updates from the sandbox Telegram."""

from __future__ import annotations

from sqlmodel import select

from app.runtime import Runtime
from core.db import SessionFactory
from core.groups import register_group
from core.models import Group, Member
from sandbox.telegram import TelegramSandbox
from tests.integration.conftest import START, count, feed
from tests.integration.world import COACH_ID

ANA = 2001
STRANGER = 2002
GROUP = -1001234


async def test_start_welcomes_with_price_seats_and_the_crisis_note(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox
) -> None:
    async with sessions() as session:
        await register_group(session, chat_id=GROUP, title="Between", capacity=3, now=START)
        await session.commit()
    telegram.add_user(ANA, "Ana")

    await feed(runtime, await telegram.user_sends(ANA, text="/start"))

    [welcome] = telegram.sent_by_bot(ANA)
    assert welcome.text is not None
    assert welcome.text.startswith("Hello, Ana.")
    assert "$31 a month" in welcome.text
    assert "3 seats left" in welcome.text
    assert "not a crisis service" in welcome.text
    assert welcome.reply_markup is not None
    async with sessions() as session:
        member = (await session.exec(select(Member))).one()
    assert (member.telegram_id, member.first_name, member.started_at) == (ANA, "Ana", START)


async def test_a_name_full_of_html_is_shown_as_typed(
    runtime: Runtime, telegram: TelegramSandbox
) -> None:
    telegram.add_user(ANA, "<b>Ana</b> & <i>co")
    await feed(runtime, await telegram.user_sends(ANA, text="/start"))
    [welcome] = telegram.sent_by_bot(ANA)  # the sandbox refuses broken HTML, as Telegram does
    assert welcome.text is not None and welcome.text.startswith("Hello, <b>Ana</b> & <i>co.")


async def test_help_by_command_and_by_button(runtime: Runtime, telegram: TelegramSandbox) -> None:
    telegram.add_user(ANA, "Ana")
    await feed(runtime, await telegram.user_sends(ANA, text="/help"))
    await feed(runtime, await telegram.user_sends(ANA, text="/start"))
    welcome = telegram.sent_by_bot(ANA)[-1]
    await feed(runtime, await telegram.user_presses(ANA, welcome, "help"))
    texts = [m.text or "" for m in telegram.sent_by_bot(ANA)]
    assert [t.startswith("What you can do here") for t in texts] == [True, False, True]


async def test_a_coach_adding_the_bot_registers_the_group_and_hears_what_rights_are_missing(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox
) -> None:
    telegram.add_group(GROUP, "Tuesday circle", admins=[COACH_ID])
    await feed(runtime, await telegram.user_sends(COACH_ID, text="/start"))

    update = await telegram.bot_added_to_group(
        GROUP, by_user_id=COACH_ID, can_restrict_members=False
    )
    await feed(runtime, update)

    told = telegram.sent_by_bot(COACH_ID)[-1].text or ""
    assert "I'm set up in Tuesday circle" in told
    assert "• Ban users" in told and "Invite users" not in told
    async with sessions() as session:
        group = (await session.exec(select(Group))).one()
    assert (group.chat_id, group.title, group.bot_can_invite, group.bot_can_restrict) == (
        GROUP,
        "Tuesday circle",
        True,
        False,
    )

    await feed(runtime, await telegram.bot_added_to_group(GROUP, by_user_id=COACH_ID))
    assert "I have every right I need" in (telegram.sent_by_bot(COACH_ID)[-1].text or "")
    assert await count(sessions, "groups") == 1


async def test_the_bot_leaves_a_group_anyone_else_adds_it_to(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox
) -> None:
    telegram.add_user(STRANGER, "Sam")
    telegram.add_group(GROUP, "Not ours", admins=[STRANGER])
    await feed(runtime, await telegram.bot_added_to_group(GROUP, by_user_id=STRANGER))
    assert [call.method for call in telegram.calls if call.method == "leaveChat"] == ["leaveChat"]
    assert await count(sessions, "groups") == 0


async def test_the_bot_says_nothing_in_the_group(
    runtime: Runtime, sessions: SessionFactory, telegram: TelegramSandbox
) -> None:
    telegram.add_user(ANA, "Ana")
    telegram.add_group(GROUP, "Tuesday circle", admins=[COACH_ID])
    await feed(runtime, await telegram.bot_added_to_group(GROUP, by_user_id=COACH_ID))
    await telegram.user_joins(ANA, GROUP)
    told_coach = len(telegram.sent_by_bot())
    await feed(runtime, await telegram.user_sends(ANA, GROUP, text="/start"))
    await feed(runtime, await telegram.user_sends(ANA, GROUP, text="/help"))
    assert len(telegram.sent_by_bot()) == told_coach
    assert telegram.sent_by_bot(GROUP) == []
