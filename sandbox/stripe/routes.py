"""The API's endpoints: products, prices, customers, Checkout and portal sessions,
subscriptions and invoices.

One handler for each endpoint the project calls, taking the parameters Stripe takes and
answering Stripe's objects and errors: lists newest first with cursor pagination, Checkout
sessions that live between 30 minutes and 24 hours, a lookup_key held by one price at a time,
cancelling at the period's end or at once. The events a call causes are sent after it is
answered, and name the request.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable
from datetime import timedelta

from sandbox.stripe.api import ApiCall
from sandbox.stripe.errors import StripeError, missing
from sandbox.stripe.lifecycle import LifecycleMixin
from sandbox.stripe.objects import JSON, from_unix_time, new_id, unix_time
from sandbox.stripe.params import (
    CHECKOUT_CREATE_PARAMS,
    CUSTOMER_CREATE_PARAMS,
    INVOICE_LIST_PARAMS,
    LIST_PARAMS,
    PORTAL_CREATE_PARAMS,
    PRICE_CREATE_PARAMS,
    PRICE_LIST_PARAMS,
    PRICE_UPDATE_PARAMS,
    PRODUCT_CREATE_PARAMS,
    SUBSCRIPTION_LIST_PARAMS,
    SUBSCRIPTION_UPDATE_PARAMS,
    bool_param,
    dict_param,
    int_param,
    list_param,
    metadata_param,
    reject_unknown,
    str_param,
)

CHECKOUT_DEFAULT_LIFETIME = timedelta(hours=24)
CHECKOUT_MIN_LIFETIME = timedelta(minutes=30)
CHECKOUT_MAX_LIFETIME = timedelta(hours=24)
# checkout/_session.py: Literal["elements", "embedded_page", "form", "hosted_page"], default
# hosted_page; the names before 2026-03-25.dahlia (hosted, embedded, custom) now fail.
UI_MODES = ("elements", "embedded_page", "form", "hosted_page")
# Prices: an amount fits in eight digits of the smallest unit, and a price renews within three
# years (docs.stripe.com/api/prices/create: "Maximum of three years interval allowed (3 years,
# 36 months, or 156 weeks)").
MAX_UNIT_AMOUNT = 99_999_999
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
# Settlement currencies a price may be in (a part of docs.stripe.com/currencies).
# fmt: off
CURRENCIES = frozenset((
    "usd", "aed", "aud", "bgn", "brl", "cad", "chf", "clp", "czk", "dkk", "eur", "gbp", "hkd",
    "huf", "idr", "ils", "inr", "isk", "jpy", "krw", "mxn", "myr", "nok", "nzd", "php", "pln",
    "ron", "sek", "sgd", "thb", "try", "twd", "zar",
))
# fmt: on


class RoutesMixin(LifecycleMixin):
    """One handler per API endpoint; StripeSandbox.__init__ maps the URLs to them."""

    @staticmethod
    def _list(items: Iterable[JSON], params: JSON, url: str) -> JSON:
        """One page of a Stripe list, newest first, with cursor pagination."""
        # Within one second, the one made later comes first (items arrive in making order).
        numbered = sorted(
            enumerate(items), key=lambda pair: (pair[1]["created"], pair[0]), reverse=True
        )
        newest_first = [item for _, item in numbered]
        limit = int_param(params, "limit") or 10
        if not 1 <= limit <= 100:
            raise StripeError(400, "This value must be between 1 and 100.", param="limit")
        starting_after = str_param(params, "starting_after")
        ending_before = str_param(params, "ending_before")
        ids = [item["id"] for item in newest_first]
        if starting_after is not None:
            if starting_after not in ids:
                raise missing("object", starting_after, "starting_after")
            remaining = newest_first[ids.index(starting_after) + 1 :]
            page, has_more = remaining[:limit], len(remaining) > limit
        elif ending_before is not None:
            if ending_before not in ids:
                raise missing("object", ending_before, "ending_before")
            earlier = newest_first[: ids.index(ending_before)]
            page, has_more = earlier[-limit:], len(earlier) > limit
        else:
            page, has_more = newest_first[:limit], len(newest_first) > limit
        return {"object": "list", "data": page, "has_more": has_more, "url": url}

    # -----------------------------------------------------------------------------------
    # API routes

    def _create_product(self, call: ApiCall) -> JSON:
        params = call.params
        reject_unknown(params, PRODUCT_CREATE_PARAMS)
        now = unix_time(self._now())
        product: JSON = {
            "id": str_param(params, "id") or new_id("prod"),
            "object": "product",
            "active": bool_param(params, "active") is not False,
            "created": now,
            "default_price": None,
            "description": str_param(params, "description"),
            "livemode": False,
            "metadata": metadata_param(params),
            "name": str_param(params, "name", required=True),
            "type": "service",
            "updated": now,
        }
        if product["id"] in self.products:
            raise StripeError(
                400, f"Product already exists: {product['id']}", code="resource_already_exists"
            )
        self.products[product["id"]] = product
        return product

    def _list_products(self, call: ApiCall) -> JSON:
        reject_unknown(call.params, LIST_PARAMS | {"active", "ids", "shippable", "url"})
        active = bool_param(call.params, "active")
        ids = list_param(call.params, "ids")
        products = [
            product
            for product in self.products.values()
            if (active is None or product["active"] == active)
            and (not ids or product["id"] in ids)
        ]
        return self._list(products, call.params, "/v1/products")

    def _retrieve_product(self, call: ApiCall) -> JSON:
        (product_id,) = call.path_args
        if product_id not in self.products:
            raise missing("product", product_id)
        return self.products[product_id]

    def _create_price(self, call: ApiCall) -> JSON:
        params = call.params
        reject_unknown(params, PRICE_CREATE_PARAMS)
        currency = str_param(params, "currency", required=True)
        assert currency is not None
        if currency.lower() not in CURRENCIES:
            raise StripeError(
                400,
                f"Invalid currency: {currency.lower()}. Stripe currently supports these "
                f"currencies: {', '.join(sorted(CURRENCIES))}",
                param="currency",
            )
        # A tiered price has no single unit amount: each tier has its own.
        tiered = str_param(params, "billing_scheme") == "tiered"
        unit_amount = self._price_unit_amount(params, tiered)
        product_id = str_param(params, "product")
        if product_id is None:
            product_data = dict_param(params, "product_data")
            if not product_data:
                raise StripeError(400, "Missing required param: product.", param="product")
            product_id = self._create_product(ApiCall(product_data, (), call.request_id, None))[
                "id"
            ]
        elif product_id not in self.products:
            raise missing("product", product_id, "product")

        recurring: JSON | None = None
        recurring_params = dict_param(params, "recurring")
        if recurring_params:
            recurring = self._price_recurring(recurring_params)

        lookup_key = str_param(params, "lookup_key")
        if lookup_key is not None:
            holder = next((p for p in self.prices.values() if p["lookup_key"] == lookup_key), None)
            if holder is not None and not bool_param(params, "transfer_lookup_key"):
                raise StripeError(
                    400,
                    f"A price (`{holder['id']}`) already uses that lookup key.",
                    param="lookup_key",
                )
            if holder is not None:
                holder["lookup_key"] = None

        price: JSON = {
            "id": new_id("price"),
            "object": "price",
            "active": bool_param(params, "active") is not False,
            "billing_scheme": "tiered" if tiered else "per_unit",
            "created": unix_time(self._now()),
            "currency": currency.lower(),
            "livemode": False,
            "lookup_key": lookup_key,
            "metadata": metadata_param(params),
            "nickname": str_param(params, "nickname"),
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": str_param(params, "tax_behavior") or "unspecified",
            "tiers_mode": str_param(params, "tiers_mode") if tiered else None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
        }
        self.prices[price["id"]] = price
        return price

    @staticmethod
    def _price_unit_amount(params: JSON, tiered: bool) -> int | None:
        if tiered:
            if str_param(params, "tiers_mode") not in ("graduated", "volume"):
                raise StripeError(400, "Missing required param: tiers_mode.", param="tiers_mode")
            if not list_param(params, "tiers"):
                raise StripeError(400, "Missing required param: tiers.", param="tiers")
            if "unit_amount" in params:
                raise StripeError(
                    400,
                    "You may only specify one of these parameters: tiers, unit_amount.",
                    param="unit_amount",
                )
            return None
        unit_amount = int_param(params, "unit_amount", required=True)
        assert unit_amount is not None
        if unit_amount < 0:
            raise StripeError(
                400, "This value must be greater than or equal to 0.", param="unit_amount"
            )
        if unit_amount > MAX_UNIT_AMOUNT:
            raise StripeError(
                400,
                f"This value must be less than or equal to {MAX_UNIT_AMOUNT}.",
                param="unit_amount",
            )
        return unit_amount

    @staticmethod
    def _price_recurring(recurring_params: JSON) -> JSON:
        reject_unknown(
            recurring_params,
            {"interval", "interval_count", "usage_type", "meter", "trial_period_days"},
            "recurring",
        )
        interval = str_param(recurring_params, "interval", required=True)
        if interval not in MAX_INTERVAL_COUNT:
            raise StripeError(
                400,
                "Invalid recurring[interval]: must be one of day, week, month, or year",
                param="recurring[interval]",
            )
        count = int_param(recurring_params, "interval_count") or 1
        if not 1 <= count <= MAX_INTERVAL_COUNT[interval]:
            raise StripeError(
                400,
                "Invalid recurring[interval_count]: the maximum interval allowed is three "
                "years (3 years, 36 months, or 156 weeks).",
                param="recurring[interval_count]",
            )
        usage_type = str_param(recurring_params, "usage_type") or "licensed"
        if usage_type not in ("licensed", "metered"):
            raise StripeError(
                400,
                "Invalid recurring[usage_type]: must be one of licensed or metered",
                param="recurring[usage_type]",
            )
        meter = str_param(recurring_params, "meter")
        if usage_type == "metered" and meter is None:
            # Since 2025-03-31.basil a metered price bills by a billing meter.
            raise StripeError(
                400, "Missing required param: recurring[meter].", param="recurring[meter]"
            )
        return {
            "interval": interval,
            "interval_count": count,
            "meter": meter if usage_type == "metered" else None,
            "trial_period_days": int_param(recurring_params, "trial_period_days"),
            "usage_type": usage_type,
        }

    def _update_price(self, call: ApiCall) -> JSON:
        """Only a few fields of a price change (Stripe keeps its amount and interval for
        good: a new amount is a new price); `active=false` archives it."""
        params = call.params
        reject_unknown(params, PRICE_UPDATE_PARAMS)
        price = self._retrieve_price(call)
        active = bool_param(params, "active")
        if active is not None:
            price["active"] = active
        if "nickname" in params:
            price["nickname"] = str_param(params, "nickname") or None
        if "metadata" in params:
            price["metadata"].update(metadata_param(params))
        if "lookup_key" in params:
            lookup_key = str_param(params, "lookup_key") or None
            holder = next(
                (
                    p
                    for p in self.prices.values()
                    if lookup_key and p["lookup_key"] == lookup_key and p is not price
                ),
                None,
            )
            if holder is not None and not bool_param(params, "transfer_lookup_key"):
                raise StripeError(
                    400,
                    f"A price (`{holder['id']}`) already uses that lookup key.",
                    param="lookup_key",
                )
            if holder is not None:
                holder["lookup_key"] = None
            price["lookup_key"] = lookup_key
        return price

    def _list_prices(self, call: ApiCall) -> JSON:
        params = call.params
        reject_unknown(params, PRICE_LIST_PARAMS)
        active = bool_param(params, "active")
        lookup_keys = list_param(params, "lookup_keys")
        product = str_param(params, "product")
        price_type = str_param(params, "type")
        currency = str_param(params, "currency")
        prices = [
            price
            for price in self.prices.values()
            if (active is None or price["active"] == active)
            and (not lookup_keys or price["lookup_key"] in lookup_keys)
            and (product is None or price["product"] == product)
            and (price_type is None or price["type"] == price_type)
            and (currency is None or price["currency"] == currency.lower())
        ]
        return self._list(prices, params, "/v1/prices")

    def _retrieve_price(self, call: ApiCall) -> JSON:
        (price_id,) = call.path_args
        if price_id not in self.prices:
            raise missing("price", price_id)
        return self.prices[price_id]

    def _create_customer(self, call: ApiCall) -> JSON:
        reject_unknown(call.params, CUSTOMER_CREATE_PARAMS)
        customer = self._new_customer(call.params)
        event = self.make_event("customer.created", customer)
        self._note_request(event, call)
        self._deliver_in_background([event])
        return customer

    def _list_customers(self, call: ApiCall) -> JSON:
        reject_unknown(call.params, LIST_PARAMS | {"email", "test_clock"})
        email = str_param(call.params, "email")
        customers = [c for c in self.customers.values() if email is None or c["email"] == email]
        return self._list(customers, call.params, "/v1/customers")

    def _retrieve_customer(self, call: ApiCall) -> JSON:
        (customer_id,) = call.path_args
        if customer_id not in self.customers:
            raise missing("customer", customer_id)
        return self.customers[customer_id]

    def _create_checkout_session(self, call: ApiCall) -> JSON:
        params = call.params
        reject_unknown(params, CHECKOUT_CREATE_PARAMS)
        now = self._now()
        mode = str_param(params, "mode", required=True)
        if mode not in ("payment", "setup", "subscription"):
            raise StripeError(400, f"Invalid mode: {mode}", param="mode")

        customer_id = str_param(params, "customer")
        customer_email = str_param(params, "customer_email")
        if customer_id is not None and customer_email is not None:
            raise StripeError(
                400, "You may only specify one of these parameters: customer, customer_email."
            )
        if customer_id is not None and customer_id not in self.customers:
            raise missing("customer", customer_id, "customer")

        ui_mode = str_param(params, "ui_mode") or "hosted_page"
        if ui_mode not in UI_MODES:
            raise StripeError(
                400,
                "Invalid ui_mode: must be one of elements, embedded_page, form, or hosted_page",
                param="ui_mode",
            )
        if str_param(params, "customer_creation") is not None and mode != "payment":
            raise StripeError(
                400,
                "`customer_creation` can only be used in `payment` mode.",
                param="customer_creation",
            )

        line_items = self._checkout_line_items_param(params, mode)
        subscription_data = dict_param(params, "subscription_data")
        reject_unknown(
            subscription_data,
            {"metadata", "description", "trial_end", "trial_period_days", "trial_settings"},
            "subscription_data",
        )
        if subscription_data and mode != "subscription":
            raise StripeError(
                400,
                "You can only pass in subscription_data in subscription mode.",
                param="subscription_data",
            )
        trial_end = int_param(subscription_data, "trial_end")
        # Stripe: the trial must end at least 48 hours after the session is made.
        if trial_end is not None and from_unix_time(trial_end) < now + timedelta(hours=48):
            raise StripeError(
                400,
                "`subscription_data[trial_end]` must be at least 48 hours in the future.",
                param="subscription_data[trial_end]",
            )
        trial_days = self._trial_period_days_param(subscription_data, trial_end)
        missing_payment_method = self._trial_settings_param(subscription_data)
        collection = str_param(params, "payment_method_collection") or "always"
        if collection not in ("always", "if_required"):
            raise StripeError(
                400,
                "Invalid payment_method_collection: must be one of always or if_required",
                param="payment_method_collection",
            )

        expires_at = int_param(params, "expires_at")
        if expires_at is None:
            expires_at = unix_time(now + CHECKOUT_DEFAULT_LIFETIME)
        lifetime = from_unix_time(expires_at) - now
        if lifetime < CHECKOUT_MIN_LIFETIME:
            raise StripeError(
                400,
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
                "creation.",
                param="expires_at",
            )
        if lifetime > CHECKOUT_MAX_LIFETIME:
            raise StripeError(
                400,
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session "
                "creation.",
                param="expires_at",
            )

        amount = sum(
            self.prices[item["price"]]["unit_amount"] * item["quantity"] for item in line_items
        )
        discounts = self._checkout_discounts_param(params)
        total = amount
        for coupon in discounts:
            if coupon["percent_off"] is not None:
                total -= round(total * coupon["percent_off"] / 100)
            else:
                total = max(0, total - int(coupon["amount_off"]))
        session_id = f"cs_test_{secrets.token_hex(24)}"
        session: JSON = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": total,
            "cancel_url": str_param(params, "cancel_url"),
            "client_reference_id": str_param(params, "client_reference_id"),
            "created": unix_time(now),
            "currency": self.prices[line_items[0]["price"]]["currency"] if line_items else None,
            "customer": customer_id,
            "customer_details": None,
            "customer_email": customer_email,
            "discounts": [{"coupon": c["id"], "promotion_code": None} for c in discounts],
            "expires_at": expires_at,
            "invoice": None,
            "livemode": False,
            "locale": str_param(params, "locale"),
            "metadata": metadata_param(params),
            "mode": mode,
            "allow_promotion_codes": bool_param(params, "allow_promotion_codes") or None,
            "payment_method_collection": collection,
            "payment_status": "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": str_param(params, "success_url"),
            "ui_mode": ui_mode,
            # Only a hosted page has a URL to send the customer to.
            "url": f"{self.base_url}/pay/{session_id}" if ui_mode == "hosted_page" else None,
        }
        self.checkout_sessions[session_id] = session
        self._checkout_line_items[session_id] = line_items
        self._subscription_metadata[session_id] = metadata_param(subscription_data)
        if trial_end is not None:
            self._trial_ends[session_id] = trial_end
        self._trial_plans[session_id] = {
            "days": trial_days,
            "missing_payment_method": missing_payment_method,
        }
        return session

    @staticmethod
    def _trial_period_days_param(subscription_data: JSON, trial_end: int | None) -> int | None:
        """`subscription_data[trial_period_days]`: whole days from 1 to 730, never beside
        `trial_end` (the Checkout Session create reference: "Has to be at least 1")."""
        if "trial_period_days" not in subscription_data:
            return None
        days = int_param(subscription_data, "trial_period_days", required=True)
        assert days is not None
        if trial_end is not None:
            raise StripeError(
                400,
                "You may only specify one of these parameters: trial_end, trial_period_days.",
                param="subscription_data[trial_period_days]",
            )
        if days < 1:
            raise StripeError(
                400,
                "This value must be greater than or equal to 1.",
                param="subscription_data[trial_period_days]",
            )
        if days > 730:
            raise StripeError(
                400,
                "This value must be less than or equal to 730.",
                param="subscription_data[trial_period_days]",
            )
        return days

    @staticmethod
    def _trial_settings_param(subscription_data: JSON) -> str:
        """What a trial that ends without a payment method does (Stripe's default:
        create_invoice, which then can't be paid)."""
        settings = dict_param(subscription_data, "trial_settings")
        if not settings:
            return "create_invoice"
        reject_unknown(settings, {"end_behavior"}, "subscription_data[trial_settings]")
        behavior = dict_param(settings, "end_behavior")
        name = "subscription_data[trial_settings][end_behavior][missing_payment_method]"
        reject_unknown(behavior, {"missing_payment_method"}, name.rsplit("[", 1)[0])
        chosen = str_param(behavior, "missing_payment_method", required=True)
        if chosen not in ("cancel", "create_invoice", "pause"):
            raise StripeError(
                400,
                f"Invalid {name}: must be one of cancel, create_invoice, or pause",
                param=name,
            )
        assert chosen is not None
        return chosen

    # stripe/params/_promotion_code_create_params.py: a customer-facing code for a coupon
    # (since 2025-09-30.clover the coupon sits under `promotion`).
    def _create_promotion_code(self, call: ApiCall) -> JSON:
        params = call.params
        reject_unknown(
            params,
            {
                "promotion",
                "code",
                "active",
                "customer",
                "expires_at",
                "max_redemptions",
                "metadata",
                "restrictions",
            },
        )
        promotion = dict_param(params, "promotion")
        if not promotion:
            raise StripeError(400, "Missing required param: promotion.", param="promotion")
        reject_unknown(promotion, {"coupon", "type"}, "promotion")
        if str_param(promotion, "type", required=True) != "coupon":
            raise StripeError(400, "Invalid promotion[type]: must be coupon", param="promotion")
        coupon_id = str_param(promotion, "coupon", required=True)
        assert coupon_id is not None
        if coupon_id not in self.coupons:
            raise missing("coupon", coupon_id, "promotion[coupon]")
        code = str_param(params, "code") or secrets.token_hex(4).upper()
        # Codes are case-insensitive, and one active code has one customer-facing name.
        if any(
            found["code"].lower() == code.lower() and found["active"]
            for found in self.promotion_codes.values()
        ):
            raise StripeError(
                400,
                "An active promotion code with `code` already exists.",
                param="code",
            )
        promotion_code: JSON = {
            "id": new_id("promo"),
            "object": "promotion_code",
            "active": bool_param(params, "active") is not False,
            "code": code,
            "created": unix_time(self._now()),
            "customer": str_param(params, "customer"),
            "expires_at": int_param(params, "expires_at"),
            "livemode": False,
            "max_redemptions": int_param(params, "max_redemptions"),
            "metadata": metadata_param(params),
            "promotion": {"coupon": coupon_id, "type": "coupon"},
            "times_redeemed": 0,
        }
        self.promotion_codes[promotion_code["id"]] = promotion_code
        return promotion_code

    def _checkout_discounts_param(self, params: JSON) -> list[JSON]:
        """`discounts[0][coupon]=...`: Checkout takes one discount, never together with
        `allow_promotion_codes` (Stripe answers 400 for both)."""
        discounts = list_param(params, "discounts")
        if not discounts:
            return []
        if bool_param(params, "allow_promotion_codes"):
            raise StripeError(
                400,
                "You may only specify one of these parameters: allow_promotion_codes, discounts.",
                param="discounts",
            )
        if len(discounts) > 1:
            raise StripeError(
                400, "You may only specify one discount at this time.", param="discounts"
            )
        found = []
        for discount in discounts:
            if not isinstance(discount, dict):
                raise StripeError(400, "Invalid array: discounts", param="discounts")
            reject_unknown(discount, {"coupon", "promotion_code"}, "discounts[0]")
            coupon_id = str_param(discount, "coupon", required=True)
            assert coupon_id is not None
            if coupon_id not in self.coupons:
                raise missing("coupon", coupon_id, "discounts[0][coupon]")
            found.append(self.coupons[coupon_id])
        return found

    # stripe/params/_coupon_create_params.py; a coupon's id may be chosen, once.
    def _create_coupon(self, call: ApiCall) -> JSON:
        params = call.params
        reject_unknown(
            params,
            {
                "id",
                "percent_off",
                "amount_off",
                "currency",
                "duration",
                "duration_in_months",
                "name",
                "metadata",
                "max_redemptions",
                "redeem_by",
            },
        )
        coupon_id = str_param(params, "id") or secrets.token_hex(4)
        if coupon_id in self.coupons:
            raise StripeError(
                400, "Coupon already exists.", code="resource_already_exists", param="id"
            )
        percent = str_param(params, "percent_off")
        amount_off = int_param(params, "amount_off")
        if (percent is None) == (amount_off is None):
            raise StripeError(
                400, "You must pass exactly one of percent_off or amount_off.", param="percent_off"
            )
        duration = str_param(params, "duration") or "once"
        if duration not in ("once", "repeating", "forever"):
            raise StripeError(400, f"Invalid duration: {duration}", param="duration")
        coupon: JSON = {
            "id": coupon_id,
            "object": "coupon",
            "amount_off": amount_off,
            "created": unix_time(self._now()),
            "currency": str_param(params, "currency"),
            "duration": duration,
            "duration_in_months": int_param(params, "duration_in_months"),
            "livemode": False,
            "metadata": metadata_param(params),
            "name": str_param(params, "name"),
            "percent_off": float(percent) if percent is not None else None,
            "valid": True,
        }
        self.coupons[coupon_id] = coupon
        return coupon

    def _retrieve_coupon(self, call: ApiCall) -> JSON:
        (coupon_id,) = call.path_args
        if coupon_id not in self.coupons:
            raise missing("coupon", coupon_id)
        return self.coupons[coupon_id]

    def _checkout_line_items_param(self, params: JSON, mode: str) -> list[JSON]:
        line_items: list[JSON] = []
        for index, item in enumerate(list_param(params, "line_items")):
            name = f"line_items[{index}]"
            if not isinstance(item, dict):
                raise StripeError(400, f"Invalid object: {name}", param=name)
            reject_unknown(item, {"price", "quantity", "adjustable_quantity"}, name)
            price_id = str_param(item, "price")
            if price_id is None:
                raise StripeError(
                    400, f"Missing required param: {name}[price].", param=f"{name}[price]"
                )
            price = self.prices.get(price_id)
            if price is None:
                raise missing("price", price_id, f"{name}[price]")
            if not price["active"]:
                raise StripeError(
                    400, f"The price `{price_id}` is not active.", param=f"{name}[price]"
                )
            if mode == "payment" and price["recurring"] is not None:
                raise StripeError(
                    400,
                    "You specified `payment` mode but passed a recurring price. Either switch "
                    "to `subscription` mode or use only one-time prices.",
                    param=f"{name}[price]",
                )
            if price["unit_amount"] is None:
                # Stripe bills tiered prices by their tiers; the sandbox doesn't model them.
                raise StripeError(
                    400,
                    "The sandbox models per-unit prices only; tiered prices are not sold here.",
                    param=f"{name}[price]",
                )
            if mode == "subscription" and price["recurring"] is None:
                raise StripeError(
                    400,
                    "You must provide at least one recurring price in `subscription` mode "
                    "when using prices.",
                    param=f"{name}[price]",
                )
            line_items.append({"price": price_id, "quantity": int_param(item, "quantity") or 1})
        if mode != "setup" and not line_items:
            raise StripeError(400, "Missing required param: line_items.", param="line_items")
        return line_items

    def _retrieve_checkout(self, call: ApiCall) -> JSON:
        (session_id,) = call.path_args
        if session_id not in self.checkout_sessions:
            raise missing("checkout.session", session_id)
        return self.checkout_sessions[session_id]

    def _expire_checkout(self, call: ApiCall) -> JSON:
        (session_id,) = call.path_args
        session = self._retrieve_checkout(call)
        if session["status"] != "open":
            raise StripeError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired; '
                f"{session_id} is {session['status']}.",
            )
        event = self._expire(session)
        self._note_request(event, call)
        self._deliver_in_background([event])
        return session

    def _create_portal_session(self, call: ApiCall) -> JSON:
        reject_unknown(call.params, PORTAL_CREATE_PARAMS)
        customer_id = str_param(call.params, "customer", required=True)
        assert customer_id is not None
        if customer_id not in self.customers:
            raise missing("customer", customer_id, "customer")
        portal_id = new_id("bps")
        portal: JSON = {
            "id": portal_id,
            "object": "billing_portal.session",
            "created": unix_time(self._now()),
            "customer": customer_id,
            "livemode": False,
            "locale": str_param(call.params, "locale"),
            "return_url": str_param(call.params, "return_url"),
            "url": f"{self.base_url}/portal/{portal_id}",
        }
        self.portal_sessions[portal_id] = portal
        return portal

    def _list_subscriptions(self, call: ApiCall) -> JSON:
        params = call.params
        reject_unknown(params, SUBSCRIPTION_LIST_PARAMS)
        customer = str_param(params, "customer")
        price = str_param(params, "price")
        status = str_param(params, "status")

        def status_matches(subscription_status: str) -> bool:
            if status is None:  # Stripe leaves out canceled subscriptions unless asked.
                return subscription_status != "canceled"
            if status == "all":
                return True
            if status == "ended":
                return subscription_status in ("canceled", "incomplete_expired")
            return subscription_status == status

        subscriptions = [
            subscription
            for subscription in self.subscriptions.values()
            if status_matches(subscription["status"])
            and (customer is None or subscription["customer"] == customer)
            and (
                price is None
                or any(item["price"]["id"] == price for item in subscription["items"]["data"])
            )
        ]
        return self._list(subscriptions, params, "/v1/subscriptions")

    def _retrieve_subscription(self, call: ApiCall) -> JSON:
        (subscription_id,) = call.path_args
        if subscription_id not in self.subscriptions:
            raise missing("subscription", subscription_id)
        return self.subscriptions[subscription_id]

    def _update_subscription(self, call: ApiCall) -> JSON:
        reject_unknown(call.params, SUBSCRIPTION_UPDATE_PARAMS)
        subscription = self._retrieve_subscription(call)
        before = copy.deepcopy(subscription)
        cancel = bool_param(call.params, "cancel_at_period_end")
        if subscription["status"] == "canceled" and cancel is not None:
            raise StripeError(
                400,
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        if cancel is not None:
            self._set_cancel_at_period_end(subscription, cancel)
        metadata = dict_param(call.params, "metadata")
        if metadata:
            merged = {**subscription["metadata"], **metadata}
            subscription["metadata"] = {k: v for k, v in merged.items() if v != ""}
        if subscription != before:
            event = self._subscription_updated(subscription, before)
            self._note_request(event, call)
            self._deliver_in_background([event])
        return subscription

    def _cancel_subscription(self, call: ApiCall) -> JSON:
        reject_unknown(call.params, {"cancellation_details", "invoice_now", "prorate"})
        subscription = self._retrieve_subscription(call)
        if subscription["status"] in ("canceled", "incomplete_expired"):
            # Stripe treats an ended subscription as gone: 404 resource_missing, although GET
            # still finds it (a Stripe engineer on stripe/stripe-go#1887; dj-stripe #502).
            raise missing("subscription", subscription["id"])
        event = self._end(subscription)
        self._note_request(event, call)
        self._deliver_in_background([event])
        return subscription

    def _list_invoices(self, call: ApiCall) -> JSON:
        params = call.params
        reject_unknown(params, INVOICE_LIST_PARAMS)
        customer = str_param(params, "customer")
        subscription = str_param(params, "subscription")
        status = str_param(params, "status")
        invoices = [
            invoice
            for invoice in self.invoices.values()
            if (customer is None or invoice["customer"] == customer)
            and (subscription is None or _invoice_subscription(invoice) == subscription)
            and (status is None or invoice["status"] == status)
        ]
        return self._list(invoices, params, "/v1/invoices")

    def _retrieve_invoice(self, call: ApiCall) -> JSON:
        (invoice_id,) = call.path_args
        if invoice_id not in self.invoices:
            raise missing("invoice", invoice_id)
        return self.invoices[invoice_id]

    @staticmethod
    def _note_request(event: JSON, call: ApiCall) -> None:
        # Events caused by an API call name it, as Stripe's do.
        event["request"] = {"id": call.request_id, "idempotency_key": call.idempotency_key}


def _invoice_subscription(invoice: JSON) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    found = details.get("subscription")
    return str(found) if found else None
