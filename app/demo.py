"""`between demo`: the whole program against the sandbox, on a simulated clock.

It starts the sandbox Telegram, Stripe and Zoom, then the real app (web in webhook mode, the
worker) on the embedded default (SQLite and an embedded Redis under data/demo), plays the
scenes, prints what every person saw and writes the same as an HTML page.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from rich.console import Console
from rich.markup import escape
from sqlmodel import col, func, select

from app.runtime import Runtime
from app.serve import Part, running
from core.clock import SimulatedClock
from core.db import upgrade_database
from core.groups import Schedule, change_schedule, find_group, list_groups, register_group
from core.logs import FORMAT, quiet_libraries
from core.models import (
    EventStatus,
    ExternalEvent,
    OutboxMessage,
    OutboxState,
    Seat,
)
from core.pricing import Price
from prompts.buttons import AcceptNote, Forget, PickFeeling
from sandbox.harness import (
    STRIPE_WEBHOOK_SECRET,
    Sandboxes,
    create_price,
    newest_seat,
    price_group,
)
from sandbox.stripe import StripeSandbox
from sandbox.telegram import ChatMessage, TelegramSandbox
from sandbox.zoom import ZoomSandbox
from scheduling import jobs

ZONE = ZoneInfo("Europe/London")
WEEK_START = datetime(2026, 11, 16, 7, 30, tzinfo=ZONE)  # a Monday
DEMO_STARS = 2400  # Telegram Stars a month, offered beside Stripe
GROUP_PRICE = Price(3100, "gbp")  # the London group's own price
GROUP_ID = -1002026111601
GROUP_TITLE = "Between · November circle"

COACH = 1001
MAYA = 2001
SAM = 2002
JON = 2003
LEAH = 2004
KIM = 2005
NOA = 2006
ARI = 2007
DEV = 2008
PEOPLE = {
    COACH: "Rivka (coach)",
    MAYA: "Maya",
    SAM: "Sam <3",
    JON: "Jon",
    LEAH: "Leah",
    KIM: "Kim",
    NOA: "Noa",
    ARI: "Ari",
    DEV: "Dev",
}


def _service_text(message: ChatMessage) -> str:
    """What Telegram shows for a message without text (joins, departures, voice notes)."""
    raw = message.raw
    if joined := raw.get("new_chat_members"):
        return "(" + ", ".join(user["first_name"] for user in joined) + " joined the group)"
    if left := raw.get("left_chat_member"):
        return f"({left['first_name']} is no longer in the group)"
    return f"({message.kind.replace('_', ' ')})"


@dataclass
class Line:
    """One thing that happened, as the transcript shows it."""

    when: datetime
    where: str
    who: str
    text: str
    buttons: list[str] = field(default_factory=list)
    system: bool = False


@dataclass
class Scene:
    title: str
    lines: list[Line] = field(default_factory=list)


class Demo:
    """The sandbox world, the running app, and the transcript of what people saw."""

    def __init__(self, data_dir: Path, console: Console) -> None:
        self.data_dir = data_dir
        self.console = console
        # The sandbox's flood limits run ten times faster; the app's waits keep up with them.
        self.clock = SimulatedClock(WEEK_START, pace=10)
        self.telegram = TelegramSandbox(rate_scale=10, now=self.clock.now)
        self.stripe = StripeSandbox(now=self.clock.now)
        self.zoom = ZoomSandbox()
        self.sandboxes = Sandboxes(self.telegram, self.stripe, self.zoom)
        self.scenes: list[Scene] = []
        self._seen: dict[tuple[int, int], str | None] = {}
        self._app: Any = None
        self.runtime: Runtime | None = None
        self.base_url = ""

    async def __aenter__(self) -> Demo:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        await self.sandboxes.start()
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        settings = self.sandboxes.settings(
            database_url=f"sqlite+aiosqlite:///{self.data_dir / 'between.db'}",
            redis_url=None,
            data_dir=self.data_dir,
            public_url=self.base_url,
            coach_ids=(COACH,),
            price_id=await create_price(self.stripe),
        ).model_copy(update={"stars_per_month": DEMO_STARS})
        await upgrade_database(settings.database_url)
        self.stripe.add_webhook_endpoint(f"{self.base_url}/stripe/webhook", STRIPE_WEBHOOK_SECRET)
        for user_id, name in PEOPLE.items():
            self.telegram.add_user(user_id, name.removesuffix(" (coach)"))
        # The scenes run the clock-driven jobs themselves, as the simulated clock reaches them.
        self._app = running(
            settings, {Part.WEB, Part.WORKER}, port=port, clock=self.clock, cron=False
        )
        self.runtime = await self._app.__aenter__()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._app is not None:
            await self._app.__aexit__(kind, error, trace)
        await self.sandboxes.stop()

    def scene(self, title: str, at: datetime) -> None:
        """Start a scene at a local time; what happens next is recorded under it."""
        self.collect()
        self.clock.set(at)
        self.scenes.append(Scene(f"{title} · {at.astimezone(ZONE):%a %d %b, %H:%M}"))

    def system(self, who: str, text: str) -> None:
        """A line about what happened behind the scenes (webhooks, health, jobs)."""
        self.collect()
        self.scenes[-1].lines.append(
            Line(self.clock.now(), "behind the scenes", who, text, system=True)
        )

    def collect(self) -> None:
        """Move the chat messages that appeared since the last look into the current scene."""
        # A message seen before comes again when it was edited (a button's answer, say).
        new = [
            message
            for chat in self.telegram.chats()
            for message in self.telegram.messages(chat)
            if self._seen.get((message.chat_id, message.message_id), "\0") != message.text
        ]
        # What a person did comes before what the bot did about it.
        by_bot = self.telegram.bot_id
        for message in sorted(new, key=lambda m: (m.date, m.sender_id == by_bot, m.message_id)):
            self._seen[(message.chat_id, message.message_id)] = message.text
            if self.scenes:
                self.scenes[-1].lines.append(self._line(message))

    async def act(self, action: Awaitable[object]) -> None:
        """Let a person do something, then record what everyone saw because of it."""
        await action
        await self.quiet()

    async def quiet(self) -> None:
        """Wait until the webhooks, the worker and the outbox have nothing left to do."""
        assert self.runtime is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await self.stripe.settle()
            await self.telegram.settle()
            async with self.runtime.sessions() as session:
                busy = await session.exec(
                    select(func.count())
                    .select_from(ExternalEvent)
                    .where(
                        col(ExternalEvent.status).in_(
                            [EventStatus.RECEIVED, EventStatus.PROCESSING]
                        )
                    )
                )
                # Messages for later (reminders) are not what we wait for.
                sending = await session.exec(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        col(OutboxMessage.state).in_([OutboxState.PENDING, OutboxState.SENDING])
                    )
                    .where(col(OutboxMessage.not_before) <= self.clock.now())
                )
                if busy.one() == 0 and sending.one() == 0:
                    break
            await asyncio.sleep(0.1)
        await self.telegram.settle()
        self.collect()

    async def minute_passes(self) -> None:
        """Run the worker's every-minute seat sweep now (the clock jumps, the cron would lag)."""
        assert self.runtime is not None
        swept = await jobs.sweep_seats({"services": self.runtime})
        self.system("worker", f"seat sweep: {swept}")
        await self.quiet()

    async def seat(self, user_id: int) -> Seat:
        assert self.runtime is not None
        found = await newest_seat(self.runtime.sessions, user_id)
        assert found is not None
        return found

    async def join_and_pay(self, user_id: int) -> None:
        """The whole funnel as a person lives it: /join, the note, Checkout, the invite."""
        telegram = self.telegram
        await self.act(telegram.user_sends(user_id, text="/join"))
        note = telegram.sent_by_bot(user_id)[-1]
        await self.act(telegram.user_presses(user_id, note, AcceptNote().pack()))
        seat = await self.seat(user_id)
        assert seat.checkout_session_id is not None
        self.system(
            "Stripe Checkout",
            f"{PEOPLE[user_id]} pays {GROUP_PRICE.amount} "
            f"(session {seat.checkout_session_id[:14]}…)",
        )
        await self.stripe.complete_checkout(seat.checkout_session_id)
        await self.quiet()
        seat = await self.seat(user_id)
        assert seat.invite_link is not None
        await self.act(telegram.join_request(user_id, GROUP_ID, invite_link=seat.invite_link))
        await self.quiet()

    def _line(self, message: ChatMessage) -> Line:
        where = (
            self.telegram.chat_title(message.chat_id)
            if message.chat_id < 0
            else f"{PEOPLE.get(message.chat_id, message.chat_id)} · private chat"
        )
        who = (
            "Between (bot)"
            if message.sender_id == self.telegram.bot_id
            else PEOPLE.get(message.sender_id, str(message.sender_id))
        )
        text = message.text or _service_text(message)
        if message.file_name:
            text = f"📎 {message.file_name}\n{text}"
        return Line(message.date, str(where), who, text, _buttons(message))


