"""Arrivals and departures: the coach hears quietly (no sound) when someone joins, goes to
the waitlist, cancels, or is removed for non-payment; the round says who is new since it."""

from __future__ import annotations

from datetime import timedelta

from sandbox.telegram import ChatMessage
from tests.integration.world import COACH_ID, GROUP, World


def notes(world: World) -> list[ChatMessage]:
    """The coach's quiet notes about people coming and going."""
    return [
        m
        for m in world.telegram.sent_by_bot(COACH_ID)
        if any(
            words in (m.text or "")
            for words in (" joined ", "on the waitlist", "cancelled", "is out of", "has ended")
        )
    ]


async def test_the_coach_hears_quietly_who_comes_and_goes(world: World) -> None:
    seat = await world.join_and_pay(4501, "Maya")
    await world.telegram.join_request(4501, GROUP, invite_link=seat.invite_link)
    await world.settle()
    [joined] = notes(world)
    assert joined.text == "🌱 Maya joined Between circle (1 of 3 seats taken)."
    assert joined.silent

    await world.join_and_pay(4502, "Noa")
    await world.join_and_pay(4503, "Ori")
    world.person(4504, "Tal")
    await world.ask_to_join(4504)
    await world.deliver()
    assert notes(world)[-1].text == "🕰 Tal is on the waitlist for Between circle, number 1."

    noa = await world.seat(4502)
    assert noa is not None and noa.stripe_subscription_id is not None
    await world.stripe.cancel_at_period_end(noa.stripe_subscription_id)
    await world.settle()
    cancelled = notes(world)[-1].text or ""
    assert cancelled.startswith("Noa cancelled their membership of Between circle; it ends ")

    assert seat.stripe_subscription_id is not None
    await world.stripe.fail_renewal(seat.stripe_subscription_id)
    await world.settle()
    world.clock.advance(timedelta(days=3, minutes=1))
    await world.sweep()
    unpaid = notes(world)[-1]
    assert (unpaid.text or "").startswith("👋 Maya is out of Between circle: the payment")
    assert all(note.silent for note in notes(world))
    assert len(notes(world)) == 4  # nothing twice
