"""Settings: a missing or malformed value is one line that names the variable."""

import pytest

from core.settings import ConfigError, load_settings

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "TELEGRAM_BOT_TOKEN", "COACH_TELEGRAM_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(str(tmp_path))  # no .env from the developer's checkout


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./data/between.db"
    assert settings.uses_embedded_redis
    assert not settings.webhook_mode


def test_a_missing_bot_token_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^TELEGRAM_BOT_TOKEN is not set: .*BotFather"):
        load_settings().require("TELEGRAM_BOT_TOKEN")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TELEGRAM_BOT_TOKEN", "not-a-token", "TELEGRAM_BOT_TOKEN: does not look like"),
        ("TELEGRAM_BOT_TOKEN", "changethis", "TELEGRAM_BOT_TOKEN: is still a placeholder"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL: must start with"),
        ("REDIS_URL", "http://localhost", "REDIS_URL: must be a redis://"),
        ("COACH_TELEGRAM_IDS", "12,abc", "COACH_TELEGRAM_IDS: must be numeric"),
        ("PUBLIC_URL", "http://between.example.org", "PUBLIC_URL: must be an https://"),
        ("TELEGRAM_WEBHOOK_SECRET", "short", "TELEGRAM_WEBHOOK_SECRET: must be 16-256"),
        ("STRIPE_WEBHOOK_SECRET", "changeme", "STRIPE_WEBHOOK_SECRET: is still a placeholder"),
    ],
)
def test_malformed_values_are_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert value not in str(raised.value) or len(value) < 6  # secrets are not echoed back


def test_values_are_read_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("COACH_TELEGRAM_IDS", "111, 222")
    monkeypatch.setenv("DATABASE_URL", "postgresql://between:pw@db/between")
    monkeypatch.setenv("PUBLIC_URL", "https://between.example.org/")
    settings = load_settings()
    assert settings.coach_telegram_ids == (111, 222)
    assert settings.database_url == "postgresql+asyncpg://between:pw@db/between"
    assert settings.public_url == "https://between.example.org"
    assert TOKEN not in repr(settings)


def test_settings_come_from_a_dotenv_file(tmp_path: object) -> None:
    from pathlib import Path

    Path(str(tmp_path), ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nCOACH_TELEGRAM_IDS=7\n")
    settings = load_settings()
    assert settings.telegram_bot_token is not None
    assert settings.coach_telegram_ids == (7,)
