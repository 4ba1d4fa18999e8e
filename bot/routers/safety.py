"""The safety net's buttons and commands: the coach's "I've reached out" and /quiethours; the
member's /sos ("tell my coach now") and /plan, their own safety plan written one part at a
time. The words of a plan never reach the coach."""

from __future__ import annotations

from datetime import datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import PRIVATE, IsCoach
from bot.gateway import TelegramGateway
from coaching import profiles
from core.localtime import ScheduleError, parse_time
from core.models import CoachProfile, Group, Member
from core.settings import Settings
from prompts.buttons import ReachedOut, TellCoachNow, WritePlan, button, markup
from prompts.catalog import Library
from prompts.render import Templates
from safety import plan
from safety.net import SafetyNet, sent_copies


class WritingPlan(Filter):
    """The member is writing their safety plan: this private message answers a part of it."""

    async def __call__(self, message: Message, session: AsyncSession, now: datetime) -> bool:
        # Filters run before the people middleware: the sender is found by their id.
        if not message.text or message.text.startswith("/") or message.from_user is None:
            return False
        return await plan.asking(session, message.from_user.id, now) is not None


def create_router() -> Router:
    router = Router(name="safety")
    router.callback_query.register(reached_out, ReachedOut.filter(), IsCoach())
    router.message.register(quiet_hours, Command("quiethours"), PRIVATE, IsCoach())
    router.message.register(sos, Command("sos"), PRIVATE)
    router.callback_query.register(tell_coach_now, TellCoachNow.filter())
    router.message.register(write_plan, Command("plan"), PRIVATE)
    router.callback_query.register(write_plan_again, WritePlan.filter())
    router.message.register(plan_answer, PRIVATE, WritingPlan())
    return router


async def reached_out(
    query: CallbackQuery,
    callback_data: ReachedOut,
    session: AsyncSession,
    now: datetime,
    safety: SafetyNet,
    templates: Templates,
    messenger: TelegramGateway,
) -> None:
    """A coach reached out: the alert says who and when, its repeats stop, the others hear."""
    name = await profiles.speaker(session, query.from_user.id, query.from_user.first_name)
    done = await safety.reached_out(
        session, alert_id=callback_data.alert_id, coach_id=query.from_user.id, name=name, now=now
    )
    if done is None:
        await query.answer("That alert is no longer kept.")
        return
    if done.already and done.alert.handled_by is not None:
        name = await profiles.speaker(session, done.alert.handled_by, "another coach")
    elif done.already:
        name = "a reply from you"  # a coach's answer to the member closed it
    await query.answer("Thank you." if not done.already else f"Already done: {name}.")
    line = templates.render(
        "safety_reached_out_done", name=name, when=safety.when_reached(done.alert, done.group)
    )
    pressed = None
    if isinstance(query.message, Message):
        await query.message.edit_text(f"{query.message.html_text}\n\n{line}", reply_markup=None)
        pressed = (query.message.chat.id, query.message.message_id)
    for chat_id, message_id in await sent_copies(session, done.alert):
        if (chat_id, message_id) != pressed:
            await messenger.drop_buttons(chat_id, message_id)


async def quiet_hours(
    message: Message, command: CommandObject, session: AsyncSession, now: datetime,
    templates: Templates,
) -> None:  # fmt: skip
    """/quiethours 22:00 07:00 sets the coach's night; /quiethours night on|off says whether
    an urgent alert's repeats may come in it."""
    assert message.from_user is not None
    coach_id = message.from_user.id
    profile = await profiles.profile_of(session, coach_id) or CoachProfile(
        telegram_id=coach_id, updated_at=now
    )
    words = (command.args or "").lower().split()
    problem = None
    try:
        if len(words) == 2 and words[0] == "night" and words[1] in ("on", "off"):
            profile.repeats_at_night = words[1] == "on"
        elif len(words) == 2:
            start, end = parse_time(words[0]), parse_time(words[1])
            profile.quiet_from, profile.quiet_until = f"{start:%H:%M}", f"{end:%H:%M}"
        elif words:
            problem = "usage"
    except ScheduleError as error:
        problem = str(error)
    if not problem and words:
        profile.updated_at = now
        session.add(profile)
    await message.answer(templates.render("coach_quiet_hours", profile=profile, problem=problem))


async def sos(
    message: Message,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    settings: Settings,
    library: Library,
    templates: Templates,
) -> None:
    """The crisis lines, a minute to steady, the member's plan, and "tell my coach now"."""
    kept = await plan.plan_of(session, member)
    coach = await profiles.coach_name(session, settings.coach_telegram_ids)
    rows: list[list[dict[str, str]]] = [[button("Tell my coach now", TellCoachNow())]]
    if not plan.is_written(kept):
        rows.append([button("Write my safety plan", WritePlan())])
    await message.answer(
        templates.render(
            "sos",
            first_name=member.first_name,
            resources=library.resources_for(group.country if group else None),
            plan=kept if plan.is_written(kept) else None,
            coach=coach,
        ),
        reply_markup=markup(*rows),
    )


async def tell_coach_now(
    query: CallbackQuery,
    member: Member,
    group: Group | None,
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    safety: SafetyNet,
    templates: Templates,
) -> None:
    """The member asked for the coach: an urgent alert, once per /sos."""
    if not isinstance(query.message, Message):
        await query.answer()
        return
    told = await safety.tell_coach_now(
        session,
        member=member,
        group=group,
        chat_id=query.message.chat.id,
        message_id=query.message.message_id,
        now=now,
    )
    await query.answer("Done." if told else "Your coach has it already.")
    if told:
        coach = await profiles.coach_name(session, settings.coach_telegram_ids)
        await query.message.answer(templates.render("sos_told", coach=coach))


async def write_plan(
    message: Message, member: Member, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    """/plan: the plan as it is, or its first part to write."""
    kept = await plan.plan_of(session, member)
    if plan.is_written(kept) and kept is not None and kept.asking is None:
        await message.answer(
            templates.render("plan_show", plan=kept),
            reply_markup=markup([button("Write it again", WritePlan())]),
        )
        return
    part = await plan.start_writing(session, member, now)
    await message.answer(templates.render("plan_ask", part=part, step=1, plan=kept))


async def write_plan_again(
    query: CallbackQuery, member: Member, session: AsyncSession, now: datetime,
    templates: Templates,
) -> None:  # fmt: skip
    await query.answer()
    kept = await plan.plan_of(session, member)
    part = await plan.start_writing(session, member, now)
    if isinstance(query.message, Message):
        await query.message.answer(templates.render("plan_ask", part=part, step=1, plan=kept))


async def plan_answer(
    message: Message, member: Member, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    """A part of the plan: kept, and the next one asked (or the plan shown, done). Not a
    check-in: the coach doesn't see it."""
    following = await plan.answer(session, member, message.text or "", now)
    kept = await plan.plan_of(session, member)
    if following is None:
        await message.answer(templates.render("plan_done", plan=kept))
        return
    step = plan.PARTS.index(following) + 1
    await message.answer(templates.render("plan_ask", part=following, step=step, plan=kept))
