"""`between`: the command line. Errors are one clear line and a non-zero exit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from core.clock import SystemClock
from core.db import (
    SchemaError,
    check_schema_current,
    create_engine,
    create_session_factory,
    upgrade_database,
)
from core.groups import (
    GroupError,
    Schedule,
    change_schedule,
    find_group,
    list_groups,
    register_group,
)
from core.localtime import WEEKDAYS
from core.logs import configure_logging
from core.pricing import Price, parse_amount, price_of
from core.settings import ConfigError, Settings, load_settings
from prompts.catalog import Library
from prompts.loader import LIBRARY_DIR, LibraryError, check_library, load_library

T = TypeVar("T")

app = typer.Typer(
    help="Between: a small, paid, emotional-support coaching group on Telegram.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
group_app = typer.Typer(help="Groups (cohorts) the program runs in.", no_args_is_help=True)
stripe_app = typer.Typer(help="Stripe: the price and the webhook.", no_args_is_help=True)
billing_app = typer.Typer(help="Seats against Stripe.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(group_app, name="group")
app.add_typer(stripe_app, name="stripe")
app.add_typer(billing_app, name="billing")
prompts_app = typer.Typer(help="The prompt library.", no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")
data_app = typer.Typer(help="Members' data: retention.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()

SERVER_NEEDS = (
    "TELEGRAM_BOT_TOKEN",
    "COACH_TELEGRAM_IDS",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
)


class CommandError(Exception):
    """Anything a command reports as one line."""


def main() -> None:
    """Entry point of the `between` script."""
    try:
        app()
    except (ConfigError, GroupError, SchemaError, CommandError) as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    except (OperationalError, DBAPIError, OSError) as error:
        typer.echo(f"error: cannot reach a service: {_one_line(error)}", err=True)
        raise SystemExit(2) from None


def _one_line(error: BaseException) -> str:
    return str(getattr(error, "orig", None) or error).splitlines()[0]


def _settings(*required: str) -> Settings:
    settings = load_settings()
    settings.require(*required)
    if settings.webhook_mode:
        settings.require("TELEGRAM_WEBHOOK_SECRET")
    return settings


def _server_settings(*required: str) -> Settings:
    """Settings for a long-running process, which also refuses a broken prompt library."""
    settings = _settings(*required)
    _library(settings)
    return settings


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@contextlib.asynccontextmanager
async def _session(settings: Settings, *, migrate: bool = False) -> AsyncIterator[AsyncSession]:
    """A session on the configured database: brought up to date first (`migrate`), or
    refused with what to do when its migrations are behind."""
    if migrate:
        await upgrade_database(settings.database_url)
    else:
        await check_schema_current(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Web, worker and bot in one process (long polling when PUBLIC_URL is unset)."""
    # Without PUBLIC_URL no webhook can arrive: payments are read from Stripe's events API.
    settings = _server_settings(*(n for n in SERVER_NEEDS if n != "STRIPE_WEBHOOK_SECRET"))
    if settings.webhook_mode:
        settings.require("STRIPE_WEBHOOK_SECRET")
    # Checked before the heavy imports, so a missing setting is told at once.
    from app.serve import Part, serve_until_stopped

    configure_logging()
    _run(upgrade_database(settings.database_url))
    _run(
        serve_until_stopped(settings, {Part.WEB, Part.WORKER, Part.POLLING}, host=host, port=port)
    )


@app.command()
def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """The web process: Telegram and Stripe webhooks, /healthz."""
    settings = _server_settings(*SERVER_NEEDS)
    # Checked before the heavy imports, so a missing setting is told at once.
    from app.serve import Part, serve_until_stopped

    configure_logging()
    _run(check_schema_current(settings.database_url))
    _run(serve_until_stopped(settings, {Part.WEB}, host=host, port=port))


