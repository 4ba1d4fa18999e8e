"""The coach's way to the dashboard from Telegram: /dashboard sends a one-time login link,
and the menu button in each coach's private chat opens it as a Mini App (when PUBLIC_URL is
https: Telegram takes only https Mini App URLs)."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlsplit

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import LinkPreviewOptions, MenuButtonWebApp, Message, WebAppInfo
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import PRIVATE, IsCoach
from core.settings import Settings
from dashboard.auth import LOGIN_LINK_LIFETIME, issue_login_token
from prompts.buttons import link_button, markup
from prompts.render import Templates

log = logging.getLogger(__name__)

# Where the dashboard is when PUBLIC_URL is unset: `between run` on this machine.
LOCAL_BASE = "http://127.0.0.1:8080"
MENU_TEXT = "Dashboard"


def create_router() -> Router:
    router = Router(name="dashboard")
    router.message.register(send_login_link, Command("dashboard"), PRIVATE, IsCoach())
    router.message.register(not_for_you, Command("dashboard"), PRIVATE)
    return router


def dashboard_base(settings: Settings) -> str:
    return (settings.public_url or LOCAL_BASE) + "/dashboard"


def _public(settings: Settings) -> bool:
    return urlsplit(dashboard_base(settings)).scheme == "https"


def settings_url(settings: Settings, group_id: int | None) -> str | None:
    """The group's settings page, for a link in a message (public https addresses only)."""
    return f"{dashboard_base(settings)}/groups/{group_id}/settings" if _public(settings) else None


def mini_app_url(settings: Settings) -> str | None:
    """The Mini App's URL, if Telegram would take it (https only)."""
    base = dashboard_base(settings)
    return base + "/app" if urlsplit(base).scheme == "https" else None


async def send_login_link(
    message: Message,
    bot: Bot,
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    templates: Templates,
) -> None:
    """/dashboard: a link that logs the coach in once, for a few minutes."""
    assert message.from_user is not None
    token = await issue_login_token(session, coach_id=message.from_user.id, now=now)
    url = f"{dashboard_base(settings)}/login?t={token}"
    # Telegram refuses a URL button to a local address (BUTTON_URL_INVALID); a link in the
    # text works anywhere, so the button comes only with a public https address.
    public = _public(settings)
    await message.answer(
        templates.render(
            "dashboard_link",
            url=url,
            button=public,
            minutes=int(LOGIN_LINK_LIFETIME.total_seconds() // 60),
            menu=mini_app_url(settings) is not None,
        ),
        # Telegram would fetch the link for a preview; the page does not use it up on a GET,
        # but nothing needs to fetch it at all.
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        reply_markup=markup([link_button("Open my dashboard", url)]) if public else None,
    )
    await show_dashboard_in_menu(bot, settings, coach_ids=(message.from_user.id,))


async def not_for_you(message: Message, templates: Templates) -> None:
    await message.answer(templates.render("coach_only"))


async def show_dashboard_in_menu(
    bot: Bot, settings: Settings, *, coach_ids: tuple[int, ...] | None = None
) -> int:
    """The menu button of each coach's private chat opens the dashboard as a Mini App; how
    many were set. A coach who has not started the bot yet can't have one: logged, not fatal."""
    url = mini_app_url(settings)
    if url is None:
        return 0
    button = MenuButtonWebApp(text=MENU_TEXT, web_app=WebAppInfo(url=url))
    done = 0
    for coach_id in settings.coach_telegram_ids if coach_ids is None else coach_ids:
        try:
            await bot.set_chat_menu_button(chat_id=coach_id, menu_button=button)
            done += 1
        except TelegramAPIError as error:
            log.warning("no dashboard menu button for coach %s: %s", coach_id, error.message)
    return done
