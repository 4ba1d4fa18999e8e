"""The dispatcher: routers in a deliberate order, the session middleware, workflow data."""

from __future__ import annotations

from aiogram import Dispatcher, Router

from billing.membership import Membership
from bot.errors import Broken, Refused, handler_broke, telegram_refused
from bot.gateway import TelegramGateway, TelegramLinks
from bot.middlewares import DatabaseSessionMiddleware, PeopleMiddleware
from bot.routers import (
    checkins,
    coach,
    coach_day,
    coach_profile,
    dashboard,
    gate,
    group,
    member,
    privacy,
    stars,
    tools,
    weekly,
)
from bot.routers import safety as safety_routes
from core.clock import Clock
from core.db import SessionFactory
from core.settings import Settings
from practice.words import Vocabulary
from prompts.catalog import Library
from prompts.render import Templates
from safety.net import SafetyNet


def create_dispatcher(
    *,
    settings: Settings,
    sessions: SessionFactory,
    clock: Clock,
    templates: Templates,
    library: Library,
    vocabulary: Vocabulary,
    safety: SafetyNet,
    membership: Membership,
    messenger: TelegramGateway,
    links: TelegramLinks,
) -> Dispatcher:
    """Build the dispatcher; everything a handler needs arrives as a keyword argument:
    these services, and per update `session`, `now`, `member` and `group`."""
    dispatcher = Dispatcher(
        settings=settings,
        templates=templates,
        library=library,
        vocabulary=vocabulary,
        safety=safety,
        membership=membership,
        messenger=messenger,
        links=links,
    )
    dispatcher.update.outer_middleware(DatabaseSessionMiddleware(sessions, clock))
    people = PeopleMiddleware()
    for observer in PEOPLE_SPEAK_IN:
        dispatcher.observers[observer].middleware(people)
    dispatcher.include_routers(*create_routers())
    # What Telegram refused, and bugs, answer 200; what may pass is left to raise (a 500, and
    # Telegram resends). bot/errors.py says why.
    dispatcher.errors.register(telegram_refused, Refused())
    dispatcher.errors.register(handler_broke, Broken())
    return dispatcher


# The events whose sender the handlers want as a member (in chat_member the sender is who
# acted, not who joined; the gate looks at the one who joined itself).
PEOPLE_SPEAK_IN = ("message", "edited_message", "callback_query", "chat_join_request")


def create_routers() -> list[Router]:
    """Every router, in the order updates try them."""
    return [
        # The bot's own membership first: adding it to a group must never reach other handlers.
        group.create_router(),
        # Join requests and arrivals: who may be in the group.
        gate.create_router(),
        # Payments in Telegram Stars: Telegram's pre-checkout question, and the payments.
        stars.create_router(),
        # Coach commands before member commands, so a coach's /seats is never a member's.
        coach.create_router(),
        # Answers to what the bot asked the coach, before a reply is taken for a member's.
        coach_profile.create_router(),
        coach_day.create_router(),
        # The coach's dashboard: /dashboard (its own router, merged in cleanly).
        dashboard.create_router(),
        # A person's private chat with the bot: joining, membership, the tools.
        member.create_router(),
        tools.create_router(),
        weekly.create_router(),
        privacy.create_router(),
        # The safety net's buttons, /sos and /plan; then a part of a safety plan being written,
        # which is the member's own and no check-in.
        safety_routes.create_router(),
        # Last: every other message of a member is a check-in (and goes past the safety net).
        checkins.create_router(),
    ]


# Telegram leaves chat_member out unless asked for by name (Client.h
# DEFAULT_ALLOWED_UPDATE_TYPES; chat_join_request is in the default). The list is kept by
# Telegram until the next setWebhook or getUpdates that names one.
ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "pre_checkout_query",
]
