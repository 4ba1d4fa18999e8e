"""Payments in Telegram Stars: invoice links, pre-checkout, payments, subscriptions, refunds.

As the Bot API documents them (core.telegram.org/bots/api#payments, read through aiogram's
generated methods and types): `createInvoiceLink` makes a link for an invoice; with currency
"XTR" the provider token is empty, `prices` holds exactly one item, and a
`subscription_period` (which must be 2592000, 30 days) makes it a subscription of at most
10000 Stars. A person who pays sends the bot a `pre_checkout_query`, which the bot must answer
with `answerPreCheckoutQuery` within 10 seconds or the payment fails; answered ok, the Stars
move and the bot gets a message with `successful_payment` (`telegram_payment_charge_id`, and
for a subscription `subscription_expiration_date`, `is_recurring`, `is_first_recurring`).
Telegram renews a subscription by itself at its expiry, each time with a new charge id and a
new `successful_payment` (is_recurring, not first), and with no pre-checkout query. The person
can cancel the renewal in Telegram (the bot hears nothing), or lack the Stars for it (nothing
either): the subscription just runs out. `editUserStarSubscription` cancels (or re-enables) the
renewal from the bot's side; `refundStarPayment` gives one payment back once;
`getStarTransactions` lists the bot's transactions in chronological order (a refund carries
the id of the payment it gives back).

The error descriptions are the sandbox's; Telegram's own words for them are not documented.
"""

from __future__ import annotations

import copy
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sandbox.telegram.api import flag, optional_int, optional_text, required_int
from sandbox.telegram.errors import bad_request
from sandbox.telegram.messages import MessagesMixin
from sandbox.telegram.shapes import JSON, unix_time, user_json

SUBSCRIPTION_PERIOD = 2592000  # the only period Telegram accepts (30 days)
MAX_SUBSCRIPTION_STARS = 10000
PRE_CHECKOUT_TIMEOUT = timedelta(seconds=10)


@dataclass
class StarSubscription:
    """A person's subscription to one invoice, as Telegram keeps it."""

    user_id: int
    payload: str
    amount: int
    first_charge_id: str
    until: datetime
    canceled: bool = False  # by the person, in Telegram
    bot_canceled: bool = False  # editUserStarSubscription(is_canceled=True)
    charges: list[str] = field(default_factory=list)


