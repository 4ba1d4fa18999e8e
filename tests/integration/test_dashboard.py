"""The coach's dashboard over HTTP: who gets in (and who does not), what each section shows,
notes that follow the member's data rights, the settings form and the CSV exports."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from app.runtime import Runtime
from app.web import create_app
from bot.routers.dashboard import show_dashboard_in_menu
from core import privacy
from core.models import DashboardLogin, Group, Member, MemberNote
from dashboard.auth import SESSION_COOKIE
from sandbox.harness import TELEGRAM_WEBHOOK_SECRET
from sandbox.telegram.mini_app import sign_init_data
from tests.integration.world import COACH_ID, GROUP, World

MAYA = 5001
SAM = 5002
STRANGER = 5099

Client = TestClient[Any, Any]


@pytest.fixture
async def client(world: World) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(world.runtime))) as test_client:
        yield test_client


async def in_the_group(world: World, user_id: int, name: str) -> None:
    seat = await world.join_and_pay(user_id, name)
    await world.telegram.join_request(user_id, GROUP, invite_link=seat.invite_link)
    await world.telegram.settle()


async def login_link(world: World, user_id: int = COACH_ID) -> str:
    """/dashboard in the private chat; the link the bot sends (as a path and query)."""
    await world.telegram.user_sends(user_id, text="/dashboard")
    found = re.search(r"https?://\S+/dashboard/login\?t=[\w-]+", world.last(user_id).text or "")
    assert found is not None
    assert world.last(user_id).reply_markup is None  # Telegram takes no button to 127.0.0.1
    parts = urlsplit(found.group(0))
    return f"{parts.path}?{parts.query}"


async def log_in(client: Client, world: World) -> None:
    link = await login_link(world)
    token = parse_qs(urlsplit(link).query)["t"][0]
    response = await client.post("/dashboard/login", data={"t": token}, allow_redirects=False)
    assert response.status == 303


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def group_id(world: World) -> int:
    async with world.sessions() as session:
        group = (await session.exec(select(Group).where(col(Group.chat_id) == GROUP))).one()
        assert group.id is not None
        return group.id


# --- getting in -------------------------------------------------------------------------------


async def test_a_login_link_opens_the_dashboard_once(world: World, client: Client) -> None:
    link = await login_link(world)
    sent = [call for call in world.telegram.calls if call.method == "sendMessage"][-1]
    assert sent.params["link_preview_options"] == {"is_disabled": True}
    assert "works once, for 10 minutes" in (world.last(COACH_ID).text or "")

    # A link preview or a mail scanner fetching the link does not use it up.
    for _ in range(2):
        landing = await client.get(link)
        assert landing.status == 200
        assert "Open my dashboard" in await landing.text()
    token = parse_qs(urlsplit(link).query)["t"][0]

    response = await client.post("/dashboard/login", data={"t": token}, allow_redirects=False)
    assert response.status == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is not https here
    assert response.headers["Referrer-Policy"] == "no-referrer"
    page = await client.get("/dashboard")
    assert page.status == 200
    text = await page.text()
    assert "Between circle" in text and "Seats and money" in text

    # The same link again (another tab, someone who saw it): refused.
    client.session.cookie_jar.clear()
    again = await client.post("/dashboard/login", data={"t": token}, allow_redirects=False)
    assert again.status == 403
    assert "used already" in await again.text()
    assert (await client.get("/dashboard")).status == 401


async def test_an_expired_or_made_up_link_is_refused(world: World, client: Client) -> None:
    link = await login_link(world)
    token = parse_qs(urlsplit(link).query)["t"][0]
    world.clock.advance(timedelta(minutes=11))
    late = await client.post("/dashboard/login", data={"t": token}, allow_redirects=False)
    assert late.status == 403
    guessed = await client.post("/dashboard/login", data={"t": "x" * 43}, allow_redirects=False)
    assert guessed.status == 403
    assert (await client.post("/dashboard/login", data={}, allow_redirects=False)).status == 403
    assert (await client.get("/dashboard/groups/1")).status == 401


async def test_someone_who_is_not_a_coach_gets_no_link(world: World, client: Client) -> None:
    world.person(STRANGER, "Stranger")
    await world.telegram.user_sends(STRANGER, text="/dashboard")
    assert "That command is for the coach" in (world.last(STRANGER).text or "")
    async with world.sessions() as session:
        assert (await session.exec(select(DashboardLogin))).all() == []


async def test_a_forged_cookie_or_a_former_coach_gets_nothing(
    world: World, client: Client
) -> None:
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: "v1.1001.9999999999.b.abc.forged"})
    assert (await client.get("/dashboard")).status == 401
    client.session.cookie_jar.clear()
    await log_in(client, world)
    assert (await client.get("/dashboard")).status == 200


# --- the Mini App -----------------------------------------------------------------------------


@pytest.fixture
async def https_runtime(world: World) -> AsyncIterator[Runtime]:
    """The app as it runs behind a TLS proxy at a public https address."""
    settings = world.settings.model_copy(update={"public_url": "https://between.example"})
    assert settings.redis_url is not None
    runtime = await Runtime.open(settings, redis_url=settings.redis_url, clock=world.clock)
    yield runtime
    await runtime.close()


@pytest.fixture
async def https_client(https_runtime: Runtime) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(https_runtime))) as test_client:
        yield test_client


def launch_data(launch_url: str) -> str:
    """What telegram-web-app.js reads from the fragment: Telegram.WebApp.initData."""
    fragment = parse_qs(urlsplit(launch_url).fragment)
    return fragment["tgWebAppData"][0]


async def test_the_menu_button_opens_the_dashboard_as_a_mini_app(
    world: World, https_runtime: Runtime, https_client: Client
) -> None:
    assert await show_dashboard_in_menu(https_runtime.bot, https_runtime.settings) == 1
    button = world.telegram.menu_button(COACH_ID)
    assert button == {
        "type": "web_app",
        "text": "Dashboard",
        "web_app": {"url": "https://between.example/dashboard/app"},
    }
    assert world.telegram.menu_button(MAYA)["type"] == "commands"  # only the coach's chat

    launch = world.telegram.open_menu_button(COACH_ID)
    assert launch.startswith("https://between.example/dashboard/app#tgWebAppData=")
    bootstrap = await https_client.get("/dashboard/app")
    assert bootstrap.status == 200
    assert "telegram-web-app.js" in await bootstrap.text()

    data = launch_data(launch)
    opened = await https_client.post("/dashboard/app/session", data={"init_data": data})
    assert opened.status == 200
    assert (await opened.json()) == {"next": "/dashboard"}
    cookie = opened.headers["Set-Cookie"]
    # Telegram Web frames the Mini App: only a SameSite=None (so Secure) cookie reaches us.
    assert "Secure" in cookie and "SameSite=None" in cookie and "HttpOnly" in cookie
    # (The test talks plain http to the app, as its TLS proxy would: the client's jar keeps a
    # Secure cookie for https, so it is passed on by hand.)
    session = {"Cookie": f"{SESSION_COOKIE}={opened.cookies[SESSION_COOKIE].value}"}
    assert (await https_client.get("/dashboard", headers=session)).status == 200

    # The same launch data a second time (captured, replayed): refused.
    https_client.session.cookie_jar.clear()
    replay = await https_client.post("/dashboard/app/session", data={"init_data": data})
    assert replay.status == 403
    assert "used before" in (await replay.json())["error"]


async def test_forged_expired_and_non_coach_mini_app_data_are_refused(
    world: World, https_client: Client
) -> None:
    world.person(MAYA, "Maya")
    url = "https://between.example/dashboard/app"
    member = launch_data(world.telegram.mini_app_launch_url(MAYA, url))
    old = launch_data(
        world.telegram.mini_app_launch_url(
            COACH_ID, url, auth_date=int((world.clock.now() - timedelta(hours=2)).timestamp())
        )
    )
    fresh = launch_data(world.telegram.mini_app_launch_url(COACH_ID, url))
    # Someone edits the user id in signed data to the coach's: the hash no longer matches.
    tampered = unquote(member).replace(f'"id":{MAYA}', f'"id":{COACH_ID}')
    # Signed with another bot's token.
    fields = {k: v[0] for k, v in parse_qs(unquote(fresh)).items() if k != "hash"}
    other_bot = sign_init_data("999:another-bots-token-aaaaaaaaaaaaaa", fields)
    # Without the signature field that Telegram signed with: the hash covers it too.
    no_signature = "&".join(p for p in unquote(fresh).split("&") if not p.startswith("signature="))

    for forged, reason in [
        (member, "coach only"),
        (old, "too old"),
        (quote(tampered, safe="=&"), "not signed"),
        (other_bot, "not signed"),
        (no_signature, "not signed"),
        ("", "not signed"),
        ("user=%7B%22id%22%3A1001%7D&auth_date=1&hash=00", "not signed"),
    ]:
        answer = await https_client.post("/dashboard/app/session", data={"init_data": forged})
        assert answer.status == 403, reason
        assert reason in (await answer.json())["error"]
        assert "Set-Cookie" not in answer.headers
    answer = await https_client.post("/dashboard/app/session", data={"init_data": fresh})
    assert answer.status == 200


async def test_telegram_takes_only_https_mini_apps(world: World) -> None:
    """As TDLib's check_link does: http is refused, so the app doesn't try it."""
    assert await show_dashboard_in_menu(world.runtime.bot, world.runtime.settings) == 0
    assert world.telegram.menu_button(COACH_ID)["type"] == "commands"
    status, body = await world.telegram._call(
        "setChatMenuButton",
        {
            "chat_id": COACH_ID,
            "menu_button": {
                "type": "web_app",
                "text": "Dashboard",
                "web_app": {"url": "http://127.0.0.1:8080/dashboard/app"},
            },
        },
    )
    assert status == 400
    assert body["description"] == (
        "Bad Request: menu button Web App URL 'http://127.0.0.1:8080/dashboard/app' is "
        "invalid: Only HTTPS links are allowed"
    )
    status, body = await world.telegram._call(
        "setChatMenuButton", {"chat_id": GROUP, "menu_button": {"type": "commands"}}
    )
    assert (status, body["description"]) == (400, "Bad Request: invalid chat_id specified")


# --- what the page shows ----------------------------------------------------------------------


async def test_every_section_reads_from_the_group(world: World, client: Client) -> None:
    await in_the_group(world, MAYA, "Maya")
    await in_the_group(world, SAM, "<b>Sam</b>")
    await world.telegram.user_sends(MAYA, GROUP, text="Named it: afraid. Breathed anyway.")
    await world.telegram.user_sends(MAYA, voice_seconds=40)
    world.clock.advance(timedelta(hours=5))
    await world.settle()
    await log_in(client, world)

    page = await client.get(f"/dashboard/groups/{await group_id(world)}")
    text = await page.text()
    assert page.status == 200
    assert "&lt;b&gt;Sam&lt;/b&gt;" in text and "<b>Sam</b>" not in text
    assert "Maya: checked in on 1 of the last 28 days" in text
    assert "&lt;b&gt;Sam&lt;/b&gt;: checked in on 0 of the last 28 days" in text
    assert "Waiting since" in text and "Mon 16 Nov, 09:00" in text  # Maya's voice note waits
    for section in ("Members", "The group over time", "Seats and money", "Who is drifting"):
        assert section in text
    assert "Monthly revenue" in text and "$62" in text and "2 paying × $31" in text
    assert '<svg viewBox="0 0 640 220"' in text  # charts drawn on the server
    assert "https://" not in text.split("<body", 1)[1]  # nothing loaded from elsewhere
    statements = page.headers["Server-Timing"]
    assert "SQL statements" in statements
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_the_page_costs_the_same_statements_for_two_members_or_ten(
    world: World, client: Client
) -> None:
    await log_in(client, world)
    gid = await group_id(world)

    async def statements() -> int:
        page = await client.get(f"/dashboard/groups/{gid}")
        found = re.search(r'"(\d+) SQL statements"', page.headers["Server-Timing"])
        assert found is not None
        return int(found.group(1))

    async with world.sessions() as session:
        group = await session.get(Group, gid)
        assert group is not None
        group.capacity = 20
        session.add(group)
        await session.commit()
    for n in range(2):
        await in_the_group(world, 6000 + n, f"Member {n}")
        await world.telegram.user_sends(6000 + n, text="hello")
    few = await statements()
    for n in range(2, 10):
        await in_the_group(world, 6000 + n, f"Member {n}")
        await world.telegram.user_sends(6000 + n, text="hello")
    assert await statements() == few


async def test_the_member_page_shows_the_thread_and_keeps_private_notes(
    world: World, client: Client
) -> None:
    await in_the_group(world, MAYA, "Maya")
    await world.telegram.user_sends(MAYA, text="I felt dismissed at work today.")
    await world.deliver()  # the relay to the coach goes through the outbox
    relayed = next(m for m in world.texts(COACH_ID) if m == "I felt dismissed at work today.")
    assert relayed
    copy = next(
        m
        for m in world.telegram.sent_by_bot(COACH_ID)
        if m.text == "I felt dismissed at work today."
    )
    await world.telegram.user_sends(
        COACH_ID, text="I hear you. That sounds painful.", reply_to_message_id=copy.message_id
    )
    await log_in(client, world)
    gid = await group_id(world)
    async with world.sessions() as session:
        maya = (await session.exec(select(Member).where(col(Member.telegram_id) == MAYA))).one()
    path = f"/dashboard/groups/{gid}/members/{maya.id}"
    page = await (await client.get(path)).text()
    assert "I felt dismissed at work today." in page
    assert "I hear you. That sounds painful." in page
    assert page.index("I felt dismissed") < page.index("I hear you")

    # Without the form's CSRF token (a page elsewhere posting it): refused, nothing kept.
    forged = await client.post(path + "/notes", data={"text": "from elsewhere"})
    assert forged.status == 403
    kept = await client.post(
        path + "/notes",
        data={"text": "Work boundaries; ask about her manager", "csrf": csrf_of(page)},
    )
    assert kept.status == 200
    assert "Work boundaries; ask about her manager" in await kept.text()

    async with world.sessions() as session:
        exported = await privacy.export_member(session, maya)
    assert [note["text"] for note in exported["coach_notes"]] == [
        "Work boundaries; ask about her manager"
    ]
    async with world.sessions() as session:
        member = await session.get(Member, maya.id)
        assert member is not None
        await privacy.forget_member(session, member, world.clock.now())
        await session.commit()
        assert (await session.exec(select(MemberNote))).all() == []


async def test_a_stranger_is_no_member_page(world: World, client: Client) -> None:
    await log_in(client, world)
    gid = await group_id(world)
    assert (await client.get(f"/dashboard/groups/{gid}/members/99999")).status == 404
    assert (await client.get("/dashboard/groups/99999")).status == 404


# --- settings ---------------------------------------------------------------------------------


async def test_settings_change_with_the_same_checks_as_the_cli(
    world: World, client: Client
) -> None:
    await log_in(client, world)
    gid = await group_id(world)
    form_page = await (await client.get(f"/dashboard/groups/{gid}/settings")).text()
    assert 'value="09:00"' in form_page
    fields = dict(re.findall(r'name="(\w+)" type="[a-z]+" value="([^"]*)"', form_page))
    fields["csrf"] = csrf_of(form_page)
    fields["qa_day"], fields["summary_day"] = "wed", "sun"

    wrong = await client.post(
        f"/dashboard/groups/{gid}/settings",
        data={
            **fields,
            "prompt_time": "9am",
            "timezone": "Mars/Olympus",
            "quiet_days": "x",
            "trial_days": "800",
        },
    )
    assert wrong.status == 400
    answer = await wrong.text()
    assert "trial days should be between 0 (no trial) and 730" in answer
    assert "prompt time &#39;9am&#39; should look like 09:00" in answer
    assert (
        "unknown time zone" in answer
        and "quiet days &#39;x&#39; should be a whole number" in answer
    )
    assert 'aria-invalid="true"' in answer

    no_csrf = {**fields, "prompt_time": "07:30"}
    del no_csrf["csrf"]
    assert (await client.post(f"/dashboard/groups/{gid}/settings", data=no_csrf)).status == 403

    saved = await client.post(
        f"/dashboard/groups/{gid}/settings",
        data={
            **fields,
            "prompt_time": "07:30",
            "timezone": "Europe/London",
            "summary_approval": "on",
            "trial_days": "7",
            "promotion_codes": "on",
        },
    )
    assert saved.status == 200 and "Saved." in await saved.text()
    async with world.sessions() as session:
        group = await session.get(Group, gid)
    assert group is not None
    assert (group.prompt_time, group.timezone, group.summary_needs_approval) == (
        "07:30",
        "Europe/London",
        True,
    )
    assert (group.trial_days, group.promotion_codes) == (7, True)
    assert (group.qa_weekday, group.summary_weekday) == (2, 6)


async def test_more_seats_from_the_form_go_to_the_waitlist_first(
    world: World, client: Client
) -> None:
    for n in range(3):
        await world.join_and_pay(7000 + n, f"Person {n}")
    world.person(7009, "Leah")
    waiting = await world.ask_to_join(7009)
    assert "waitlist" in (waiting.text or "")
    await log_in(client, world)
    gid = await group_id(world)
    form_page = await (await client.get(f"/dashboard/groups/{gid}/settings")).text()
    fields = dict(re.findall(r'name="(\w+)" type="[a-z]+" value="([^"]*)"', form_page))
    saved = await client.post(
        f"/dashboard/groups/{gid}/settings",
        data={
            **fields,
            "capacity": "4",
            "qa_day": "wed",
            "summary_day": "sun",
            "csrf": csrf_of(form_page),
        },
    )
    assert saved.status == 200
    await world.settle()
    assert "a seat opened" in (world.last(7009).text or "")


# --- CSV --------------------------------------------------------------------------------------


async def test_csv_exports_of_members_and_weeks(world: World, client: Client) -> None:
    await in_the_group(world, MAYA, "=HYPERLINK(evil)")
    await world.telegram.user_sends(MAYA, GROUP, text="checking in")
    await log_in(client, world)
    gid = await group_id(world)
    members = await client.get(f"/dashboard/groups/{gid}/members.csv")
    assert members.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(await members.text())))
    assert rows[0][:3] == ["first name", "last name", "username"]
    assert rows[1][0] == "'=HYPERLINK(evil)"  # a spreadsheet shows it, doesn't run it
    assert rows[1][7] == "1"
    weeks = list(
        csv.reader(
            io.StringIO(await (await client.get(f"/dashboard/groups/{gid}/weeks.csv")).text())
        )
    )
    assert weeks[0] == [
        "week of", "seated", "active", "text check-ins", "voice check-ins",
        "prompts answered", "feelings named",
    ]  # fmt: skip
    assert len(weeks) == 13 and weeks[-1][:4] == ["2026-11-16", "1", "1", "1"]
    client.session.cookie_jar.clear()
    assert (await client.get(f"/dashboard/groups/{gid}/members.csv")).status == 401


async def test_the_setup_message_points_at_the_settings_page(world: World) -> None:
    setup = next(
        m for m in world.telegram.sent_by_bot(COACH_ID) if "I'm set up in" in (m.text or "")
    )
    assert "open your dashboard's settings (send /dashboard to log in)" in (setup.text or "")
    assert "between group set" not in (setup.text or "")


async def test_with_a_public_address_the_link_is_a_button_and_the_setup_message_links(
    world: World, https_runtime: Runtime, https_client: Client
) -> None:
    base = str(https_client.make_url("")).rstrip("/")
    await https_runtime.bot.set_webhook(
        f"{base}/telegram/webhook", secret_token=TELEGRAM_WEBHOOK_SECRET
    )
    await world.telegram.user_sends(COACH_ID, text="/dashboard")
    answer = world.last(COACH_ID)
    assert answer.reply_markup is not None
    [[button]] = answer.reply_markup["inline_keyboard"]
    assert button["text"] == "Open my dashboard"
    assert button["url"].startswith("https://between.example/dashboard/login?t=")
    assert "the Dashboard button next to the message field" in (answer.text or "")
    assert world.telegram.menu_button(COACH_ID)["type"] == "web_app"  # set on /dashboard too
    world.telegram.add_group(-1009555, "Second circle", admins=[COACH_ID])
    await world.telegram.bot_added_to_group(-1009555, by_user_id=COACH_ID)
    setup = world.last(COACH_ID)
    links = [e.get("url", "") for e in setup.raw.get("entities", []) if e["type"] == "text_link"]
    async with world.sessions() as session:
        second = (await session.exec(select(Group).where(col(Group.chat_id) == -1009555))).one()
    assert links == [f"https://between.example/dashboard/groups/{second.id}/settings"]
