"""The coach's day in Telegram: replies that reach members, posts to the group, threads,
the member list, highlights and broadcasts, and the buttons of the round. Only coaches;
anyone else gets a polite no."""

from __future__ import annotations

import logging
from datetime import date, datetime

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, ForceReply, Message, User
from sqlmodel.ext.asyncio.session import AsyncSession

from billing.membership import Membership
from bot.answers import calls_now
from bot.filters import IN_A_GROUP, PRIVATE, AnswersCoachQuestion, IsCoach, Magic
from bot.naming import member_named, read_names
from bot.parts import answer_in_parts
from bot.routers.coach import COACH_COMMANDS, comp_member, member_week, refuse, remove_member
from bot.said import coach_said
from coaching import asks, digest, posting, profiles, promises, threads
from coaching.rules import said_duration
from coaching.threads import Messenger
from core.groups import find_group, list_groups
from core.models import CoachQuestion, Entry, Member, PendingPost
from practice.words import Vocabulary
from prompts.buttons import (
    ApproveSummaries,
    GroupPost,
    OpenThread,
    PickMember,
    ReplaceSummary,
    SendTo,
    button,
    markup,
)
from prompts.render import Templates
from scheduling import summaries

log = logging.getLogger(__name__)

DAY_COMMANDS = ("thread", "members", "member", "highlight", "broadcast", "post", "profile")


def create_router() -> Router:
    router = Router(name="coach_day")
    router.message.register(thread_command, Command("thread", "member"), PRIVATE, IsCoach())
    router.callback_query.register(thread_button, OpenThread.filter(), IsCoach())
    router.callback_query.register(picked_member, PickMember.filter(), IsCoach())
    router.message.register(members, Command("members"), PRIVATE, IsCoach())
    router.message.register(highlight, Command("highlight"), Magic(F.reply_to_message), IsCoach())
    router.message.register(highlight_usage, Command("highlight"), IsCoach())
    router.callback_query.register(group_post_button, GroupPost.filter(), IsCoach())
    router.message.register(broadcast, Command("broadcast"), PRIVATE, IsCoach())
    router.message.register(post, Command("post"), PRIVATE, IsCoach())
    router.callback_query.register(send_to, SendTo.filter(), IsCoach())
    router.callback_query.register(ask_for_summary, ReplaceSummary.filter(), IsCoach())
    router.message.register(
        replace_summary, PRIVATE, IsCoach(), AnswersCoachQuestion(asks.SUMMARY_TEXT)
    )
    router.message.register(answer_member, PRIVATE, Magic(F.reply_to_message), IsCoach())
    router.callback_query.register(approve_summaries, ApproveSummaries.filter(), IsCoach())
    said_something = Magic(F.text | F.voice | F.video_note | F.caption)
    router.message.register(
        group_feedback, IN_A_GROUP, said_something, Magic(~F.text.startswith("/")), IsCoach()
    )
    # Last: coach commands from anyone else.
    router.message.register(refuse, Command(*COACH_COMMANDS, *DAY_COMMANDS), PRIVATE)
    return router


async def _speaker(session: AsyncSession, user: User) -> str:
    return await profiles.speaker(session, user.id, user.first_name)


async def answer_member(
    message: Message,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    messenger: Messenger,
) -> None:
    """The coach replied to a member's relayed message: it goes to that member, under the
    coach's name; replied to a summary draft, the words go at the top of that summary."""
    assert message.from_user is not None and message.reply_to_message is not None
    answers = message.reply_to_message.message_id
    draft = await summaries.draft_answered(
        session, chat_id=message.chat.id, preview_message_id=answers
    )
    if draft is not None and message.text:
        noted = await summaries.add_note(session, draft, message.text, now)
        await message.reply(templates.render("coach_summary_edited", member=noted, replaced=False))
        return
    result = await threads.deliver_reply(
        session,
        messenger,
        templates,
        reply=coach_said(message),
        answers=answers,
        coach_id=message.from_user.id,
        speaker=await _speaker(session, message.from_user),
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
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    messenger: Messenger,
) -> None:
    """/post TEXT, or /post as a reply to your own voice note: it goes to the group, under
    your name; with several groups, you choose which."""
    assert message.from_user is not None
    # The words after /post, or the message (a voice note, say) that /post replies to.
    feedback = message if command.args else message.reply_to_message
    if feedback is None:
        await message.answer(
            templates.render("coach_usage", usage="/post Your words for the group")
        )
        return
    pending = posting.pending(
        "post",
        coach_id=message.from_user.id,
        text=command.args,
        source=coach_said(feedback),
        now=now,
    )
    await _send_or_ask(message, message.from_user, pending, session, now, templates, messenger)


