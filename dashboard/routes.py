"""The dashboard's pages, served by `between web` under /dashboard.

Handlers are thin: who is asking (auth), one read or one change (queries, core.groups), one
template. Every page is for a coach only; every form carries a CSRF token; every answer says
not to cache it, not to send a Referer (a login link's token must not leak) and where scripts
may come from.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from billing.membership import Membership
from core.clock import Clock
from core.db import SessionFactory
from core.groups import SettingsError, change_schedule, list_groups, schedule_from_form
from core.localtime import WEEKDAYS, day_name, describe_days, parse_days, zone
from core.models import Group
from core.pricing import Price
from core.settings import Settings
from dashboard import auth, charts, queries
from dashboard.auth import SESSION_COOKIE, CoachSession, LoginRefused
from dashboard.charts import Series
from practice.words import Vocabulary

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
PREFIX = "/dashboard"
# Telegram's script for Mini Apps is loaded from telegram.org, as its docs ask (a copy would go
# stale); nothing else comes from elsewhere. Telegram Web shows Mini Apps in a frame.
CSP = (
    "default-src 'self'; script-src 'self' https://telegram.org; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'self' https://web.telegram.org"
)
SORTS = {
    "name": lambda row: row.member.first_name.lower(),
    "joined": lambda row: row.joined,
    "status": lambda row: row.status,
    "renews": lambda row: row.renews_or_ends or datetime.max.replace(tzinfo=row.joined.tzinfo),
    "last_check_in": lambda row: (
        row.last_check_in or datetime.min.replace(tzinfo=row.joined.tzinfo)
    ),
    "days": lambda row: row.days_checked_in,
    "waiting": lambda row: row.waiting_since or datetime.max.replace(tzinfo=row.joined.tzinfo),
    "alerts": lambda row: row.open_alerts,
    "last_reply": lambda row: row.last_reply or datetime.min.replace(tzinfo=row.joined.tzinfo),
    "summary": lambda row: row.summary or "",
}


@dataclass
class Dashboard:
    """The dashboard's routes and what they need."""

    settings: Settings
    sessions: SessionFactory
    clock: Clock
    vocabulary: Vocabulary
    membership: Membership

    def __post_init__(self) -> None:
        assert self.settings.telegram_bot_token is not None
        self._token = self.settings.telegram_bot_token.get_secret_value()
        self._key = auth.dashboard_key(self._token)
        self._secure = urlsplit(self.settings.public_url or "").scheme == "https"
        self._templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates.globals.update(day_name=day_name, weekdays=WEEKDAYS, prefix=PREFIX)

    def register(self, app: web.Application) -> None:
        app.middlewares.append(_headers)
        app.router.add_get(PREFIX, self.home)
        app.router.add_get(PREFIX + "/login", self.login_page)
        app.router.add_post(PREFIX + "/login", self.login)
        app.router.add_get(PREFIX + "/app", self.mini_app)
        app.router.add_post(PREFIX + "/app/session", self.mini_app_session)
        app.router.add_post(PREFIX + "/logout", self.logout)
        app.router.add_get(PREFIX + "/groups/{group_id:\\d+}", self.group_page)
        app.router.add_get(PREFIX + "/groups/{group_id:\\d+}/members.csv", self.members_csv)
        app.router.add_get(PREFIX + "/groups/{group_id:\\d+}/weeks.csv", self.weeks_csv)
        app.router.add_get(
            PREFIX + "/groups/{group_id:\\d+}/members/{member_id:\\d+}", self.member
        )
        app.router.add_post(
            PREFIX + "/groups/{group_id:\\d+}/members/{member_id:\\d+}/notes", self.add_note
        )
        app.router.add_post(
            PREFIX
            + "/groups/{group_id:\\d+}/members/{member_id:\\d+}/notes/{note_id:\\d+}/delete",
            self.delete_note,
        )
        app.router.add_get(PREFIX + "/groups/{group_id:\\d+}/settings", self.settings_page)
        app.router.add_post(PREFIX + "/groups/{group_id:\\d+}/settings", self.save_settings)
        app.router.add_static(PREFIX + "/static", HERE / "static")

    # --- getting in -----------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.Response:
        """The link from /dashboard lands here. A GET does not use it up (Telegram's link
        previews and mail scanners fetch links); the button below does."""
        token = request.query.get("t", "")
        return self._page("login.html", token=token, status=200 if token else 400)

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = str(form.get("t", ""))
        now = self.clock.now()
        try:
            async with self.sessions() as session:
                coach_id = await auth.use_login_token(
                    session, token, now=now, coach_ids=self.settings.coach_telegram_ids
                )
                await session.commit()
        except LoginRefused as refusal:
            log.info("dashboard login refused: %s", refusal)
            return self._page("refused.html", reason=str(refusal), status=403)
        log.info("coach %s logged in to the dashboard with a link", coach_id)
        return self._signed_in(coach_id, now, in_telegram=False)

    async def mini_app(self, request: web.Request) -> web.StreamResponse:
        """The Mini App opens here; its script sends Telegram's signed data back to us."""
        if self._coach(request) is not None:
            raise web.HTTPSeeOther(PREFIX)
        return self._page("mini_app.html", in_telegram=True)

    async def mini_app_session(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        init_data = str(form.get("init_data", ""))
        now = self.clock.now()
        try:
            coach_id, data_hash = auth.check_init_data(
                self._token, init_data, now=now, coach_ids=self.settings.coach_telegram_ids
            )
            async with self.sessions() as session:
                if not await auth.use_mini_app_data(
                    session, coach_id=coach_id, data_hash=data_hash, now=now
                ):
                    raise LoginRefused("this Mini App data was used before; open it again")
                await session.commit()
        except LoginRefused as refusal:
            log.info("dashboard Mini App login refused: %s", refusal)
            return web.json_response({"error": str(refusal)}, status=403)
        log.info("coach %s opened the dashboard Mini App", coach_id)
        response = web.json_response({"next": PREFIX})
        self._set_cookie(response, coach_id, now, in_telegram=True)
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        coach = self._coach(request)
        form = await request.post()
        if coach is not None and not self._csrf_ok(request, form.get("csrf")):
            raise web.HTTPForbidden(text="The form was too old; go back and try again.")
        response = self._page("logged_out.html")
        response.del_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    def _signed_in(self, coach_id: int, now: datetime, *, in_telegram: bool) -> web.StreamResponse:
        response = web.Response(status=303, headers={"Location": PREFIX})
        self._set_cookie(response, coach_id, now, in_telegram=in_telegram)
        return response

    def _set_cookie(
        self, response: web.StreamResponse, coach_id: int, now: datetime, *, in_telegram: bool
    ) -> None:
        session = CoachSession(coach_id, now + auth.SESSION_LIFETIME, in_telegram)
        # Telegram Web shows a Mini App in a frame of its own site: only a SameSite=None
        # cookie (which must be Secure) reaches us there. In a browser, Lax is enough.
        same_site = "None" if in_telegram and self._secure else "Lax"
        response.set_cookie(
            SESSION_COOKIE,
            auth.seal_session(self._key, session),
            max_age=int(auth.SESSION_LIFETIME.total_seconds()),
            path=PREFIX,
            httponly=True,
            secure=self._secure,
            samesite=same_site,
        )

    def _coach(self, request: web.Request) -> CoachSession | None:
        return auth.open_session(
            self._key,
            request.cookies.get(SESSION_COOKIE),
            now=self.clock.now(),
            coach_ids=self.settings.coach_telegram_ids,
        )

    def _csrf_ok(self, request: web.Request, token: object) -> bool:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return auth.csrf_ok(self._key, cookie, token if isinstance(token, str) else None)

    # --- the pages ------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.StreamResponse:
        coach = self._require(request)
        async with self.sessions() as session:
            groups = await list_groups(session)
        if not groups:
            return self._page("no_groups.html", coach=coach, request=request)
        raise web.HTTPSeeOther(f"{PREFIX}/groups/{groups[0].id}")

    async def group_page(self, request: web.Request) -> web.StreamResponse:
        coach = self._require(request)
        sort, descending = _sorting(request)
        async with self._counted() as (session, counter):
            group = await self._group(session, request)
            groups = await list_groups(session)
            overview = await queries.overview(
                session, group, self.clock.now(), self.vocabulary, self._price(group)
            )
        overview.rows.sort(key=SORTS[sort], reverse=descending)
        response = self._page(
            "group.html",
            coach=coach,
            request=request,
            group=group,
            groups=groups,
            view=overview,
            sort=sort,
            descending=descending,
            charts=_charts(overview),
            local=_local(group),
            strip=charts.check_in_strip,
            describe_days=describe_days,
            parse_days=parse_days,
        )
        response.headers["Server-Timing"] = counter.header()
        return response

    async def member(self, request: web.Request) -> web.StreamResponse:
        coach = self._require(request)
        async with self.sessions() as session:
            group = await self._group(session, request)
            page = await queries.member_page(session, group, int(request.match_info["member_id"]))
        if page is None:
            raise web.HTTPNotFound(text="No such member in this group.")
        return self._page(
            "member.html",
            coach=coach,
            request=request,
            group=group,
            page=page,
            local=_local(group),
        )

    async def add_note(self, request: web.Request) -> web.StreamResponse:
        coach = self._require(request)
        form = await request.post()
        self._require_csrf(request, form)
        member_id = int(request.match_info["member_id"])
        async with self.sessions() as session:
            group = await self._group(session, request)
            if await queries.member_page(session, group, member_id) is None:
                raise web.HTTPNotFound(text="No such member in this group.")
            await queries.add_note(
                session,
                member_id=member_id,
                coach_id=coach.coach_id,
                text=str(form.get("text", "")),
                now=self.clock.now(),
            )
            await session.commit()
        raise web.HTTPSeeOther(f"{PREFIX}/groups/{group.id}/members/{member_id}#notes")

    async def delete_note(self, request: web.Request) -> web.StreamResponse:
        self._require(request)
        form = await request.post()
        self._require_csrf(request, form)
        member_id = int(request.match_info["member_id"])
        async with self.sessions() as session:
            group = await self._group(session, request)
            await queries.delete_note(
                session, member_id=member_id, note_id=int(request.match_info["note_id"])
            )
            await session.commit()
        raise web.HTTPSeeOther(f"{PREFIX}/groups/{group.id}/members/{member_id}#notes")

    async def settings_page(self, request: web.Request) -> web.StreamResponse:
        coach = self._require(request)
        async with self.sessions() as session:
            group = await self._group(session, request)
        saved = request.query.get("saved") == "1"
        return self._settings(request, coach, group, _form_of(group), {}, saved=saved)

    async def save_settings(self, request: web.Request) -> web.StreamResponse:
        """The same checks as `between group set` (core.groups.Schedule); all or nothing."""
        coach = self._require(request)
        form = await request.post()
        self._require_csrf(request, form)
        fields = {name: str(value) for name, value in form.items() if name != "csrf"}
        now = self.clock.now()
        async with self.sessions() as session:
            group = await self._group(session, request)
            try:
                change_schedule(group, schedule_from_form(fields))
            except SettingsError as error:
                return self._settings(request, coach, group, fields, error.problems, status=400)
            session.add(group)
            # More seats: the people waiting are offered them, as /capacity does.
            offered = await self.membership.offer_seats(session, group, now)
            await session.commit()
        log.info(
            "coach %s changed group %s's settings (%s offers)", coach.coach_id, group.id, offered
        )
        raise web.HTTPSeeOther(f"{PREFIX}/groups/{group.id}/settings?saved=1")

    def _settings(
        self,
        request: web.Request,
        coach: CoachSession,
        group: Group,
        values: dict[str, str],
        problems: dict[str, str],
        *,
        saved: bool = False,
        status: int = 200,
    ) -> web.Response:
        return self._page(
            "settings.html",
            coach=coach,
            request=request,
            group=group,
            values=values,
            problems=problems,
            saved=saved,
            status=status,
        )

    # --- CSV ------------------------------------------------------------------------------

    async def members_csv(self, request: web.Request) -> web.StreamResponse:
        self._require(request)
        async with self.sessions() as session:
            group = await self._group(session, request)
            view = await queries.overview(
                session, group, self.clock.now(), self.vocabulary, self._price(group)
            )
        local = _local(group)
        header: list[object] = [
            "first name",
            "last name",
            "username",
            "joined",
            "status",
            "renews or ends",
            "last check-in",
            "days checked in (last 28)",
            "waiting since",
            "open alerts",
            "last reply",
            "summary",
            "notes",
            "drifting",
            "pays by",
            "a month",
        ]
        rows: list[list[object]] = [header] + [
            [
                row.member.first_name, row.member.last_name or "", row.member.username or "",
                local(row.joined), row.status, local(row.renews_or_ends),
                local(row.last_check_in), row.days_checked_in, local(row.waiting_since),
                row.open_alerts, local(row.last_reply), row.summary or "", row.notes,
                row.drifting or "",
                row.pays.method if row.pays else "",
                view.money.income.brings(row.pays) if row.pays else "",
            ]
            for row in view.rows
        ]  # fmt: skip
        return _csv(rows, f"{_slug(group.title)}-members.csv")

    async def weeks_csv(self, request: web.Request) -> web.StreamResponse:
        self._require(request)
        async with self.sessions() as session:
            group = await self._group(session, request)
            view = await queries.overview(
                session, group, self.clock.now(), self.vocabulary, self._price(group)
            )
        header: list[object] = [
            "week of",
            "seated",
            "active",
            "text check-ins",
            "voice check-ins",
            "prompts answered",
            "feelings named",
        ]
        rows: list[list[object]] = [header] + [
            [w.start.isoformat(), w.seated, w.active, w.text, w.voice, w.prompts, w.feelings]
            for w in view.weeks
        ]  # fmt: skip
        return _csv(rows, f"{_slug(group.title)}-weeks.csv")

    # --- helpers --------------------------------------------------------------------------

    def _require(self, request: web.Request) -> CoachSession:
        coach = self._coach(request)
        if coach is None:
            raise web.HTTPUnauthorized(
                text=self._templates.get_template("signed_out.html").render(),
                content_type="text/html",
            )
        return coach

    def _require_csrf(self, request: web.Request, form: Any) -> None:
        if not self._csrf_ok(request, form.get("csrf")):
            raise web.HTTPForbidden(
                text="This form had expired or did not come from your dashboard. "
                "Go back, reload the page and try again."
            )

    def _price(self, group: Group) -> Price:
        """The group's price, written in English like the rest of the dashboard."""
        return self.membership.templates.price_for(group)

    async def _group(self, session: AsyncSession, request: web.Request) -> Group:
        group = await session.get(Group, int(request.match_info["group_id"]))
        if group is None:
            raise web.HTTPNotFound(text="No such group.")
        return group

    def _page(self, name: str, *, status: int = 200, **context: Any) -> web.Response:
        request = context.get("request")
        cookie = request.cookies.get(SESSION_COOKIE, "") if request is not None else ""
        coach = context.get("coach")
        context.setdefault("in_telegram", bool(coach and coach.in_telegram))
        context["csrf"] = auth.csrf_token(self._key, cookie) if cookie else ""
        html = self._templates.get_template(name).render(**context)
        return web.Response(text=html, content_type="text/html", status=status)

    @contextlib.asynccontextmanager
    async def _counted(self) -> AsyncIterator[tuple[AsyncSession, StatementCounter]]:
        """A session whose SQL statements are counted (sent as a Server-Timing header, which
        the benchmark reads: the page must not cost a query per member)."""
        counter = StatementCounter()
        async with self.sessions() as session:
            connection = await session.connection()
            sync = connection.sync_connection
            assert sync is not None
            event.listen(sync, "before_cursor_execute", counter.count)
            try:
                yield session, counter
            finally:
                event.remove(sync, "before_cursor_execute", counter.count)
                counter.stop()


class StatementCounter:
    def __init__(self) -> None:
        self.statements = 0
        self._started = time.perf_counter()
        self._seconds = 0.0

    def count(self, *_args: object) -> None:
        self.statements += 1

    def stop(self) -> None:
        self._seconds = time.perf_counter() - self._started

    def header(self) -> str:
        return f'db;desc="{self.statements} SQL statements";dur={self._seconds * 1000:.1f}'


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith(PREFIX):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.path.startswith(PREFIX + "/static"):
            response.headers["Cache-Control"] = "no-store"
    return response


def _sorting(request: web.Request) -> tuple[str, bool]:
    sort = request.query.get("sort", "name")
    if sort not in SORTS:
        sort = "name"
    return sort, request.query.get("dir", "asc") == "desc"


def _local(group: Group) -> Callable[[datetime | None], str]:
    where = zone(group.timezone)

    def local(moment: datetime | None, style: str = "%-d %b %Y, %H:%M") -> str:
        return moment.astimezone(where).strftime(style) if moment else ""

    return local


def _charts(view: queries.Overview) -> dict[str, Any]:
    labels = [f"{week.start:%-d %b}" for week in view.weeks]
    weeks = view.weeks
    return {
        "active": charts.line_chart(
            "chart-active",
            "Members who checked in, each week, against the seats taken",
            labels,
            [
                Series("checked in", [w.active for w in weeks], "s1"),
                Series("seated", [w.seated for w in weeks], "s3"),
            ],
        ),
        "checkins": charts.bar_chart(
            "chart-checkins",
            "Check-ins each week, written and spoken",
            labels,
            [
                Series("text", [w.text for w in weeks], "s1"),
                Series("voice", [w.voice for w in weeks], "s2"),
            ],
        ),
        "practice": charts.bar_chart(
            "chart-practice",
            "Prompts answered and feelings named, each week",
            labels,
            [
                Series("prompts answered", [w.prompts for w in weeks], "s1"),
                Series("feelings named", [w.feelings for w in weeks], "s2"),
            ],
        ),
        "churn": charts.bar_chart(
            "chart-churn",
            "Seats that ended each month",
            [f"{month.month:%b %Y}" for month in view.money.churn],
            [Series("ended", [month.ended for month in view.money.churn], "s2")],
        ),
    }


def _form_of(group: Group) -> dict[str, str]:
    return {
        "title": group.title,
        "capacity": str(group.capacity),
        "timezone": group.timezone,
        "country": group.country or "",
        "prompt_time": group.prompt_time,
        "prompt_days": group.prompt_days,
        "reply_days": group.reply_days,
        "reply_by": group.reply_by,
        "digest_time": group.digest_time,
        "quiet_days": str(group.quiet_days),
        "qa_day": WEEKDAYS[group.qa_weekday],
        "qa_time": group.qa_time,
        "qa_minutes": str(group.qa_minutes),
        "summary_day": WEEKDAYS[group.summary_weekday],
        "summary_time": group.summary_time,
        "summary_approval": "on" if group.summary_needs_approval else "",
        "trial_days": str(group.trial_days),
        "promotion_codes": "on" if group.promotion_codes else "",
    }


def _csv(rows: list[list[object]], filename: str) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cell(value: object) -> object:
    # A name starting with "=" would be a formula in a spreadsheet: keep it text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _slug(title: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return "-".join(part for part in slug.split("-") if part) or "group"
