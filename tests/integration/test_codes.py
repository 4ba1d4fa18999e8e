"""The coach's access codes end to end: made with /code, redeemed by a deep link or /join CODE,
revoked; a code's seat obeys the group's seats and waitlist."""

from __future__ import annotations

import re

from sqlmodel import select

from core import privacy
from core.models import AccessCode, Member, SeatStatus
from prompts.buttons import AcceptNote
from tests.integration.world import COACH_ID, GROUP, World


async def coach_makes(world: World, words: str) -> list[str]:
    await world.telegram.user_sends(COACH_ID, text=f"/code new {words}")
    return re.findall(r"\?start=([A-Z0-9]{10})", world.last(COACH_ID).text or "")


async def redeem(world: World, user_id: int, name: str, text: str) -> str:
    """The person sends `text` (a deep link's /start CODE or /join CODE), accepts the note."""
    world.person(user_id, name)
    await world.telegram.user_sends(user_id, text=text)
    note = world.last(user_id)
    assert "not a crisis service" in (note.text or "")
    code = text.split()[-1].upper()
    await world.telegram.user_presses(user_id, note, AcceptNote(code=code).pack())
    await world.deliver()
    answers = world.texts(user_id)
    return next(t for t in reversed(answers) if "code" in t or "gift" in t or "month" in t)


async def test_a_code_by_deep_link_gives_a_free_seat_once_and_the_invite_lets_them_in(
    world: World,
) -> None:
    made = await coach_makes(world, "2")
    assert len(made) == 2 and "a free seat each" in (world.last(COACH_ID).text or "")

    said = await redeem(world, 4101, "Maya", f"/start {made[0]}")
    assert "Your code opened a seat in Between circle" in said
    seat = await world.seat(4101)
    assert seat is not None and seat.status == SeatStatus.COMPED
    assert world.told(4101, "nothing to pay") == 1
    await world.telegram.join_request(4101, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()
    assert world.telegram.members(GROUP)[4101] == "member"

    again = await redeem(world, 4102, "Noa", f"/join {made[0]}")
    assert "used already" in again
    assert await world.seat(4102) is None

    await world.telegram.user_sends(COACH_ID, text="/code list")
    listing = world.last(COACH_ID).text or ""
    assert f"{made[0]} · free seat · used" in listing
    assert f"{made[1]} · free seat · open" in listing
    async with world.sessions() as session:
        code = (await session.exec(select(AccessCode).where(AccessCode.code == made[0]))).one()
    assert code.redeemed_seat_id == seat.id


async def test_a_revoked_code_opens_nothing(world: World) -> None:
    (code,) = await coach_makes(world, "1")
    await world.telegram.user_sends(COACH_ID, text=f"/code revoke {code.lower()}")
    assert "is revoked" in (world.last(COACH_ID).text or "")

    said = await redeem(world, 4101, "Maya", f"/join {code}")
    assert "withdrawn" in said
    assert await world.seat(4101) is None
    await world.telegram.user_sends(COACH_ID, text=f"/code revoke {code}")
    assert "revoked already" in (world.last(COACH_ID).text or "")


async def test_a_month_off_code_opens_checkout_for_nothing_today_then_the_seat_is_paid(
    world: World,
) -> None:
    (code,) = await coach_makes(world, "1 month-off")
    said = await redeem(world, 4101, "Maya", f"/join {code}")
    assert "first month in Between circle free" in said
    seat = await world.seat(4101)
    assert seat is not None and seat.checkout_session_id is not None
    checkout = world.stripe.checkout_sessions[seat.checkout_session_id]
    assert (checkout["amount_subtotal"], checkout["amount_total"]) == (3100, 0)

    await world.pay(4101)
    paid = await world.seat(4101)
    assert paid is not None and paid.status == SeatStatus.ACTIVE
    assert world.told(4101, "Welcome to Between circle") == 1
    await world.telegram.user_sends(COACH_ID, text="/code list")
    assert f"{code} · month off · used" in (world.last(COACH_ID).text or "")


async def test_a_code_meets_a_full_group_with_a_waitlist_place_and_works_when_offered(
    world: World,
) -> None:
    (code,) = await coach_makes(world, "1")
    for user_id, name in ((4001, "Ori"), (4002, "Tal"), (4003, "Lee")):
        await world.join_and_pay(user_id, name)

    said = await redeem(world, 4101, "Maya", f"/join {code}")
    assert "number 1" in said and "send the same code again" in said
    assert await world.seat(4101) is None

    first = await world.seat(4001)
    assert first is not None and first.stripe_subscription_id is not None
    await world.stripe.end_subscription(first.stripe_subscription_id)
    await world.settle()
    offered = await world.seat(4101)
    assert offered is not None and offered.status == SeatStatus.HELD

    await world.telegram.user_sends(4101, text=f"/join {code}")
    await world.deliver()
    assert "Your code opened a seat" in (world.texts(4101)[-2] + world.texts(4101)[-1])
    seated = await world.seat(4101)
    assert seated is not None and seated.id == offered.id
    assert seated.status == SeatStatus.COMPED


async def test_a_coach_typing_nonsense_gets_the_usage(world: World) -> None:
    for words in ("/code new", "/code new 0", "/code new 3 forever", "/code new 999", "/code x"):
        await world.telegram.user_sends(COACH_ID, text=words)
        assert (world.last(COACH_ID).text or "").startswith("Use: /code new 3")
    world.person(4101, "Maya")
    await world.telegram.user_sends(4101, text="/code new 3")
    assert "coach" in (world.last(4101).text or "").lower()


async def test_mydata_says_a_code_opened_the_seat(world: World) -> None:
    [code] = await coach_makes(world, "1")
    await redeem(world, 4101, "Maya", f"/join {code}")
    async with world.sessions() as session:
        member = (await session.exec(select(Member).where(Member.telegram_id == 4101))).one()
        exported = await privacy.export_member(session, member)
    [redeemed] = exported["codes_redeemed"]
    assert redeemed["kind"] == "comp" and redeemed["when"] is not None


async def test_a_code_redeemed_while_telegram_fails_the_invite_once_still_lets_them_in(
    world: World,
) -> None:
    """Telegram answers the invite link with a 500 once: the press is resent, and the seat the
    code opened still comes with its invite (the work committed before the call is no reason
    to say the code was used)."""
    (code,) = await coach_makes(world, "1")
    world.telegram.fail_next("createChatInviteLink", status=500)

    said = await redeem(world, 4101, "Maya", f"/join {code}")
    await world.telegram.settle()

    assert "Your code opened a seat in Between circle" in said
    seat = await world.seat(4101)
    assert seat is not None and seat.status == SeatStatus.COMPED and seat.invite_link
    await world.telegram.join_request(4101, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()
    assert world.telegram.members(GROUP)[4101] == "member"