def _button(message: ChatMessage, text: str) -> str:
    """The callback data of the button with this text."""
    keyboard = (message.reply_markup or {}).get("inline_keyboard", [])
    return next(
        str(button["callback_data"])
        for row in keyboard
        for button in row
        if button["text"] == text
    )


def _buttons(message: ChatMessage) -> list[str]:
    keyboard = (message.reply_markup or {}).get("inline_keyboard", [])
    return [str(button.get("text", "")) for row in keyboard for button in row]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the scenes --------------------------------------------------------------------------


COACH_BIO = "Therapist and coach for twelve years.\nI read and answer every message myself."


async def opening_day(demo: Demo) -> None:
    """The coach starts the bot, makes it an admin of the group, fixes a missing right, and
    tells members who she is (/profile)."""
    demo.scene("The coach sets up the group", WEEK_START)
    telegram = demo.telegram
    await demo.act(telegram.user_sends(COACH, text="/start"))
    telegram.add_group(GROUP_ID, GROUP_TITLE, admins=[COACH])
    await demo.act(
        telegram.bot_added_to_group(GROUP_ID, by_user_id=COACH, can_restrict_members=False)
    )
    demo.clock.advance(timedelta(minutes=3))
    await demo.act(telegram.bot_added_to_group(GROUP_ID, by_user_id=COACH))
    assert demo.runtime is not None
    async with demo.runtime.sessions() as session:
        groups = await list_groups(session)
    for group in groups:
        demo.system(
            "between group list",
            f"{group.title} ({group.chat_id}): {group.capacity} seats, {group.timezone}, "
            f"bot rights {'ok' if group.bot_can_invite and group.bot_can_restrict else 'missing'}",
        )
    # A London group is charged in pounds: a price of its own, made in Stripe.
    price_id = await price_group(
        demo.stripe, demo.runtime.sessions, chat_id=GROUP_ID, price=GROUP_PRICE
    )
    demo.system("between stripe setup", f"--currency gbp --amount 31 → {price_id}")
    demo.system(
        "between group set",
        f"--chat-id {GROUP_ID} --price-id {price_id} → {GROUP_PRICE.recurring}",
    )
    demo.clock.advance(timedelta(minutes=5))
    await demo.act(telegram.user_sends(COACH, text="/profile"))
    for answer in (
        {"text": "Rivka"},
        {"text": COACH_BIO},
        {"photo_caption": ""},
    ):
        question = telegram.sent_by_bot(COACH)[-1]
        await demo.act(
            telegram.user_sends(COACH, reply_to_message_id=question.message_id, **answer)  # type: ignore[arg-type]
        )


