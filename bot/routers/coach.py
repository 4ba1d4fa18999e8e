"""The coach's seat tools in private chat: /seats, /capacity, /waitlist, /comp, /remove."""

from __future__ import annotations

from datetime import date, datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import membership, seats
from billing.membership import Billing
from bot.filters import PRIVATE, IsCoach
from bot.gateway import bot_link
from core.clock import Clock
from core.groups import GroupError, list_groups, register_group
from core.models import Group, Member, PromptState, Seat, SeatStatus
from core.outbox import enqueue
from prompts import practice
from prompts.daily import local_today
from prompts.library import Library
from prompts.render import Templates

COACH_COMMANDS = ("seats", "capacity", "waitlist", "comp", "remove", "prompt")


def create_router() -> Router:
    """Coach commands; anyone else who tries them gets a polite refusal."""
    router = Router(name="coach")
    router.message.filter(PRIVATE)
    router.message.register(seats_overview, Command("seats"), IsCoach())
    router.message.register(set_capacity, Command("capacity"), IsCoach())
    router.message.register(waitlist, Command("waitlist"), IsCoach())
    router.message.register(comp, Command("comp"), IsCoach())
    router.message.register(remove, Command("remove"), IsCoach())
    router.message.register(prompt, Command("prompt"), IsCoach())
    return router


async def refuse(message: Message, templates: Templates) -> None:
    await message.answer(templates.render("coach_only"))


