"""The models and the migrations describe the same schema, on SQLite and on PostgreSQL."""

import os
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from core.db import check_schema_current, create_engine, upgrade_database
from sandbox.databases import create_postgres_database, drop_postgres_database


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_models_match_the_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


async def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    await upgrade_database(database_url)
    await check_schema_current(database_url)


def _migrate(connection: Connection, revision: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, revision)


async def test_prices_migrate_down_and_up_and_a_paying_seat_keeps_its_status(
    tmp_path: Path,
) -> None:
    """0018_prices on a database of its own: down to 0017 and back, a seat paid by Stripe
    before it gets its subscription's status filled in."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith("postgresql"):
        url = await create_postgres_database(configured, "between_prices")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/prices.db"
    engine = create_engine(url)
    now = datetime(2026, 12, 2, tzinfo=UTC)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "0017_codes_stars")
            await connection.execute(
                text(
                    "INSERT INTO members (telegram_id, first_name, welcome_in_group,"
                    " checkins_paused, created_at) VALUES (1, 'Maya', true, false, :now)"
                ),
                {"now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO groups (chat_id, title, capacity, timezone, prompt_time,"
                    " prompt_days, reply_days, reply_by, digest_time, quiet_days, qa_weekday,"
                    " qa_time, qa_minutes, summary_weekday, summary_time,"
                    " summary_needs_approval, bot_can_invite, bot_can_restrict, created_at)"
                    " VALUES (-100, 'London', 3, 'Europe/London', '09:00', 'mon', 'mon',"
                    " '20:00', '08:00', 4, 2, '18:00', 60, 6, '18:00', false, true, true, :now)"
                ),
                {"now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO seats (member_id, group_id, status, stripe_subscription_id,"
                    " cancel_at_period_end, created_at, updated_at)"
                    " SELECT m.id, g.id, 'active', 'sub_1', false, :now, :now"
                    " FROM members m, groups g"
                ),
                {"now": now},
            )
            await connection.run_sync(_migrate, "head")
            found = await connection.execute(text("SELECT stripe_status FROM seats"))
            assert found.scalar_one() == "active"
            priced = await connection.execute(text("SELECT price_cents FROM groups"))
            assert priced.scalar_one() is None  # the default price until the coach sets one
            await connection.run_sync(_migrate, "0017_codes_stars", down=True)
            columns = await connection.run_sync(
                lambda sync: [c["name"] for c in inspect(sync).get_columns("seats")]
            )
            assert "stripe_status" not in columns and "status" in columns
            await connection.run_sync(_migrate, "head")
        await check_schema_current(url)
    finally:
        await engine.dispose()
        if configured.startswith("postgresql"):
            await drop_postgres_database(url)
