"""The dispatcher: routers in a deliberate order, the session middleware, workflow data."""

from __future__ import annotations

from aiogram import Dispatcher

from bot.middlewares import DatabaseSessionMiddleware
from bot.routers import group, member
from core.clock import Clock
from core.db import SessionFactory
from core.settings import Settings
from prompts.render import Templates


def create_dispatcher(
    *, settings: Settings, sessions: SessionFactory, clock: Clock, templates: Templates
) -> Dispatcher:
    """Build the dispatcher; everything a handler needs arrives as a keyword argument."""
    dispatcher = Dispatcher(settings=settings, clock=clock, templates=templates)
    dispatcher.update.outer_middleware(DatabaseSessionMiddleware(sessions, clock))
    dispatcher.include_routers(
        # The bot's own membership first: adding it to a group must never reach other handlers.
        group.create_router(),
        # A person's private chat with the bot.
        member.create_router(),
    )
    return dispatcher


# chat_member and chat_join_request are only sent when asked for by name.
ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
]
