"""What the tests, the demo and the benchmarks share: the sandboxes, the settings that point the
app at them, the coach's group, and what people do (join, pay)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from billing.prices import checked_price, set_group_price
from billing.stripe_gateway import StripeGateway
from core.db import SessionFactory
from core.groups import find_group, register_group
from core.models import Group, Member, Seat
from core.pricing import Price
from core.settings import Settings
from prompts.buttons import AcceptNote
from sandbox.stripe import StripeSandbox
from sandbox.telegram import SANDBOX_BOT_TOKEN, ChatMessage, TelegramSandbox
from sandbox.zoom import ZoomSandbox

COACH_ID = 1001
TELEGRAM_WEBHOOK_SECRET = "sandbox-telegram-webhook-secret"
STRIPE_WEBHOOK_SECRET = "whsec_sandbox_between"


@dataclass
class Sandboxes:
    """The stand-ins for Telegram, Stripe and Zoom, on loopback."""

    telegram: TelegramSandbox
    stripe: StripeSandbox
    zoom: ZoomSandbox

    async def start(self) -> None:
        await self.telegram.start()
        await self.stripe.start()
        await self.zoom.start()

    async def stop(self) -> None:
        await self.zoom.stop()
        await self.stripe.stop()
        await self.telegram.stop()

    def settings(
        self,
        *,
        database_url: str,
        redis_url: str | None,
        data_dir: Path,
        public_url: str | None = None,
        price_id: str | None = None,
        coach_ids: tuple[int, ...] = (COACH_ID,),
    ) -> Settings:
        """Settings for the app, as production has them, with every base URL at a sandbox."""
        return Settings(
            _env_file=None,
            database_url=database_url,
            redis_url=redis_url,
            data_dir=data_dir,
            telegram_bot_token=SANDBOX_BOT_TOKEN,
            telegram_api_base=self.telegram.base_url,
            telegram_webhook_secret=TELEGRAM_WEBHOOK_SECRET,
            public_url=public_url,
            coach_telegram_ids=coach_ids,
            stripe_secret_key=self.stripe.api_key,
            stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
            stripe_price_id=price_id,
            stripe_api_base=self.stripe.base_url,
            zoom_account_id=self.zoom.account_id,
            zoom_client_id=self.zoom.client_id,
            zoom_client_secret=self.zoom.client_secret,
            zoom_api_base=self.zoom.base_url + "/v2",
            zoom_oauth_url=self.zoom.base_url + "/oauth/token",
        )


async def create_price(stripe: StripeSandbox) -> str:
    """The $31/month price, made as `between stripe setup` makes it; its id."""
    gateway = StripeGateway(stripe.api_key, stripe.base_url)
    try:
        price_id, _ = await gateway.ensure_price()
    finally:
        await gateway.close()
    return price_id


async def price_group(
    stripe: StripeSandbox, sessions: SessionFactory, *, chat_id: int, price: Price
) -> str:
    """What `between stripe setup --currency ... --amount ...` and then `between group set
    --price-id` do: the price made in Stripe, read back from it and kept on the group."""
    gateway = StripeGateway(stripe.api_key, stripe.base_url)
    try:
        price_id, _ = await gateway.ensure_price(price)
        found = checked_price(await gateway.price(price_id))
    finally:
        await gateway.close()
    async with sessions() as session:
        group = await find_group(session, chat_id=chat_id)
        assert group is not None
        set_group_price(group, price_id, found)
        session.add(group)
        await session.commit()
    return price_id


async def coach_opens_group(
    telegram: TelegramSandbox,
    sessions: SessionFactory,
    *,
    chat_id: int,
    title: str,
    capacity: int,
    now: datetime,
    coach_id: int = COACH_ID,
) -> Group:
    """The coach starts the bot and adds it to a new group as an admin; the group's seats."""
    telegram.add_group(chat_id, title, admins=[coach_id])
    await telegram.user_sends(coach_id, text="/start")
    await telegram.bot_added_to_group(chat_id, by_user_id=coach_id)
    async with sessions() as session:
        group = await register_group(
            session, chat_id=chat_id, title=title, capacity=capacity, now=now
        )
        await session.commit()
        return group


async def ask_to_join(telegram: TelegramSandbox, user_id: int) -> ChatMessage:
    """/join, then "I understand" under the not-for-crisis note: the bot's last answer."""
    await telegram.user_sends(user_id, text="/join")
    note = telegram.sent_by_bot(user_id)[-1]
    assert note.text is not None and "not a crisis service" in note.text
    await telegram.user_presses(user_id, note, AcceptNote().pack())
    return telegram.sent_by_bot(user_id)[-1]


async def newest_seat(sessions: SessionFactory, telegram_id: int) -> Seat | None:
    """The person's newest seat."""
    async with sessions() as session:
        return (
            await session.exec(
                select(Seat)
                .join(Member, col(Member.id) == col(Seat.member_id))
                .where(col(Member.telegram_id) == telegram_id)
                .order_by(col(Seat.id).desc())
            )
        ).first()


