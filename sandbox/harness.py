"""What the tests, the demo and the benchmarks share: the sandboxes, the settings that point the
app at them, the coach's group, and what people do (join, pay)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import col, select

from billing.stripe_gateway import StripeGateway
from core.db import SessionFactory
from core.groups import register_group
from core.models import Group, Member, Seat
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
