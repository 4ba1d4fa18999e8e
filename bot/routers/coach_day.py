"""The coach's day in Telegram: replies that reach members, posts to the group, threads,
the member list, highlights and broadcasts. Only coaches; anyone else gets a polite no."""

from __future__ import annotations

from datetime import date, datetime

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import IN_A_GROUP, PRIVATE, IsCoach, Magic
from bot.naming import member_named
from bot.routers.coach import COACH_COMMANDS, refuse
from bot.said import coach_said
from coaching import digest, threads
from coaching.threads import Messenger
from core.groups import find_group, list_groups
from core.models import Member
from prompts.buttons import ApproveSummaries, OpenThread
from prompts.render import Templates
from scheduling import summaries

DAY_COMMANDS = ("thread", "members", "member", "highlight", "broadcast", "post")


def create_router() -> Router:
    router = Router(name="coach_day")
    router.message.register(thread_command, Command("thread", "member"), PRIVATE, IsCoach())
    router.callback_query.register(thread_button, OpenThread.filter(), IsCoach())
    router.message.register(members, Command("members"), PRIVATE, IsCoach())
    router.message.register(highlight, Command("highlight"), Magic(F.reply_to_message), IsCoach())
    router.message.register(highlight_usage, Command("highlight"), IsCoach())
    router.message.register(broadcast, Command("broadcast"), PRIVATE, IsCoach())
    router.message.register(post, Command("post"), PRIVATE, IsCoach())
    router.message.register(answer_member, PRIVATE, Magic(F.reply_to_message), IsCoach())
    router.callback_query.register(approve_summaries, ApproveSummaries.filter(), IsCoach())
    said_something = Magic(F.text | F.voice | F.video_note | F.caption)
    router.message.register(
        group_feedback, IN_A_GROUP, said_something, Magic(~F.text.startswith("/")), IsCoach()
    )
    # Last: coach commands from anyone else.
    router.message.register(refuse, Command(*COACH_COMMANDS, *DAY_COMMANDS), PRIVATE)
    return router


async def answer_member(
    message: Message,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    messenger: Messenger,
) -> None:
    """The coach replied to a member's relayed message: it goes to that member, as it is;
    replied to a summary draft with words, the words become the summary."""
    assert message.from_user is not None and message.reply_to_message is not None
    answers = message.reply_to_message.message_id
    if message.text:
        edited = await summaries.edit_from_reply(
            session,
            chat_id=message.chat.id,
            preview_message_id=answers,
            text=message.text,
            now=now,
        )
        if edited is not None:
            await message.reply(templates.render("coach_summary_edited", member=edited))
            return
    result = await threads.deliver_reply(
        session,
        messenger,
        reply=coach_said(message),
        answers=answers,
        coach_id=message.from_user.id,
        now=now,
    )
    await message.reply(templates.render("coach_reply", result=result), disable_notification=True)


async def group_feedback(message: Message, session: AsyncSession, now: datetime) -> None:
    """What the coach says in the group is kept as feedback (the members read it there)."""
    assert message.from_user is not None
    group = await find_group(session, chat_id=message.chat.id)
    if group is not None:
        await threads.record_reply(
            session, coach_said(message), coach_id=message.from_user.id, group_id=group.id, now=now
        )


async def post(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/post TEXT, or /post as a reply to your own voice note: it goes to the group."""
    assert message.from_user is not None
    groups = await list_groups(session)
    # The words after /post, or the message (a voice note, say) that /post replies to.
    feedback = message if command.args else message.reply_to_message
    if not groups or feedback is None:
        usage = "/post Your words for the group"
        await message.answer(templates.render("coach_usage", usage=usage))
        return
    for group in groups:
        await _post(bot, group.chat_id, command.args, feedback)
    only = groups[0].id if len(groups) == 1 else None
    await threads.record_reply(
        session, coach_said(feedback), coach_id=message.from_user.id, group_id=only, now=now
    )
    await message.answer(templates.render("coach_posted", groups=groups))


async def _post(bot: Bot, chat_id: int, words: str | None, feedback: Message) -> None:
    if words:
        await bot.send_message(chat_id, words, parse_mode=None)
    else:
        await bot.copy_message(chat_id, feedback.chat.id, feedback.message_id)


async def thread_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/thread @member (or /member @member): their recent check-ins and your replies."""
    member = await member_named(session, command.args or "", message, templates)
    if member is not None:
        await _show_thread(message, member, session, now, templates)


async def thread_button(
    query: CallbackQuery,
    callback_data: OpenThread,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    await query.answer()
    member = await session.get(Member, callback_data.member_id)
    if member is not None and isinstance(query.message, Message):
        await _show_thread(query.message, member, session, now, templates)


async def _show_thread(
    message: Message, member: Member, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    lines = await threads.thread(session, member)
    sent = await message.answer(templates.render("coach_thread", member=member, lines=lines))
    # Replying to the thread answers the member, like replying to a relayed message.
    await threads.remember_relay(
        session, coach_chat_id=message.chat.id, message_id=sent.message_id, member=member, now=now
    )


async def members(
    message: Message, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    """/members: status, streak, last active and waiting, for every seated member."""
    rows = await digest.members_overview(session, now)
    await message.answer(templates.render("coach_members", rows=rows))


async def highlight(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/highlight [insight], replying to a member's message: a win (or insight) for the summary."""
    assert message.from_user is not None and message.reply_to_message is not None
    kind = "insight" if (command.args or "").strip().lower() == "insight" else "win"
    marked = await threads.highlight(
        session,
        chat_id=message.chat.id,
        via_relay=message.chat.type == ChatType.PRIVATE,
        message_id=message.reply_to_message.message_id,
        kind=kind,
        coach_id=message.from_user.id,
        now=now,
    )
    if marked is None:
        await highlight_usage(message, templates)
        return
    text = templates.render("coach_highlighted", kind=kind)
    await bot.send_message(message.from_user.id, text, disable_notification=True)


async def highlight_usage(message: Message, templates: Templates) -> None:
    usage = "reply to a member's message with /highlight (or /highlight insight)"
    await message.answer(templates.render("coach_usage", usage=usage))


async def broadcast(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/broadcast TEXT: a private message to every member, through the outbox."""
    text = (command.args or "").strip()
    if not text:
        await message.answer(
            templates.render("coach_usage", usage="/broadcast Your words to every member")
        )
        return
    count = await threads.broadcast(
        session,
        templates,
        text=text,
        key=f"broadcast:{message.chat.id}:{message.message_id}",
        now=now,
    )
    await message.answer(templates.render("coach_broadcast", count=count))


async def approve_summaries(
    query: CallbackQuery,
    callback_data: ApproveSummaries,
    session: AsyncSession,
    templates: Templates,
) -> None:
    """ "Approve all" under the drafts: the week's summaries go out as they are."""
    await query.answer()
    if not isinstance(query.message, Message):
        return
    count = await summaries.approve_all(
        session, callback_data.group_id, date.fromisoformat(callback_data.week_start)
    )
    await query.message.answer(templates.render("coach_summaries_approved", count=count))
