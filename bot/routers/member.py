"""A person's private chat with the bot: welcome, joining, membership self-service."""

from __future__ import annotations

from datetime import datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import codes, gifts, notices, seats, stars
from billing.membership import Membership
from billing.notices import trial_length
from bot.filters import PRIVATE
from coaching import profiles
from core.groups import list_groups, reply_days
from core.links import BotLinks
from core.localtime import format_local
from core.models import SEATED, Group, Member, Seat, SeatStatus
from core.settings import Settings
from prompts.buttons import (
    AcceptNote,
    GiftMonths,
    Join,
    OpenBilling,
    QuietArrival,
    ShowHelp,
    button,
    link_button,
    markup,
)
from prompts.catalog import Library
from prompts.render import Templates


def create_router() -> Router:
    """A fresh router (each dispatcher needs its own)."""
    router = Router(name="member")
    router.message.filter(PRIVATE)
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    router.message.register(join_command, Command("join"))
    router.message.register(leave_waitlist, Command("leave", "cancel"))
    router.message.register(status, Command("status"))
    router.message.register(billing_portal, Command("billing"))
    router.message.register(fresh_invite, Command("invite"))
    router.message.register(pause_checkins, Command("quiet"))
    router.message.register(gift_command, Command("gift"))
    router.callback_query.register(gift_button, GiftMonths.filter())
    router.callback_query.register(help_button, ShowHelp.filter())
    router.callback_query.register(join_button, Join.filter())
    router.callback_query.register(accept_note, AcceptNote.filter())
    router.callback_query.register(billing_button, OpenBilling.filter())
    router.callback_query.register(come_in_quietly, QuietArrival.filter())
    return router


async def start(
    message: Message,
    command: CommandObject,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
    library: Library,
    settings: Settings,
) -> None:
    """Welcome: what Between is, who the coach is, the price, the seats left, the
    not-for-crisis note."""
    tool = library.tools.get((command.args or "").removeprefix("tool-"))
    if command.args == "paid":
        await message.answer(templates.render("join_paid_thanks", first_name=member.first_name))
    elif command.args == "gift-paid":
        await message.answer(templates.render("gift_paid_thanks"))
    elif command.args == "join":
        await _join(message, member, session, now, templates, membership, library, settings)
    elif codes.looks_like_code(command.args):
        assert command.args is not None
        await _join(
            message, member, session, now, templates, membership, library, settings, command.args
        )
    elif tool is not None:
        await message.answer(templates.render("tool", tool=tool))
    else:
        await _welcome(
            message, member, session, now, templates, membership, settings.coach_telegram_ids
        )


async def _welcome(
    message: Message,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
    coach_ids: tuple[int, ...],
) -> None:
    groups = await list_groups(session)
    free = [(await seats.count_seats(session, group, now)).free for group in groups]
    price = await membership.price_for(session, member, now)
    named = await profiles.profiles(session, coach_ids)
    coach = named[0] if named else None
    if coach is not None and coach.photo_file_id:
        caption = templates.render("coach_photo_caption", name=coach.name)
        await message.answer_photo(coach.photo_file_id, caption=caption)
    await message.answer(
        templates.render(
            "start",
            first_name=member.first_name,
            seats_left=sum(free) if groups else None,
            coach=coach,
            price=price,
        ),
        reply_markup=markup(
            [button(f"Join: {price.recurring}", Join())],
            [button("How it works", ShowHelp())],
        ),
    )


async def help_command(message: Message, templates: Templates) -> None:
    """What a member can do."""
    await message.answer(templates.render("help"))


async def help_button(query: CallbackQuery, templates: Templates) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.answer(templates.render("help"))


async def join_command(
    message: Message,
    command: CommandObject,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
    library: Library,
    settings: Settings,
) -> None:
    """Hold a seat and send the Checkout button, or a waitlist place; `/join CODE` uses an
    access code or a gift."""
    code = (command.args or "").strip() or None
    await _join(message, member, session, now, templates, membership, library, settings, code)


