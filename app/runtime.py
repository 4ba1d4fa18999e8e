"""Everything a process shares, built once at start and closed at the end: the composition root.

This is where the ports meet their adapters: the Stripe gateway is the membership's payments,
the Telegram gateway its Stars payments and the outbox's transport (messages, and the group's
door).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiohttp import web
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.membership import Membership, MembershipRules
from billing.stripe_gateway import StripeGateway
from bot.dispatcher import create_dispatcher
from bot.gateway import (
    StarsGateway,
    TelegramGateway,
    TelegramLinks,
    create_bot,
)
from core.clock import Clock, SystemClock
from core.db import SessionFactory, create_engine, create_session_factory
from core.logs import quiet_libraries
from core.pricing import Price
from core.settings import Settings
from practice.words import Vocabulary
from prompts.catalog import Library
from prompts.loader import LIBRARY_DIR, load_library
from prompts.render import Templates
from safety.net import SafetyNet
from scheduling.zoom import ZoomGateway


@dataclass
class Runtime:
    """The process's shared clients and services, wired to the settings."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: SessionFactory
    redis: ArqRedis
    bot: Bot
    telegram: TelegramGateway
    links: TelegramLinks
    dispatcher: Dispatcher
    templates: Templates
    library: Library
    vocabulary: Vocabulary
    safety: SafetyNet
    stripe: StripeGateway
    membership: Membership
    zoom: ZoomGateway | None
    closed: bool = False

    @classmethod
    async def open(
        cls, settings: Settings, *, redis_url: str, clock: Clock | None = None
    ) -> Runtime:
        """Connect to everything; the settings were checked before."""
        assert settings.telegram_bot_token is not None
        assert settings.stripe_secret_key is not None
        quiet_libraries()  # before anything can log a member's words
        clock = clock or SystemClock()
        engine = create_engine(settings.database_url)
        sessions = create_session_factory(engine)
        redis = await create_pool(RedisSettings.from_dsn(redis_url))
        bot = create_bot(
            settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base, clock=clock
        )
        library = load_library(settings.prompt_library_dir or LIBRARY_DIR)
        templates = Templates(price=Price(settings.price_cents, settings.price_currency.lower()))
        links = TelegramLinks(bot)
        stripe = StripeGateway(
            settings.stripe_secret_key.get_secret_value(), settings.stripe_api_base
        )
        membership = Membership(
            payments=stripe,
            links=links,
            templates=templates,
            rules=MembershipRules.from_settings(settings),
            coach_ids=settings.coach_telegram_ids,
            stars=StarsGateway(bot),
        )
        vocabulary = Vocabulary(library)
        safety = SafetyNet(
            library=library, templates=templates, coach_ids=settings.coach_telegram_ids
        )
        telegram = TelegramGateway(bot)
        dispatcher = create_dispatcher(
            settings=settings,
            sessions=sessions,
            clock=clock,
            templates=templates,
            library=library,
            vocabulary=vocabulary,
            safety=safety,
            membership=membership,
            messenger=telegram,
            links=links,
        )
        return cls(
            settings=settings,
            clock=clock,
            engine=engine,
            sessions=sessions,
            redis=redis,
            bot=bot,
            telegram=telegram,
            links=links,
            dispatcher=dispatcher,
            templates=templates,
            library=library,
            vocabulary=vocabulary,
            safety=safety,
            stripe=stripe,
            membership=membership,
            zoom=zoom_gateway(settings),
        )

    async def close(self) -> None:
        if self.zoom is not None:
            await self.zoom.close()
        await self.stripe.close()
        await self.bot.session.close()
        await self.redis.aclose()
        await self.engine.dispose()
        self.closed = True


def zoom_gateway(settings: Settings) -> ZoomGateway | None:
    """The Zoom gateway when a Server-to-Server app is configured (else the standing link)."""
    if not (settings.zoom_account_id and settings.zoom_client_id and settings.zoom_client_secret):
        return None
    return ZoomGateway(
        account_id=settings.zoom_account_id,
        client_id=settings.zoom_client_id,
        client_secret=settings.zoom_client_secret.get_secret_value(),
        api_base=settings.zoom_api_base,
        oauth_url=settings.zoom_oauth_url,
        host_user=settings.zoom_host_user,
    )


RUNTIME = web.AppKey("runtime", Runtime)