@app.command()
def worker() -> None:
    """The worker process: queued jobs, the cron table and outbox delivery."""
    settings = _server_settings("TELEGRAM_BOT_TOKEN", "COACH_TELEGRAM_IDS", "STRIPE_SECRET_KEY")
    # Checked before the heavy imports, so a missing setting is told at once.
    from app.serve import Part, serve_until_stopped

    configure_logging()
    _run(check_schema_current(settings.database_url))
    _run(serve_until_stopped(settings, {Part.WORKER}, host="127.0.0.1", port=0))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run again)."""
    settings = load_settings()
    _run(upgrade_database(settings.database_url))
    console.print("The database is up to date.")


@group_app.command("add")
def group_add(
    chat_id: Annotated[int, typer.Option(help="The group's chat id (negative, e.g. -100...).")],
    title: Annotated[str, typer.Option(help="A name for the group.")],
    capacity: Annotated[int, typer.Option(help="Seats in the group.")] = 12,
    timezone: Annotated[str, typer.Option(help="IANA zone, e.g. Europe/London.")] = "UTC",
) -> None:
    """Register a group (or update one with the same chat id)."""
    if chat_id >= 0:
        raise CommandError("a group's chat id is negative (e.g. -1001234567890)")
    _save_group(chat_id=chat_id, title=title, capacity=capacity, timezone=timezone)


@group_app.command("set")
def group_set(
    chat_id: Annotated[int, typer.Option(help="The group's chat id.")],
    title: Annotated[str | None, typer.Option(help="A new name.")] = None,
    capacity: Annotated[int | None, typer.Option(help="Seats in the group.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone, e.g. Europe/London.")] = None,
    prompt_time: Annotated[
        str | None, typer.Option(help="Local time of the daily prompt, e.g. 09:00.")
    ] = None,
    prompt_days: Annotated[
        str | None, typer.Option(help="Prompt days: mon,tue,... or weekdays or daily.")
    ] = None,
    country: Annotated[
        str | None, typer.Option(help="Two-letter country code for the crisis lines, e.g. GB.")
    ] = None,
    reply_days: Annotated[
        str | None, typer.Option(help="The coach's reply days, e.g. sun,mon,tue,wed,thu.")
    ] = None,
    reply_by: Annotated[
        str | None, typer.Option(help="Replies come by this local time, e.g. 20:00.")
    ] = None,
    digest_time: Annotated[
        str | None, typer.Option(help="Local time of the coach's digest, e.g. 08:00.")
    ] = None,
    quiet_days: Annotated[
        int | None, typer.Option(help="Days without a check-in before a gentle note.")
    ] = None,
    qa_day: Annotated[str | None, typer.Option(help="Day of the live Q&A, e.g. wed.")] = None,
    qa_time: Annotated[str | None, typer.Option(help="Local time of the Q&A, e.g. 18:00.")] = None,
    qa_minutes: Annotated[int | None, typer.Option(help="Length of the Q&A in minutes.")] = None,
    summary_day: Annotated[
        str | None, typer.Option(help="Day the weekly summaries go out, e.g. sun.")
    ] = None,
    summary_time: Annotated[
        str | None, typer.Option(help="Local time the summaries go out, e.g. 18:00.")
    ] = None,
    summary_approval: Annotated[
        bool | None,
        typer.Option(help="Require the coach's approval before summaries go out."),
    ] = None,
    price_id: Annotated[
        str | None,
        typer.Option(help="Sell its seats at this Stripe price (price_...), read from Stripe."),
    ] = None,
    trial_days: Annotated[
        int | None, typer.Option(help="Days of free trial for newcomers at Checkout (0: none).")
    ] = None,
    promotion_codes: Annotated[
        str | None,
        typer.Option(help="on: Checkout takes your Stripe promotion codes; off: it doesn't."),
    ] = None,
) -> None:
    """Change a registered group's settings."""
    schedule = Schedule(
        title=title,
        capacity=capacity,
        timezone=timezone,
        prompt_time=prompt_time,
        prompt_days=prompt_days,
        country=country,
        reply_days=reply_days,
        reply_by=reply_by,
        digest_time=digest_time,
        quiet_days=quiet_days,
        qa_day=qa_day,
        qa_time=qa_time,
        qa_minutes=qa_minutes,
        summary_day=summary_day,
        summary_time=summary_time,
        summary_approval=summary_approval,
        trial_days=trial_days,
        promotion_codes=None if promotion_codes is None else _on_off(promotion_codes),
    )
    _save_group(
        chat_id=chat_id,
        title=None,
        capacity=None,
        timezone=None,
        existing=True,
        schedule=schedule,
        price=_stripe_price(price_id) if price_id is not None else None,
    )


def _stripe_price(price_id: str) -> tuple[str, Price]:
    """The Stripe price a group's seats are to be sold at, read from Stripe and checked."""
    import stripe

    from billing.prices import PriceRefused, checked_price
    from billing.stripe_gateway import StripeGateway

    settings = _settings("STRIPE_SECRET_KEY")
    assert settings.stripe_secret_key is not None
    api_key = settings.stripe_secret_key.get_secret_value()

    async def read() -> dict[str, Any]:
        gateway = StripeGateway(api_key, settings.stripe_api_base)
        try:
            return await gateway.price(price_id)
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing":
                raise CommandError(f"Stripe has no price {price_id!r}") from None
            raise CommandError(f"Stripe refused {price_id!r}: {error.user_message}") from None
        finally:
            await gateway.close()

    try:
        return price_id, checked_price(_run(read()))
    except PriceRefused as refused:
        raise CommandError(str(refused)) from None


def _on_off(value: str) -> bool:
    words = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}
    if value.strip().lower() not in words:
        raise typer.BadParameter(f"{value!r}: say on or off", param_hint="--promotion-codes")
    return words[value.strip().lower()]