class StarsMixin(MessagesMixin):
    """Invoices, pre-checkout queries, payments, renewals, refunds and the transaction list."""

    # Created in TelegramSandbox.__init__.
    _invoices: dict[str, JSON]
    _pre_checkout: dict[str, JSON | None]
    _star_subscriptions: list[StarSubscription]
    _star_transactions: list[JSON]
    _refunded: set[str]
    _low_on_stars: set[int]
    _charge_numbers: itertools.count[int]
    _lost_payment_updates: int

    # Bot API

    async def _create_invoice_link(self, params: JSON) -> str:
        title = optional_text(params, "title") or ""
        description = optional_text(params, "description") or ""
        payload = optional_text(params, "payload") or ""
        currency = optional_text(params, "currency") or ""
        if not 1 <= len(title) <= 32:
            raise bad_request("invoice title must be 1-32 characters long")
        if not 1 <= len(description) <= 255:
            raise bad_request("invoice description must be 1-255 characters long")
        if not 1 <= len(payload.encode()) <= 128:
            raise bad_request("invoice payload must be 1-128 bytes long")
        prices = params.get("prices")
        if not isinstance(prices, list) or not prices:
            raise bad_request("prices must be a non-empty array")
        period = optional_int(params, "subscription_period")
        if currency == "XTR":
            if optional_text(params, "provider_token"):
                raise bad_request("provider_token must be empty for payments in Telegram Stars")
            if len(prices) != 1:
                raise bad_request("exactly one price must be specified for Telegram Stars")
        elif period is not None:
            raise bad_request("subscriptions are supported only for payments in Telegram Stars")
        amount = prices[0].get("amount") if isinstance(prices[0], dict) else None
        if not isinstance(amount, int) or amount <= 0:
            raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        if period is not None:
            if period != SUBSCRIPTION_PERIOD:
                raise bad_request("SUBSCRIPTION_PERIOD_INVALID")
            if amount > MAX_SUBSCRIPTION_STARS:
                raise bad_request("SUBSCRIPTION_PRICE_INVALID")
        slug = secrets.token_urlsafe(12)
        self._invoices[slug] = {
            "title": title,
            "description": description,
            "payload": payload,
            "currency": currency,
            "amount": amount,
            "subscription_period": period,
        }
        return f"https://t.me/${slug}"

    async def _answer_pre_checkout_query(self, params: JSON) -> bool:
        query_id = optional_text(params, "pre_checkout_query_id") or ""
        if query_id not in self._pre_checkout or self._pre_checkout[query_id] is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        ok = flag(params, "ok")
        error_message = optional_text(params, "error_message")
        if not ok and not error_message:
            raise bad_request("error_message must be non-empty if ok is false")
        self._pre_checkout[query_id] = {"ok": ok, "error_message": error_message}
        return True

    async def _refund_star_payment(self, params: JSON) -> bool:
        user_id = required_int(params, "user_id")
        charge_id = optional_text(params, "telegram_payment_charge_id") or ""
        payment = self._payment(charge_id)
        if payment is None or payment["source"]["user"]["id"] != user_id:
            raise bad_request("CHARGE_ID_INVALID")
        if charge_id in self._refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        self._refunded.add(charge_id)
        self._star_transactions.append(
            {
                "id": charge_id,
                "amount": payment["amount"],
                "date": unix_time(self._now()),
                "receiver": {
                    "type": "user",
                    "transaction_type": "invoice_payment",
                    "user": copy.deepcopy(payment["source"]["user"]),
                    "invoice_payload": payment["source"]["invoice_payload"],
                },
            }
        )
        return True

    async def _edit_user_star_subscription(self, params: JSON) -> bool:
        user_id = required_int(params, "user_id")
        charge_id = optional_text(params, "telegram_payment_charge_id") or ""
        subscription = next((s for s in self._star_subscriptions if charge_id in s.charges), None)
        if subscription is None or subscription.user_id != user_id:
            raise bad_request("CHARGE_ID_INVALID")
        subscription.bot_canceled = flag(params, "is_canceled")
        return True

    async def _get_star_transactions(self, params: JSON) -> JSON:
        offset = optional_int(params, "offset") or 0
        limit = optional_int(params, "limit") or 100
        if not 1 <= limit <= 100:
            raise bad_request("limit must be between 1 and 100")
        return {"transactions": copy.deepcopy(self._star_transactions[offset : offset + limit])}

    # People act

    async def user_pays_invoice(self, user_id: int, link: str) -> str | None:
        """The person opens the invoice link and pays: the pre-checkout query goes to the
        bot; answered ok in time, the payment goes through. The charge id, or None."""
        payer = self.user(user_id)
        invoice = self._invoices.get(link.removeprefix("https://t.me/$"))
        if invoice is None:
            raise ValueError(f"no invoice at {link}")
        if user_id in self._low_on_stars:
            return None
        query_id = str(next(self._query_ids))
        self._pre_checkout[query_id] = None
        sent_at = self._now()
        await self.deliver(
            {
                "pre_checkout_query": {
                    "id": query_id,
                    "from": user_json(payer),
                    "currency": invoice["currency"],
                    "total_amount": invoice["amount"],
                    "invoice_payload": invoice["payload"],
                }
            }
        )
        answer = self._pre_checkout.pop(query_id)
        if answer is None or not answer["ok"] or self._now() - sent_at > PRE_CHECKOUT_TIMEOUT:
            return None
        period = invoice["subscription_period"]
        charge_id = self._new_charge(user_id, invoice["payload"], invoice["amount"], period)
        expiry: datetime | None = None
        if period is not None:
            expiry = self._now() + timedelta(seconds=period)
            self._star_subscriptions.append(
                StarSubscription(
                    user_id,
                    invoice["payload"],
                    invoice["amount"],
                    charge_id,
                    expiry,
                    charges=[charge_id],
                )
            )
        await self._send_payment(
            user_id, invoice["payload"], invoice["amount"], charge_id, expiry, first=True
        )
        return charge_id

    def user_cancels_star_subscription(self, user_id: int) -> None:
        """The person cancels the renewal in Telegram (My Stars): the bot hears nothing."""
        for subscription in self._star_subscriptions:
            if subscription.user_id == user_id:
                subscription.canceled = True

    def loses_payment_updates(self, count: int = 1) -> None:
        """The next `count` successful_payment updates never reach the bot (as one does that
        fails for 24 hours and is dropped), while the Stars still move."""
        self._lost_payment_updates += count

    def runs_low_on_stars(self, user_id: int) -> None:
        """The person's balance can't pay the next period (nor a new invoice)."""
        self._low_on_stars.add(user_id)

    async def renew_star_subscriptions(self) -> list[str]:
        """Telegram's renewals, at each subscription's expiry (by the sandbox's clock): a new
        charge and successful_payment for each one that may renew; the charge ids."""
        renewed = []
        for subscription in self._star_subscriptions:
            if subscription.until > self._now():
                continue
            stops = subscription.canceled or subscription.bot_canceled
            if stops or subscription.user_id in self._low_on_stars:
                continue
            charge_id = self._new_charge(
                subscription.user_id,
                subscription.payload,
                subscription.amount,
                SUBSCRIPTION_PERIOD,
            )
            subscription.until += timedelta(seconds=SUBSCRIPTION_PERIOD)
            subscription.charges.append(charge_id)
            await self._send_payment(
                subscription.user_id,
                subscription.payload,
                subscription.amount,
                charge_id,
                subscription.until,
                first=False,
            )
            renewed.append(charge_id)
        return renewed

    def star_subscription(self, user_id: int) -> StarSubscription | None:
        return next((s for s in self._star_subscriptions if s.user_id == user_id), None)

    @property
    def refunded_charges(self) -> set[str]:
        return set(self._refunded)

    # Payments

    def _new_charge(self, user_id: int, payload: str, amount: int, period: int | None) -> str:
        charge_id = f"stxSANDBOX{next(self._charge_numbers):06d}{secrets.token_hex(4)}"
        source: JSON = {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": user_json(self.user(user_id)),
            "invoice_payload": payload,
        }
        if period is not None:
            source["subscription_period"] = period
        self._star_transactions.append(
            {"id": charge_id, "amount": amount, "date": unix_time(self._now()), "source": source}
        )
        return charge_id

    def _payment(self, charge_id: str) -> JSON | None:
        return next(
            (t for t in self._star_transactions if t["id"] == charge_id and "source" in t), None
        )

    async def _send_payment(
        self,
        user_id: int,
        payload: str,
        amount: int,
        charge_id: str,
        expiry: datetime | None,
        *,
        first: bool,
    ) -> None:
        payment: JSON = {
            "currency": "XTR",
            "total_amount": amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        if expiry is not None:
            payment["subscription_expiration_date"] = unix_time(expiry)
            payment["is_recurring"] = True
            if first:
                payment["is_first_recurring"] = True
        message = self._store_message(
            user_id, user_id, "successful_payment", {"successful_payment": payment}
        )
        if self._lost_payment_updates:
            self._lost_payment_updates -= 1
            return
        await self.deliver({"message": copy.deepcopy(message.raw)})
