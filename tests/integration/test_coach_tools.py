"""Commands that fit a coach's hand: names as the bot shows them (a button when several
people share one), the coach's own /help, a choice of group for /post and /broadcast, /zoom
and /summary for the coach, and /prompt help with real prompt ids."""

from __future__ import annotations

from sandbox import harness
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 4601
MAYA_K = 4602
NOA = 4603
SECOND = -1009001


async def in_the_group(
    world: World, user_id: int, name: str, last_name: str | None = None, username: str = ""
) -> None:
    if username:
        world.telegram.add_user(user_id, name, last_name=last_name, username=username)
        answer = await world.ask_to_join(user_id)
        assert "held for you" in (answer.text or "")
        await world.pay(user_id)
        seat = await world.seat(user_id)
    else:
        seat = await world.join_and_pay(user_id, name)
    assert seat is not None
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


async def test_coach_commands_take_a_name_as_shown_with_buttons_when_several_match(
    world: World,
) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, MAYA_K, "Maya", last_name="Katz", username="mayak")
    await world.telegram.user_sends(MAYA, text="The first Maya writes.")
    await world.telegram.user_sends(MAYA_K, text="The other Maya writes.")

    await world.telegram.user_sends(COACH_ID, text="/thread Maya Katz")
    assert "The other Maya writes." in world.texts(COACH_ID)[-1]

    await world.telegram.user_sends(COACH_ID, text="/thread maya")  # her @username
    assert "The first Maya writes." in world.texts(COACH_ID)[-1]

    await world.telegram.user_sends(COACH_ID, text="/thread Maya")
    which = world.last(COACH_ID)
    assert "2 people are called Maya. Which one?" in (which.text or "")
    choices = [row[0] for row in (which.reply_markup or {})["inline_keyboard"]]
    assert [c["text"] for c in choices] == ["Maya (@maya) · active", "Maya Katz (@mayak) · active"]
    await world.telegram.user_presses(COACH_ID, which, choices[1]["callback_data"])
    assert "The other Maya writes." in world.texts(COACH_ID)[-1]

    await world.telegram.user_sends(COACH_ID, text="/thread Nobody")
    assert "Name them as I show them" in world.texts(COACH_ID)[-1]


async def test_the_coach_has_a_help_of_their_own(world: World) -> None:
    await world.telegram.user_sends(COACH_ID, text="/help")
    own = world.texts(COACH_ID)[-1]
    assert own.startswith("Your tools, coach") and "/profile" in own and "/members" in own
    await world.telegram.user_sends(COACH_ID, text="/help members")
    assert world.texts(COACH_ID)[-1].startswith("What you can do here")


async def test_post_and_broadcast_ask_which_group_when_there_are_several(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await harness.coach_opens_group(
        world.telegram, world.sessions, chat_id=SECOND, title="Second circle", capacity=3,
        now=world.clock.now(),
    )  # fmt: skip
    before_second = len(world.telegram.sent_by_bot(SECOND))

    await world.telegram.user_sends(COACH_ID, text="/post One breath before bed tonight.")
    ask = world.last(COACH_ID)
    assert ask.text == "Which group should this go to?"
    rows = (ask.reply_markup or {})["inline_keyboard"]
    assert [row[0]["text"] for row in rows] == ["Between circle", "Second circle", "Every group"]
    await world.telegram.user_presses(COACH_ID, ask, rows[0][0]["callback_data"])
    assert world.telegram.sent_by_bot(GROUP)[-1].text == "Coach\nOne breath before bed tonight."
    assert len(world.telegram.sent_by_bot(SECOND)) == before_second
    assert "Posted to Between circle, under your name." in world.texts(COACH_ID)[-1]
    await world.telegram.user_presses(COACH_ID, ask, rows[0][0]["callback_data"])
    assert "already done" in world.texts(COACH_ID)[-1]  # a second press sends nothing

    await world.telegram.user_sends(COACH_ID, text="/broadcast Zoom is on Thursday this week.")
    ask = world.last(COACH_ID)
    assert ask.text == "Which group's members should get this?"
    rows = (ask.reply_markup or {})["inline_keyboard"]
    await world.telegram.user_presses(COACH_ID, ask, rows[1][0]["callback_data"])  # Second
    await world.deliver()
    assert world.told(COACH_ID, "On its way to 0 members.") == 1
    assert not world.told(MAYA, "Zoom is on Thursday")
    await world.telegram.user_sends(COACH_ID, text="/broadcast Zoom is on Thursday this week.")
    ask = world.last(COACH_ID)
    rows = (ask.reply_markup or {})["inline_keyboard"]
    await world.telegram.user_presses(COACH_ID, ask, rows[2][0]["callback_data"])  # every group
    await world.deliver()
    assert world.told(MAYA, "From Coach, your coach") == 1


async def test_zoom_and_summary_work_for_the_coach(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await world.telegram.user_sends(MAYA, voice_seconds=90)
    await world.telegram.user_sends(COACH_ID, text="/zoom")
    assert (
        "Between circle: not scheduled yet; it's usually Wednesday at 18:00"
        in (world.texts(COACH_ID)[-1])
    )
    await world.telegram.user_sends(COACH_ID, text="/summary")
    week = world.texts(COACH_ID)[-1]
    assert week.startswith("The week so far") and "• Maya: 1 check-in (1 by voice)" in week
    await world.telegram.user_sends(COACH_ID, text="/summary Maya")
    assert "Your week so far, Maya" in world.texts(COACH_ID)[-1]


async def test_prompt_help_shows_real_prompt_ids(world: World) -> None:
    library = world.runtime.library
    await world.telegram.user_sends(COACH_ID, text="/prompt sett")
    usage = world.texts(COACH_ID)[-1]
    assert f"/prompt set 2026-11-17 {library.prompts[0].id}" in usage
    assert "naming-the-knot" not in usage
    await world.telegram.user_sends(COACH_ID, text="/prompt ids")
    ids = world.texts(COACH_ID)[-1]
    assert all(prompt.id in ids for prompt in library.prompts)