async def broadcast(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    messenger: Messenger,
) -> None:
    """/broadcast TEXT: a private message to every member (of the group you choose, when there
    are several), through the outbox."""
    assert message.from_user is not None
    text = (command.args or "").strip()
    if not text:
        usage = "/broadcast Your words to every member"
        await message.answer(templates.render("coach_usage", usage=usage))
        return
    pending = posting.pending(
        "broadcast", coach_id=message.from_user.id, text=text, source=coach_said(message), now=now
    )
    await _send_or_ask(message, message.from_user, pending, session, now, templates, messenger)


async def _send_or_ask(
    message: Message,
    coach: User,
    pending: PendingPost,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    messenger: Messenger,
) -> None:
    groups = await list_groups(session)
    if len(groups) == 1:
        done = await posting.send(
            session,
            messenger,
            templates,
            pending,
            groups,
            speaker=await _speaker(session, coach),
            now=now,
        )
        await message.answer(templates.render("coach_posted", done=done))
        return
    if not groups:
        await message.answer(templates.render("coach_which_group", groups=groups))
        return
    saved = await posting.keep(session, pending)
    rows = [
        [button(group.title, SendTo(pending_id=saved, group_id=group.id or 0))] for group in groups
    ]
    rows.append([button("Every group", SendTo(pending_id=saved, group_id=0))])
    await message.answer(
        templates.render("coach_choose_group", kind=pending.kind), reply_markup=markup(*rows)
    )


async def send_to(
    query: CallbackQuery,
    callback_data: SendTo,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    messenger: Messenger,
) -> None:
    """The coach chose the group for a waiting /post or /broadcast."""
    await query.answer()
    if not isinstance(query.message, Message):
        return
    pending = await posting.take(session, callback_data.pending_id)
    groups = [
        group for group in await list_groups(session) if callback_data.group_id in (0, group.id)
    ]
    if pending is None or not groups:
        await query.message.answer(templates.render("coach_post_gone"))
        return
    done = await posting.send(
        session,
        messenger,
        templates,
        pending,
        groups,
        speaker=await _speaker(session, query.from_user),
        now=now,
    )
    await query.message.answer(templates.render("coach_posted", done=done))


async def thread_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/thread Maya (or /member Maya): her recent check-ins and your replies."""
    named = read_names(command.args)
    member = await member_named(session, named.who, message, templates, command="thread")
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


async def picked_member(
    query: CallbackQuery,
    callback_data: PickMember,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
    vocabulary: Vocabulary,
) -> None:
    """The coach picked one of several people with the same name: the command goes on."""
    await query.answer()
    member = await session.get(Member, callback_data.member_id)
    if member is None or not isinstance(query.message, Message):
        return
    message = query.message
    match callback_data.command:
        case "thread":
            await _show_thread(message, member, session, now, templates)
        case "comp":
            group_words = [str(callback_data.chat_id)] if callback_data.chat_id else []
            await comp_member(message, member, group_words, session, now, templates, membership)
        case "remove":
            await remove_member(message, member, session, now, templates, membership)
        case "summary":
            await member_week(message, member, session, now, templates, vocabulary)


async def _show_thread(
    message: Message, member: Member, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    lines = await threads.thread(session, member)
    text = templates.render("coach_thread", member=member, lines=lines)
    # Replying to any part of the thread answers the member, like replying to a relay.
    with calls_now():  # the messages' ids are remembered, at once
        thread = await answer_in_parts(message, text)
    for sent in thread:
        await threads.remember_relay(
            session, coach_chat_id=message.chat.id, message_id=sent.message_id, member=member,
            now=now,
        )  # fmt: skip


async def members(
    message: Message, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    """/members: status, streak, last active and waiting, for every seated member; and how
    the reply promise was kept this week."""
    rows = await digest.members_overview(session, now)
    kept = await promises.figures(session, now)
    median = said_duration(kept.median_answer) if kept.median_answer else None
    await answer_in_parts(
        message, templates.render("coach_members", rows=rows, promises=kept, median=median)
    )


async def highlight(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/highlight [insight], replying to a member's message: a win (or insight) for the summary.

    In the group the command is deleted at once (with the Delete messages right), so members
    never see the coach's bookkeeping.
    """
    assert message.from_user is not None and message.reply_to_message is not None
    kind = "insight" if (command.args or "").strip().lower() == "insight" else "win"
    in_group = message.chat.type != ChatType.PRIVATE
    marked = await threads.highlight(
        session,
        chat_id=message.chat.id,
        via_relay=not in_group,
        message_id=message.reply_to_message.message_id,
        kind=kind,
        coach_id=message.from_user.id,
        now=now,
    )
    deleted = await _delete(bot, message) if in_group else True
    if marked is None:
        await _tell_coach(bot, message.from_user.id, templates.render("coach_highlight_usage"))
        return
    text = templates.render("coach_highlighted", kind=kind, member=None, deleted=deleted)
    await _tell_coach(bot, message.from_user.id, text)