async def people_arrive(demo: Demo) -> None:
    """Two people find the bot; one has a name full of HTML, shown exactly as typed."""
    demo.scene("People find the bot", WEEK_START + timedelta(hours=1))
    telegram = demo.telegram
    await demo.act(telegram.user_sends(MAYA, text="/start"))
    demo.clock.advance(timedelta(minutes=12))
    await demo.act(telegram.user_sends(SAM, text="/start"))
    welcome = telegram.sent_by_bot(SAM)[-1]
    await demo.act(telegram.user_presses(SAM, welcome, "help"))


async def behind_the_scenes(demo: Demo) -> None:
    """Stripe's webhook verified and de-duplicated, Telegram's secret checked, health."""
    demo.scene("Behind the scenes", WEEK_START + timedelta(hours=2))
    event = demo.stripe.make_event("customer.created", {"id": "cus_demo", "object": "customer"})
    for attempt in ("sends", "retries"):
        status = await demo.stripe.send_event(event)
        demo.system("Stripe", f"{attempt} {event['id']} ({event['type']}) → {status}")
    forged = await demo.stripe.send_event(event, secret="whsec_forged")
    demo.system("a stranger", f"posts a forged Stripe event → {forged}")
    outcome = await _wait_until_processed(demo, event["id"])
    demo.system("worker", f"{event['id']} stored once, {outcome}")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{demo.base_url}/telegram/webhook",
            json={"update_id": 1},
            headers={"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"},
        ) as response:
            demo.system(
                "a stranger", f"posts to /telegram/webhook with a wrong secret → {response.status}"
            )
        async with http.get(f"{demo.base_url}/healthz") as response:
            demo.system("monitor", f"GET /healthz → {response.status} {await response.text()}")


async def _wait_until_processed(demo: Demo, event_id: str) -> str:
    assert demo.runtime is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        async with demo.runtime.sessions() as session:
            rows = (
                await session.exec(select(ExternalEvent).where(ExternalEvent.event_id == event_id))
            ).all()
        if len(rows) == 1 and rows[0].status not in {"received", "processing"}:
            return f"{rows[0].status} by the worker ({rows[0].attempts} attempt)"
        await asyncio.sleep(0.1)
    return "still waiting for the worker"


async def joining(demo: Demo) -> None:
    """Four people want a three-seat group: three pay and are let in, one waits."""
    demo.scene("Joining: four people, three seats", WEEK_START + timedelta(hours=3))
    assert demo.runtime is not None
    async with demo.runtime.sessions() as session:
        await register_group(
            session,
            chat_id=GROUP_ID,
            title=GROUP_TITLE,
            capacity=3,
            timezone="Europe/London",
            now=demo.clock.now(),
        )
        await session.commit()
    demo.system("between group set", f"--chat-id {GROUP_ID} --capacity 3 --timezone Europe/London")
    for user_id in (MAYA, SAM):
        await demo.join_and_pay(user_id)
        demo.clock.advance(timedelta(minutes=7))
    await demo.act(demo.telegram.user_sends(JON, text="/start"))
    await demo.join_and_pay(JON)
    await demo.act(demo.telegram.user_sends(LEAH, text="/join"))
    note = demo.telegram.sent_by_bot(LEAH)[-1]
    await demo.act(demo.telegram.user_presses(LEAH, note, AcceptNote().pack()))


async def the_gate(demo: Demo) -> None:
    """A stranger with a forwarded link is declined; someone added by hand is removed."""
    demo.scene("The gate", WEEK_START + timedelta(hours=5))
    telegram = demo.telegram
    await demo.act(telegram.user_sends(MAYA, text="/invite"))
    link = (await demo.seat(MAYA)).invite_link
    assert link is not None
    demo.system("Maya", "forwards her personal invite link to her friend Kim")
    await demo.act(telegram.join_request(KIM, GROUP_ID, invite_link=link))
    demo.system("a member", "adds Kim to the group by hand")
    await demo.act(telegram.user_joins(KIM, GROUP_ID))
    await demo.quiet()
    await demo.act(telegram.user_sends(COACH, text="/seats"))


