"""Who may open the dashboard: a coach, and nobody else.

Two ways in, both ending in the same session cookie:
- the Mini App (the menu button in the coach's private chat): Telegram signs the launch data
  (initData) with the bot's token; we check the signature, that it is fresh, that it names a
  coach, and that it was not used before;
- a one-time login link the bot sends on /dashboard, good once and for a few minutes.

The cookie is sealed (HMAC) with a key derived from the bot's token, so there is no new secret
to configure; a new token logs everyone out. Forms carry a CSRF token derived from the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiogram.utils.web_app import safe_parse_webapp_init_data
from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import insert_if_new
from core.models import DashboardLogin

LOGIN_LINK_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=12)
# Telegram's docs give no number: launch data older than this (or from the future, beyond a
# little clock skew) is refused; a Mini App sends it once, right after it opens.
INIT_DATA_MAX_AGE = timedelta(hours=1)
CLOCK_SKEW = timedelta(minutes=2)
SESSION_COOKIE = "between_dashboard"


class LoginRefused(Exception):
    """Not a way in; the reason is for the log and the page, never a secret."""


def dashboard_key(bot_token: str) -> bytes:
    """The dashboard's signing key, derived from the bot's token (nothing new to configure)."""
    return hmac.new(b"between-dashboard-v1", bot_token.encode(), hashlib.sha256).digest()


def hashed(token: str) -> str:
    """How a login token is stored: only its SHA-256, so the table holds no way in."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- the session cookie -----------------------------------------------------------------------


@dataclass(frozen=True)
class CoachSession:
    coach_id: int
    expires_at: datetime
    in_telegram: bool  # opened as the Mini App (the page loads Telegram's script)


def seal_session(key: bytes, session: CoachSession) -> str:
    """The cookie's value: who, until when, how, a nonce, and the HMAC of all that."""
    body = ".".join(
        [
            "v1",
            str(session.coach_id),
            str(int(session.expires_at.timestamp())),
            "t" if session.in_telegram else "b",
            secrets.token_urlsafe(9),
        ]
    )
    return f"{body}.{_mac(key, body)}"


def open_session(
    key: bytes, value: str | None, *, now: datetime, coach_ids: tuple[int, ...]
) -> CoachSession | None:
    """The session a cookie stands for, if it is ours, unexpired and still a coach's."""
    if not value or value.count(".") != 5:
        return None
    body, mac = value.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(key, body)):
        return None
    version, coach, expires, how, _nonce = body.split(".")
    if version != "v1" or not coach.lstrip("-").isdigit() or not expires.isdigit():
        return None
    session = CoachSession(
        coach_id=int(coach),
        expires_at=datetime.fromtimestamp(int(expires), UTC),
        in_telegram=how == "t",
    )
    # A coach removed from COACH_TELEGRAM_IDS is out at once, whatever the cookie says.
    if session.expires_at <= now or session.coach_id not in coach_ids:
        return None
    return session


def csrf_token(key: bytes, cookie_value: str) -> str:
    """The token every form of this session carries back."""
    return _mac(key, "csrf:" + cookie_value)


def csrf_ok(key: bytes, cookie_value: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(key, cookie_value), token or "")


def _mac(key: bytes, text: str) -> str:
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# --- the Mini App -----------------------------------------------------------------------------


def check_init_data(
    bot_token: str, init_data: str, *, now: datetime, coach_ids: tuple[int, ...]
) -> tuple[int, str]:
    """The coach's id and the data's hash, if Telegram signed this for a coach just now.

    aiogram's check keeps `signature` in the checked string and drops only `hash`, as
    Telegram's docs say; it does not look at `auth_date`, so the freshness is checked here.
    """
    try:
        data = safe_parse_webapp_init_data(bot_token, init_data)
    except ValueError:
        raise LoginRefused("the Mini App's data is not signed by Telegram for this bot") from None
    if data.user is None:
        raise LoginRefused("the Mini App's data names nobody")
    signed_at = data.auth_date
    if signed_at > now + CLOCK_SKEW or now - signed_at > INIT_DATA_MAX_AGE:
        raise LoginRefused("the Mini App's data is too old; open it again from the menu")
    if data.user.id not in coach_ids:
        raise LoginRefused("this dashboard is for the group's coach only")
    return data.user.id, data.hash


async def use_mini_app_data(
    session: AsyncSession, *, coach_id: int, data_hash: str, now: datetime
) -> bool:
    """Remember signed launch data as used; False if it was used before (a replay)."""
    return await insert_if_new(
        session,
        DashboardLogin,
        {
            "token_hash": hashed("mini_app:" + data_hash),
            "kind": "mini_app",
            "coach_id": coach_id,
            "created_at": now,
            "expires_at": now + INIT_DATA_MAX_AGE + CLOCK_SKEW,
        },
        ["token_hash"],
    )


# --- the login link ---------------------------------------------------------------------------


async def issue_login_token(session: AsyncSession, *, coach_id: int, now: datetime) -> str:
    """A fresh token for a one-time link; old, spent ones are cleared away."""
    await session.exec(
        delete(DashboardLogin).where(col(DashboardLogin.expires_at) < now - timedelta(days=1))
    )
    token = secrets.token_urlsafe(32)
    session.add(
        DashboardLogin(
            token_hash=hashed(token),
            kind="link",
            coach_id=coach_id,
            created_at=now,
            expires_at=now + LOGIN_LINK_LIFETIME,
        )
    )
    await session.flush()
    return token


async def use_login_token(
    session: AsyncSession, token: str, *, now: datetime, coach_ids: tuple[int, ...]
) -> int:
    """The coach a link was for, marking it used in the same statement that checks it is
    unused and unexpired (two tabs racing: one wins)."""
    token_hash = hashed(token)
    used = await session.exec(
        update(DashboardLogin)
        .where(col(DashboardLogin.token_hash) == token_hash)
        .where(col(DashboardLogin.kind) == "link")
        .where(col(DashboardLogin.used_at).is_(None))
        .where(col(DashboardLogin.expires_at) > now)
        .values(used_at=now)
    )
    if not used.rowcount:
        raise LoginRefused("this login link was used already, has expired, or is not ours")
    coach_id = (
        await session.exec(
            select(DashboardLogin.coach_id).where(col(DashboardLogin.token_hash) == token_hash)
        )
    ).one()
    if coach_id not in coach_ids:
        raise LoginRefused("this dashboard is for the group's coach only")
    return int(coach_id)