async def join_button(
    query: CallbackQuery,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
    library: Library,
    settings: Settings,
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await _join(query.message, member, session, now, templates, membership, library, settings)


async def accept_note(
    query: CallbackQuery,
    callback_data: AcceptNote,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
    library: Library,
    settings: Settings,
) -> None:
    """The person confirmed Between is not a crisis service and agreed to the group
    agreement; go on with joining."""
    await query.answer()
    member.crisis_note_accepted_at = member.crisis_note_accepted_at or now
    member.agreement_accepted_at = member.agreement_accepted_at or now
    session.add(member)
    if isinstance(query.message, Message):
        await _join(
            query.message,
            member,
            session,
            now,
            templates,
            membership,
            library,
            settings,
            callback_data.code or None,
        )


async def _join(
    message: Message,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
    library: Library,
    settings: Settings,
    code: str | None = None,
) -> None:
    if member.crisis_note_accepted_at is None or member.agreement_accepted_at is None:
        groups = await list_groups(session)
        await message.answer(
            templates.render(
                "join_note",
                first_name=member.first_name,
                agreement=library.agreement,
                coach=await profiles.coach_name(session, settings.coach_telegram_ids),
                days=reply_days(groups[0] if groups else None),
            ),
            reply_markup=markup(
                [button(library.agreement.accept, AcceptNote(code=codes.normalise(code) or ""))]
                if code
                else [button(library.agreement.accept, AcceptNote())]
            ),
        )
        return
    if code is not None:
        await _redeem(message, member, session, now, templates, membership, code)
        return
    outcome = await membership.join(session, member, now)
    title = outcome.group.title if outcome.group else ""
    stars_price = membership.rules.stars_per_month
    match outcome.kind:
        case "checkout":
            assert outcome.url is not None and outcome.group is not None
            price = templates.price_for(outcome.group, member.language_code)
            await message.answer(
                templates.render(
                    "join_checkout",
                    price=price,
                    title=title,
                    seats_left=outcome.seats_left,
                    until=_local(outcome.hold_until, outcome.group),
                    trial=trial_length(outcome.trial_days) if outcome.trial_days else None,
                ),
                reply_markup=markup(
                    [
                        link_button(
                            f"Start my {trial_length(outcome.trial_days)}"
                            if outcome.trial_days
                            else f"Pay {price.recurring}",
                            outcome.url,
                        )
                    ],
                    *(
                        [[link_button(f"Pay ⭐ {stars_price} Stars a month", outcome.stars_url)]]
                        if outcome.stars_url
                        else []
                    ),
                ),
            )
        case "waitlisted":
            await message.answer(
                templates.render("join_waitlisted", title=title, position=outcome.position)
            )
        case "member":
            await message.answer(templates.render("join_member", title=title))
        case "no_group":
            await message.answer(templates.render("join_no_group"))


async def _redeem(
    message: Message,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
    code: str,
) -> None:
    done = await codes.redeem(session, membership, member, code, now)
    title = done.group.title if done.group else ""
    keyboard = None
    if done.kind == "checkout":
        assert done.url is not None
        keyboard = markup([link_button("Start my free month", done.url)])
    await message.answer(
        templates.render(
            "code_redeemed",
            price=templates.price_for(done.group, member.language_code),
            outcome=done.kind,
            kind=str(done.code.kind) if done.code else "",
            title=title,
            position=done.position,
            until=_local(done.hold_until, done.group) if done.group else None,
            ends=_local(done.ends_at, done.group) if done.group else None,
        ),
        reply_markup=keyboard,
    )


async def gift_command(
    message: Message,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
) -> None:
    """/gift: a month (or three) of Between for someone else, paid once."""
    month = (await membership.price_for(session, member, now)).month()
    await message.answer(
        templates.render("gift_offer", paying=False),
        reply_markup=markup(
            [button(f"A month: {month.amount}", GiftMonths(months=1))],
            [button(f"Three months: {month.times(3).amount}", GiftMonths(months=3))],
        ),
    )


async def gift_button(
    query: CallbackQuery,
    callback_data: GiftMonths,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    membership: Membership,
    links: BotLinks,
) -> None:
    """Open the one-time Checkout for the gift."""
    await query.answer()
    if not isinstance(query.message, Message) or callback_data.months not in gifts.GIFT_MONTHS:
        return
    group = await membership.price_group(session, member, now)
    checkout = await gifts.start_gift(
        session,
        membership.payments,
        links,
        price_id=membership.price_id(group),
        buyer=member,
        months=callback_data.months,
        now=now,
    )
    month = templates.price_for(group, member.language_code).month()
    amount = month.times(callback_data.months).amount
    await query.message.answer(
        templates.render("gift_offer", paying=True, months=callback_data.months, amount=amount),
        reply_markup=markup([link_button(f"Pay {amount}", checkout.url)]),
    )


async def leave_waitlist(
    message: Message, member: Member, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    """/leave or /cancel: leave the waitlist (an offered seat goes to the next person); from a
    member with a seat, how cancelling works and what happens then."""
    assert member.id is not None
    entry = await seats.open_entry(session, member_id=member.id)
    if entry is not None:
        await seats.leave_waitlist(session, entry, now)
        await message.answer(templates.render("waitlist_left"))
        return
    seated = [s for s in await seats.seats_of(session, member.id) if s.status in SEATED]
    if not seated:
        await message.answer(templates.render("waitlist_not_on"))
        return
    group = await session.get(Group, seated[0].group_id)
    assert group is not None
    # A seat paid in Stars is cancelled in Telegram itself, not in Stripe's portal.
    in_stars = await stars.subscription_of(session, seated[0]) is not None
    comped = seated[0].status == SeatStatus.COMPED
    await message.answer(
        templates.render(
            "how_to_cancel",
            first_name=member.first_name,
            title=group.title,
            comped=comped,
            stars=in_stars,
            cancelling=seated[0].cancel_at_period_end,
            until=_local(seated[0].current_period_end, group),
        ),
        reply_markup=None
        if comped or in_stars
        else markup([button("Open billing", OpenBilling())]),
    )


async def status(
    message: Message, member: Member, session: AsyncSession, templates: Templates
) -> None:
    """Membership, renewal date and seat, or the waitlist place."""
    assert member.id is not None
    entry = await seats.open_entry(session, member_id=member.id)
    position = await seats.position(session, entry) if entry else None
    lines = [await _seat_line(session, seat) for seat in await seats.seats_of(session, member.id)]
    await message.answer(
        templates.render("status", first_name=member.first_name, seats=lines, position=position)
    )


async def _seat_line(session: AsyncSession, seat: Seat) -> dict[str, object]:
    group = await session.get(Group, seat.group_id)
    assert group is not None
    return {
        "title": group.title,
        "status": str(seat.status),
        "renews": _local(seat.current_period_end, group),
        "cancelling": seat.cancel_at_period_end,
        "hold_until": _local(seat.hold_expires_at, group),
    }


async def billing_portal(
    message: Message,
    member: Member,
    session: AsyncSession,
    templates: Templates,
    membership: Membership,
) -> None:
    """A Stripe customer-portal link: card, invoices, cancelling."""
    await _send_portal(message, member, session, templates, membership)


async def billing_button(
    query: CallbackQuery,
    member: Member,
    session: AsyncSession,
    templates: Templates,
    membership: Membership,
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await _send_portal(query.message, member, session, templates, membership)


async def _send_portal(
    message: Message,
    member: Member,
    session: AsyncSession,
    templates: Templates,
    membership: Membership,
) -> None:
    assert member.id is not None
    for seat in await seats.seats_of(session, member.id):
        if await stars.subscription_of(session, seat) is not None:
            group = await session.get(Group, seat.group_id)
            assert group is not None
            await message.answer(
                templates.render(
                    "billing_stars",
                    title=group.title,
                    until=_local(seat.current_period_end, group),
                )
            )
            return
    url = await membership.portal_url(session, member)
    if url is None:
        comped = any(
            s.status == SeatStatus.COMPED for s in await seats.seats_of(session, member.id)
        )
        await message.answer(templates.render("billing_comped" if comped else "billing_none"))
        return
    await message.answer(
        templates.render("billing_portal"), reply_markup=markup([link_button("Open billing", url)])
    )


async def fresh_invite(
    message: Message,
    member: Member,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """A fresh personal invite link (the old one stops working), made as it is sent."""
    assert member.id is not None
    seated = [s for s in await seats.seats_of(session, member.id) if s.status in SEATED]
    if not seated:
        await message.answer(templates.render("invite_none"))
        return
    for seat in seated:
        group = await session.get(Group, seat.group_id)
        assert group is not None
        await notices.queue_fresh_invite(
            session, templates, member=member, group=group, seat=seat, now=now
        )


async def come_in_quietly(
    query: CallbackQuery, member: Member, session: AsyncSession, templates: Templates
) -> None:
    """The new member would rather arrive without a welcome in the group."""
    await query.answer()
    member.welcome_in_group = False
    session.add(member)
    if isinstance(query.message, Message):
        await query.message.answer(templates.render("quiet_arrival", quiet=True))


async def pause_checkins(
    message: Message, member: Member, session: AsyncSession, templates: Templates
) -> None:
    """/quiet: no gentle check-ins while you take space (again to turn them back on)."""
    member.checkins_paused = not member.checkins_paused
    session.add(member)
    await message.answer(templates.render("quiet", paused=member.checkins_paused))


def _local(moment: datetime | None, group: Group) -> str | None:
    return format_local(moment, group.timezone) if moment is not None else None
