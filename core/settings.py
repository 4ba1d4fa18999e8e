"""Configuration from the environment and `.env`, checked before anything starts."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/between.db"

_PLACEHOLDERS = {"changethis", "changeme", "secret", "xxx", "todo", "your-token-here", "..."}
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")

# What to tell someone who has not set a variable a command needs.
_HINTS = {
    "TELEGRAM_BOT_TOKEN": "create a bot with @BotFather and paste its token",
    "TELEGRAM_WEBHOOK_SECRET": "needed with PUBLIC_URL: 16+ letters, digits, _ or -",
    "COACH_TELEGRAM_IDS": "your numeric Telegram id (ask @userinfobot), comma-separated",
    "STRIPE_SECRET_KEY": "Stripe → Developers → API keys (sk_...)",
    "STRIPE_WEBHOOK_SECRET": "Stripe → Developers → Webhooks → signing secret (whsec_...)",
    "STRIPE_PRICE_ID": "run `between stripe setup` and copy the price id it prints",
}


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


class Settings(BaseSettings):
    """Everything Between reads from its environment (see DESIGN.md)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    data_dir: Path = Path("./data")

    telegram_bot_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None
    public_url: str | None = None
    coach_telegram_ids: Annotated[tuple[int, ...], NoDecode] = ()

    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_price_id: str | None = None
    stripe_api_base: str = "https://api.stripe.com"

    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_api_base: str = "https://api.zoom.us/v2"
    zoom_oauth_url: str = "https://zoom.us/oauth/token"
    zoom_standing_url: str | None = None
    # Who hosts the meetings: a user id or email of the Zoom account ("me": the account owner).
    zoom_host_user: str = Field(default="me", min_length=1)

    max_request_bytes: int = Field(default=1024 * 1024, gt=0)
    # The coach's own copy of prompts/library (prompts, tools, lexicons), if not the built-in one.
    prompt_library_dir: Path | None = None

    # The membership rules a coach may tune.
    checkout_hold_minutes: int = Field(default=60, ge=30, le=24 * 60)
    waitlist_offer_hours: int = Field(default=24, ge=1, le=24 * 7)
    payment_grace_days: int = Field(default=3, ge=0, le=30)
    # After this many days what members wrote is deleted; only the counts stay.
    retention_days: int = Field(default=180, ge=14, le=3650)
    # The monthly price members are told (it should match STRIPE_PRICE_ID's amount).
    price_cents: int = Field(default=3100, ge=100, le=1_000_000)
    price_currency: str = Field(default="usd", pattern=r"^[A-Za-z]{3}$")
    # Telegram Stars a month for paying in Stars beside Stripe (0: not offered). Telegram
    # takes at most 10000 for a subscription.
    stars_per_month: int = Field(default=0, ge=0, le=10000)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and urlparse(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value or None

    @field_validator("telegram_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        _reject_placeholder(value)
        if not _TOKEN.match(value.get_secret_value()):
            raise ValueError("does not look like a BotFather token (123456:ABC...)")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        _reject_placeholder(value)
        if not _WEBHOOK_SECRET.match(value.get_secret_value()):
            raise ValueError("must be 16-256 letters, digits, _ or -")
        return value

    @field_validator("stripe_secret_key", "stripe_webhook_secret", "zoom_client_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        _reject_placeholder(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        url = urlparse(value)
        local = url.hostname in {"localhost", "127.0.0.1"}
        if url.scheme != "https" and not (local and url.scheme == "http"):
            raise ValueError("must be an https:// URL (Telegram only calls https webhooks)")
        return value.rstrip("/")

    @field_validator("coach_telegram_ids", mode="before")
    @classmethod
    def _coach_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.lstrip("-").isdigit() for part in parts):
                raise ValueError("must be numeric Telegram user ids separated by commas")
            return tuple(int(part) for part in parts)
        if isinstance(value, int):
            return (value,)
        return value

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def webhook_mode(self) -> bool:
        return self.public_url is not None

    def require(self, *names: str) -> None:
        """Stop with one clear line if a variable this command needs is unset."""
        for name in names:
            if getattr(self, name.lower()) in (None, (), ""):
                hint = _HINTS.get(name)
                raise ConfigError(f"{name} is not set" + (f": {hint}" if hint else ""))


def _reject_placeholder(value: SecretStr) -> None:
    if value.get_secret_value().strip().lower() in _PLACEHOLDERS:
        raise ValueError("is still a placeholder; set the real value")


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning a validation failure into a one-line ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