def _save_group(
    *,
    chat_id: int,
    title: str | None,
    capacity: int | None,
    timezone: str | None,
    existing: bool = False,
    schedule: Schedule | None = None,
    price: tuple[str, Price] | None = None,
) -> None:
    from billing.prices import set_group_price

    settings = load_settings()

    async def save() -> str:
        # Adding the first group is a newcomer's first step: the database is made as needed.
        async with _session(settings, migrate=True) as session:
            group = await find_group(session, chat_id=chat_id)
            if existing and group is None:
                raise CommandError(f"no group with chat id {chat_id}: add it first")
            saved = await register_group(
                session,
                chat_id=chat_id,
                title=title or (group.title if group else ""),
                capacity=capacity,
                timezone=timezone,
                now=SystemClock().now(),
            )
            change_schedule(saved, schedule or Schedule())
            if price is not None:
                set_group_price(saved, *price)
            await session.commit()
            sold_at = price_of(saved, Price(settings.price_cents, settings.price_currency))
            return (
                f"{saved.title} ({saved.chat_id}): {saved.capacity} seats, {saved.timezone}, "
                f"prompt at {saved.prompt_time} on {saved.prompt_days}, "
                f"replies {saved.reply_days} by {saved.reply_by}, "
                f"Q&A {WEEKDAYS[saved.qa_weekday]} {saved.qa_time}, "
                f"trial {saved.trial_days or 'none'}"
                f"{' days' if saved.trial_days else ''}, "
                f"promotion codes {'on' if saved.promotion_codes else 'off'}, "
                f"{sold_at.recurring}" + ("" if saved.stripe_price_id else " (the default price)")
            )

    console.print(f"Saved {_run(save())}", markup=False)


@group_app.command("list")
def group_list() -> None:
    """Show the registered groups."""
    settings = load_settings()

    default = Price(settings.price_cents, settings.price_currency.lower())

    async def fetch() -> list[tuple[str, ...]]:
        async with _session(settings) as session:
            return [
                (
                    str(group.chat_id),
                    group.title,
                    str(group.capacity),
                    price_of(group, default).recurring,
                    group.timezone,
                    "yes" if group.bot_can_invite and group.bot_can_restrict else "missing",
                )
                for group in await list_groups(session)
            ]

    rows = _run(fetch())
    if not rows:
        console.print(
            "No groups yet: add the bot to your group as an admin, or `between group add`."
        )
        return
    table = Table("chat id", "title", "seats", "price", "time zone", "bot rights")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@stripe_app.command("setup")
def stripe_setup(
    currency: Annotated[
        str | None, typer.Option(help="A price of its own in this currency, e.g. gbp.")
    ] = None,
    amount: Annotated[
        str | None, typer.Option(help="Its amount a period, e.g. 31 or 29.50.")
    ] = None,
    interval: Annotated[str, typer.Option(help="How often it renews: month or year.")] = "month",
) -> None:
    """Create the product and the price once (running it again changes nothing): the
    default $31 a month, or with --currency and --amount a price for a group."""
    import stripe

    from billing.events import STRIPE_HANDLERS
    from billing.stripe_gateway import StripeGateway

    price = _price_to_make(currency, amount, interval)
    settings = _settings("STRIPE_SECRET_KEY")
    assert settings.stripe_secret_key is not None
    api_key = settings.stripe_secret_key.get_secret_value()

    async def ensure() -> tuple[str, bool]:
        gateway = StripeGateway(api_key, settings.stripe_api_base)
        try:
            return await gateway.ensure_price(price)
        except stripe.InvalidRequestError as error:
            raise CommandError(f"Stripe refused the price: {error.user_message}") from None
        finally:
            await gateway.close()

    price_id, created = _run(ensure())
    shown = (price or Price()).recurring
    console.print(
        ("Created" if created else "Found") + f" the {shown} price: {price_id}", markup=False
    )
    if price is None:
        console.print(f"Set STRIPE_PRICE_ID={price_id}", markup=False)
    else:
        console.print(
            f"Sell a group's seats at it: between group set --chat-id ID --price-id {price_id}",
            markup=False,
        )
    if settings.public_url:
        webhook = f"{settings.public_url}/stripe/webhook"
        console.print(f"Stripe webhook endpoint: {webhook}", markup=False)
        console.print("Events: " + ", ".join(sorted(STRIPE_HANDLERS)), markup=False)
    else:
        console.print(
            "No PUBLIC_URL: `between run` reads new payments from Stripe's events API every "
            "10 seconds, so no webhook is needed. On a server with a public https address, "
            "set PUBLIC_URL and run this again to see the webhook to add.",
            markup=False,
        )


