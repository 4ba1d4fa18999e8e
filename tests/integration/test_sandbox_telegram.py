"""The Telegram sandbox, driven by a real aiogram Bot as the app drives Telegram."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage
from aiogram.types import (
    BufferedInputFile,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from aiohttp.test_utils import TestServer

from sandbox.telegram import (
    BOT_USER_ID,
    SANDBOX_BOT_TOKEN,
    ActionRefused,
    TelegramSandbox,
)

ANN = 1001
BEN = 1002
GROUP = -1001234567890
FAST = 1_000_000.0  # rate_scale for tests that are not about flood limits: a window of 1 µs


class _UnknownMethod(SendMessage):
    """A method Telegram does not have."""

    __api_method__ = "sendTelepathy"


@asynccontextmanager
async def running(
    rate_scale: float = FAST, **options: Any
) -> AsyncIterator[tuple[TelegramSandbox, Bot]]:
    """A started sandbox and an aiogram Bot pointed at it, both closed afterwards."""
    sandbox = TelegramSandbox(rate_scale=rate_scale, **options)
    base_url = await sandbox.start()
    bot = Bot(
        SANDBOX_BOT_TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)),
    )
    try:
        yield sandbox, bot
    finally:
        await bot.session.close()
        await sandbox.stop()


@pytest.fixture
async def world() -> AsyncIterator[tuple[TelegramSandbox, Bot]]:
    async with running() as (sandbox, bot):
        sandbox.add_user(ANN, "Ann", last_name="Lee", username="ann")
        sandbox.add_user(BEN, "Ben")
        yield sandbox, bot


async def group_with_bot(sandbox: TelegramSandbox) -> None:
    """GROUP, created by Ann, with the bot as an administrator."""
    sandbox.add_group(GROUP, "Between — spring cohort", admins=[ANN])
    await sandbox.bot_added_to_group(GROUP, by_user_id=ANN)


async def test_send_message_appears_in_the_private_chat(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    me = await bot.get_me()
    await sandbox.user_sends(ANN, text="/start")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Done", callback_data="done:1")]]
    )

    sent = await bot.send_message(
        ANN, "<b>Hello</b>, Ann", parse_mode="HTML", reply_markup=keyboard
    )

    assert me.id == BOT_USER_ID and me.is_bot
    assert isinstance(sent, Message) and sent.chat.id == ANN
    first, second = sandbox.messages(ANN)
    assert (first.sender_id, first.text) == (ANN, "/start")
    assert first.raw["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert (second.sender_id, second.kind, second.text) == (BOT_USER_ID, "text", "Hello, Ann")
    assert second.raw["entities"] == [{"type": "bold", "offset": 0, "length": 5}]
    assert second.reply_markup == {
        "inline_keyboard": [[{"text": "Done", "callback_data": "done:1"}]]
    }
    assert sandbox.sent_by_bot() == [second]
    assert sandbox.chats() == [ANN]
    assert sandbox.chat_title(ANN) == "Ann Lee"
    recorded = sandbox.calls[-1]
    assert (recorded.method, recorded.status) == ("sendMessage", 200)
    assert recorded.params["reply_markup"] == second.reply_markup  # decoded, not a string


async def test_html_must_be_valid_and_names_escaped(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world
    await sandbox.user_sends(ANN, text="hi")
    name = "Ann <3 & co"

    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(ANN, "<b>Welcome", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "3"'):
        await bot.send_message(ANN, f"Welcome, <b>{name}</b>", parse_mode="HTML")
    await bot.send_message(ANN, f"Welcome, <b>{html.escape(name)}</b>", parse_mode="HTML")

    assert [message.text for message in sandbox.sent_by_bot(ANN)] == ["Welcome, Ann <3 & co"]


async def test_telegram_refusals(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world

    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(4242, "hello")
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(BEN, "hello")
    await sandbox.user_sends(BEN, text="hi")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(BEN, "")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(BEN, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="Character '.' is reserved"):
        await bot.send_message(BEN, "Done.", parse_mode="MarkdownV2")
    with pytest.raises(TelegramNotFound):
        await bot(_UnknownMethod(chat_id=BEN, text="?"))

    assert sandbox.sent_by_bot() == []
    assert [call.status for call in sandbox.calls] == [400, 403, 400, 400, 400, 404]


async def test_the_injected_clock_dates_messages_and_ages_them() -> None:
    moments = [datetime(2025, 3, 1, 9, 0, tzinfo=UTC)]
    async with running(now=lambda: moments[-1]) as (sandbox, bot):
        sandbox.add_user(ANN, "Ann")
        await sandbox.user_sends(ANN, text="hi")
        sent = await bot.send_message(ANN, "Good morning")
        moments.append(moments[0] + timedelta(hours=49))

        with pytest.raises(TelegramBadRequest, match="can't be deleted for everyone"):
            await bot.delete_message(ANN, sent.message_id)
        assert sent.date == moments[0]
        assert [message.date for message in sandbox.messages(ANN)] == [moments[0]] * 2


async def test_blocked_bot_is_forbidden_until_the_user_writes_again(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    await sandbox.user_sends(ANN, text="hi")
    sandbox.block_bot(ANN)

    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ANN, "still there?")
    await sandbox.user_sends(ANN, text="/start")
    await bot.send_message(ANN, "welcome back")

    assert [message.text for message in sandbox.sent_by_bot(ANN)] == ["welcome back"]


async def test_injected_failures_then_success(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world
    await sandbox.user_sends(ANN, text="hi")
    sandbox.fail_next("sendMessage", status=500)
    sandbox.fail_next("sendMessage", status=429, retry_after=7)

    with pytest.raises(TelegramServerError):
        await bot.send_message(ANN, "one")
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(ANN, "two")
    await bot.send_message(ANN, "three")

    assert refused.value.retry_after == 7
    assert [message.text for message in sandbox.sent_by_bot(ANN)] == ["three"]
    assert [(call.status, call.retry_after) for call in sandbox.calls[-3:]] == [
        (500, None),
        (429, 7),
        (200, None),
    ]


async def test_one_message_per_second_to_a_chat() -> None:
    async with running(rate_scale=1.0) as (sandbox, bot):
        sandbox.add_user(ANN, "Ann")
        await sandbox.user_sends(ANN, text="hi")

        await bot.send_message(ANN, "first")
        with pytest.raises(TelegramRetryAfter) as refused:
            await bot.send_message(ANN, "second")

        assert refused.value.retry_after >= 1
        assert [message.text for message in sandbox.sent_by_bot(ANN)] == ["first"]
        assert sandbox.calls[-1].status == 429 and sandbox.calls[-1].retry_after == 1
        assert sandbox.rate_limited == 1


async def test_rate_scale_speeds_the_limits_up() -> None:
    async with running(rate_scale=20.0) as (sandbox, bot):  # one message per 50 ms per chat
        sandbox.add_user(ANN, "Ann")
        await sandbox.user_sends(ANN, text="hi")

        await bot.send_message(ANN, "first")
        await asyncio.sleep(0.06)
        await bot.send_message(ANN, "second")

        assert len(sandbox.sent_by_bot(ANN)) == 2
        assert sandbox.rate_limited == 0


async def test_thirty_messages_per_second_overall() -> None:
    async with running(rate_scale=1.0) as (sandbox, bot):
        for user_id in range(2000, 2031):
            sandbox.add_user(user_id, f"Member {user_id}")
            await sandbox.user_sends(user_id, text="hi")

        for user_id in range(2000, 2030):
            await bot.send_message(user_id, "reminder")
        with pytest.raises(TelegramRetryAfter) as refused:
            await bot.send_message(2030, "reminder")

        assert refused.value.retry_after >= 1
        assert len(sandbox.sent_by_bot()) == 30
        assert sandbox.messages(2030)[-1].sender_id == 2030


async def test_twenty_messages_per_minute_to_a_group() -> None:
    scale = 50.0  # one message per 20 ms per chat; 20 per 1.2 s per group
    async with running(rate_scale=scale) as (sandbox, bot):
        sandbox.add_user(ANN, "Ann")
        await group_with_bot(sandbox)

        for number in range(20):
            await bot.send_message(GROUP, f"prompt {number}")
            await asyncio.sleep(1.1 / scale)
        with pytest.raises(TelegramRetryAfter) as refused:
            await bot.send_message(GROUP, "one too many")

        assert refused.value.retry_after >= 1
        assert len(sandbox.sent_by_bot(GROUP)) == 20


async def test_get_updates_long_polls_until_a_user_writes(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)

    delivered = await sandbox.user_sends(ANN, text="I did the breathing practice")
    updates = await asyncio.wait_for(poll, 2)

    assert [update.update_id for update in updates] == [delivered["update_id"]]
    update = updates[0]
    assert isinstance(update, Update) and isinstance(update.message, Message)
    assert update.message.text == "I did the breathing practice"
    assert update.message.from_user is not None and update.message.from_user.username == "ann"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []
    assert sandbox.pending_updates == []


async def test_webhook_receives_updates_with_the_secret(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    async with TestServer(app) as server:
        url = str(server.make_url("/telegram"))
        await bot.set_webhook(url, secret_token="s3cret-token")

        update = await sandbox.user_sends(ANN, text="hello")
        status = await sandbox.deliver({"message": update["message"]})

        assert (await bot.get_webhook_info()).url == url
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()
        await bot.delete_webhook()

    assert status == 200
    assert [secret for secret, _ in received] == ["s3cret-token", "s3cret-token"]
    assert received[0][1]["message"]["text"] == "hello"
    assert received[1][1]["update_id"] == received[0][1]["update_id"] + 1


async def test_webhook_reply_is_executed(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> SendMessage:
        return message.answer(f"you said: {message.text}")

    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token="abc").register(
        app, path="/hook"
    )
    async with TestServer(app) as server:
        await bot.set_webhook(str(server.make_url("/hook")), secret_token="abc")
        await sandbox.user_sends(ANN, text="ping")

    assert [message.text for message in sandbox.messages(ANN)] == ["ping", "you said: ping"]


async def test_invite_link_join_request_and_approval(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world
    await group_with_bot(sandbox)
    link = await bot.create_chat_invite_link(GROUP, name="Ben", creates_join_request=True)

    request = await sandbox.join_request(BEN, GROUP, invite_link=link.invite_link)
    await bot.send_message(BEN, "We got your request")  # allowed while the request is open
    await bot.approve_chat_join_request(GROUP, BEN)

    assert link.invite_link.startswith("https://t.me/+")
    assert request["chat_join_request"]["invite_link"]["invite_link"] == link.invite_link
    updates = await bot.get_updates(timeout=0)
    join_requests = [update.chat_join_request for update in updates if update.chat_join_request]
    assert join_requests[0].invite_link is not None
    assert join_requests[0].invite_link.invite_link == link.invite_link
    assert sandbox.members(GROUP)[BEN] == "member"
    assert isinstance(await bot.get_chat_member(GROUP, BEN), ChatMemberMember)
    assert sandbox.messages(GROUP)[-1].kind == "new_chat_members"
    with pytest.raises(TelegramBadRequest, match="USER_ALREADY_PARTICIPANT"):
        await bot.approve_chat_join_request(GROUP, BEN)


async def test_revoked_link_lets_nobody_in(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world
    await group_with_bot(sandbox)
    link = await bot.create_chat_invite_link(GROUP, creates_join_request=True)
    revoked = await bot.revoke_chat_invite_link(GROUP, link.invite_link)

    with pytest.raises(ActionRefused, match="revoked"):
        await sandbox.join_request(BEN, GROUP, invite_link=link.invite_link)
    assert revoked.is_revoked


async def test_ban_then_unban_only_if_banned_leaves_them_out(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    await group_with_bot(sandbox)
    await sandbox.user_joins(BEN, GROUP)

    await bot.unban_chat_member(GROUP, BEN, only_if_banned=True)
    assert sandbox.members(GROUP)[BEN] == "member"  # only_if_banned spares a member
    await bot.ban_chat_member(GROUP, BEN)
    assert sandbox.members(GROUP)[BEN] == "kicked"
    await bot.unban_chat_member(GROUP, BEN, only_if_banned=True)

    assert sandbox.members(GROUP)[BEN] == "left"
    assert (await bot.get_chat_member(GROUP, BEN)).status == "left"
    assert [message.kind for message in sandbox.messages(GROUP)][-1] == "left_chat_member"
    with pytest.raises(TelegramBadRequest, match="can't remove chat owner"):
        await bot.ban_chat_member(GROUP, ANN)


async def test_send_document_keeps_the_file_name(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world
    await sandbox.user_sends(ANN, text="hi")
    worksheet = BufferedInputFile(b"%PDF-1.4 week one", filename="week-1.pdf")

    sent = await bot.send_document(
        ANN, worksheet, caption="Your <i>worksheet</i>", parse_mode="HTML"
    )
    again = await bot.send_document(ANN, sent.document.file_id if sent.document else "")

    stored = sandbox.sent_by_bot(ANN)
    assert [(m.kind, m.file_name, m.text) for m in stored] == [
        ("document", "week-1.pdf", "Your worksheet"),
        ("document", "week-1.pdf", None),
    ]
    assert sent.document is not None and sent.document.file_size == 17
    assert again.document is not None and again.document.file_id == sent.document.file_id
    assert sandbox.calls[-2].params["document"] == {"file_name": "week-1.pdf", "file_size": 17}


async def test_button_press_answer_and_edit(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world
    await sandbox.user_sends(ANN, text="/today")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Done", callback_data="done")]]
    )
    await bot.send_message(ANN, "Today's practice", reply_markup=keyboard)
    [prompt] = sandbox.sent_by_bot(ANN)

    press = await sandbox.user_presses(ANN, prompt, "done")
    query_id = press["callback_query"]["id"]
    await bot.answer_callback_query(query_id, text="Noted")
    await bot.edit_message_text("Today's practice ✓", chat_id=ANN, message_id=prompt.message_id)

    assert sandbox.callback_answers[query_id] == {"text": "Noted"}
    assert (prompt.text, prompt.reply_markup) == ("Today's practice ✓", None)
    with pytest.raises(ActionRefused):
        await sandbox.user_presses(ANN, prompt, "done")  # the keyboard is gone
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Today's practice ✓", chat_id=ANN, message_id=prompt.message_id
        )
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)


async def test_chat_member_updates_only_when_asked_for(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    await group_with_bot(sandbox)
    await sandbox.user_joins(BEN, GROUP)
    by_default = await bot.get_updates(timeout=0)
    offset = by_default[-1].update_id + 1
    await bot.get_updates(offset=offset, timeout=0, allowed_updates=["chat_member"])
    sandbox.add_user(3000, "Cleo")
    await sandbox.user_joins(3000, GROUP)
    asked_for = await bot.get_updates(offset=offset, timeout=0)

    assert not any(update.chat_member for update in by_default)
    assert [update.message.content_type for update in by_default if update.message] == [
        "new_chat_members",
        "new_chat_members",
    ]
    joined = [update.chat_member for update in asked_for if update.chat_member]
    assert [
        (change.old_chat_member.status, change.new_chat_member.status) for change in joined
    ] == [("left", "member")]
    assert len(asked_for) == 1
