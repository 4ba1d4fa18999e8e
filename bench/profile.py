"""A profile of the hot path: one member's group check-in (or private one), update to commit.

    python -m bench.profile [--postgres URL] [--updates 2000] [--private]

Feeds updates straight to the dispatcher (what the webhook handler does after parsing the
request) under pyinstrument and prints the time per update and where it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from pyinstrument import Profiler
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.runtime import Runtime
from bench.harness import GROUP_CHAT, STARTED_AT, Target, redis_server, seat_members
from bench.updates import Updates
from core.groups import register_group
from core.settings import Settings
from sandbox.harness import COACH_ID
from sandbox.telegram import SANDBOX_BOT_TOKEN

UPDATES = 2000


async def profile(target: Target, redis_url: str, count: int, *, private: bool) -> None:
    async with target.database("bench_profile") as database_url:
        settings = Settings(
            _env_file=None,
            database_url=database_url,
            redis_url=redis_url,
            telegram_bot_token=SANDBOX_BOT_TOKEN,
            telegram_api_base="http://127.0.0.1:9",  # a group check-in calls nobody
            coach_telegram_ids=(COACH_ID,),
            stripe_secret_key="sk_test_profile",
        )
        runtime = await Runtime.open(settings, redis_url=redis_url)
        async with runtime.sessions() as session:
            group = await register_group(
                session, chat_id=GROUP_CHAT, title="Between circle", capacity=50, now=STARTED_AT
            )
            await session.commit()
        updates = Updates(await seat_members(runtime.sessions, group, 50), private=private)
        bodies = [json.loads(request.body) for request in updates.take(100 + 2 * count)]
        for body in bodies[:100]:  # warm up
            await runtime.dispatcher.feed_webhook_update(runtime.bot, body)
        statements = count_statements(runtime.engine)
        started = time.perf_counter()
        for body in bodies[100 : 100 + count]:
            await runtime.dispatcher.feed_webhook_update(runtime.bot, body)
        seconds = time.perf_counter() - started
        per_update = len(statements) / count
        profiler = Profiler(interval=0.0005, async_mode="enabled")
        with profiler:
            for body in bodies[100 + count :]:
                await runtime.dispatcher.feed_webhook_update(runtime.bot, body)
        await runtime.close()
    kind = "private" if private else "group"
    print(f"## 6. Profile: a {kind} check-in on {target.name}\n")
    print(
        f"{count} updates fed to the dispatcher one after the other: "
        f"{1000 * seconds / count:.2f} ms per update, {per_update:.1f} SQL "
        f"statements per update (with the commit). Then {count} more under pyinstrument:\n"
    )
    print("```")
    print(profiler.output_text(color=False, show_all=False, short_mode=False)[:12000])
    print("```\n")


def count_statements(engine: AsyncEngine) -> list[str]:
    """Every statement the engine runs from now on (their first words, not their values)."""
    seen: list[str] = []

    def note(connection: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement.split(None, 1)[0])

    def note_commit(connection: object) -> None:
        seen.append("COMMIT")

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    event.listen(engine.sync_engine, "commit", note_commit)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="profile on PostgreSQL instead of SQLite")
    parser.add_argument("--updates", type=int, default=UPDATES)
    parser.add_argument("--private", action="store_true", help="a private check-in instead")
    args = parser.parse_args()
    target = Target("PostgreSQL", args.postgres) if args.postgres else Target("SQLite")
    with redis_server() as redis_url:
        asyncio.run(profile(target, redis_url, args.updates, private=args.private))


if __name__ == "__main__":
    main()