MAYAS_ANSWER = "Tight chest, right under the collarbone. Word: dread. Breathed through it anyway."


async def a_day_of_practice(demo: Demo) -> None:
    """Tuesday: the morning prompt, answers in text and voice, the wheel, a win, the safety net."""
    day = datetime(2026, 11, 17, tzinfo=ZONE)
    demo.scene("A day of practice", day.replace(hour=9))
    assert demo.runtime is not None
    await jobs.send_daily_prompts({"services": demo.runtime})
    demo.system("worker", "09:00 in Europe/London: the daily prompt goes to the group")
    await demo.quiet()
    telegram = demo.telegram
    demo.clock.set(day.replace(hour=9, minute=20))
    await demo.act(telegram.user_sends(MAYA, GROUP_ID, text=MAYAS_ANSWER))
    demo.clock.set(day.replace(hour=12, minute=40))
    await demo.act(telegram.user_sends(SAM, voice_seconds=48))
    demo.clock.set(day.replace(hour=13, minute=5))
    await demo.act(telegram.user_sends(JON, text="/feel"))
    wheel = telegram.sent_by_bot(JON)[-1]
    await demo.act(telegram.user_presses(JON, wheel, PickFeeling(index=1).pack()))
    words = telegram.messages(JON)[-1]
    word = (words.reply_markup or {})["inline_keyboard"][0][1]["callback_data"]
    await demo.act(telegram.user_presses(JON, words, word))
    demo.clock.set(day.replace(hour=17, minute=30))
    await demo.act(
        telegram.user_sends(
            MAYA, GROUP_ID, text="#win I said no to the extra shift. No essay, just no."
        )
    )
    await demo.act(telegram.user_sends(MAYA, text="/streak"))
    await promises_job(demo, day.replace(hour=18), "two hours before 20:00: the coach's reminder")
    await promises_job(demo, day.replace(hour=20, minute=1), "20:00 passed unanswered")
    demo.clock.set(day.replace(hour=21, minute=50))
    await demo.act(
        telegram.user_sends(
            SAM, GROUP_ID, text="Some nights I think everyone would be better off without me."
        )
    )
    await demo.quiet()
    demo.clock.set(day.replace(hour=22, minute=5))
    await demo.act(telegram.user_sends(COACH, text="/prompt"))


async def the_alert_comes_back(demo: Demo) -> None:
    """Nobody pressed "I've reached out" on Sam's alert: held through Rivka's night (22:00 to
    07:00), it comes back at 07:00; she writes to Sam and presses it."""
    assert demo.runtime is not None
    demo.scene("The alert comes back", datetime(2026, 11, 18, 7, 0, tzinfo=ZONE))
    await jobs.repeat_safety_alerts({"services": demo.runtime})
    demo.system("worker", "Sam's urgent alert is still open: said again at the end of the night")
    await demo.quiet()
    repeat = demo.telegram.sent_by_bot(COACH)[-1]
    demo.clock.set(datetime(2026, 11, 18, 7, 4, tzinfo=ZONE))
    demo.system("Rivka", "calls Sam, then presses the button")
    await demo.act(demo.telegram.user_presses(COACH, repeat, _button(repeat, "I've reached out")))
    demo.clock.set(datetime(2026, 11, 18, 8, 4, tzinfo=ZONE))
    await jobs.repeat_safety_alerts({"services": demo.runtime})
    demo.system("worker", "an hour later: the alert is closed, nothing is repeated")
    await demo.quiet()


async def sos_at_night(demo: Demo) -> None:
    """Late at night Sam asks for help himself: /sos, and "Tell my coach now"."""
    demo.scene("/sos at night", datetime(2026, 11, 18, 23, 10, tzinfo=ZONE))
    telegram = demo.telegram
    await demo.act(telegram.user_sends(SAM, text="/sos"))
    sos = telegram.sent_by_bot(SAM)[-1]
    demo.clock.set(datetime(2026, 11, 18, 23, 12, tzinfo=ZONE))
    await demo.act(telegram.user_presses(SAM, sos, _button(sos, "Tell my coach now")))
    await demo.quiet()


async def promises_job(demo: Demo, at: datetime, what: str) -> None:
    """The worker's every-minute look at the reply promises, at one moment."""
    assert demo.runtime is not None
    demo.clock.set(at)
    await jobs.keep_promises({"services": demo.runtime})
    demo.system("worker", what)
    await demo.quiet()


# Concerning, not urgent: a gentle note to Maya, a flagged line in the coach's round.
MAYAS_HEAVY_MORNING = "Another call with my dad. Nothing ever gets better with him."
COACH_TO_THE_GROUP = (
    "Jon, that's a boundary said kindly, and it held. Notice how your body took his answer."
)
COACH_TO_MAYA = (
    "Sitting with it before getting up is the practice, Maya. What did the dread want you to know?"
)


