"""Who the coach is, set from Telegram: /profile asks for a name, two lines about them and a
photo, one question at a time (each a message to reply to); later it shows the profile with a
button per part to change. Members see it at /start, and the name labels the coach's words."""

from __future__ import annotations

from datetime import datetime

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, ForceReply, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import PRIVATE, AnswersCoachQuestion, IsCoach
from coaching import asks, profiles
from core.models import CoachQuestion
from prompts.buttons import EditProfile, button, markup
from prompts.render import Templates

# What a coach may answer to leave the bio or the photo out.
SKIP = {"skip", "none", "no", "-", "/skip"}


def create_router() -> Router:
    router = Router(name="coach_profile")
    router.message.register(show_profile, Command("profile"), PRIVATE, IsCoach())
    router.callback_query.register(edit_part, EditProfile.filter(), IsCoach())
    router.message.register(answer_part, PRIVATE, IsCoach(), AnswersCoachQuestion(asks.PROFILE))
    return router


async def show_profile(
    message: Message, session: AsyncSession, now: datetime, templates: Templates
) -> None:
    """/profile: the profile as members see it, with a button per part; the first time, the
    questions one after another."""
    assert message.from_user is not None
    profile = await profiles.profile_of(session, message.from_user.id)
    if profile is None or not profile.name:
        await _ask(message, "name", session, now, templates, setting_up=True)
        return
    await message.answer(
        templates.render("coach_profile", profile=profile),
        reply_markup=markup(
            [
                button("Name", EditProfile(part="name")),
                button("Two lines", EditProfile(part="bio")),
                button("Photo", EditProfile(part="photo")),
            ]
        ),
    )


async def edit_part(
    query: CallbackQuery,
    callback_data: EditProfile,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    await query.answer()
    if isinstance(query.message, Message) and callback_data.part in profiles.PARTS:
        await _ask(query.message, callback_data.part, session, now, templates, setting_up=False)


async def _ask(
    message: Message,
    part: str,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
    *,
    setting_up: bool,
    problem: str | None = None,
) -> None:
    asked = await message.answer(
        templates.render("coach_profile_ask", part=part, problem=problem),
        reply_markup=ForceReply(input_field_placeholder=_PLACEHOLDERS[part]),
    )
    await asks.remember(
        session,
        coach_chat_id=message.chat.id,
        message_id=asked.message_id,
        kind=asks.PROFILE + part,
        ref_id=asks.SETTING_UP if setting_up else None,
        now=now,
    )


_PLACEHOLDERS = {
    "name": "The name members will see",
    "bio": "Two lines about you",
    "photo": "A photo of you, or skip",
}


async def answer_part(
    message: Message,
    question: CoachQuestion,
    session: AsyncSession,
    now: datetime,
    templates: Templates,
) -> None:
    """The coach's answer to one question: kept, then the next question (the first time) or
    the profile as members see it."""
    assert message.from_user is not None
    part = question.kind.removeprefix(asks.PROFILE)
    setting_up = question.ref_id == asks.SETTING_UP
    words = (message.text or "").strip()
    if part == "photo":
        value = message.photo[-1].file_id if message.photo else None
        if value is None and words.lower() not in SKIP:
            await _ask(message, part, session, now, templates, setting_up=setting_up,
                       problem="a photo (or the word skip)")  # fmt: skip
            return
    else:
        value = None if part == "bio" and words.lower() in SKIP else words
    try:
        profile = await profiles.set_part(session, message.from_user.id, part, value, now)
    except profiles.ProfileError as error:
        await _ask(message, part, session, now, templates, setting_up=setting_up,
                   problem=str(error))  # fmt: skip
        return
    following = profiles.following(part) if setting_up else None
    if following is not None:
        await _ask(message, following, session, now, templates, setting_up=True)
        return
    await message.answer(templates.render("coach_profile", profile=profile))
