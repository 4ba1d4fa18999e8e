"""Daily practice end to end: the prompt of the day, check-ins, tools and the safety net."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from core.groups import Schedule, change_schedule, register_group
from core.models import Entry, EntryKind, PromptDay, PromptState, SafetyAlert
from prompts.buttons import NameFeeling
from scheduling import jobs
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 4001
NOA = 4002
STRANGER = 7777
# Tuesday 17 November 2026, a minute before the prompt (London is on UTC in November).
BEFORE_NINE = datetime(2026, 11, 17, 8, 59, tzinfo=UTC)


async def in_the_group(world: World, user_id: int, name: str) -> None:
    seat = await world.join_and_pay(user_id, name)
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


async def london_mornings(world: World) -> None:
    async with world.sessions() as session:
        group = await register_group(
            session,
            chat_id=GROUP,
            title="Between circle",
            timezone="Europe/London",
            now=world.clock.now(),
        )
        change_schedule(group, Schedule(prompt_time="09:00"))
        session.add(group)
        await session.commit()


async def run_prompt_job(world: World) -> int:
    sent = await jobs.send_daily_prompts({"services": world.runtime})
    await world.deliver()
    return sent


async def entries(world: World) -> list[Entry]:
    async with world.sessions() as session:
        return list((await session.exec(select(Entry).order_by(col(Entry.id)))).all())


def group_posts(world: World) -> list[str]:
    """What the bot posted in the group, the pinned agreement and the welcomes aside."""
    return [
        m.text or ""
        for m in world.telegram.sent_by_bot(GROUP)
        if not (m.text or "").startswith(("Our group agreement", "🌱 Welcome"))
    ]


async def test_the_daily_prompt_goes_once_per_local_day_at_its_hour(world: World) -> None:
    await london_mornings(world)
    world.clock.set(BEFORE_NINE)
    assert await run_prompt_job(world) == 0
    world.clock.set(BEFORE_NINE + timedelta(minutes=1))
    assert await run_prompt_job(world) == 1
    assert await run_prompt_job(world) == 0  # the worker runs every minute
    world.clock.set(BEFORE_NINE + timedelta(hours=5))
    assert await run_prompt_job(world) == 0

    [post] = group_posts(world)
    assert "Tuesday" in post and "Answer here in a line or a voice note" in post
    world.clock.set(BEFORE_NINE + timedelta(days=1, minutes=1))
    assert await run_prompt_job(world) == 1
    first, second = group_posts(world)
    assert first != second
    async with world.sessions() as session:
        days = (await session.exec(select(PromptDay).order_by(col(PromptDay.local_date)))).all()
    assert [(str(d.local_date), d.state) for d in days] == [
        ("2026-11-17", PromptState.SENT),
        ("2026-11-18", PromptState.SENT),
    ]


async def test_check_ins_of_members_are_kept_and_nobody_elses(world: World) -> None:
    await london_mornings(world)
    await in_the_group(world, MAYA, "Maya")
    world.clock.set(BEFORE_NINE + timedelta(minutes=1))
    await run_prompt_job(world)
    posts_before = group_posts(world)

    telegram = world.telegram
    text = await telegram.user_sends(MAYA, GROUP, text="Named it: abandoned. Breathed anyway.")
    await telegram.user_sends(MAYA, voice_seconds=42)
    await telegram.user_sends(MAYA, video_note_seconds=15)
    await telegram.user_sends(MAYA, photo_caption="my walk today")
    await telegram.user_edits(
        MAYA, GROUP, text["message"]["message_id"], "Named it: abandoned, then calm."
    )
    world.person(STRANGER, "Passer")
    await telegram.user_sends(STRANGER, text="hello, who are you?")

    kept = await entries(world)
    assert [(e.kind, e.text, e.duration_seconds) for e in kept] == [
        (EntryKind.TEXT, "Named it: abandoned, then calm.", None),
        (EntryKind.VOICE, None, 42),
        (EntryKind.VIDEO_NOTE, None, 15),
        (EntryKind.PHOTO, "my walk today", None),
    ]
    assert kept[0].prompt_id is not None and kept[0].edited_at == world.clock.now()
    assert kept[1].file_id is not None
    assert group_posts(world) == posts_before  # the bot says nothing in the group


async def test_wins_next_steps_the_feelings_wheel_and_the_streak(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    telegram = world.telegram
    await telegram.user_sends(MAYA, text="/streak")
    assert "today is a good day to start" in (world.last(MAYA).text or "")

    await telegram.user_sends(MAYA, GROUP, text="#win I said no without explaining")
    await telegram.user_sends(MAYA, text="/win slept eight hours")
    await telegram.user_sends(MAYA, text="/next text Dana tonight")
    await telegram.user_sends(MAYA, text="/feel")
    wheel = world.last(MAYA)
    core = next(
        button["callback_data"]
        for row in (wheel.reply_markup or {})["inline_keyboard"]
        for button in row
        if "scared" in button["text"].lower()
    )
    await telegram.user_presses(MAYA, wheel, core)
    words = world.telegram.messages(MAYA)[-1]
    word = (words.reply_markup or {})["inline_keyboard"][0][0]["callback_data"]
    await telegram.user_presses(MAYA, words, word)
    assert "You named it" in (world.telegram.messages(MAYA)[-1].text or "")

    kept = [(e.kind, e.text) for e in await entries(world)]
    assert kept[:3] == [
        (EntryKind.WIN, "#win I said no without explaining"),
        (EntryKind.WIN, "slept eight hours"),
        (EntryKind.NEXT_STEP, "text Dana tonight"),
    ]
    assert kept[3] == (EntryKind.FEELING, NameFeeling.unpack(word).word)

    world.clock.advance(timedelta(days=1))
    await telegram.user_sends(MAYA, text="still here")
    await telegram.user_sends(MAYA, text="/streak")
    assert "2 days in a row" in (world.last(MAYA).text or "")


async def test_the_tools_answer_in_private(world: World) -> None:
    world.person(NOA, "Noa")
    for command, words in [
        ("/breathe", "Breathe for 60 seconds"),
        ("/ground", "5-4-3-2-1"),
        ("/boundary", "Fill in:"),
        ("/innerkid", "kid"),
    ]:
        await world.telegram.user_sends(NOA, text=command)
        assert words in (world.last(NOA).text or "")


async def test_the_boundary_builder_shows_blanks_and_the_inner_kid_a_way_back(
    world: World,
) -> None:
    world.person(NOA, "Noa")
    await world.telegram.user_sends(NOA, text="/boundary")
    builder = world.last(NOA).text or ""
    assert "{" not in builder and "}" not in builder  # no raw placeholders
    assert "When [what happened], I feel [the feeling]. I need [what you need]." in builder
    await world.telegram.user_sends(NOA, text="/innerkid")
    assert (world.last(NOA).text or "").endswith(
        "/ground takes you back to the room you're in, one sense at a time."
    )


async def test_the_safety_net_answers_privately_and_alerts_the_coach(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    telegram = world.telegram
    posts_before = group_posts(world)
    ordinary = await telegram.user_sends(MAYA, GROUP, text="This traffic is killing me, lol")
    await world.deliver()
    assert world.told(MAYA, "so this comes to you right away") == 0

    risky = await telegram.user_sends(MAYA, GROUP, text="Honestly I want to end it all")
    await world.deliver()

    [resources] = [t for t in world.texts(MAYA) if "so this comes to you right away" in t]
    assert "Samaritans" in resources and "988" in resources and "findahelpline.com" in resources
    alert = world.texts(COACH_ID)[-1]
    assert "Urgent: the safety net fired" in alert and "Maya" in alert
    message_id = risky["message"]["message_id"]
    assert f"https://t.me/c/1009000000/{message_id}" in alert  # the supergroup, that message
    assert "Their words" not in alert  # a group message is linked, not quoted
    assert group_posts(world) == posts_before  # nothing is said in the group
    async with world.sessions() as session:
        alerts = (await session.exec(select(SafetyAlert))).all()
    assert [(a.message_id, a.phrase) for a in alerts] == [(message_id, "want to end it all")]
    assert ordinary["message"]["message_id"] != message_id


async def test_the_safety_net_in_private_quotes_the_words_harmlessly(world: World) -> None:
    world.person(STRANGER, "<b>Sam</b>")
    await world.telegram.user_sends(STRANGER, text="<i>i don't want to be here anymore</i> & <b>")
    await world.deliver()
    assert world.told(STRANGER, "findahelpline.com") == 1  # not a member: still helped
    alert = world.texts(COACH_ID)[-1]
    assert "<b>Sam</b> (@<b>sam</b>) wrote something" in alert
    assert "Their words: <i>i don't want to be here anymore</i> & <b>" in alert


async def test_the_coach_plans_skips_and_sends_prompts(world: World) -> None:
    await london_mornings(world)
    world.clock.set(BEFORE_NINE - timedelta(hours=2))
    telegram = world.telegram
    await telegram.user_sends(COACH_ID, text="/prompt")
    plan = world.last(COACH_ID).text or ""
    assert plan.count("\n") >= 7 and "Tue 17 Nov" in plan and "Mon 23 Nov" in plan

    await telegram.user_sends(COACH_ID, text="/prompt set 2026-11-18 where-it-sits")
    await telegram.user_sends(COACH_ID, text="/prompt set 2026-11-18 no-such-prompt")
    assert "isn't one" in (world.last(COACH_ID).text or "")
    await telegram.user_sends(COACH_ID, text="/prompt skip")
    assert "No prompt on Tuesday 17 November" in (world.last(COACH_ID).text or "")
    await telegram.user_sends(COACH_ID, text="/prompt")
    plan = world.last(COACH_ID).text or ""
    assert "Tue 17 Nov: skipped" in plan

    world.clock.set(BEFORE_NINE + timedelta(minutes=1))
    assert await run_prompt_job(world) == 0  # today was skipped
    world.clock.set(BEFORE_NINE + timedelta(days=1, minutes=1))
    await telegram.user_sends(COACH_ID, text="/prompt now")
    assert "is on its way" in (world.last(COACH_ID).text or "")
    await world.deliver()
    assert await run_prompt_job(world) == 0
    [post] = group_posts(world)
    assert world.runtime.library.prompt("where-it-sits").text in post