async def seats_overview(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """Seated, held, free and waiting, per group."""
    rows = [
        (group, await seats.count_seats(session, group, clock.now()))
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
    clock: Clock,
    templates: Templates,
    billing: Billing,
) -> None:
    """/capacity N [chat id]: resize a group; new seats go to the waitlist first."""
    words = (command.args or "").split()
    if not words or not words[0].isdigit():
        await message.answer(templates.render("coach_usage", usage="/capacity 12"))
        return
    group = await _which_group(session, words[1:], message, templates)
    if group is None:
        return
    try:
        await register_group(
            session,
            chat_id=group.chat_id,
            title=group.title,
            capacity=int(words[0]),
            now=clock.now(),
        )
    except GroupError as error:
        await message.answer(templates.render("coach_usage", usage=str(error)))
        return
    offered = await membership.offer_seats(session, billing, group, clock.now())
    count = await seats.count_seats(session, group, clock.now())
    await message.answer(
        templates.render("coach_capacity", group=group, count=count, offered=offered)
    )


async def comp(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    billing: Billing,
) -> None:
    """/comp @member [chat id]: a free seat, no Stripe (a scholarship)."""
    words = (command.args or "").split()
    member = await member_named(session, words[0] if words else "", message, templates)
    if member is None or member.id is None:
        return
    group = await _which_group(session, words[1:], message, templates)
    if group is None:
        return
    assert group.id is not None
    if await seats.live_seat(session, member_id=member.id, group_id=group.id) is not None:
        await message.answer(
            templates.render("coach_comp", member=member, group=group, already=True)
        )
        return
    now = clock.now()
    seat = Seat(
        member_id=member.id,
        group_id=group.id,
        status=SeatStatus.COMPED,
        created_at=now,
        updated_at=now,
    )
    session.add(seat)
    await session.flush()
    link = await membership.grant_invite(session, billing, seat, group, member, now)
    await enqueue(
        session,
        key=f"seat:{seat.id}:welcome_comped",
        chat_id=member.telegram_id,
        text=templates.render(
            "welcome_comped", first_name=member.first_name, title=group.title, invite_link=link
        ),
        now=now,
    )
    full = (await seats.count_seats(session, group, now)).free == 0
    await message.answer(
        templates.render("coach_comp", member=member, group=group, already=False, full=full)
    )


async def remove(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    billing: Billing,
) -> None:
    """/remove @member: end their seat (and subscription) and take them out of the group."""
    words = (command.args or "").split()
    member = await member_named(session, words[0] if words else "", message, templates)
    if member is None or member.id is None:
        return
    live = [s for s in await seats.seats_of(session, member.id) if s.status != SeatStatus.HELD]
    for seat in live:
        await membership.remove(session, billing, seat, reason="removed_by_coach", now=clock.now())
    await message.answer(templates.render("coach_remove", member=member, removed=len(live)))


async def member_named(
    session: AsyncSession, handle: str, message: Message, templates: Templates
) -> Member | None:
    """The member a coach command names; when unknown, the coach is told how to name them."""
    member = await find_member(session, handle)
    if member is None:
        await message.answer(templates.render("coach_no_member", handle=handle))
    return member


async def find_member(session: AsyncSession, handle: str) -> Member | None:
    handle = handle.strip().removeprefix("@")
    if not handle:
        return None
    conditions = [col(Member.username) == handle]
    if handle.lstrip("-").isdigit():
        conditions.append(col(Member.telegram_id) == int(handle))
    return (await session.exec(select(Member).where(or_(*conditions)))).first()


async def _which_group(
    session: AsyncSession, words: list[str], message: Message, templates: Templates
) -> Group | None:
    groups = await list_groups(session)
    if words:
        chosen = [g for g in groups if str(g.chat_id) == words[0]]
    else:
        chosen = groups if len(groups) == 1 else []
    if len(chosen) != 1:
        await message.answer(templates.render("coach_which_group", groups=groups))
        return None
    return chosen[0]


async def prompt(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    library: Library,
    billing: Billing,
) -> None:
    """/prompt: the next 7 days; /prompt skip | now | set YYYY-MM-DD ID [chat id]."""
    words = (command.args or "").split()
    action = words[0] if words else "plan"
    now = clock.now()
    if action == "plan":
        plans = [
            (g, await practice.plan_week(session, g, library, now))
            for g in await list_groups(session)
        ]
        await message.answer(templates.render("coach_prompt_plan", plans=plans))
        return
    rest = words[3:] if action == "set" else words[1:]
    group = await _which_group(session, rest, message, templates)
    if group is None:
        return
    if action == "skip":
        day = await practice.next_prompt_day(session, group, now)
        await practice.set_prompt_day(session, group, day, PromptState.SKIPPED, None)
        await message.answer(
            templates.render("coach_prompt_done", action="skip", day=day, prompt=None)
        )
    elif action == "now":
        day = local_today(now, group.timezone)
        sent = await practice.send_prompt(
            session, group, day, library, templates, now, await bot_link(billing.bot)
        )
        await message.answer(
            templates.render("coach_prompt_done", action="now", day=day, prompt=sent)
        )
    elif action == "set" and len(words) >= 3:
        await _set_prompt(message, session, group, words[1], words[2], templates, library, now)
    else:
        await message.answer(
            templates.render(
                "coach_usage",
                usage="/prompt, /prompt skip, /prompt now, /prompt set 2026-11-24 naming-the-knot",
            )
        )


async def _set_prompt(
    message: Message,
    session: AsyncSession,
    group: Group,
    day_text: str,
    prompt_id: str,
    templates: Templates,
    library: Library,
    now: datetime,
) -> None:
    try:
        day = date.fromisoformat(day_text)
        chosen = library.prompt(prompt_id)
        if day < local_today(now, group.timezone):
            raise ValueError(f"{day} is in the past")
        await practice.set_prompt_day(session, group, day, PromptState.PLANNED, chosen.id)
    except KeyError:
        await message.answer(
            templates.render(
                "coach_usage", usage=f"a prompt id from the library; {prompt_id!r} isn't one"
            )
        )
        return
    except ValueError as error:
        await message.answer(
            templates.render("coach_usage", usage=f"a date like 2026-11-24 ({error})")
        )
        return
    await message.answer(
        templates.render("coach_prompt_done", action="set", day=day, prompt=chosen)
    )