async def the_coachs_day(demo: Demo) -> None:
    """Three members write at different hours; the coach works through the digest."""
    telegram = demo.telegram
    day = datetime(2026, 11, 18, tzinfo=ZONE)
    demo.scene("Members write, whenever it happens", day.replace(hour=7, minute=10))
    await demo.act(
        telegram.user_sends(
            MAYA,
            text="Woke up with that old dread again. Sat with it for a minute before getting up.",
        )
    )
    await demo.quiet()
    demo.clock.set(day.replace(hour=10, minute=30))
    await demo.act(telegram.user_sends(MAYA, GROUP_ID, text=MAYAS_HEAVY_MORNING))
    await demo.quiet()
    demo.clock.set(day.replace(hour=13))
    await demo.act(telegram.user_sends(SAM, voice_seconds=63))
    await demo.quiet()
    await promises_job(demo, day.replace(hour=18), "two hours before 20:00: the coach's reminder")
    demo.clock.set(day.replace(hour=18, minute=30))
    await demo.act(
        telegram.user_sends(
            JON, GROUP_ID, text="Told my brother I can't host this year. He was fine?!"
        )
    )
    await demo.quiet()
    await promises_job(demo, day.replace(hour=20, minute=1), "20:00 passed unanswered")
    await sos_at_night(demo)

    demo.scene("The coach's ten minutes", datetime(2026, 11, 19, 8, 0, tzinfo=ZONE))
    assert demo.runtime is not None
    await jobs.send_digests({"services": demo.runtime})
    demo.system("worker", "08:00 on a reply day: the coach's round")
    await demo.quiet()
    digest = telegram.sent_by_bot(COACH)[-1]
    demo.clock.set(datetime(2026, 11, 19, 8, 2, tzinfo=ZONE))
    await demo.act(telegram.user_presses(COACH, digest, _button(digest, "Open Sam <3")))
    thread = telegram.sent_by_bot(COACH)[-1]
    demo.system("Rivka", "records a voice note in reply to Sam's thread")
    await demo.act(
        telegram.user_sends(COACH, voice_seconds=94, reply_to_message_id=thread.message_id)
    )
    demo.clock.set(datetime(2026, 11, 19, 8, 5, tzinfo=ZONE))
    relayed = next(
        m for m in telegram.sent_by_bot(COACH) if (m.text or "").startswith("Woke up with")
    )
    await demo.act(
        telegram.user_sends(
            COACH,
            text=COACH_TO_MAYA,
            reply_to_message_id=relayed.message_id,
        )
    )
    demo.clock.set(datetime(2026, 11, 19, 8, 7, tzinfo=ZONE))
    await demo.act(telegram.user_presses(COACH, digest, _button(digest, "3. ✨ Win")))
    await demo.act(telegram.user_presses(COACH, digest, _button(digest, "1. ↩ Reply")))
    asked = telegram.sent_by_bot(COACH)[-1]
    demo.system("Rivka", "answers Maya's post in the group with a voice note")
    await demo.act(
        telegram.user_sends(COACH, voice_seconds=41, reply_to_message_id=asked.message_id)
    )
    demo.clock.set(datetime(2026, 11, 19, 8, 10, tzinfo=ZONE))
    await demo.act(telegram.user_sends(COACH, GROUP_ID, text=COACH_TO_THE_GROUP))
    await demo.act(telegram.user_sends(COACH, text="/members"))

    demo.scene("A quiet member", datetime(2026, 11, 22, 12, 0, tzinfo=ZONE))
    await jobs.send_gentle_checkins({"services": demo.runtime})
    demo.system("worker", "Maya has been quiet for four days: one gentle check-in, at midday")
    await demo.quiet()


COACH_LINE_FOR_SAM = "Sam, I'm glad you're still here with us. I'll write to you tomorrow."


async def the_weekly_rhythm(demo: Demo) -> None:
    """The week's Zoom Q&A with its calendar file and reminders; summaries and the recap."""
    telegram = demo.telegram
    assert demo.runtime is not None
    ctx = {"services": demo.runtime}
    demo.scene("The live Q&A is scheduled", datetime(2026, 11, 22, 18, 0, tzinfo=ZONE))
    await jobs.schedule_live_qa(ctx)
    demo.system("worker", "three days ahead: a Zoom meeting is created and announced")
    await demo.quiet()

    week = datetime(2026, 11, 23, tzinfo=ZONE)
    demo.scene("A week of practice", week.replace(hour=8, minute=15))
    await demo.act(
        telegram.user_sends(MAYA, text="/ask How do I stop replaying conversations at night?")
    )
    demo.clock.set(week.replace(day=24, hour=12, minute=30))
    await demo.act(
        telegram.user_sends(
            MAYA, GROUP_ID, text="Named it at lunch: anxious, then calmer after the walk."
        )
    )
    demo.clock.set(week.replace(day=24, hour=18))
    await demo.quiet()  # the 24-hour reminder, pinned
    demo.clock.set(week.replace(day=25, hour=16))
    await jobs.schedule_live_qa(ctx)
    demo.system("worker", "two hours before: the questions go to the coach")
    await demo.quiet()
    demo.clock.set(week.replace(day=25, hour=17))
    await jobs.schedule_live_qa(ctx)
    demo.system("worker", "an hour before: the coach's host link (Zoom's start_url), in private")
    await demo.quiet()  # and the one-hour reminder
    demo.clock.set(week.replace(day=26, hour=9, minute=40))
    await demo.act(
        telegram.user_sends(
            MAYA, GROUP_ID, text="#win I asked for the afternoon off and didn't apologise."
        )
    )
    demo.clock.set(week.replace(day=27, hour=22, minute=10))
    await demo.act(telegram.user_sends(MAYA, voice_seconds=75))
    await demo.act(telegram.user_sends(MAYA, text="/next text my sister on Sunday"))
    await demo.act(
        telegram.user_sends(SAM, GROUP_ID, text="Hard week. Still reading everyone here.")
    )

    demo.scene("Weekly summaries", week.replace(day=29, hour=15))
    await jobs.weekly_summaries(ctx)
    demo.system("worker", "three hours before: drafts for the coach to look at")
    await demo.quiet()
    demo.clock.set(week.replace(day=29, hour=15, minute=20))
    sams = next(m for m in telegram.sent_by_bot(COACH) if "Draft for Sam" in (m.text or ""))
    await demo.act(
        telegram.user_sends(COACH, text=COACH_LINE_FOR_SAM, reply_to_message_id=sams.message_id)
    )
    demo.clock.set(week.replace(day=29, hour=18))
    await jobs.weekly_summaries(ctx)
    demo.system("worker", "Sunday 18:00: every member's summary, and the group's recap")
    await demo.quiet()


