"""The coach's seat and prompt tools in private chat: /seats, /capacity, /waitlist, /comp,
/remove, /prompt; and the coach's own /help, /zoom and /summary."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import codes, paying, seats, stars
from billing.membership import Membership
from bot.filters import PRIVATE, IsCoach
from bot.naming import group_named, member_named, read_names
from core.groups import GroupError, list_groups, resize_group
from core.links import BotLinks
from core.localtime import day_name, format_local, local_date, monday_of
from core.models import CodeKind, Group, Member
from practice import daily
from practice.words import Vocabulary
from prompts.catalog import Library
from prompts.render import Templates
from scheduling import qa, summaries

COACH_COMMANDS = (
    "seats",
    "capacity",
    "waitlist",
    "comp",
    "code",
    "refund",
    "remove",
    "prompt",
)


def create_router() -> Router:
    """Coach commands; anyone else who tries them gets a polite refusal (coach_day)."""
    router = Router(name="coach")
    router.message.filter(PRIVATE, IsCoach())
    router.message.register(seats_overview, Command("seats"))
    router.message.register(set_capacity, Command("capacity"))
    router.message.register(waitlist, Command("waitlist"))
    router.message.register(comp, Command("comp"))
    router.message.register(access_codes, Command("code"))
    router.message.register(remove, Command("remove"))
    router.message.register(refund, Command("refund"))
    router.message.register(prompt_plan, Command("prompt", magic=F.args.is_(None)))
    router.message.register(prompt_skip, Command("prompt", magic=F.args.regexp(r"^skip\b")))
    router.message.register(prompt_now, Command("prompt", magic=F.args.regexp(r"^now\b")))
    router.message.register(
        prompt_set, Command("prompt", magic=F.args.regexp(r"^set\s+\S+\s+\S+"))
    )
    router.message.register(prompt_ids, Command("prompt", magic=F.args.regexp(r"^ids\b")))
    router.message.register(prompt_usage, Command("prompt"))
    router.message.register(coach_help, Command("help"))
    router.message.register(next_sessions, Command("zoom"))
    router.message.register(weeks_so_far, Command("summary"))
    return router


async def refuse(message: Message, templates: Templates) -> None:
    await message.answer(templates.render("coach_only"))


async def seats_overview(
    message: Message, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    """Seated, held, free and waiting, per group; how each seat pays and what it brings in."""
    language = message.from_user.language_code if message.from_user else None
    rows = [
        (
            group,
            await seats.count_seats(session, group, now),
            await paying.what_seats_pay(session, group, templates.price_for(group, language), now),
        )
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
    """/comp Maya [chat id]: a free seat, no Stripe (a scholarship)."""
    named = read_names(command.args)
    chat_id = int(named.group_words[0]) if named.group_words else 0
    member = await member_named(
        session, named.who, message, templates, command="comp", chat_id=chat_id
    )
    if member is not None:
        await comp_member(message, member, named.group_words, session, now, templates, membership)


async def access_codes(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    links: BotLinks,
) -> None:
    """/code new 3 [comp|month-off], /code list, /code revoke CODE: single-use access codes."""
    words = (command.args or "").split()
    action = words[0].lower() if words else "list"
    if action == "new":
        made = _codes_to_make(words[1:])
        if made is None:
            await message.answer(templates.render("coach_codes", action="usage"))
            return
        count, kind = made
        assert message.from_user is not None
        new = await codes.make_codes(
            session, kind=kind, count=count, created_by=message.from_user.id, now=now
        )
        rows = [(code, await links.to_bot(code.code)) for code in new]
        await message.answer(templates.render("coach_codes", action="new", rows=rows, kind=kind))
    elif action == "list":
        rows = [(code, codes.code_state(code)) for code in await codes.coach_codes(session)]
        await message.answer(templates.render("coach_codes", action="list", rows=rows))
    elif action == "revoke" and len(words) == 2:
        done, code = await codes.revoke(session, words[1], now)
        await message.answer(
            templates.render("coach_codes", action="revoke", done=done, code=code)
        )
    else:
        await message.answer(templates.render("coach_codes", action="usage"))


def _codes_to_make(words: list[str]) -> tuple[int, CodeKind] | None:
    """`3`, `3 comp`, `3 month-off` → (3, kind); None when it isn't that."""
    if not words or not words[0].isdigit() or len(words) > 2:
        return None
    count = int(words[0])
    kinds = {"comp": CodeKind.COMP, "free": CodeKind.COMP, "month-off": CodeKind.MONTH_OFF}
    kind = kinds.get(words[1].lower() if len(words) == 2 else "comp")
    if kind is None or not 1 <= count <= codes.MAX_CODES_AT_ONCE:
        return None
    return count, kind