async def seed_practice(
    sessions: SessionFactory,
    group: Group,
    *,
    members: int,
    days: int,
    now: datetime,
    first_id: int = 50_000,
) -> list[int]:
    """A group with history, written straight to the database (for the dashboard's tests,
    benchmark and demo): `members` seated members (most paying; one comped, one past due,
    one cancelling), each checking in on most of the last `days` days in text or voice, with
    prompts answered, feelings named, private messages and the coach's replies. Returns
    their Telegram ids. Deterministic: the same call writes the same history."""
    import random

    from sqlalchemy import insert

    from core.models import (
        CoachReply,
        Entry,
        EntryKind,
        SeatStatus,
        Summary,
        SummaryState,
    )

    assert group.id is not None
    chance = random.Random(f"{members}:{days}")
    names = ["Maya", "Sam", "Jon", "Leah", "Noa", "Ari", "Kim", "Ravi", "Ines", "Tom", "Lu", "Ada"]
    telegram_ids = [first_id + n for n in range(members)]
    async with sessions() as session:
        people = [
            Member(
                telegram_id=telegram_id,
                first_name=names[n % len(names)] + ("" if n < len(names) else f" {n}"),
                username=f"member{n}",
                started_at=now - timedelta(days=days),
                created_at=now - timedelta(days=days),
            )
            for n, telegram_id in enumerate(telegram_ids)
        ]
        session.add_all(people)
        await session.flush()
        seats = []
        for n, person in enumerate(people):
            joined = now - timedelta(days=chance.randint(min(days, 20), max(days, 21)))
            status = SeatStatus.ACTIVE
            if n == 1:
                status = SeatStatus.COMPED
            elif n == 2:
                status = SeatStatus.PAST_DUE
            seats.append(
                Seat(
                    member_id=person.id or 0,
                    group_id=group.id,
                    status=status,
                    stripe_customer_id=None if status == SeatStatus.COMPED else f"cus_seed{n}",
                    stripe_subscription_id=None if status == SeatStatus.COMPED else f"sub_seed{n}",
                    current_period_end=now + timedelta(days=chance.randint(1, 29)),
                    cancel_at_period_end=n == 3,
                    past_due_since=now - timedelta(days=1)
                    if status == SeatStatus.PAST_DUE
                    else None,
                    joined_at=joined,
                    created_at=joined,
                    updated_at=joined,
                )
            )
        session.add_all(seats)
        entries: list[dict[str, object]] = []
        replies: list[dict[str, object]] = []
        message_id = 1
        for n, person in enumerate(people):
            # Each member has a habit; a few drift away in the last two weeks.
            habit = 0.35 + 0.6 * chance.random()
            drifting = n % 7 == 4
            for back in range(days, -1, -1):
                day = now - timedelta(days=back, hours=chance.randint(0, 10))
                if chance.random() > (habit * 0.25 if drifting and back < 14 else habit):
                    continue
                spoken = chance.random() < 0.25
                message_id += 1
                entries.append(
                    {
                        "member_id": person.id,
                        "group_id": group.id,
                        "chat_id": group.chat_id,
                        "message_id": message_id,
                        "kind": EntryKind.VOICE if spoken else EntryKind.TEXT,
                        "text": None if spoken else "Noticed I felt anxious, breathed through it.",
                        "duration_seconds": chance.randint(20, 120) if spoken else None,
                        "prompt_id": "naming-the-knot" if chance.random() < 0.6 else None,
                        "created_at": day,
                    }
                )
                if chance.random() < 0.15:  # a private message, answered within a day or two
                    message_id += 1
                    entries.append(
                        {
                            "member_id": person.id,
                            "group_id": group.id,
                            "chat_id": person.telegram_id,
                            "message_id": message_id,
                            "kind": EntryKind.TEXT,
                            "text": "Can I ask you something about my week?",
                            "created_at": day + timedelta(minutes=5),
                        }
                    )
                    answered = day + timedelta(hours=chance.randint(2, 40))
                    if answered < now:
                        replies.append(
                            {
                                "coach_id": COACH_ID,
                                "member_id": person.id,
                                "chat_id": COACH_ID,
                                "message_id": message_id,
                                "kind": EntryKind.TEXT,
                                "text": "Thank you for telling me. Let's look at it together.",
                                "created_at": answered,
                            }
                        )
        if entries:
            await session.exec(insert(Entry), params=entries)
        if replies:
            await session.exec(insert(CoachReply), params=replies)
        last_monday = (now - timedelta(days=now.weekday() + 7)).date()
        session.add_all(
            Summary(
                member_id=person.id or 0,
                group_id=group.id,
                week_start=last_monday,
                text="Your week: five days of practice.",
                state=SummaryState.SENT,
                created_at=now - timedelta(days=2),
                sent_at=now - timedelta(days=2),
            )
            for person in people
        )
        await session.commit()
    return telegram_ids