async def a_card_fails(demo: Demo) -> None:
    """Jon's renewal fails; after the grace period his seat goes to Leah, who waited."""
    demo.scene("A card fails", WEEK_START + timedelta(days=30))
    seat = await demo.seat(JON)
    assert seat.stripe_subscription_id is not None
    demo.system("Stripe", "Jon's renewal is declined")
    await demo.stripe.fail_renewal(seat.stripe_subscription_id)
    await demo.quiet()
    demo.scene("Three days later", WEEK_START + timedelta(days=33, minutes=5))
    # Stripe's own dunning ended it first, and that webhook was lost: cancelling it again is
    # answered 404 (as the real API does), which counts as done.
    demo.stripe.lose_webhooks()
    await demo.stripe.end_subscription(seat.stripe_subscription_id)
    demo.stripe.lose_webhooks(False)
    demo.system("Stripe", "ends Jon's subscription itself; that webhook never arrives")
    await demo.minute_passes()
    offer = demo.telegram.sent_by_bot(LEAH)[-1]
    await demo.act(demo.telegram.user_presses(LEAH, offer, "join"))
    seat = await demo.seat(LEAH)
    assert seat.checkout_session_id is not None
    await demo.stripe.complete_checkout(seat.checkout_session_id)
    await demo.quiet()
    seat = await demo.seat(LEAH)
    assert seat.invite_link is not None
    await demo.act(demo.telegram.join_request(LEAH, GROUP_ID, invite_link=seat.invite_link))
    await demo.quiet()
    await demo.act(demo.telegram.user_sends(COACH, text="/waitlist"))
    await demo.act(demo.telegram.user_sends(COACH, text="/seats"))


async def other_ways_in(demo: Demo) -> None:
    """Two more seats: Noa pays in Telegram Stars, Ari comes in with the coach's code."""
    demo.scene("Other ways in: Stars and a code", datetime(2026, 12, 19, 12, 0, tzinfo=ZONE))
    telegram = demo.telegram
    await demo.act(telegram.user_sends(COACH, text="/capacity 5"))
    await demo.act(telegram.user_sends(COACH, text="/code new 1"))
    code = (telegram.sent_by_bot(COACH)[-1].text or "").split("?start=")[1][:10]
    await demo.act(telegram.user_sends(NOA, text="/join"))
    note = telegram.sent_by_bot(NOA)[-1]
    await demo.act(telegram.user_presses(NOA, note, AcceptNote().pack()))
    markup = telegram.sent_by_bot(NOA)[-1].reply_markup or {}
    link = next(
        str(b["url"])
        for row in markup["inline_keyboard"]
        for b in row
        if str(b.get("url", "")).startswith("https://t.me/$")
    )
    demo.system("Noa", f"pays {DEMO_STARS} Stars in Telegram (a 30-day subscription)")
    await demo.act(telegram.user_pays_invoice(NOA, link))
    await demo.quiet()
    demo.system("Rivka", "sends Ari the code's link; Ari opens it")
    await demo.act(telegram.user_sends(ARI, text=f"/start {code}"))
    note = telegram.sent_by_bot(ARI)[-1]
    await demo.act(telegram.user_presses(ARI, note, AcceptNote(code=code).pack()))
    await demo.quiet()
    await demo.act(telegram.user_sends(COACH, text="/code list"))
    await demo.act(telegram.user_sends(COACH, text="/seats"))