async def comp_member(
    message: Message,
    member: Member,
    group_words: list[str],
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
) -> None:
    group = await group_named(session, group_words, message, templates)
    if group is None:
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
    """/remove Maya: end their seat (and subscription) and take them out of the group."""
    named = read_names(command.args)
    member = await member_named(session, named.who, message, templates, command="remove")
    if member is not None:
        await remove_member(message, member, session, now, templates, membership)


async def refund(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
) -> None:
    """/refund Maya: her last payment in Telegram Stars goes back and her seat ends now."""
    if not (command.args or "").strip():
        await message.answer(templates.render("coach_refund", done="usage", member=None))
        return
    member = await member_named(session, read_names(command.args).who, message, templates)
    if member is None:
        return
    done = "not_stars"
    if membership.stars is not None:
        done = await stars.refund_last_payment(session, membership, membership.stars, member, now)
    await message.answer(templates.render("coach_refund", done=done, member=member))


async def remove_member(
    message: Message,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
) -> None:
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


async def prompt_usage(
    message: Message, session: AsyncSession, now: datetime, templates: Templates, library: Library
) -> None:
    """How /prompt is used, with a real prompt id and a real date to copy."""
    groups = await list_groups(session)
    zone = groups[0].timezone if groups else "UTC"
    await message.answer(
        templates.render(
            "coach_prompt_usage",
            example=library.prompts[0].id,
            day=local_date(now, zone) + timedelta(days=1),
            count=len(library.prompts),
        )
    )


async def prompt_ids(message: Message, templates: Templates, library: Library) -> None:
    """/prompt ids: every prompt id in the library, by theme, to use with /prompt set."""
    themes: dict[str, list[str]] = {}
    for prompt in library.prompts:
        themes.setdefault(prompt.theme or "no theme", []).append(prompt.id)
    await message.answer(templates.render("coach_prompt_ids", themes=themes))


async def coach_help(message: Message, command: CommandObject, templates: Templates) -> None:
    """The coach's /help (and /help members: what members see)."""
    wants_members = (command.args or "").strip().lower() in {"member", "members"}
    await message.answer(templates.render("help" if wants_members else "coach_help"))


async def next_sessions(
    message: Message, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    """The coach's /zoom: the next live Q&A of every group, with its link."""
    rows = []
    for group in await list_groups(session):
        meeting = await qa.next_meeting(session, group, now)
        rows.append(
            {
                "group": group,
                "meeting": meeting,
                "when": format_local(meeting.starts_at, group.timezone) if meeting else None,
                "usual": _usual_session(group),
            }
        )
    await message.answer(templates.render("coach_zoom", rows=rows))


def _usual_session(group: Group) -> str:
    return f"{day_name(group.qa_weekday)} at {group.qa_time} ({group.timezone})"


async def weeks_so_far(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    vocabulary: Vocabulary,
) -> None:
    """The coach's /summary: every member's week so far in a line; /summary Maya: hers, as
    Sunday's summary would tell it."""
    named = read_names(command.args)
    if named.who:
        member = await member_named(session, named.who, message, templates, command="summary")
        if member is not None:
            await member_week(message, member, session, now, templates, vocabulary)
        return
    rows = await summaries.weeks_so_far(session, vocabulary, now)
    await message.answer(templates.render("coach_weeks_so_far", rows=rows))


async def member_week(
    message: Message,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    vocabulary: Vocabulary,
) -> None:
    for group in await summaries.groups_of(session, member):
        week_start = monday_of(local_date(now, group.timezone))
        figures = await summaries.figures_for(
            session, member, group, week_start, vocabulary, until=now
        )
        text = summaries.render_summary(templates, member, group, week_start, figures, so_far=True)
        await message.answer(templates.render("coach_member_week", text=text, flag=figures.flag))
        return
    await message.answer(templates.render("coach_no_seat", member=member))
