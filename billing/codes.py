"""Access codes: the coach's single-use codes (a comped seat, or the first month off) and the
codes gifts bring. A code's seat obeys the group's seats and waitlist like any other.

A code is redeemed by `/join CODE` or a `t.me/<bot>?start=CODE` link. It is used up when it
gives a seat (comp, gift) or opens a Checkout with the month off (bound then to that person,
who may open Checkout again with it; nobody else can). A code met with a full group is not
used: the person gets a waitlist place and uses the code again when a seat is offered.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import notices, seats
from core.localtime import format_local
from core.models import SEATED, AccessCode, CodeKind, Group, Member, Seat, SeatStatus

if TYPE_CHECKING:  # membership imports gifts, which makes codes with new_code
    from billing.membership import Membership

log = logging.getLogger(__name__)

# No 0/O or 1/I: a code is read off a screen and typed.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
MAX_CODES_AT_ONCE = 50
GIFT_MONTH = timedelta(days=30)
# A code as someone may type it: letters and digits, maybe with spaces or dashes.
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{3,40}$")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(text: str) -> str | None:
    """The code in what someone typed (`k7qm-2xh4 pd` → `K7QM2XH4PD`); None if it can't be."""
    text = text.strip()
    if not _CODE_SHAPE.match(text):
        return None
    return re.sub(r"[ _-]", "", text).upper()


def looks_like_code(text: str | None) -> bool:
    """A /start argument that is a code (not `paid`, `join` or `tool-...`)."""
    found = normalise(text or "")
    return found is not None and len(found) == CODE_LENGTH and set(found) <= set(ALPHABET)


def code_state(code: AccessCode) -> str:
    """How /code list shows a code."""
    if code.revoked_at is not None:
        return "revoked"
    if code.redeemed_at is not None:
        return "used"
    if code.kind == CodeKind.GIFT and code.paid_at is None:
        return "unpaid"
    return "open"


async def make_codes(
    session: AsyncSession, *, kind: CodeKind, count: int, created_by: int, now: datetime
) -> list[AccessCode]:
    """`count` fresh single-use codes of one kind."""
    made = [
        AccessCode(code=new_code(), kind=kind, created_by=created_by, created_at=now)
        for _ in range(count)
    ]
    session.add_all(made)
    await session.flush()
    return made


async def coach_codes(session: AsyncSession) -> list[AccessCode]:
    """The coach's codes (not gifts), newest first."""
    result = await session.exec(
        select(AccessCode)
        .where(col(AccessCode.kind) != CodeKind.GIFT)
        .order_by(col(AccessCode.id).desc())
        .limit(100)
    )
    return list(result.all())


async def find_code(session: AsyncSession, text: str) -> AccessCode | None:
    """The code someone typed, locked (two people redeeming one code at once)."""
    wanted = normalise(text)
    if wanted is None:
        return None
    result = await session.exec(
        select(AccessCode).where(col(AccessCode.code) == wanted).with_for_update()
    )
    return result.first()


async def revoke(session: AsyncSession, text: str, now: datetime) -> tuple[str, AccessCode | None]:
    """Revoke an unused code: ("revoked" | "used" | "already" | "unknown", the code)."""
    code = await find_code(session, text)
    if code is None:
        return "unknown", None
    if code.revoked_at is not None:
        return "already", code
    if code.redeemed_at is not None:
        return "used", code
    code.revoked_at = now
    session.add(code)
    return "revoked", code


@dataclass(frozen=True)
class RedeemOutcome:
    """What a code did, for the handler to render."""

    kind: Literal[
        "unknown", "revoked", "used", "member", "seated", "checkout", "waitlisted", "no_group"
    ]
    code: AccessCode | None = None
    group: Group | None = None
    url: str | None = None
    position: int = 0
    hold_until: datetime | None = None
    ends_at: datetime | None = None


async def redeem(
    session: AsyncSession, membership: Membership, member: Member, text: str, now: datetime
) -> RedeemOutcome:
    """Use a code for a seat: held first like any seat (or a waitlist place), then comped, a
    gift with its end, or Checkout with the first month off."""
    assert member.id is not None
    code = await find_code(session, text)
    if code is None or (code.kind == CodeKind.GIFT and code.paid_at is None):
        return RedeemOutcome("unknown")
    if code.revoked_at is not None:
        return RedeemOutcome("revoked", code)
    if code.redeemed_by is not None and code.redeemed_by != member.id:
        return RedeemOutcome("used", code)
    held: Seat | None = None
    for seat in await seats.seats_of(session, member.id):
        if seat.status in SEATED:
            return RedeemOutcome("member", code, await _group(session, seat.group_id))
        if seat.hold_expires_at is not None and seat.hold_expires_at > now:
            held = seat
    if code.redeemed_at is not None and code.kind != CodeKind.MONTH_OFF:
        return RedeemOutcome("used", code)
    if held is None:
        entry = await seats.open_entry(session, member_id=member.id)
        if entry is not None:  # waiting already: the code waits with them
            group = await _group(session, entry.group_id)
            return RedeemOutcome(
                "waitlisted", code, group, position=await seats.position(session, entry)
            )
        chosen, has_room = await seats.group_with_room(session, now)
        if chosen is None:
            return RedeemOutcome("no_group", code)
        if has_room:
            until = now + timedelta(minutes=membership.rules.checkout_minutes)
            held = await seats.hold_seat(
                session, member=member, group=chosen, now=now, until=until
            )
        if held is None:
            entry, position = await seats.join_waitlist(
                session, member=member, group=chosen, now=now
            )
            return RedeemOutcome("waitlisted", code, chosen, position=position)
    group = await _group(session, held.group_id)
    code.redeemed_by = member.id
    code.redeemed_seat_id = held.id
    if code.kind == CodeKind.MONTH_OFF:
        # Used up once paid (checkout.session.completed); bound to this person meanwhile.
        session.add(code)
        outcome = await membership._checkout(session, held, member, group, now, month_off=True)
        return RedeemOutcome(
            "checkout", code, group, url=outcome.url, hold_until=outcome.hold_until
        )
    code.redeemed_at = now
    session.add(code)
    await _seat_for_free(session, membership, held, member, group, code, now)
    return RedeemOutcome("seated", code, group, ends_at=held.current_period_end)


async def _seat_for_free(
    session: AsyncSession,
    membership: Membership,
    seat: Seat,
    member: Member,
    group: Group,
    code: AccessCode,
    now: datetime,
) -> None:
    """The held seat becomes a comped one (a gift's with its end date), with the invite."""
    seat.status = SeatStatus.COMPED
    seat.hold_expires_at = None
    seat.checkout_session_id = seat.checkout_url = None
    if code.kind == CodeKind.GIFT:
        seat.current_period_end = now + GIFT_MONTH * (code.months or 1)
    seat.updated_at = now
    session.add(seat)
    await session.flush()
    await seats.mark_seated(session, seat, now)
    await notices.queue_comped_welcome(
        session,
        membership.templates,
        member=member,
        group=group,
        seat=seat,
        now=now,
        gift_ends=format_local(seat.current_period_end, group.timezone)
        if code.kind == CodeKind.GIFT and seat.current_period_end
        else None,
    )


async def _group(session: AsyncSession, group_id: int) -> Group:
    group = await session.get(Group, group_id)
    assert group is not None
    return group
