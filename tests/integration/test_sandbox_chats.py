"""The sandbox's groups, senders and limits as Telegram has them: basic groups and
supergroups, the upgrade from one to the other, anonymous admins and channels, text limits
after parsing, command menus."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeChatAdministrators,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)

from sandbox.telegram import BOT_USER_ID, SANDBOX_BOT_TOKEN, TelegramSandbox

ANN = 1001
BEN = 1002
CLEO = 1003
BASIC = -4070001  # a basic group's id: -1 … -999999999999
SUPER = -1004070001234  # a supergroup's: -100…


@pytest.fixture
async def world() -> AsyncIterator[tuple[TelegramSandbox, Bot]]:
    sandbox = TelegramSandbox(rate_scale=1_000_000.0)
    base_url = await sandbox.start()
    bot = Bot(SANDBOX_BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    sandbox.add_user(ANN, "Ann", started=True)
    sandbox.add_user(BEN, "Ben", started=True)
    sandbox.add_user(CLEO, "Cleo")
    try:
        yield sandbox, bot
    finally:
        await bot.session.close()
        await sandbox.stop()


async def polled(bot: Bot) -> list[Update]:
    updates = await bot.get_updates(timeout=0)
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates


async def test_the_id_says_the_kind_of_group_and_a_basic_group_has_no_ban_list(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    sandbox.add_group(BASIC, "Basic", admins=[ANN])
    sandbox.add_group(SUPER, "Super", admins=[ANN])
    for chat in (BASIC, SUPER):
        await sandbox.bot_added_to_group(chat, by_user_id=ANN)
        await sandbox.user_joins(BEN, chat)

    basic, super_ = await bot.get_chat(BASIC), await bot.get_chat(SUPER)
    await bot.ban_chat_member(BASIC, BEN)
    with pytest.raises(
        TelegramBadRequest, match="available for supergroup and channel chats only"
    ):
        await bot.unban_chat_member(BASIC, BEN, only_if_banned=True)
    await bot.ban_chat_member(SUPER, BEN)
    await bot.unban_chat_member(SUPER, BEN, only_if_banned=True)
    with pytest.raises(TelegramBadRequest, match="can't ban members in private chats"):
        await bot.ban_chat_member(ANN, BEN)

    assert (basic.type, super_.type) == ("group", "supergroup")
    assert sandbox.members(BASIC)[BEN] == "left"  # removed, not banned: may come back
    assert sandbox.members(SUPER)[BEN] == "left"
    await sandbox.user_joins(BEN, BASIC)


async def test_refusals_name_the_kind_of_group(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world
    sandbox.add_group(BASIC, "Basic", admins=[ANN])
    sandbox.add_group(SUPER, "Super", admins=[ANN])
    for chat in (BASIC, SUPER):
        await sandbox.bot_added_to_group(chat, by_user_id=ANN)
        await sandbox.admin_removes_bot(chat, by_user_id=ANN)

    with pytest.raises(TelegramForbiddenError, match="is not a member of the group chat"):
        await bot.send_message(BASIC, "hello")
    with pytest.raises(TelegramForbiddenError, match="kicked from the supergroup chat"):
        await bot.send_message(SUPER, "hello")


async def test_an_admin_changing_only_the_bots_rights_is_a_my_chat_member_from_them(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    sandbox.add_group(SUPER, "Super", admins=[ANN, BEN])
    await sandbox.bot_added_to_group(SUPER, by_user_id=ANN)
    await polled(bot)

    await sandbox.admin_changes_bot_rights(SUPER, by_user_id=BEN, can_restrict_members=False)
    [update] = await polled(bot)

    changed = update.my_chat_member
    assert changed is not None and changed.from_user.id == BEN
    assert (changed.old_chat_member.status, changed.new_chat_member.status) == (
        "administrator",
        "administrator",
    )
    assert changed.new_chat_member.can_restrict_members is False  # type: ignore[union-attr]


async def test_an_upgraded_group_moves_to_a_new_id_and_the_old_one_says_where(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    sandbox.add_group(BASIC, "Circle", admins=[ANN])
    await sandbox.bot_added_to_group(BASIC, by_user_id=ANN)
    await sandbox.user_joins(BEN, BASIC)
    await polled(bot)

    new_id = await sandbox.upgrade_group(BASIC, by_user_id=ANN, new_chat_id=SUPER)
    updates = await polled(bot)
    with pytest.raises(TelegramMigrateToChat) as moved:
        await bot.send_message(BASIC, "hello")
    still_readable = await bot.get_chat(BASIC)
    sent = await bot.send_message(SUPER, "hello")

    assert new_id == SUPER and moved.value.migrate_to_chat_id == SUPER
    mine, old_side, new_side = updates
    assert mine.my_chat_member is not None and mine.my_chat_member.chat.id == SUPER
    assert old_side.message is not None and old_side.message.migrate_to_chat_id == SUPER
    assert new_side.message is not None and new_side.message.migrate_from_chat_id == BASIC
    assert new_side.message.message_id == 1 and new_side.message.chat.type == "supergroup"
    assert new_side.message.from_user is not None
    assert new_side.message.from_user.username == "GroupAnonymousBot"
    assert still_readable.type == "group"
    assert sent.message_id == 2
    assert sandbox.members(SUPER)[BEN] == "member"


async def test_messages_sent_as_a_chat_carry_a_stand_in_sender(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    sandbox.add_group(SUPER, "Super", admins=[ANN])
    await sandbox.bot_added_to_group(SUPER, by_user_id=ANN)
    await sandbox.user_joins(BEN, SUPER)
    await polled(bot)

    await sandbox.admin_sends_anonymously(ANN, SUPER, text="From the group", signature="Host")
    await sandbox.user_sends_as_channel(
        BEN, SUPER, channel_id=-1009990001111, channel_title="Ben's notes", text="As a channel"
    )
    await sandbox.channel_post_forwarded(
        SUPER, channel_id=-1009990002222, channel_title="News", text="A post"
    )
    anonymous, as_channel, forwarded = [u.message for u in await polled(bot)]

    assert anonymous is not None and anonymous.from_user is not None
    assert (anonymous.from_user.id, anonymous.from_user.is_bot) == (1087968824, True)
    assert anonymous.sender_chat is not None and anonymous.sender_chat.id == SUPER
    assert anonymous.author_signature == "Host"
    assert as_channel is not None and as_channel.from_user is not None
    assert as_channel.from_user.id == 136817688 and as_channel.sender_chat is not None
    assert as_channel.sender_chat.type == "channel"
    assert forwarded is not None and forwarded.from_user is not None
    assert (forwarded.from_user.id, forwarded.from_user.is_bot) == (777000, False)
    assert forwarded.is_automatic_forward is True


async def test_text_is_measured_after_parsing_and_trimming(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    exactly = "<b>" + "x" * 4096 + "</b>"

    sent = await bot.send_message(ANN, "\n  " + exactly + "  \n", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ANN, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="text must be non-empty"):
        await bot.send_message(ANN, "  \n ")
    with pytest.raises(TelegramBadRequest, match="text must be non-empty"):
        await bot.send_message(ANN, "<b></b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="text is too long"):
        await bot.send_message(ANN, "é" * 16385)
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "b/"'):
        await bot.send_message(ANN, "a<b/>b", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Unclosed start tag at byte offset 8"):
        await bot.send_message(ANN, "I &lt;3 <", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="unsupported parse_mode$"):
        await bot.send_message(ANN, "hi", parse_mode="XML")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(ANN, "https://example.org/a.jpg", caption="y" * 1025)

    assert sent.text == "x" * 4096
    assert sent.entities is not None and sent.entities[0].offset == 0


async def test_buttons_callback_data_and_empty_buttons(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world

    def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[list(buttons)])

    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(
            ANN, "a", reply_markup=keyboard(InlineKeyboardButton(text="A", callback_data="x" * 65))
        )
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(
            ANN, "a", reply_markup=keyboard(InlineKeyboardButton(text="A", callback_data=""))
        )
    sent = await bot.send_message(
        ANN,
        "a",
        reply_markup=keyboard(
            InlineKeyboardButton(text="A", callback_data="x" * 64),
            InlineKeyboardButton(text="", callback_data="dropped"),
        ),
    )

    assert sent.reply_markup is not None
    assert [b.text for b in sent.reply_markup.inline_keyboard[0]] == ["A"]


async def test_a_person_may_refuse_voice_messages(world: tuple[TelegramSandbox, Bot]) -> None:
    sandbox, bot = world
    sandbox.refuse_voice_messages(ANN)
    await sandbox.user_sends(BEN, voice_seconds=4)
    voice = sandbox.messages(BEN)[-1]

    with pytest.raises(TelegramBadRequest, match="VOICE_MESSAGES_FORBIDDEN"):
        await bot.copy_message(ANN, BEN, voice.message_id)
    await bot.copy_message(BEN, BEN, voice.message_id)  # anyone else still may


async def test_a_pin_tells_the_bot_with_a_service_message(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    sandbox.add_group(SUPER, "Super", admins=[ANN])
    await sandbox.bot_added_to_group(SUPER, by_user_id=ANN)
    await polled(bot)
    sent = await bot.send_message(SUPER, "Reminder")

    await bot.pin_chat_message(SUPER, sent.message_id)
    [update] = await polled(bot)

    assert update.message is not None and update.message.from_user is not None
    assert update.message.from_user.id == BOT_USER_ID
    assert update.message.pinned_message is not None
    assert update.message.pinned_message.message_id == sent.message_id
    assert [m.text for m in sandbox.sent_by_bot(SUPER)] == ["Reminder"]


async def test_a_join_request_another_admin_handled_is_gone_for_the_bot(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    sandbox.add_group(SUPER, "Super", admins=[ANN])
    await sandbox.bot_added_to_group(SUPER, by_user_id=ANN)
    link = await bot.create_chat_invite_link(SUPER, creates_join_request=True)
    await sandbox.join_request(BEN, SUPER, invite_link=link.invite_link)
    await sandbox.join_request(CLEO, SUPER, invite_link=link.invite_link)

    await sandbox.admin_handles_join_request(SUPER, BEN, by_user_id=ANN, approve=True)
    await sandbox.admin_handles_join_request(SUPER, CLEO, by_user_id=ANN, approve=False)

    with pytest.raises(TelegramBadRequest, match="USER_ALREADY_PARTICIPANT"):
        await bot.approve_chat_join_request(SUPER, BEN)
    with pytest.raises(TelegramBadRequest, match="HIDE_REQUESTER_MISSING"):
        await bot.approve_chat_join_request(SUPER, CLEO)
    assert sandbox.members(SUPER)[BEN] == "member"


async def test_command_menus_are_checked_and_a_chat_scope_replaces_the_wider_list(
    world: tuple[TelegramSandbox, Bot],
) -> None:
    sandbox, bot = world
    members = [BotCommand(command="start", description="Begin")]
    coach = [*members, BotCommand(command="/seats", description="  Seats  ")]

    await bot.set_my_commands(members, scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(coach, scope=BotCommandScopeChat(chat_id=ANN))
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.set_my_commands(coach, scope=BotCommandScopeChat(chat_id=CLEO))  # never started
    with pytest.raises(TelegramBadRequest, match="can't use specified scope in private chats"):
        await bot.set_my_commands(coach, scope=BotCommandScopeChatAdministrators(chat_id=ANN))
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Seats", description="x")])
    with pytest.raises(TelegramBadRequest, match="command length must not exceed 32"):
        await bot.set_my_commands([BotCommand(command="x" * 33, description="x")])
    with pytest.raises(TelegramBadRequest, match="description length must not exceed 256"):
        await bot.set_my_commands([BotCommand(command="x", description="x" * 257)])
    with pytest.raises(TelegramBadRequest, match="BOT_COMMANDS_TOO_MUCH"):
        await bot.set_my_commands(
            [BotCommand(command=f"c{n}", description="x") for n in range(101)]
        )

    assert [c["command"] for c in sandbox.my_commands_in(ANN)] == ["start", "seats"]
    assert sandbox.my_commands_in(ANN)[1]["description"] == "Seats"
    assert [c["command"] for c in sandbox.my_commands_in(BEN)] == ["start"]
