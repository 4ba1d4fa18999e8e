"""The coach's day in Telegram: replies that reach members, posts to the group, threads,
the member list, highlights and broadcasts. Only coaches; anyone else gets a polite no."""

from __future__ import annotations

from datetime import date

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import IN_A_GROUP, PRIVATE, IsCoach, Magic
from bot.routers.coach import COACH_COMMANDS, member_named, refuse
from coaching import digest, threads
from coaching.rules import waited
from core.clock import Clock
from core.groups import list_groups
from core.models import SEATED, Entry, Group, Highlight, Member, Relay, Seat
from core.outbox import enqueue
from core.settings import Settings
from prompts import practice
from prompts.render import Templates
from scheduling import summaries

GROUPS = {ChatType.GROUP, ChatType.SUPERGROUP}
DAY_COMMANDS = ("thread", "members", "member", "highlight", "broadcast", "post")


def create_router() -> Router:
    router = Router(name="coach_day")
    router.message.register(thread_command, Command("thread"), PRIVATE, IsCoach())
    router.callback_query.register(thread_button, Magic(F.data.startswith("thread:")), IsCoach())
    router.message.register(members, Command("members"), PRIVATE, IsCoach())
    router.message.register(member_card, Command("member"), PRIVATE, IsCoach())
    router.message.register(highlight, Command("highlight"), IsCoach())
    router.message.register(broadcast, Command("broadcast"), PRIVATE, IsCoach())
    router.message.register(post, Command("post"), PRIVATE, IsCoach())
    router.message.register(answer_member, PRIVATE, Magic(F.reply_to_message), IsCoach())
    router.callback_query.register(
        approve_summaries, Magic(F.data.startswith("summaries:approve:")), IsCoach()
    )
    said_something = Magic(F.text | F.voice | F.video_note | F.caption)
    router.message.register(
        group_feedback, IN_A_GROUP, said_something, Magic(~F.text.startswith("/")), IsCoach()
    )
    # Last: coach commands from anyone else.
    router.message.register(refuse, Command(*COACH_COMMANDS, *DAY_COMMANDS), PRIVATE)
    return router


async def answer_member(
    message: Message, bot: Bot, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """The coach replied to a member's relayed message: it goes to that member, as it is."""
    assert message.from_user is not None
    assert message.reply_to_message is not None
    if message.text:  # new words for a weekly summary draft?
        edited = await summaries.edit_from_reply(
            session,
            chat_id=message.chat.id,
            preview_message_id=message.reply_to_message.message_id,
            text=message.text,
        )
        if edited is not None:
            await message.reply(templates.render("coach_summary_edited", member=edited))
            return
    result = await threads.deliver_reply(
        session, bot, reply=message, coach_id=message.from_user.id, now=clock.now()
    )
    await message.reply(templates.render("coach_reply", result=result), disable_notification=True)


async def group_feedback(message: Message, session: AsyncSession, clock: Clock) -> None:
    """What the coach says in the group is kept as feedback (the members read it there)."""
    assert message.from_user is not None
    groups = {group.chat_id: group for group in await list_groups(session)}
    group = groups.get(message.chat.id)
    if group is not None:
        await threads.record_reply(
            session, message, coach_id=message.from_user.id, group_id=group.id, now=clock.now()
        )


async def post(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
) -> None:
    """/post TEXT, or /post as a reply to your own voice note: it goes to the group."""
    assert message.from_user is not None
    groups = await list_groups(session)
    source = message.reply_to_message
    if not groups or (not command.args and source is None):
        await message.answer(
            templates.render("coach_usage", usage="/post Your words for the group")
        )
        return
    # The words after /post, or the message (a voice note, say) that /post replies to.
    feedback = message if command.args else source
    assert feedback is not None
    for group in groups:
        if command.args:
            await bot.send_message(group.chat_id, command.args, parse_mode=None)
        else:
            await bot.copy_message(group.chat_id, message.chat.id, feedback.message_id)
    only = groups[0].id if len(groups) == 1 else None
    await threads.record_reply(
        session, feedback, coach_id=message.from_user.id, group_id=only, now=clock.now()
    )
    await message.answer(templates.render("coach_posted", groups=groups))


async def thread_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
) -> None:
    """/thread @member: their recent check-ins and your replies."""
    member = await member_named(session, command.args or "", message, templates)
    if member is None:
        return
    await _show_thread(message, member, session, clock, templates)


