"""A person's private chat with the bot: welcome, joining, membership self-service."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import membership, seats
from billing.membership import Billing
from bot.filters import PRIVATE, Magic
from bot.people import person
from core.clock import Clock
from core.groups import list_groups, local_time
from core.models import SEATED, Group, Member, SeatStatus
from prompts.library import Library
from prompts.render import Templates

HELP = "help"
JOIN = "join"
ACCEPT_NOTE = "join:accept"
BILLING = "billing"


def create_router() -> Router:
    """A fresh router (each dispatcher needs its own)."""
    router = Router(name="member")
    router.message.filter(PRIVATE)
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    router.message.register(join_command, Command("join"))
    router.message.register(leave_waitlist, Command("leave"))
    router.message.register(status, Command("status"))
    router.message.register(billing_portal, Command("billing"))
    router.message.register(fresh_invite, Command("invite"))
    router.message.register(pause_checkins, Command("quiet"))
    router.callback_query.register(help_button, Magic(F.data == HELP))
    router.callback_query.register(join_button, Magic(F.data == JOIN))
    router.callback_query.register(accept_note, Magic(F.data == ACCEPT_NOTE))
    router.callback_query.register(billing_button, Magic(F.data == BILLING))
    return router


async def start(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    billing: Billing,
    library: Library,
) -> None:
    """Welcome: what Between is, the price, the seats left, the not-for-crisis note."""
    assert message.from_user is not None
    member = await person(session, message.from_user, clock, started=True)
    if command.args == "paid":
        await message.answer(templates.render("join_paid_thanks", first_name=member.first_name))
        return
    if command.args == JOIN:
        await _join(message, member, session, clock, templates, billing)
        return
    if command.args and command.args.removeprefix("tool-") in library.tools:
        tool = library.tools[command.args.removeprefix("tool-")]
        await message.answer(templates.render("tool", tool=tool))
        return
    groups = await list_groups(session)
    seats_left = None
    if groups:
        counts = [await seats.count_seats(session, group, clock.now()) for group in groups]
        seats_left = sum(count.free for count in counts)
    buttons = [
        [InlineKeyboardButton(text="Join: $31 a month", callback_data=JOIN)],
        [InlineKeyboardButton(text="How it works", callback_data=HELP)],
    ]
    await message.answer(
        templates.render("start", first_name=member.first_name, seats_left=seats_left),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons),
    )


async def help_command(message: Message, templates: Templates) -> None:
    """What a member can do."""
    await message.answer(templates.render("help"))


async def help_button(query: CallbackQuery, templates: Templates) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.answer(templates.render("help"))


async def join_command(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates, billing: Billing
) -> None:
    """Hold a seat and send the Checkout button, or a waitlist place."""
    assert message.from_user is not None
    member = await person(session, message.from_user, clock, started=True)
    await _join(message, member, session, clock, templates, billing)


async def join_button(
    query: CallbackQuery,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    billing: Billing,
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        member = await person(session, query.from_user, clock, started=True)
        await _join(query.message, member, session, clock, templates, billing)


async def accept_note(
    query: CallbackQuery,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    billing: Billing,
) -> None:
    """The person confirmed Between is not a crisis service; go on with joining."""
    await query.answer()
    member = await person(session, query.from_user, clock, started=True)
    member.crisis_note_accepted_at = member.crisis_note_accepted_at or clock.now()
    session.add(member)
    if isinstance(query.message, Message):
        await _join(query.message, member, session, clock, templates, billing)


async def _join(
    message: Message,
    member: Member,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    billing: Billing,
) -> None:
    if member.crisis_note_accepted_at is None:
        accept = InlineKeyboardButton(text="I understand, continue", callback_data=ACCEPT_NOTE)
        await message.answer(
            templates.render("join_note", first_name=member.first_name),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[accept]]),
        )
        return
    outcome = await membership.join(session, billing, member, clock.now())
    title = outcome.group.title if outcome.group else ""
    match outcome.kind:
        case "checkout":
            assert outcome.url is not None and outcome.group is not None
            pay = InlineKeyboardButton(text="Pay $31 a month", url=outcome.url)
            await message.answer(
                templates.render(
                    "join_checkout",
                    title=title,
                    seats_left=outcome.seats_left,
                    until=_local(outcome.hold_until, outcome.group),
                ),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=[[pay]]),
            )
        case "waitlisted":
            await message.answer(
                templates.render("join_waitlisted", title=title, position=outcome.position)
            )
        case "member":
            await message.answer(templates.render("join_member", title=title))
        case "no_group":
            await message.answer(templates.render("join_no_group"))


async def leave_waitlist(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """Leave the waitlist (an offered seat goes to the next person)."""
    assert message.from_user is not None
    member = await person(session, message.from_user, clock, started=True)
    entry = await seats.open_entry(session, member_id=member.id)
    if entry is None:
        await message.answer(templates.render("waitlist_not_on"))
        return
    await seats.leave_waitlist(session, entry, clock.now())
    await message.answer(templates.render("waitlist_left"))


async def status(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """Membership, renewal date and seat, or the waitlist place."""
    assert message.from_user is not None
    member = await person(session, message.from_user, clock, started=True)
    assert member.id is not None
    lines = []
    for seat in await seats.seats_of(session, member.id):
        group = await session.get(Group, seat.group_id)
        assert group is not None
        lines.append(
            {
                "title": group.title,
                "status": str(seat.status),
                "renews": _local(seat.current_period_end, group),
                "cancelling": seat.cancel_at_period_end,
                "hold_until": _local(seat.hold_expires_at, group),
            }
        )
    entry = await seats.open_entry(session, member_id=member.id)
    position = await seats.position(session, entry) if entry else None
    await message.answer(
        templates.render("status", first_name=member.first_name, seats=lines, position=position)
    )


async def billing_portal(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates, billing: Billing
) -> None:
    """A Stripe customer-portal link: card, invoices, cancelling."""
    assert message.from_user is not None
    await _send_portal(
        message,
        await person(session, message.from_user, clock, started=True),
        session,
        templates,
        billing,
    )


async def billing_button(
    query: CallbackQuery,
    session: AsyncSession,
    clock: Clock,
    templates: Templates,
    billing: Billing,
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        member = await person(session, query.from_user, clock, started=True)
        await _send_portal(query.message, member, session, templates, billing)


async def _send_portal(
    message: Message, member: Member, session: AsyncSession, templates: Templates, billing: Billing
) -> None:
    assert member.id is not None
    paying = [s for s in await seats.seats_of(session, member.id) if s.stripe_customer_id]
    if not paying:
        comped = any(
            s.status == SeatStatus.COMPED for s in await seats.seats_of(session, member.id)
        )
        await message.answer(templates.render("billing_comped" if comped else "billing_none"))
        return
    customer_id = paying[0].stripe_customer_id
    assert customer_id is not None
    url = await billing.stripe.portal_url(customer_id, await billing.bot_url("billing"))
    button = InlineKeyboardButton(text="Open billing", url=url)
    await message.answer(
        templates.render("billing_portal"),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
    )


async def fresh_invite(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates, billing: Billing
) -> None:
    """A fresh personal invite link (the old one stops working)."""
    assert message.from_user is not None
    member = await person(session, message.from_user, clock, started=True)
    assert member.id is not None
    seated = [s for s in await seats.seats_of(session, member.id) if s.status in SEATED]
    if not seated:
        await message.answer(templates.render("invite_none"))
        return
    for seat in seated:
        group = await session.get(Group, seat.group_id)
        assert group is not None
        link = await membership.grant_invite(session, billing, seat, group, member, clock.now())
        await message.answer(templates.render("invite_fresh", title=group.title, invite_link=link))


def _local(moment: datetime | None, group: Group) -> str | None:
    return local_time(moment, group) if moment is not None else None


async def pause_checkins(
    message: Message, session: AsyncSession, clock: Clock, templates: Templates
) -> None:
    """/quiet: no gentle check-ins while you take space (again to turn them back on)."""
    assert message.from_user is not None
    member = await person(session, message.from_user, clock, started=True)
    member.checkins_paused = not member.checkins_paused
    session.add(member)
    await message.answer(templates.render("quiet", paused=member.checkins_paused))