async def _delete(bot: Bot, message: Message) -> bool:
    try:
        with calls_now():  # the coach is told whether it went
            await bot.delete_message(message.chat.id, message.message_id)
    except TelegramAPIError as error:
        log.info("could not delete /highlight in chat %s: %s", message.chat.id, error.message)
        return False
    return True


async def _tell_coach(bot: Bot, coach_id: int, text: str) -> None:
    # Quietly, in private: the group never hears about the coach's highlights.
    try:
        await bot.send_message(coach_id, text, disable_notification=True)
    except TelegramAPIError as error:
        log.warning("could not tell coach %s: %s", coach_id, error.message)


async def highlight_usage(message: Message, bot: Bot, templates: Templates) -> None:
    assert message.from_user is not None
    if message.chat.type != ChatType.PRIVATE:
        await _delete(bot, message)
    await _tell_coach(bot, message.from_user.id, templates.render("coach_highlight_usage"))


async def group_post_button(
    query: CallbackQuery,
    callback_data: GroupPost,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """A button under a group post in the round: win, insight, or answer it in the group."""
    await query.answer()
    entry = await session.get(Entry, callback_data.entry_id)
    member = await session.get(Member, entry.member_id) if entry else None
    if entry is None or member is None or not isinstance(query.message, Message):
        if isinstance(query.message, Message):
            await query.message.answer(templates.render("coach_post_gone"))
        return
    if callback_data.action in ("win", "insight"):
        await threads.mark(
            session, entry, kind=callback_data.action, coach_id=query.from_user.id, now=now
        )
        text = templates.render(
            "coach_highlighted",
            kind=callback_data.action,
            member=member,
            said=digest.excerpt(entry.text),
            deleted=True,
        )
        await query.message.answer(text, disable_notification=True)
        return
    asked = await query.message.answer(
        templates.render("coach_reply_in_group", member=member, said=digest.excerpt(entry.text)),
        # Telegram takes a placeholder of 1 to 64 characters (Bot API, ForceReply).
        reply_markup=ForceReply(
            input_field_placeholder=f"Your answer to {member.first_name}"[:64]
        ),
    )
    # Replying to this message answers the post, in the group (threads.deliver_reply).
    await threads.remember_relay(
        session,
        coach_chat_id=query.message.chat.id,
        message_id=asked.message_id,
        member=member,
        entry_id=entry.id,
        now=now,
    )


async def ask_for_summary(
    query: CallbackQuery, callback_data: ReplaceSummary, session: AsyncSession, now: datetime,
    templates: Templates,
) -> None:  # fmt: skip
    """ "Replace the whole text" under a draft: the coach is asked for the new words."""
    await query.answer()
    if not isinstance(query.message, Message):
        return
    asked = await query.message.answer(
        templates.render("coach_ask_summary"),
        reply_markup=ForceReply(input_field_placeholder="The whole summary, in your words"),
    )
    await asks.remember(
        session,
        coach_chat_id=query.message.chat.id,
        message_id=asked.message_id,
        kind=asks.SUMMARY_TEXT,
        ref_id=callback_data.summary_id,
        now=now,
    )


async def replace_summary(
    message: Message,
    question: CoachQuestion,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """The coach's new words for a summary, in reply to the question: they are the summary."""
    if not message.text or question.ref_id is None:
        await message.answer(templates.render("coach_ask_summary"))
        return
    replaced = await summaries.replace_text(session, question.ref_id, message.text, now)
    if replaced is None:
        await message.answer(templates.render("coach_post_gone"))
        return
    await message.reply(templates.render("coach_summary_edited", member=replaced, replaced=True))


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
