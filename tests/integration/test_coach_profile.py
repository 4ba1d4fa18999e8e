"""Who is speaking: the coach's profile, set from Telegram, shown at /start and on every word
the coach sends through the bot; automatic messages say they are automatic."""

from __future__ import annotations

from pathlib import Path

from sandbox.telegram import ChatMessage
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 4301


async def answer(world: World, question: ChatMessage, **what: object) -> ChatMessage:
    await world.telegram.user_sends(COACH_ID, reply_to_message_id=question.message_id, **what)  # type: ignore[arg-type]
    return world.last(COACH_ID)


async def test_the_coach_sets_a_profile_that_members_see(world: World) -> None:
    await world.telegram.user_sends(COACH_ID, text="/profile")
    asked = world.last(COACH_ID)
    assert "What name should members see?" in (asked.text or "")
    assert asked.reply_markup == {
        "force_reply": True,
        "input_field_placeholder": "The name members will see",
    }
    asked = await answer(world, asked, text="Rivka")
    assert "Two lines about you" in (asked.text or "")
    asked = await answer(world, asked, text="One line.\nTwo lines.\nThree lines is too many.")
    assert "That doesn't fit: please send at most 2 lines" in (asked.text or "")
    asked = await answer(
        world, asked, text="Therapist and coach, twelve years.\nI read every message myself."
    )
    assert "A photo of you" in (asked.text or "")
    shown = await answer(world, asked, photo_caption="")
    assert "Your coach: Rivka" in (shown.text or "") and "(with your photo)" in (shown.text or "")

    world.person(MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="/start")
    photo, welcome = world.telegram.sent_by_bot(MAYA)[-2:]
    assert (photo.kind, photo.text) == ("photo", "Rivka, your coach")
    assert (
        "Your coach: Rivka\nTherapist and coach, twelve years.\nI read every message myself."
        in (welcome.text or "")
    )
    assert "text and voice feedback from Rivka" in (welcome.text or "")

    # Changing one part later: the button asks for that part only.
    await world.telegram.user_sends(COACH_ID, text="/profile")
    profile = world.last(COACH_ID)
    name_button = (profile.reply_markup or {})["inline_keyboard"][0][0]
    await world.telegram.user_presses(COACH_ID, profile, name_button["callback_data"])
    shown = await answer(world, world.last(COACH_ID), text="Rivka B.")
    assert "Your coach: Rivka B." in (shown.text or "")


async def test_the_coachs_voice_reaches_the_member_under_the_coachs_name(world: World) -> None:
    await world.telegram.user_sends(COACH_ID, text="/profile")
    asked = await answer(world, world.last(COACH_ID), text="Rivka")
    asked = await answer(world, asked, text="skip")
    await answer(world, asked, text="skip")
    seat = await world.join_and_pay(MAYA, "Maya")
    await world.telegram.join_request(MAYA, GROUP, invite_link=seat.invite_link)
    await world.telegram.user_sends(MAYA, text="The dread came back this morning.")
    await world.deliver()
    ack = world.texts(MAYA)[-1]
    assert "Rivka will read it" in ack and ack.endswith("Sent automatically by Between.")

    copy = next(
        m
        for m in world.telegram.sent_by_bot(COACH_ID)
        if m.text == "The dread came back this morning."
    )
    await world.telegram.user_sends(
        COACH_ID, voice_seconds=70, reply_to_message_id=copy.message_id
    )
    voice = world.last(MAYA)
    assert (voice.kind, voice.text) == ("voice", "Rivka · voice note")
    await world.telegram.user_sends(
        COACH_ID, video_note_seconds=20, reply_to_message_id=copy.message_id
    )
    label, note = world.telegram.sent_by_bot(MAYA)[-2:]
    assert (label.text, note.kind) == ("Rivka · video note", "video_note")  # no caption there


TEMPLATES = Path(__file__).parents[2] / "prompts" / "templates"
# What the bot sends on its own (not an answer to a command): each says it is automatic.
AUTOMATIC = (
    "ack",
    "promise_late",
    "gentle_checkin",
    "safety_resources",
    "safety_concerning",
    "group_recap",
    "group_welcome",
    "daily_prompt",
    "qa_announce",
    "qa_reminder",
    "payment_failed",
    "payment_recovered",
    "cancel_scheduled",
    "cancel_undone",
    "goodbye",
    "removed_unpaid",
    "hold_expired",
    "waitlist_offer",
    "offer_lapsed",
    "welcome_paid",
    "welcome_comped",
    "trial_ending",
)


def test_every_automatic_message_says_it_is_automatic() -> None:
    missing = [
        name
        for name in AUTOMATIC
        if "{{ automatic }}" not in (TEMPLATES / f"{name}.html").read_text()
    ]
    assert missing == []


def test_no_message_claims_a_person_read_what_was_written() -> None:
    claims = [
        path.name
        for path in TEMPLATES.glob("*.html")
        if "I read what you wrote" in path.read_text() or "I've read" in path.read_text()
    ]
    assert claims == []