async def a_free_week(demo: Demo) -> None:
    """The coach offers a free week: Dev joins with no card asked, and Stripe's notice three
    days before the end brings Dev a reminder of what happens then."""
    demo.scene("A free week", datetime(2026, 12, 21, 10, 0, tzinfo=ZONE))
    assert demo.runtime is not None
    async with demo.runtime.sessions() as session:
        group = await find_group(session, chat_id=GROUP_ID)
        assert group is not None
        change_schedule(group, Schedule(trial_days=7))
        await session.commit()
    demo.system("Rivka", f"runs `between group set --chat-id {GROUP_ID} --trial-days 7`")
    await demo.act(demo.telegram.user_sends(COACH, text="/capacity 6"))
    await demo.act(demo.telegram.user_sends(DEV, text="/join"))
    note = demo.telegram.sent_by_bot(DEV)[-1]
    await demo.act(demo.telegram.user_presses(DEV, note, AcceptNote().pack()))
    seat = await demo.seat(DEV)
    assert seat.checkout_session_id is not None
    demo.system("Stripe Checkout", "Dev starts the free week: nothing due, no card asked")
    await demo.stripe.complete_checkout(seat.checkout_session_id)
    await demo.quiet()
    demo.scene("Three days before the free week ends", datetime(2026, 12, 25, 10, 5, tzinfo=ZONE))
    demo.system("Stripe", "sends customer.subscription.trial_will_end")
    await demo.stripe.pass_time()
    await demo.quiet()


async def data_rights(demo: Demo) -> None:
    """Maya asks what is kept about her; Jon, who has left, asks to be forgotten."""
    demo.scene("Your data, your call", datetime(2026, 12, 20, 10, 0, tzinfo=ZONE))
    telegram = demo.telegram
    await demo.act(telegram.user_sends(MAYA, text="/privacy"))
    await demo.act(telegram.user_sends(MAYA, text="/mydata"))
    await demo.act(telegram.user_sends(JON, text="/forget"))
    confirm = telegram.sent_by_bot(JON)[-1]
    await demo.act(telegram.user_presses(JON, confirm, Forget(confirm=True).pack()))


# Maya's long evening of writing: each message over 500 characters, so her thread is longer
# than one Telegram message can hold (4,096 characters after formatting).
MAYAS_EVENING = [
    "Evening {n}. I keep coming back to the same knot in my chest, the one from this morning, "
    "and tonight I want to stay with it instead of scrolling it away. It started when my "
    "manager said 'we need to talk' and then walked off. Twenty minutes of waiting felt like "
    "a whole afternoon. My body went straight to the old place: I must have done something "
    "wrong, I need to fix it before anyone notices. It turned out to be about a schedule. "
    "Nothing. And still my hands were cold for an hour afterwards. I named it on the wheel: "
    "afraid, then small. Writing it down makes it look less like the truth and more like a "
    "weather report, which is what the coach said it would feel like."
]


async def a_long_thread(demo: Demo) -> None:
    """Maya writes a lot one evening; the coach's /thread comes in parts that fit Telegram."""
    demo.scene("A long evening of writing", datetime(2026, 12, 20, 21, 0, tzinfo=ZONE))
    telegram = demo.telegram
    for n in range(1, 10):
        demo.clock.set(datetime(2026, 12, 20, 21, 5 * n, tzinfo=ZONE))
        await demo.act(telegram.user_sends(MAYA, GROUP_ID, text=MAYAS_EVENING[0].format(n=n)))
    demo.clock.set(datetime(2026, 12, 21, 8, 0, tzinfo=ZONE))
    before = len(telegram.sent_by_bot(COACH))
    await demo.act(telegram.user_sends(COACH, text=f"/thread {MAYA}"))
    parts = telegram.sent_by_bot(COACH)[before:]
    longest = max(len(part.text or "") for part in parts)
    demo.system(
        "Telegram",
        f"Maya's thread is {sum(len(p.text or '') for p in parts)} characters: it came in "
        f"{len(parts)} messages of at most 4,096 (the longest {longest}), split at line breaks",
    )


async def the_dashboard(demo: Demo) -> None:
    """The long view: the coach opens the dashboard with the link /dashboard sends; the page
    is kept next to the transcript (and a screenshot, where Chromium is installed)."""
    demo.scene("The coach's dashboard", datetime(2026, 12, 20, 11, 0, tzinfo=ZONE))
    await demo.act(demo.telegram.user_sends(COACH, text="/dashboard"))
    answer = demo.telegram.sent_by_bot(COACH)[-1].text or ""
    found = re.search(r"https?://\S+/dashboard/login\?t=[\w-]+", answer)
    assert found is not None
    link = found.group(0)
    token = link.split("t=", 1)[1]
    jar = aiohttp.CookieJar(unsafe=True)  # the dashboard is on 127.0.0.1 here
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(link) as landing:
            demo.system("the coach's browser", f"opens the link → {landing.status}, a button")
        async with http.post(
            f"{demo.base_url}/dashboard/login", data={"t": token}, allow_redirects=False
        ) as login:
            flags = login.headers.get("Set-Cookie", "")
            kept = ", ".join(f for f in ("HttpOnly", "SameSite=Lax") if f in flags)
            demo.system("the coach's browser", f"presses it → {login.status}, a cookie ({kept})")
        async with http.get(f"{demo.base_url}/dashboard") as page:
            timing = page.headers.get("Server-Timing", "")
            statements = timing.split('"')[1] if '"' in timing else "?"
            demo.system(
                "the coach's browser", f"GET {page.url.path} → {page.status}, {statements}"
            )
            text = await page.text()
        async with http.get(f"{demo.base_url}/dashboard/static/dashboard.css") as css:
            style = await css.text()
        cookie = {c.key: c.value for c in jar}
    async with (
        aiohttp.ClientSession() as stranger,
        stranger.post(
            f"{demo.base_url}/dashboard/login", data={"t": token}, allow_redirects=False
        ) as again,
    ):
        demo.system("someone with the same link", f"tries it again → {again.status}")
    saved = demo.data_dir / "dashboard.html"
    # The page as the coach saw it, with its stylesheet inside so it opens on its own.
    saved.write_text(
        text.replace(
            '<link rel="stylesheet" href="/dashboard/static/dashboard.css">',
            f"<style>{style}</style>",
        ),
        encoding="utf-8",
    )
    demo.system("demo", f"the dashboard page is in {saved}")
    shot = await _screenshot(str(page.url), cookie, demo.data_dir / "dashboard.png")
    demo.system("demo", shot)


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; nothing here downloads a browser


