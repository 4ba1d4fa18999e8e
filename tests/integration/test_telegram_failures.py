"""The bot survives what the real Bot API does: refusals, passing failures, resends, slow
answers, polling, and tells people what happened."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from redis.asyncio import Redis
from sqlmodel import col, select

from app.doctor import run_checks
from app.serve import Part, running
from bot.gateway import create_bot
from core.clock import SimulatedClock
from core.db import SessionFactory
from core.models import OutboxMessage, OutboxState
from core.outbox import enqueue
from core.settings import Settings
from sandbox.telegram import SANDBOX_BOT_TOKEN, TelegramSandbox
from tests.integration.world import COACH_ID, GROUP, World

ANA = 5001
MAYA = 5002
RISKY = "Some nights I think everyone would be better off without me."


async def webhook_state(world: World) -> tuple[int, str | None]:
    info = await world.runtime.bot.get_webhook_info()
    return info.pending_update_count, info.last_error_message


# 1. Telegram's refusals are answered 200; passing failures are resent, holding the chat


async def test_a_refusal_from_telegram_is_logged_answered_200_and_holds_nothing(
    world: World,
) -> None:
    await world.telegram.admin_removes_bot(GROUP, by_user_id=COACH_ID)

    await world.telegram.user_sends(COACH_ID, text="/post Hello, everyone")  # 403 from Telegram
    await world.telegram.user_sends(COACH_ID, text="/seats")

    assert "Seats: 3" in world.texts(COACH_ID)[-1]
    assert await webhook_state(world) == (0, None)


async def test_a_passing_failure_is_resent_and_the_chat_waits_for_it(world: World) -> None:
    world.person(ANA, "Ana")
    world.telegram.fail_next("sendMessage", status=502, count=2, chat_id=ANA)

    await world.telegram.user_sends(ANA, text="/start")  # fails twice: resent in 2 s
    await world.telegram.user_sends(ANA, text="/help")  # waits behind it
    waiting = world.texts(ANA)
    world.clock.advance(timedelta(seconds=2))
    await world.telegram.settle()

    assert waiting == []
    welcome, help_text = world.texts(ANA)
    assert welcome.startswith("Hello, Ana.") and help_text.startswith("What you can do here")
    assert (await webhook_state(world))[0] == 0


async def test_a_join_request_another_admin_answered_first_holds_nothing(world: World) -> None:
    seat = await world.join_and_pay(ANA, "Ana")
    world.telegram.fail_next("approveChatJoinRequest", status=502, count=2)
    await world.telegram.join_request(ANA, GROUP, invite_link=seat.invite_link)
    # While the bot's answer waits to be tried again, the coach lets Ana in from the app.
    await world.telegram.admin_handles_join_request(GROUP, ANA, by_user_id=COACH_ID, approve=True)

    world.clock.advance(timedelta(seconds=2))
    await world.settle()

    arrived = await world.seat(ANA)
    assert arrived is not None and arrived.joined_at is not None  # the arrival was handled
    assert arrived.invite_link is None  # and the used link revoked
    assert (await webhook_state(world))[0] == 0


async def test_a_join_request_another_admin_declined_first_holds_nothing(world: World) -> None:
    seat = await world.join_and_pay(ANA, "Ana")
    world.telegram.fail_next("approveChatJoinRequest", status=502, count=2)
    await world.telegram.join_request(ANA, GROUP, invite_link=seat.invite_link)
    await world.telegram.admin_handles_join_request(GROUP, ANA, by_user_id=COACH_ID, approve=False)

    world.clock.advance(timedelta(seconds=2))
    await world.settle()
    await world.telegram.user_sends(ANA, text="/status")

    assert (await webhook_state(world))[0] == 0
    assert world.telegram.members(GROUP).get(ANA, "left") == "left"
    assert world.texts(ANA)[-1]  # her chat is not held


# 7. Relays to the coach go through the outbox


async def test_a_relay_that_fails_for_a_moment_still_reaches_the_coach(world: World) -> None:
    await world.join_the_group(MAYA, "Maya")
    world.telegram.fail_next("copyMessage", status=502, chat_id=COACH_ID)

    await world.telegram.user_sends(MAYA, text="Rough night, but I'm here.")
    await world.deliver()
    copy = next(
        m for m in world.telegram.sent_by_bot(COACH_ID) if m.text == "Rough night, but I'm here."
    )
    await world.telegram.user_sends(
        COACH_ID, text="Glad you wrote.", reply_to_message_id=copy.message_id
    )

    assert world.texts(MAYA)[-1] == "Coach\nGlad you wrote."  # under the coach's name
    headers = [t for t in world.texts(COACH_ID) if t.startswith("💬 Maya")]
    assert len(headers) == 1  # the header once, though the copy had to be tried again


async def test_a_reply_to_the_relay_header_finds_the_member_too(world: World) -> None:
    await world.join_the_group(MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="Small win today.")
    await world.deliver()
    header = next(
        m for m in world.telegram.sent_by_bot(COACH_ID) if (m.text or "").startswith("💬 Maya")
    )

    await world.telegram.user_sends(
        COACH_ID, text="Tell me more!", reply_to_message_id=header.message_id
    )

    assert world.texts(MAYA)[-1] == "Coach\nTell me more!"


# 8. A failed pin never changes a delivered message's outcome


async def test_a_pin_that_fails_never_sends_the_message_again(world: World) -> None:
    async with world.sessions() as session:
        await enqueue(
            session,
            key="qa-reminder",
            chat_id=GROUP,
            text="In an hour: the live Q&amp;A",
            pin=True,
            now=world.clock.now(),
        )
        await session.commit()
    world.telegram.fail_next("pinChatMessage", status=429, retry_after=60)

    await world.deliver()

    reminders = [m for m in world.telegram.sent_by_bot(GROUP) if "live Q&A" in (m.text or "")]
    assert [m.text for m in reminders] == ["In an hour: the live Q&A"]
    async with world.sessions() as session:
        row = (
            await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.key) == "qa-reminder")
            )
        ).one()
    assert row.state == OutboxState.SENT


# 9. Long polling


def polling(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": None})


async def wait_for(check: object, seconds: float = 10) -> None:
    assert callable(check)
    for _ in range(int(seconds * 100)):
        if check():
            return
        await asyncio.sleep(0.01)


async def test_polling_tries_a_failed_update_again_instead_of_skipping_it(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
) -> None:
    telegram.add_user(ANA, "Ana")
    telegram.fail_next("sendMessage", status=502, chat_id=ANA)

    async with running(polling(settings), {Part.POLLING}, clock=clock, cron=False):
        await telegram.user_sends(ANA, text="/start")
        await wait_for(lambda: telegram.sent_by_bot(ANA))
        await telegram.user_sends(ANA, text="/help")
        await wait_for(lambda: len(telegram.sent_by_bot(ANA)) == 2)

    welcome, help_text = [m.text or "" for m in telegram.sent_by_bot(ANA)]
    assert welcome.startswith("Hello, Ana.") and help_text.startswith("What you can do here")


async def test_stopping_lets_the_message_in_flight_finish_before_the_bot_closes(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
) -> None:
    telegram.add_user(ANA, "Ana", started=True)
    async with sessions() as session:
        await enqueue(session, key="note", chat_id=ANA, text="A note for you", now=clock.now())
        await session.commit()
    telegram.answer_late("sendMessage", 0.5)  # Telegram takes it, and answers late

    async with running(polling(settings), {Part.WORKER, Part.POLLING}, clock=clock, cron=False):
        await wait_for(lambda: telegram.sent_by_bot(ANA))

    async with sessions() as session:
        row = (await session.exec(select(OutboxMessage))).one()
    assert (row.state, row.telegram_message_id) == (OutboxState.SENT, 1)
    assert [m.text for m in telegram.sent_by_bot(ANA)] == ["A note for you"]


# 10. A refused voice reply is reported as that


async def test_a_voice_reply_to_a_member_who_refuses_voice_notes_is_reported_so(
    world: World,
) -> None:
    await world.join_the_group(MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="Could you say it out loud?")
    await world.deliver()
    copy = next(
        m for m in world.telegram.sent_by_bot(COACH_ID) if m.text == "Could you say it out loud?"
    )
    world.telegram.refuse_voice_messages(MAYA)

    await world.telegram.user_sends(
        COACH_ID, voice_seconds=20, reply_to_message_id=copy.message_id
    )

    told = world.texts(COACH_ID)[-1]
    assert "voice" in told and "text" in told
    assert "blocked" not in told


# 11. Command menus at start-up; the doctor reads getWebhookInfo


async def test_start_up_sets_the_members_menu_and_the_coachs(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SimulatedClock,
    telegram: TelegramSandbox,
) -> None:
    telegram.add_user(ANA, "Ana", started=True)
    telegram.add_user(COACH_ID + 1, "Second coach")  # never started the bot: no chat scope
    coaches = (COACH_ID, COACH_ID + 1)
    await telegram.user_sends(COACH_ID, text="/start")
    configured = polling(settings).model_copy(update={"coach_telegram_ids": coaches})

    async with running(configured, {Part.POLLING}, clock=clock, cron=False):
        await wait_for(lambda: telegram.my_commands_in(COACH_ID))

    member_menu = [c["command"] for c in telegram.my_commands_in(ANA)]
    coach_menu = [c["command"] for c in telegram.my_commands_in(COACH_ID)]
    assert {"start", "join", "help", "mydata"} <= set(member_menu)
    assert not {"seats", "thread", "members"} & set(member_menu)
    assert {"seats", "thread", "members", "start", "help"} <= set(coach_menu)


async def test_the_doctor_says_what_telegram_says_about_the_webhook(
    settings: Settings, sessions: SessionFactory, redis: Redis, telegram: TelegramSandbox
) -> None:
    bot = create_bot(SANDBOX_BOT_TOKEN, telegram.base_url)
    try:
        await bot.set_webhook("http://127.0.0.1:9/telegram/webhook")  # nobody listens there
    finally:
        await bot.session.close()
    telegram.add_user(ANA, "Ana")
    await telegram.user_sends(ANA, text="/start")

    checks = await run_checks(settings.model_copy(update={"public_url": "http://127.0.0.1:9"}))

    [webhook] = [check for check in checks if check.name == "telegram webhook"]
    assert not webhook.ok
    assert "1 update waiting" in webhook.detail
    assert "Connection refused" in webhook.detail
