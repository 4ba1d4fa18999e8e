"""Members' data rights: the export holds exactly their data; /forget leaves no word of
theirs anywhere; retention keeps the counts; logs hold no words; a backup restores."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import JSON, String, Text, func
from sqlalchemy import select as sa_select
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel, col, select

from app.backup import backup_database
from core import privacy
from core.db import SessionFactory, check_schema_current, create_engine, create_session_factory
from core.localtime import monday_of
from core.models import Entry, Group, Member
from prompts.buttons import Forget
from sandbox.databases import create_postgres_database, drop_postgres_database
from sandbox.harness import COACH_ID, STRIPE_WEBHOOK_SECRET
from sandbox.harness import TELEGRAM_WEBHOOK_SECRET as WEBHOOK_SECRET
from sandbox.telegram import SANDBOX_BOT_TOKEN
from scheduling import jobs, summaries
from tests.integration.world import GROUP, World

MAYA = 4001
NOA = 4002
MAYAS_WORDS = [
    "my father's silence at dinner",
    "the panic on the tram",
    "how do I forgive him?",
    "when I stop answering my friends",  # her safety plan: hers, exported and forgotten
]
NOAS_WORDS = ["Noa's quiet morning walk"]


async def in_the_group(world: World, user_id: int, name: str) -> None:
    seat = await world.join_and_pay(user_id, name)
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


async def a_week_of_words(world: World) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, NOA, "Noa")
    telegram = world.telegram
    await telegram.user_sends(MAYA, GROUP, text=MAYAS_WORDS[0])
    await telegram.user_sends(MAYA, text=MAYAS_WORDS[1])
    await telegram.user_sends(MAYA, voice_seconds=40)
    await telegram.user_sends(MAYA, text=f"/ask {MAYAS_WORDS[2]}")
    await telegram.user_sends(MAYA, text="/win stayed at dinner")
    await telegram.user_sends(MAYA, text="I don't want to be here anymore")  # the safety net
    await telegram.user_sends(MAYA, text="/plan")
    for part in (MAYAS_WORDS[3], "skip", "my sister"):
        await telegram.user_sends(MAYA, text=part)
    await world.deliver()  # the relays to the coach go through the outbox
    copy = next(m for m in world.telegram.sent_by_bot(COACH_ID) if m.text == MAYAS_WORDS[1])
    await telegram.user_sends(
        COACH_ID, text="Trams are hard. Breathe.", reply_to_message_id=copy.message_id
    )
    await telegram.user_sends(NOA, GROUP, text=NOAS_WORDS[0])
    world.clock.advance(timedelta(days=6, hours=9))  # Sunday evening: summaries
    await jobs.weekly_summaries({"services": world.runtime})
    await jobs.weekly_summaries({"services": world.runtime})
    await world.deliver()


async def maya_and_group(world: World) -> tuple[Member, Group]:
    async with world.sessions() as session:
        maya = (await session.exec(select(Member).where(col(Member.telegram_id) == MAYA))).one()
        group = (await session.exec(select(Group).where(col(Group.chat_id) == GROUP))).one()
    return maya, group


async def test_mydata_holds_exactly_that_members_data(world: World) -> None:
    await a_week_of_words(world)
    maya, _ = await maya_and_group(world)
    async with world.sessions() as session:
        exported = json.dumps(await privacy.export_member(session, maya))
    for words in MAYAS_WORDS + ["stayed at dinner", "Trams are hard. Breathe."]:
        assert words in exported
    for words in NOAS_WORDS:
        assert words not in exported
    assert '"voice_seconds": 40' in exported and "file_id" not in exported

    await world.telegram.user_sends(MAYA, text="/mydata")
    files = [m.file_name for m in world.telegram.sent_by_bot(MAYA) if m.kind == "document"]
    assert files == ["between-my-data.json", "between-my-data.html"]


def _holds_words(kind: object) -> bool:
    # SQLModel's AutoString wraps String; UTCDateTime wraps DateTime and is left out.
    return isinstance(kind, (String, Text, JSON)) or isinstance(
        getattr(kind, "impl", None), String
    )


async def text_everywhere(sessions: SessionFactory) -> str:
    """Every text and JSON value in every table, as one string to search."""
    found: list[str] = []
    async with sessions() as session:
        connection = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if _holds_words(c.type)]
            for column in columns:
                values = (await connection.execute(sa_select(column))).scalars().all()
                found.extend(str(value) for value in values)
    return "\n".join(found)


async def test_forget_leaves_no_word_of_theirs_in_any_table(world: World) -> None:
    await a_week_of_words(world)
    before = await text_everywhere(world.sessions)
    assert [words for words in MAYAS_WORDS if words not in before] == []

    await world.telegram.user_sends(MAYA, text="/forget")
    confirm = world.last(MAYA)
    assert "Only what billing law requires stays" in (confirm.text or "")
    await world.telegram.user_presses(MAYA, confirm, Forget(confirm=True).pack())
    await world.deliver()

    after = await text_everywhere(world.sessions)
    for words in [
        *MAYAS_WORDS,
        "stayed at dinner",
        "Trams are hard",
        "Maya",
        "don't want to be here",
    ]:
        assert words not in after, words
    assert NOAS_WORDS[0] in after  # nobody else's data is touched
    assert "continues unless you cancel it with /billing" in (
        world.telegram.messages(MAYA)[-1].text or ""
    )
    assert "Maya used /forget" in world.texts(COACH_ID)[-1]
    seat = await world.seat(MAYA)
    assert seat is not None and seat.stripe_subscription_id is not None  # billing law


async def test_retention_deletes_old_words_and_the_week_still_counts(world: World) -> None:
    await a_week_of_words(world)
    maya, group = await maya_and_group(world)
    week = monday_of((world.clock.now() - timedelta(days=3)).date())
    vocabulary = world.runtime.vocabulary
    async with world.sessions() as session:
        before = await summaries.figures_for(session, maya, group, week, vocabulary)
    later = world.clock.now() + timedelta(days=181)
    async with world.sessions() as session:
        dry = await privacy.purge_old_words(session, later, days=180, dry_run=True)
        await session.commit()
    assert dry.entries >= 5 and MAYAS_WORDS[1] in await text_everywhere(world.sessions)
    async with world.sessions() as session:
        await privacy.purge_old_words(session, later, days=180, dry_run=False)
        await session.commit()
    remaining = await text_everywhere(world.sessions)
    assert [words for words in MAYAS_WORDS[:3] if words in remaining] == []
    assert MAYAS_WORDS[3] in remaining  # her safety plan stays hers until she changes it
    async with world.sessions() as session:
        after = await summaries.figures_for(session, maya, group, week, vocabulary)
        kept = (await session.exec(select(func.count()).select_from(Entry))).one()
    assert (after.checkins, after.voice_minutes, after.days_checked_in) == (
        before.checkins,
        before.voice_minutes,
        before.days_checked_in,
    )
    assert kept > 0


async def test_the_logs_hold_no_words_and_no_secrets(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await a_week_of_words(world)
    logged = caplog.text
    async with world.sessions() as session:
        file_ids = [value for value in (await session.exec(select(Entry.file_id))).all() if value]
    assert file_ids
    for secret in [
        *MAYAS_WORDS,
        *NOAS_WORDS,
        "Trams are hard",
        *file_ids,
        SANDBOX_BOT_TOKEN.split(":")[1],
        WEBHOOK_SECRET,
        STRIPE_WEBHOOK_SECRET,
        "zoom-secret",
    ]:
        assert secret not in logged, secret


async def test_a_backup_restores_into_a_working_database(
    world: World, database_url: str, tmp_path: Path
) -> None:
    await in_the_group(world, MAYA, "Maya")
    copy = await backup_database(database_url, tmp_path / "between.backup")
    if database_url.startswith("sqlite"):
        restored = f"sqlite+aiosqlite:///{copy}"
    else:
        restored = await _restore_postgres(database_url, copy)
    await check_schema_current(restored)
    engine = create_engine(restored)
    try:
        async with create_session_factory(engine)() as session:
            names = list((await session.exec(select(Member.first_name))).all())
    finally:
        await engine.dispose()
        if not database_url.startswith("sqlite"):
            await drop_postgres_database(restored)
    assert "Maya" in names


async def _restore_postgres(database_url: str, dump: Path) -> str:
    restored = await create_postgres_database(database_url, "between_restore")
    target = make_url(restored).set(drivername="postgresql").render_as_string(hide_password=False)
    process = await asyncio.create_subprocess_exec(
        "pg_restore", "--no-owner", f"--dbname={target}", str(dump)
    )
    assert await process.wait() == 0
    return restored