def _price_to_make(currency: str | None, amount: str | None, interval: str) -> Price | None:
    """The price `stripe setup` was asked for; None: the default."""
    if currency is None and amount is None and interval == "month":
        return None
    if currency is None or amount is None:
        raise CommandError("a price of its own needs both --currency and --amount")
    if len(currency) != 3 or not currency.isalpha():
        raise CommandError(f"{currency!r} is not a currency code: use three letters, e.g. gbp")
    if interval not in ("month", "year"):
        raise CommandError(f"--interval is month or year, not {interval!r}")
    try:
        cents = parse_amount(amount, currency)
    except ValueError as error:
        raise CommandError(str(error)) from None
    return Price(cents, currency.lower(), interval)


@billing_app.command("reconcile")
def billing_reconcile(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, change nothing.")] = False,
) -> None:
    """Compare every Stripe subscription with its seat and fix drift (the nightly job)."""
    from app.runtime import Runtime
    from billing import reconcile
    from core.redis import redis_url_for

    settings = _settings("TELEGRAM_BOT_TOKEN", "STRIPE_SECRET_KEY")

    async def check() -> list[str]:
        with redis_url_for(settings.redis_url, settings.data_dir) as redis_url:
            runtime = await Runtime.open(settings, redis_url=redis_url, clock=SystemClock())
            try:
                async with runtime.sessions() as session:
                    now = runtime.clock.now()
                    drifts = await reconcile.reconcile(
                        session, runtime.membership, now, apply=not dry_run
                    )
                    if not dry_run:
                        await reconcile.report_to_coaches(
                            session, runtime.templates, settings.coach_telegram_ids, drifts, now
                        )
                        await session.commit()
                return [str(drift) for drift in drifts]
            finally:
                await runtime.close()

    lines = _run(check())
    for line in lines:
        console.print(("would change: " if dry_run else "") + line, markup=False)
    console.print(
        f"{len(lines)} difference(s)" + (" (dry run: nothing changed)" if dry_run else "")
    )


@prompts_app.command("check")
def prompts_check() -> None:
    """Check the prompt library; every problem with its file and line."""
    settings = load_settings()
    problems = check_library(settings.prompt_library_dir or LIBRARY_DIR)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(1)
    library = _library(settings)
    console.print(
        f"The prompt library is fine: {len(library.prompts)} prompts, {len(library.tools)} tools, "
        f"{len(library.feeling_words())} feeling words.",
        markup=False,
    )


def _library(settings: Settings) -> Library:
    try:
        return load_library(settings.prompt_library_dir or LIBRARY_DIR)
    except LibraryError as error:
        raise CommandError(f"the prompt library has problems:\n{error}") from None


@data_app.command("purge")
def data_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, delete nothing.")] = False,
) -> None:
    """Delete what members wrote after RETENTION_DAYS; the counts stay (the daily job)."""
    from core import privacy

    settings = load_settings()

    async def purge() -> privacy.Purge:
        async with _session(settings) as session:
            counts = await privacy.purge_old_words(
                session, SystemClock().now(), days=settings.retention_days, dry_run=dry_run
            )
            await session.commit()
            return counts

    counts = _run(purge())
    verb = "would go" if dry_run else "deleted"
    console.print(
        f"Older than {settings.retention_days} days, {verb}: the words of {counts.entries} "
        f"check-ins and {counts.replies} coach replies; {counts.messages} sent messages, "
        f"{counts.summaries} summaries, {counts.questions} questions, "
        f"{counts.notes} notes of the coach's.",
        markup=False,
    )


@app.command()
def backup(path: Annotated[Path, typer.Argument(help="Where to write the copy.")]) -> None:
    """A consistent copy of the database (SQLite's online backup, or pg_dump)."""
    from app.backup import BackupError, backup_database

    settings = load_settings()
    try:
        written = _run(backup_database(settings.database_url, path))
    except BackupError as error:
        raise CommandError(str(error)) from None
    console.print(f"Backup written to {written}", markup=False)


@app.command("worker-health")
def worker_health() -> None:
    """Exit 0 when this machine's worker reports every loop running (the container's
    HEALTHCHECK); 1 when a loop is not running, its heartbeat is old, or none is found."""
    from app.supervise import host_report

    settings = load_settings()
    healthy, detail = _run(host_report(settings.redis_url, settings.data_dir))
    console.print(detail)
    if not healthy:
        raise typer.Exit(1)


@app.command()
def doctor() -> None:
    """Check the configuration and every service it points at."""
    from app.doctor import run_checks

    checks = _run(run_checks(load_settings()))
    table = Table("check", "result", "detail")
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]failed[/]", check.detail)
    console.print(table)
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


@app.command()
def demo(
    html: Annotated[str, typer.Option(help="Where to write the HTML transcript.")] = (
        "data/demo/transcript.html"
    ),
) -> None:
    """A simulated week of the program against the local sandbox (no setup, no accounts)."""
    from app.demo import run_demo

    _run(run_demo(html_path=html, console=console))
