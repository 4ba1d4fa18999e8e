"""Paying in Telegram Stars: Telegram's question before it takes the Stars, and the payments.

Telegram sends a pre_checkout_query before the Stars move and gives the bot 10 seconds to
answer; every payment, the first and each 30-day renewal, arrives as a message with
`successful_payment`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import F, Router
from aiogram.types import Message, PreCheckoutQuery
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import stars
from billing.membership import Membership
from bot.filters import Magic
from core.models import Member
from prompts.render import Templates


def create_router() -> Router:
    """A fresh router (each dispatcher needs its own)."""
    router = Router(name="stars")
    router.pre_checkout_query.register(before_payment)
    router.message.register(payment_received, Magic(F.successful_payment))
    return router


async def before_payment(
    query: PreCheckoutQuery, session: AsyncSession, now: datetime, membership: Membership
) -> None:
    """Yes only while the seat the invoice names can still be this person's."""
    refusal = await stars.refusal_before_payment(
        session,
        user_id=query.from_user.id,
        payload=query.invoice_payload,
        currency=query.currency,
        amount=query.total_amount,
        expected=membership.rules.stars_per_month,
        now=now,
    )
    if refusal is None:
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=refusal)


async def payment_received(
    message: Message,
    member: Member,
    session: AsyncSession,
    now: datetime,
    membership: Membership,
    templates: Templates,
) -> None:
    """A first payment brings the welcome (through the outbox); a renewal moves the end."""
    paid = message.successful_payment
    assert paid is not None
    expiry = paid.subscription_expiration_date
    payment = stars.PaymentIn(
        charge_id=paid.telegram_payment_charge_id,
        payload=paid.invoice_payload,
        amount=paid.total_amount,
        currency=paid.currency,
        expires_at=datetime.fromtimestamp(expiry, UTC) if expiry else None,
        first=bool(paid.is_first_recurring),
    )
    done = await stars.payment_received(session, membership, member, payment, now)
    if done == "unknown":
        await message.answer(templates.render("stars_unplaced"))