async def _screenshot(url: str, cookies: dict[str, str], path: Path) -> str:
    """A laptop-sized screenshot with Debian's Chromium, if it and Playwright are installed."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return "no screenshot: Playwright is not installed (pip install playwright)"
    if not CHROMIUM.exists():  # noqa: ASYNC240  (one stat, once)
        return "no screenshot: Chromium is not installed (apt-get install chromium)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        )  # fmt: skip
        try:
            context = await browser.new_context(viewport={"width": 1200, "height": 900})
            await context.add_cookies(
                [{"name": name, "value": value, "url": url} for name, value in cookies.items()]
            )
            page = await context.new_page()
            await page.goto(url)
            await page.screenshot(path=str(path), full_page=True)
        finally:
            await browser.close()
    return f"a screenshot of it is in {path}"


SCENES: list[Callable[[Demo], Awaitable[None]]] = [
    opening_day,
    people_arrive,
    behind_the_scenes,
    joining,
    the_gate,
    a_day_of_practice,
    the_alert_comes_back,
    the_coachs_day,
    the_weekly_rhythm,
    a_card_fails,
    other_ways_in,
    data_rights,
    the_dashboard,
    a_long_thread,
    a_free_week,
]


# --- output ---------------------------------------------------------------------------------


def print_transcript(scenes: list[Scene], console: Console) -> None:
    for scene in scenes:
        console.rule(f"[bold]{escape(scene.title)}")
        day = None
        for line in scene.lines:
            local = line.when.astimezone(ZONE)
            # The time alone while the day stays the same; the day too when it changes.
            stamp = f"{local:%H:%M}" if local.date() == day else f"{local:%a %d %b %H:%M}"
            day = local.date()
            if line.system:
                console.print(f"[dim]{stamp}  ⚙ {escape(line.who)}: {escape(line.text)}[/]")
                continue
            console.print(f"[dim]{stamp}  {escape(line.where)}[/]")
            console.print(f"  [bold]{escape(line.who)}[/]: {escape(line.text)}")
            if line.buttons:
                console.print("  " + "  ".join(f"[reverse] {escape(b)} [/]" for b in line.buttons))
        console.print()


def write_html(scenes: list[Scene], path: Path) -> None:
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Between · demo</title>",
        f"<style>{_CSS}</style><h1>Between · a simulated week</h1>",
    ]
    for scene in scenes:
        parts.append(f"<h2>{html.escape(scene.title)}</h2>")
        for line in scene.lines:
            local = line.when.astimezone(ZONE)
            css = (
                "system"
                if line.system
                else ("bot" if line.who.startswith("Between") else "person")
            )
            buttons = "".join(
                f"<span class='button'>{html.escape(b)}</span>" for b in line.buttons
            )
            parts.append(
                f"<div class='line {css}'><div class='meta'>{local:%H:%M} · "
                f"{html.escape(line.where)}</div><b>{html.escape(line.who)}</b>"
                f"<div class='text'>{html.escape(line.text)}</div>{buttons}</div>"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")


_CSS = """
body{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;background:#eef1f4}
h2{margin-top:2em;border-bottom:1px solid #ccc}
.line{background:#fff;border-radius:10px;padding:.6em .9em;margin:.5em 0;max-width:85%}
.line.bot{background:#e3f2e1;margin-left:12%}.line.system{background:none;color:#666;font-size:.9em}
.meta{color:#888;font-size:.8em}.text{white-space:pre-wrap}
.button{display:inline-block;border:1px solid #7a9;border-radius:6px;
  padding:.1em .5em;margin:.3em .3em 0 0}
"""


async def run_demo(
    *, html_path: str, console: Console, data_dir: Path = Path("data/demo")
) -> list[Scene]:
    """Play every scene, print the transcript and write the HTML page."""
    log_file = data_dir.parent / f"{data_dir.name}.log"
    handler = _log_to(log_file)
    try:
        async with Demo(data_dir, console) as demo:
            for play in SCENES:
                await play(demo)
            demo.collect()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    print_transcript(demo.scenes, console)
    write_html(demo.scenes, Path(html_path))
    console.print(f"The whole transcript is also in {html_path}", markup=False)
    console.print(f"What the app logged is in {log_file}", markup=False)
    return demo.scenes


def _log_to(path: Path) -> logging.Handler:
    # The app's own log lines go to a file, so the transcript stays what people saw.
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    quiet_libraries()
    return handler
