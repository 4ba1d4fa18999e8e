"""The coach's seat and prompt tools in private chat: /seats, /capacity, /waitlist, /comp,
/remove, /prompt."""

from __future__ import annotations

from datetime import date, datetime

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import seats
from billing.membership import Membership
from bot.filters import PRIVATE, IsCoach
from bot.naming import group_named, member_named
from core.groups import GroupError, list_groups, resize_group
from core.links import BotLinks
from core.localtime import local_date
from practice import daily
from prompts.catalog import Library
from prompts.render import Templates

COACH_COMMANDS = ("seats", "capacity", "waitlist", "comp", "remove", "prompt")
PROMPT_USAGE = "/prompt, /prompt skip, /prompt now, /prompt set 2026-11-24 naming-the-knot"


def create_router() -> Router:
    """Coach commands; anyone else who tries them gets a polite refusal (coach_day)."""
    router = Router(name="coach")
    router.message.filter(PRIVATE, IsCoach())
    router.message.register(seats_overview, Command("seats"))
    router.message.register(set_capacity, Command("capacity"))
    router.message.register(waitlist, Command("waitlist"))
    router.message.register(comp, Command("comp"))
    router.message.register(remove, Command("remove"))
    router.message.register(prompt_plan, Command("prompt", magic=F.args.is_(None)))
    router.message.register(prompt_skip, Command("prompt", magic=F.args.regexp(r"^skip\b")))
    router.message.register(prompt_now, Command("prompt", magic=F.args.regexp(r"^now\b")))
    router.message.register(
        prompt_set, Command("prompt", magic=F.args.regexp(r"^set\s+\S+\s+\S+"))
    )
    router.message.register(prompt_usage, Command("prompt"))
    return router


async def refuse(message: Message, templates: Templates) -> None:
    await message.answer(templates.render("coach_only"))


async def seats_overview(
    message: Message, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    """Seated, held, free and waiting, per group."""
    rows = [
        (group, await seats.count_seats(session, group, now))
        for group in await list_groups(session)
    ]
    await message.answer(templates.render("coach_seats", rows=rows))


async def waitlist(message: Message, session: AsyncSession, templates: Templates) -> None:
    """Who waits, in order, and who has an offer open."""
    rows = [
        (group, await seats.waiting_list(session, group)) for group in await list_groups(session)
    ]
    await message.answer(templates.render("coach_waitlist", rows=rows))


async def set_capacity(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
) -> None:
    """/capacity N [chat id]: resize a group; new seats go to the waitlist first."""
    words = (command.args or "").split()
    if not words or not words[0].isdigit():
        await message.answer(templates.render("coach_usage", usage="/capacity 12"))
        return
    group = await group_named(session, words[1:], message, templates)
    if group is None:
        return
    try:
        resize_group(group, int(words[0]))
    except GroupError as error:
        await message.answer(templates.render("coach_usage", usage=str(error)))
        return
    offered = await membership.offer_seats(session, group, now)
    count = await seats.count_seats(session, group, now)
    await message.answer(
        templates.render("coach_capacity", group=group, count=count, offered=offered)
    )


async def comp(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
) -> None:
    """/comp @member [chat id]: a free seat, no Stripe (a scholarship)."""
    words = (command.args or "").split()
    member = await member_named(session, words[0] if words else "", message, templates)
    group = await group_named(session, words[1:], message, templates) if member else None
    if member is None or group is None:
        return
    done = await membership.comp(session, member, group, now)
    await message.answer(
        templates.render(
            "coach_comp", member=member, group=group, already=done.already, full=done.full
        )
    )


async def remove(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
) -> None:
    """/remove @member: end their seat (and subscription) and take them out of the group."""
    words = (command.args or "").split()
    member = await member_named(session, words[0] if words else "", message, templates)
    if member is None:
        return
    removed = await membership.remove_member(session, member, reason="removed_by_coach", now=now)
    await message.answer(templates.render("coach_remove", member=member, removed=removed))


async def prompt_plan(
    message: Message, session: AsyncSession, now: datetime, templates: Templates, library: Library
) -> None:
    """/prompt: the next seven days of every group."""
    plans = [
        (group, await daily.plan_week(session, group, library, now))
        for group in await list_groups(session)
    ]
    await message.answer(templates.render("coach_prompt_plan", plans=plans))


async def prompt_skip(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """/prompt skip [chat id]: no prompt on the next prompt day."""
    group = await group_named(session, (command.args or "").split()[1:], message, templates)
    if group is None:
        return
    day = await daily.skip_next_prompt(session, group, now)
    await message.answer(
        templates.render("coach_prompt_done", action="skip", day=day, prompt=None)
    )


async def prompt_now(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    library: Library,
    links: BotLinks,
) -> None:
    """/prompt now [chat id]: today's prompt goes to the group now."""
    group = await group_named(session, (command.args or "").split()[1:], message, templates)
    if group is None:
        return
    day = local_date(now, group.timezone)
    sent = await daily.send_prompt(
        session, group, day, library, templates, now, await links.to_bot()
    )
    await message.answer(templates.render("coach_prompt_done", action="now", day=day, prompt=sent))


async def prompt_set(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    library: Library,
) -> None:
    """/prompt set YYYY-MM-DD ID [chat id]: that day's prompt (even on a day off)."""
    _, day_text, prompt_id, *rest = (command.args or "").split()
    group = await group_named(session, rest, message, templates)
    if group is None:
        return
    try:
        day = _day(day_text)
        chosen = await daily.plan_prompt(
            session, group, day=day, prompt_id=prompt_id, library=library, now=now
        )
    except daily.PlanError as error:
        await message.answer(templates.render("coach_usage", usage=str(error)))
        return
    done = templates.render("coach_prompt_done", action="set", day=day, prompt=chosen)
    await message.answer(done)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise daily.PlanError(f"a date like 2026-11-24 ({error})") from None


async def prompt_usage(message: Message, templates: Templates) -> None:
    await message.answer(templates.render("coach_usage", usage=PROMPT_USAGE))