async def thread_button(
    query: CallbackQuery, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    await query.answer()
    member = await session.get(Member, int((query.data or "").split(":")[1]))
    if member is not None and isinstance(query.message, Message):
        await _show_thread(query.message, member, session, clock, templates)


async def _show_thread(
    message: Message, member: Member, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    lines = await threads.thread(session, member)
    sent = await message.answer(templates.render("coach_thread", member=member, lines=lines))
    # Replying to the thread answers the member, like replying to a relayed message.
    assert member.id is not None
    session.add(
        Relay(
            coach_chat_id=message.chat.id,
            coach_message_id=sent.message_id,
            member_id=member.id,
            created_at=clock.now(),
        )
    )


async def members(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """/members: status, streak, last active and waiting, for every seated member."""
    now = clock.now()
    rows = []
    for group in await list_groups(session):
        seated = await session.exec(
            select(Seat, Member)
            .join(Member, col(Member.id) == col(Seat.member_id))
            .where(col(Seat.group_id) == group.id)
            .where(col(Seat.status).in_(SEATED))
            .order_by(col(Member.first_name))
        )
        for seat, member in seated.all():
            assert member.id is not None
            last = await digest.last_entry(session, member.id)
            since = await threads.waiting_since(session, member.id)
            rows.append(
                {
                    "member": member,
                    "status": str(seat.status),
                    "streak": await practice.streak(session, member, group, now),
                    "last": waited(last, now) + " ago" if last else "never",
                    "waiting": waited(since, now) if since else None,
                }
            )
    await message.answer(templates.render("coach_members", rows=rows))


async def member_card(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
) -> None:
    """/member @x: one member's card and thread."""
    await thread_command(message, command, session, clock, templates)


async def highlight(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
) -> None:
    """/highlight [insight], replying to a member's message: a win (or insight) for the summary."""
    assert message.from_user is not None
    source = message.reply_to_message
    entry = await _entry_for(session, message) if source is not None else None
    if entry is None or entry.id is None:
        await message.answer(
            templates.render(
                "coach_usage",
                usage="reply to a member's message with /highlight (or /highlight insight)",
            )
        )
        return
    kind = "insight" if (command.args or "").strip().lower() == "insight" else "win"
    existing = (
        await session.exec(select(Highlight).where(col(Highlight.entry_id) == entry.id))
    ).first()
    marked = existing or Highlight(
        entry_id=entry.id, kind=kind, coach_id=message.from_user.id, created_at=clock.now()
    )
    marked.kind = kind
    session.add(marked)
    await message.bot.send_message(  # type: ignore[union-attr]
        message.from_user.id,
        templates.render("coach_highlighted", kind=kind),
        disable_notification=True,
    )


async def _entry_for(session: AsyncSession, message: Message) -> Entry | None:
    source = message.reply_to_message
    assert source is not None
    if message.chat.type == ChatType.PRIVATE:  # a relayed copy: find the member's original
        relay = (
            await session.exec(
                select(Relay)
                .where(col(Relay.coach_chat_id) == message.chat.id)
                .where(col(Relay.coach_message_id) == source.message_id)
            )
        ).first()
        return await session.get(Entry, relay.entry_id) if relay and relay.entry_id else None
    return (
        await session.exec(
            select(Entry)
            .where(col(Entry.chat_id) == message.chat.id)
            .where(col(Entry.message_id) == source.message_id)
        )
    ).first()


async def broadcast(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    templates: Templates,
) -> None:
    """/broadcast TEXT: a private message to every member, through the outbox."""
    text = (command.args or "").strip()
    if not text:
        await message.answer(
            templates.render("coach_usage", usage="/broadcast Your words to every member")
        )
        return
    now = clock.now()
    seated = await session.exec(
        select(Member)
        .join(Seat, col(Seat.member_id) == col(Member.id))
        .where(col(Seat.status).in_(SEATED))
        .distinct()
    )
    body = templates.render("broadcast", text=text)
    count = 0
    for member in seated.all():
        count += await enqueue(
            session,
            key=f"broadcast:{message.chat.id}:{message.message_id}:{member.id}",
            chat_id=member.telegram_id,
            text=body,
            now=now,
        )
    await message.answer(templates.render("coach_broadcast", count=count))


async def approve_summaries(
    query: CallbackQuery, session: AsyncSession, templates: Templates
) -> None:
    """ "Approve all" under the drafts: the week's summaries go out as they are."""
    await query.answer()
    _, _, group_id, week_start = (query.data or "").split(":")
    group = await session.get(Group, int(group_id))
    if group is None or not isinstance(query.message, Message):
        return
    count = await summaries.approve_all(session, group, date.fromisoformat(week_start))
    await query.message.answer(templates.render("coach_summaries_approved", count=count))
