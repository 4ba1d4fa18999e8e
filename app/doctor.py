"""`between doctor`: each setting and service checked, with what to do when one fails."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberAdministrator
from redis.asyncio import Redis
from sqlalchemy import text

from app.web import TELEGRAM_WEBHOOK_PATH
from bot.gateway import create_bot
from core.db import SchemaError, check_schema_current, create_engine, create_session_factory
from core.groups import BotRights, list_groups, missing_rights
from core.redis import redis_url_for
from core.settings import ConfigError, Settings

REQUIRED = (
    "TELEGRAM_BOT_TOKEN",
    "COACH_TELEGRAM_IDS",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
)
TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a coach would fix them."""
    checks = [_setting(settings, name) for name in REQUIRED]
    checks.append(await _database(settings))
    checks.append(await _redis(settings))
    if settings.telegram_bot_token is not None:
        checks.extend(await _telegram(settings))
    return checks


def _setting(settings: Settings, name: str) -> Check:
    try:
        settings.require(name)
    except ConfigError as error:
        return Check(name, False, str(error))
    return Check(name, True, "set")


async def _database(settings: Settings) -> Check:
    engine = create_engine(settings.database_url)
    try:
        async with asyncio.timeout(TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        await check_schema_current(settings.database_url)
    except SchemaError as error:
        return Check("database", False, str(error))
    except Exception as error:
        return Check("database", False, f"cannot connect: {type(error).__name__}")
    finally:
        await engine.dispose()
    return Check("database", True, engine.url.render_as_string(hide_password=True))


async def _redis(settings: Settings) -> Check:
    try:
        with redis_url_for(settings.redis_url, settings.data_dir) as url:
            client = Redis.from_url(url)
            try:
                async with asyncio.timeout(TIMEOUT):
                    await client.ping()
            finally:
                await client.aclose()
    except Exception as error:
        return Check("redis", False, f"cannot connect: {type(error).__name__}")
    return Check("redis", True, "embedded" if settings.uses_embedded_redis else "reachable")


async def _telegram(settings: Settings) -> list[Check]:
    assert settings.telegram_bot_token is not None
    bot = create_bot(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base)
    try:
        try:
            me = await bot.get_me()
        except TelegramAPIError as error:
            return [Check("telegram", False, error.message)]
        checks = [Check("telegram", True, f"@{me.username}"), await _webhook(bot, settings)]
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                groups = await list_groups(session)
        except Exception:
            groups = []
        finally:
            await engine.dispose()
        for group in groups:
            checks.append(await _group_rights(bot, group.chat_id, group.title, me.id))
        return checks
    finally:
        await bot.session.close()


async def _webhook(bot: Bot, settings: Settings) -> Check:
    """What Telegram says about delivering updates to us (getWebhookInfo): where to, how many
    wait, and the last failure, which Telegram keeps even after later successes."""
    try:
        info = await bot.get_webhook_info()
    except TelegramAPIError as error:
        return Check("telegram webhook", False, error.message)
    expected = (settings.public_url or "") + TELEGRAM_WEBHOOK_PATH if settings.webhook_mode else ""
    waiting = info.pending_update_count
    parts = [
        info.url or "none (long polling)",
        f"{waiting} update{'' if waiting == 1 else 's'} waiting",
    ]
    if info.last_error_message:
        when = f" at {info.last_error_date:%Y-%m-%d %H:%M} UTC" if info.last_error_date else ""
        parts.append(f"last error{when}: {info.last_error_message}")
    if info.url != expected:
        parts.append(f"expected {expected or 'none (long polling)'}: it is set at start-up")
    # Updates waiting while the last attempt failed: Telegram can't reach us right now.
    stuck = bool(info.url and waiting and info.last_error_message)
    return Check("telegram webhook", info.url == expected and not stuck, "; ".join(parts))


async def _group_rights(bot: Bot, chat_id: int, title: str, bot_id: int) -> Check:
    try:
        member = await bot.get_chat_member(chat_id, bot_id)
    except TelegramAPIError as error:
        return Check(f"group {title}", False, error.message)
    if isinstance(member, ChatMemberAdministrator):
        rights = BotRights(True, member.can_invite_users, member.can_restrict_members)
    else:
        rights = BotRights(False)
    missing = missing_rights(rights)
    return Check(
        f"group {title}",
        not missing,
        "missing: " + ", ".join(missing) if missing else "admin rights ok",
    )
