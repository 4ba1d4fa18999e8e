"""A local stand-in for the Stripe API, for tests and the demo.

The real stripe-python client talks to it unchanged (only its base address differs): it
speaks the same form-encoded requests and answers the same JSON objects, lists and errors.
What a customer or Stripe itself would do (pay, let a renewal fail, cancel in the portal) is
simulated by methods on `StripeSandbox`, which also sends the resulting webhook events,
signed as Stripe signs them, to the registered endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

JSON = dict[str, Any]

# The version stripe-python 16 pins; events say which version rendered their objects.
DEFAULT_API_VERSION = "2026-10-28.endive"
CHECKOUT_DEFAULT_LIFETIME = timedelta(hours=24)
CHECKOUT_MIN_LIFETIME = timedelta(minutes=30)
CHECKOUT_MAX_LIFETIME = timedelta(hours=24)
# Stripe retries a failed renewal charge a few days later (Smart Retries); its date is shown
# on the invoice as next_payment_attempt.
RENEWAL_RETRY_DELAY = timedelta(days=3)
WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=10)
# Parameters every endpoint accepts besides its own.
COMMON_PARAMS = frozenset({"expand"})
LIST_PARAMS = frozenset({"limit", "starting_after", "ending_before", "created"})


def param_names(names: str) -> frozenset[str]:
    return frozenset(names.split())


# What each endpoint accepts; anything else is answered 400 like Stripe does.
PRODUCT_CREATE_PARAMS = param_names(
    """
    name description metadata active id default_price_data images statement_descriptor
    tax_code unit_label url
    """
)
PRICE_CREATE_PARAMS = param_names(
    """
    currency unit_amount product product_data recurring lookup_key transfer_lookup_key
    metadata nickname active tax_behavior billing_scheme unit_amount_decimal
    """
)
PRICE_LIST_PARAMS = LIST_PARAMS | param_names("active currency lookup_keys product type recurring")
CUSTOMER_CREATE_PARAMS = param_names(
    """
    email name phone description metadata address shipping preferred_locales payment_method
    invoice_settings tax_id_data test_clock
    """
)
CHECKOUT_CREATE_PARAMS = param_names(
    """
    mode line_items client_reference_id metadata subscription_data success_url cancel_url
    return_url customer customer_email expires_at allow_promotion_codes automatic_tax
    billing_address_collection consent_collection currency custom_fields custom_text
    customer_update discounts locale payment_method_collection payment_method_types
    phone_number_collection submit_type tax_id_collection ui_mode
    """
)
PORTAL_CREATE_PARAMS = param_names(
    """
    customer return_url configuration flow_data locale on_behalf_of
    """
)
SUBSCRIPTION_LIST_PARAMS = LIST_PARAMS | param_names(
    """
    customer price status collection_method current_period_end current_period_start
    test_clock automatic_tax
    """
)
SUBSCRIPTION_UPDATE_PARAMS = param_names(
    """
    cancel_at_period_end metadata cancellation_details proration_behavior
    """
)
INVOICE_LIST_PARAMS = LIST_PARAMS | param_names(
    "customer subscription status collection_method due_date"
)


class RecordedRequest(NamedTuple):
    """One API request as the sandbox received it."""

    method: str
    path: str
    params: JSON
    idempotency_key: str | None


class Delivery(NamedTuple):
    """One webhook delivery attempt; status 0 means the endpoint could not be reached."""

    event_id: str
    status: int


@dataclass(frozen=True)
class WebhookEndpoint:
    url: str
    secret: str


class StripeError(Exception):
    """An API failure, answered as Stripe's JSON error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"type": type, "message": message}
        if code is not None:
            self.body["code"] = code
        if param is not None:
            self.body["param"] = param

    def response(self) -> web.Response:
        return web.json_response({"error": self.body}, status=self.status)


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    """The 404 Stripe answers for an id it does not know."""
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


@dataclass(frozen=True)
class ApiCall:
    """What a route handler needs to know about the request it serves."""

    params: JSON
    path_args: tuple[str, ...]
    request_id: str
    idempotency_key: str | None


ApiHandler = Callable[[ApiCall], JSON]


def new_id(prefix: str) -> str:
    """A Stripe-looking object id, e.g. `cus_3f9a...`."""
    return f"{prefix}_{secrets.token_hex(12)}"


def unix_time(moment: datetime) -> int:
    """Seconds since the epoch, as Stripe writes every time."""
    return int(moment.timestamp())


def from_unix_time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def add_interval(start: datetime, interval: str, count: int) -> datetime:
    """`start` moved on by `count` billing intervals, keeping the day of month like Stripe."""
    if interval == "day":
        return start + timedelta(days=count)
    if interval == "week":
        return start + timedelta(weeks=count)
    months = count * (12 if interval == "year" else 1)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    # A subscription started on the 31st renews on the last day of shorter months.
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


# ---------------------------------------------------------------------------------------
# Parameters: Stripe's bracket notation (`metadata[member_id]=1`, `line_items[0][price]=...`)


def parse_form(pairs: Iterable[tuple[str, str]]) -> JSON:
    """Rebuild nested parameters from form fields in Stripe's bracket notation."""
    root: JSON = {}
    for key, value in pairs:
        name, _, rest = key.partition("[")
        segments = [name, *rest.rstrip("]").split("][")] if rest else [name]
        node = root
        try:
            for segment in segments[:-1]:
                node = node.setdefault(segment or str(len(node)), {})
            # `lookup_keys[]=a&lookup_keys[]=b` appends, as Stripe accepts too.
            node[segments[-1] or str(len(node))] = value
        except (AttributeError, TypeError):
            raise StripeError(400, f"Invalid parameter: {key}", param=name) from None
    converted = _indexed_dicts_to_lists(root)
    assert isinstance(converted, dict)
    return converted


def _indexed_dicts_to_lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {key: _indexed_dicts_to_lists(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def reject_unknown(params: JSON, allowed: Iterable[str], prefix: str = "") -> None:
    """Answer 400 for a parameter the real endpoint would not accept either."""
    known = set(allowed) | COMMON_PARAMS
    for name in params:
        if name not in known:
            shown = f"{prefix}[{name}]" if prefix else name
            raise StripeError(400, f"Received unknown parameter: {shown}", param=shown)


def str_param(params: JSON, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise StripeError(400, f"Missing required param: {name}.", param=name)
        return None
    if not isinstance(value, str):
        raise StripeError(400, f"Invalid string: {name}", param=name)
    return value


def int_param(params: JSON, name: str, *, required: bool = False) -> int | None:
    raw = str_param(params, name, required=required)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise StripeError(400, f"Invalid integer: {raw}", param=name) from None


def bool_param(params: JSON, name: str) -> bool | None:
    raw = str_param(params, name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {raw}", param=name)
    return raw == "true"


def dict_param(params: JSON, name: str) -> JSON:
    value = params.get(name, {})
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeError(400, f"Invalid object: {name}", param=name)
    return value


def list_param(params: JSON, name: str) -> list[Any]:
    value = params.get(name, [])
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise StripeError(400, f"Invalid array: {name}", param=name)
    return value


def metadata_param(params: JSON, name: str = "metadata") -> dict[str, str]:
    metadata = dict_param(params, name)
    # An empty value unsets a key, as on Stripe.
    return {key: value for key, value in metadata.items() if value != ""}


class StripeSandbox:
    """An in-memory Stripe account served over HTTP, with simulated customers and billing."""

    def __init__(
        self,
        *,
        api_key: str = "sk_test_sandbox",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        self.api_key = api_key
        self.api_version = api_version
        self._now = now
        self.base_url = ""

        self.products: dict[str, JSON] = {}
        self.prices: dict[str, JSON] = {}
        self.customers: dict[str, JSON] = {}
        self.checkout_sessions: dict[str, JSON] = {}
        self.subscriptions: dict[str, JSON] = {}
        self.invoices: dict[str, JSON] = {}
        self.portal_sessions: dict[str, JSON] = {}
        # Line items are not part of a session object; they are kept beside it.
        self._checkout_line_items: dict[str, list[JSON]] = {}
        # What subscription_data[metadata] will put on each session's subscription.
        self._subscription_metadata: dict[str, dict[str, str]] = {}

        self.events: list[JSON] = []
        self.deliveries: list[Delivery] = []
        self.requests: list[RecordedRequest] = []
        self._webhook_endpoints: list[WebhookEndpoint] = []
        self._losing_webhooks = False
        # Idempotency key -> (method, path, params, status, body) of its first answer.
        self._idempotent_answers: dict[str, tuple[str, str, JSON, int, bytes]] = {}
        self._outage_status: int | None = None

        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        # Deliveries go out one at a time, in the order their events were made.
        self._delivery_lock = asyncio.Lock()
        self._background_deliveries: set[asyncio.Task[None]] = set()
        self._routes: list[tuple[str, re.Pattern[str], ApiHandler]] = [
            ("POST", re.compile(r"/v1/products"), self._create_product),
            ("GET", re.compile(r"/v1/products"), self._list_products),
            ("GET", re.compile(r"/v1/products/([^/]+)"), self._retrieve_product),
            ("POST", re.compile(r"/v1/prices"), self._create_price),
            ("GET", re.compile(r"/v1/prices"), self._list_prices),
            ("GET", re.compile(r"/v1/prices/([^/]+)"), self._retrieve_price),
            ("POST", re.compile(r"/v1/customers"), self._create_customer),
            ("GET", re.compile(r"/v1/customers"), self._list_customers),
            ("GET", re.compile(r"/v1/customers/([^/]+)"), self._retrieve_customer),
            ("POST", re.compile(r"/v1/checkout/sessions"), self._create_checkout_session),
            ("GET", re.compile(r"/v1/checkout/sessions/([^/]+)"), self._retrieve_checkout),
            ("POST", re.compile(r"/v1/checkout/sessions/([^/]+)/expire"), self._expire_checkout),
            ("POST", re.compile(r"/v1/billing_portal/sessions"), self._create_portal_session),
            ("GET", re.compile(r"/v1/subscriptions"), self._list_subscriptions),
            ("GET", re.compile(r"/v1/subscriptions/([^/]+)"), self._retrieve_subscription),
            ("POST", re.compile(r"/v1/subscriptions/([^/]+)"), self._update_subscription),
            ("DELETE", re.compile(r"/v1/subscriptions/([^/]+)"), self._cancel_subscription),
            ("GET", re.compile(r"/v1/invoices"), self._list_invoices),
            ("GET", re.compile(r"/v1/invoices/([^/]+)"), self._retrieve_invoice),
        ]

    # -----------------------------------------------------------------------------------
    # Lifecycle and configuration

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the API; returns the base url to give the Stripe client."""
        app = web.Application()
        app.router.add_route("*", "/v1/{path:.*}", self._handle_api)
        app.router.add_get("/pay/{session_id}", self._checkout_page)
        app.router.add_post("/pay/{session_id}", self._checkout_page_pay)
        app.router.add_get("/portal/{portal_id}", self._portal_page)
        app.router.add_post("/portal/{portal_id}/cancel/{subscription_id}", self._portal_cancel)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self._http = aiohttp.ClientSession(timeout=WEBHOOK_TIMEOUT)
        return self.base_url

    async def stop(self) -> None:
        """Finish pending webhook deliveries, then stop serving."""
        await self.settle()
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def add_webhook_endpoint(self, url: str, secret: str) -> None:
        """Send every event from now on to `url`, signed with `secret`."""
        self._webhook_endpoints.append(WebhookEndpoint(url, secret))

    def go_down(self, status: int = 500) -> None:
        """Answer every API call with an api_error of `status` until `come_back`."""
        self._outage_status = status

    def come_back(self) -> None:
        """End the outage started by `go_down`."""
        self._outage_status = None

    async def settle(self) -> None:
        """Wait until webhooks caused by API calls (cancel, expire) have been delivered."""
        while self._background_deliveries:
            await asyncio.gather(*self._background_deliveries)

    # -----------------------------------------------------------------------------------
    # Events and their delivery

    def make_event(self, type: str, obj: JSON, *, previous_attributes: JSON | None = None) -> JSON:
        """A new Event with a fresh evt_ id, created=now, carrying a snapshot of `obj`."""
        data: JSON = {"object": copy.deepcopy(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = copy.deepcopy(previous_attributes)
        event: JSON = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": unix_time(self._now()),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(self._webhook_endpoints),
            "request": {"id": None, "idempotency_key": None},
            "type": type,
        }
        self.events.append(event)
        return event

    def sign(self, payload: bytes, secret: str, timestamp: int | None = None) -> str:
        """The Stripe-Signature header value for `payload`, as Stripe makes it.

        The timestamp defaults to the wall clock, not the sandbox clock: receivers check it
        against their own real time (stripe-python allows 5 minutes).
        """
        signed_at = int(time.time()) if timestamp is None else timestamp
        digest = hmac.new(
            secret.encode(), f"{signed_at}.".encode() + payload, hashlib.sha256
        ).hexdigest()
        return f"t={signed_at},v1={digest}"

    async def send_event(
        self,
        event: JSON,
        *,
        secret: str | None = None,
        signature: str | None = None,
        timestamp: int | None = None,
    ) -> int:
        """(Re)deliver one event as is to every endpoint; returns the HTTP status (first failure).

        `secret`, `signature` or `timestamp` forge or age the signature, to test rejection.
        """
        if not self._webhook_endpoints:
            raise RuntimeError("no webhook endpoint: call add_webhook_endpoint first")
        async with self._delivery_lock:
            return await self._post_event(event, secret, signature, timestamp)

    def lose_webhooks(self, lost: bool = True) -> None:
        """Make events without delivering them, as if the endpoint was down past every retry."""
        self._losing_webhooks = lost

    async def _deliver(self, events: list[JSON]) -> None:
        if not self._webhook_endpoints or self._losing_webhooks:
            return
        async with self._delivery_lock:
            for event in events:
                await self._post_event(event, None, None, None)

    def _deliver_in_background(self, events: list[JSON]) -> None:
        # Stripe answers the API call first and sends its webhooks afterwards.
        task = asyncio.get_running_loop().create_task(self._deliver(events))
        self._background_deliveries.add(task)
        task.add_done_callback(self._background_deliveries.discard)

    async def _post_event(
        self,
        event: JSON,
        secret: str | None,
        signature: str | None,
        signed_at: int | None,
    ) -> int:
        if self._http is None:
            raise RuntimeError("the sandbox is not started")
        # Stripe sends pretty-printed JSON; receivers must verify the bytes, not a re-dump.
        body = json.dumps(event, indent=2).encode()
        statuses: list[int] = []
        for endpoint in self._webhook_endpoints:
            header = signature or self.sign(body, secret or endpoint.secret, signed_at)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": header,
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            try:
                async with self._http.post(endpoint.url, data=body, headers=headers) as answer:
                    await answer.read()
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            self.deliveries.append(Delivery(str(event.get("id", "")), status))
            statuses.append(status)
        failures = [status for status in statuses if not 200 <= status < 300]
        return failures[0] if failures else statuses[-1]

    # -----------------------------------------------------------------------------------
    # What customers and Stripe do

    async def complete_checkout(self, session_id: str) -> list[JSON]:
        """The customer pays: customer, active subscription and paid first invoice appear."""
        session = self._checkout_to_complete(session_id)
        now = self._now()
        events: list[JSON] = []

        customer_id = session["customer"]
        if customer_id is None:
            customer = self._new_customer({"email": session["customer_email"]})
            customer_id = customer["id"]
            events.append(self.make_event("customer.created", customer))
        customer = self.customers[customer_id]

        line_items = self._checkout_line_items[session_id]
        subscription: JSON | None = None
        invoice: JSON | None = None
        if session["mode"] == "subscription":
            subscription = self._new_subscription(customer_id, line_items, session, now)
            # Stripe's first invoice "covers" just the instant it was made.
            instant = (unix_time(now), unix_time(now))
            invoice = self._new_invoice(
                subscription, "subscription_create", paid=True, looks_back=instant
            )
            subscription["latest_invoice"] = invoice["id"]

        session.update(
            status="complete",
            payment_status="paid",
            customer=customer_id,
            customer_details={"email": customer["email"], "name": customer["name"]},
            subscription=subscription["id"] if subscription else None,
            invoice=invoice["id"] if invoice else None,
            url=None,
        )
        events.append(self.make_event("checkout.session.completed", session))
        if subscription is not None and invoice is not None:
            events.append(self.make_event("customer.subscription.created", subscription))
            events.append(self.make_event("invoice.paid", invoice))
        await self._deliver(events)
        return events

    async def expire_checkout(self, session_id: str) -> list[JSON]:
        """The session times out unpaid (or is expired)."""
        session = self._get(self.checkout_sessions, session_id, "checkout.session")
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
        events = [self._expire(session)]
        await self._deliver(events)
        return events

    async def fail_renewal(self, subscription_id: str) -> list[JSON]:
        """The next period's charge is declined: the period advances, status past_due."""
        subscription = self._live_subscription(subscription_id)
        before = copy.deepcopy(subscription)
        previous_period = self._advance_period(subscription)
        invoice = self._new_invoice(
            subscription, "subscription_cycle", paid=False, looks_back=previous_period
        )
        subscription.update(status="past_due", latest_invoice=invoice["id"])
        events = [
            self.make_event("invoice.payment_failed", invoice),
            self._subscription_updated(subscription, before),
        ]
        await self._deliver(events)
        return events

    async def pay_renewal(self, subscription_id: str) -> list[JSON]:
        """The renewal is paid: a failed invoice is recovered, or the next period is charged."""
        subscription = self._live_subscription(subscription_id)
        before = copy.deepcopy(subscription)
        open_invoice = self.invoices.get(subscription["latest_invoice"] or "")
        if open_invoice is not None and open_invoice["status"] == "open":
            invoice = open_invoice
            self._mark_paid(invoice)
        else:
            previous_period = self._advance_period(subscription)
            invoice = self._new_invoice(
                subscription, "subscription_cycle", paid=True, looks_back=previous_period
            )
        subscription.update(status="active", latest_invoice=invoice["id"])
        events = [
            self.make_event("invoice.paid", invoice),
            self._subscription_updated(subscription, before),
        ]
        await self._deliver(events)
        return events

    async def cancel_at_period_end(self, subscription_id: str) -> list[JSON]:
        """The customer cancels in the portal: access runs to the end of the paid period."""
        subscription = self._live_subscription(subscription_id)
        before = copy.deepcopy(subscription)
        self._set_cancel_at_period_end(subscription, True)
        events = [self._subscription_updated(subscription, before)]
        await self._deliver(events)
        return events

    async def end_subscription(self, subscription_id: str) -> list[JSON]:
        """The subscription ends now (period over after cancelling, or dunning gave up)."""
        subscription = self._live_subscription(subscription_id)
        events = [self._end(subscription)]
        await self._deliver(events)
        return events

    # -----------------------------------------------------------------------------------
    # State changes shared by the simulations and the API

    def _checkout_to_complete(self, session_id: str) -> JSON:
        session = self._get(self.checkout_sessions, session_id, "checkout.session")
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
        if unix_time(self._now()) >= session["expires_at"]:
            raise ValueError(f"checkout session {session_id} expired at {session['expires_at']}")
        return session

    def _expire(self, session: JSON) -> JSON:
        session.update(status="expired", url=None)
        return self.make_event("checkout.session.expired", session)

    def _new_customer(self, params: JSON) -> JSON:
        customer: JSON = {
            "id": new_id("cus"),
            "object": "customer",
            "created": unix_time(self._now()),
            "email": str_param(params, "email"),
            "name": str_param(params, "name"),
            "phone": str_param(params, "phone"),
            "description": str_param(params, "description"),
            "metadata": metadata_param(params),
            "currency": None,
            "delinquent": False,
            "invoice_prefix": secrets.token_hex(4).upper(),
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return customer

    def _new_subscription(
        self, customer_id: str, line_items: list[JSON], session: JSON, start: datetime
    ) -> JSON:
        subscription_id = new_id("sub")
        items = [
            {
                "id": new_id("si"),
                "object": "subscription_item",
                "created": unix_time(start),
                "metadata": {},
                "price": copy.deepcopy(self.prices[item["price"]]),
                "quantity": item["quantity"],
                "subscription": subscription_id,
                "current_period_start": None,
                "current_period_end": None,
            }
            for item in line_items
        ]
        subscription: JSON = {
            "id": subscription_id,
            "object": "subscription",
            "billing_cycle_anchor": unix_time(start),
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": unix_time(start),
            "currency": items[0]["price"]["currency"],
            "current_period_start": None,
            "current_period_end": None,
            "customer": customer_id,
            "ended_at": None,
            "items": {
                "object": "list",
                "data": items,
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={subscription_id}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": dict(self._subscription_metadata[session["id"]]),
            "start_date": unix_time(start),
            "status": "active",
            "trial_end": None,
            "trial_start": None,
        }
        recurring = items[0]["price"]["recurring"]
        end = add_interval(start, recurring["interval"], recurring["interval_count"])
        self._set_period(subscription, start, end)
        self.subscriptions[subscription_id] = subscription
        return subscription

    def _set_period(self, subscription: JSON, start: datetime, end: datetime) -> None:
        # Newer API versions keep the period on each item; older ones on the subscription.
        period = {"current_period_start": unix_time(start), "current_period_end": unix_time(end)}
        subscription.update(period)
        for item in subscription["items"]["data"]:
            item.update(period)

    def _advance_period(self, subscription: JSON) -> tuple[int, int]:
        """Move into the next billing period; returns the period just ended."""
        previous = (subscription["current_period_start"], subscription["current_period_end"])
        # Periods are counted from the anchor so a 31st keeps renewing on month ends.
        anchor = from_unix_time(subscription["billing_cycle_anchor"])
        recurring = subscription["items"]["data"][0]["price"]["recurring"]
        start = from_unix_time(subscription["current_period_end"])
        periods = 1
        while (
            end := add_interval(
                anchor, recurring["interval"], recurring["interval_count"] * periods
            )
        ) <= start:
            periods += 1
        self._set_period(subscription, start, end)
        return previous

    def _new_invoice(
        self,
        subscription: JSON,
        billing_reason: str,
        *,
        paid: bool,
        looks_back: tuple[int, int],
    ) -> JSON:
        now = unix_time(self._now())
        customer = self.customers[subscription["customer"]]
        lines = [
            {
                "id": new_id("il"),
                "object": "line_item",
                "amount": item["price"]["unit_amount"] * item["quantity"],
                "currency": item["price"]["currency"],
                "description": None,
                "period": {
                    "start": subscription["current_period_start"],
                    "end": subscription["current_period_end"],
                },
                "pricing": {
                    "type": "price_details",
                    "price_details": {
                        "price": item["price"]["id"],
                        "product": item["price"]["product"],
                    },
                },
                "quantity": item["quantity"],
                "subscription": subscription["id"],
            }
            for item in subscription["items"]["data"]
        ]
        total = sum(line["amount"] for line in lines)
        invoice_id = new_id("in")
        invoice: JSON = {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": total,
            "amount_paid": 0,
            "amount_remaining": total,
            "attempt_count": 1,
            "attempted": True,
            "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": subscription["currency"],
            "customer": customer["id"],
            "customer_email": customer["email"],
            "hosted_invoice_url": f"{self.base_url}/invoice/{invoice_id}",
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": dict(subscription["metadata"]),
                    "subscription": subscription["id"],
                },
            },
            # Like Stripe's, the invoice's own period looks back (to the period that just
            # ended); the service period being paid for is on its lines.
            "period_start": looks_back[0],
            "period_end": looks_back[1],
            "status": "open",
            "status_transitions": {"finalized_at": now, "paid_at": None},
            # Older API versions name the subscription here instead of under parent.
            "subscription": subscription["id"],
            "total": total,
        }
        if paid:
            self._mark_paid(invoice)
        else:
            invoice["next_payment_attempt"] = unix_time(self._now() + RENEWAL_RETRY_DELAY)
        self.invoices[invoice_id] = invoice
        return invoice

    def _mark_paid(self, invoice: JSON) -> None:
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            next_payment_attempt=None,
        )
        invoice["status_transitions"]["paid_at"] = unix_time(self._now())

    def _set_cancel_at_period_end(self, subscription: JSON, cancel: bool) -> None:
        subscription["cancel_at_period_end"] = cancel
        subscription["cancel_at"] = subscription["current_period_end"] if cancel else None
        subscription["canceled_at"] = unix_time(self._now()) if cancel else None
        subscription["cancellation_details"]["reason"] = (
            "cancellation_requested" if cancel else None
        )

    def _end(self, subscription: JSON) -> JSON:
        now = unix_time(self._now())
        subscription.update(status="canceled", ended_at=now)
        if subscription["canceled_at"] is None:
            subscription["canceled_at"] = now
            subscription["cancellation_details"]["reason"] = "cancellation_requested"
        return self.make_event("customer.subscription.deleted", subscription)

    def _subscription_updated(self, subscription: JSON, before: JSON) -> JSON:
        # Stripe lists the old values of what changed, so receivers can see the transition.
        changed = {key: value for key, value in before.items() if subscription[key] != value}
        return self.make_event(
            "customer.subscription.updated", subscription, previous_attributes=changed
        )

    def _live_subscription(self, subscription_id: str) -> JSON:
        subscription = self._get(self.subscriptions, subscription_id, "subscription")
        if subscription["status"] == "canceled":
            raise ValueError(f"subscription {subscription_id} is already canceled")
        return subscription

    @staticmethod
    def _get(store: dict[str, JSON], object_id: str, kind: str) -> JSON:
        try:
            return store[object_id]
        except KeyError:
            raise KeyError(f"no {kind} {object_id!r} in the sandbox") from None

    # -----------------------------------------------------------------------------------
    # HTTP plumbing: authentication, idempotency, routing, errors

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            params = parse_form(parse_qsl(await request.text(), keep_blank_values=True))
        else:
            params = parse_form(parse_qsl(request.query_string, keep_blank_values=True))
        idempotency_key = request.headers.get("Idempotency-Key")
        self.requests.append(
            RecordedRequest(request.method, request.path, params, idempotency_key)
        )
        request_id = new_id("req")
        try:
            response = await self._answer(request, params, idempotency_key, request_id)
        except StripeError as error:
            response = error.response()
        response.headers["Request-Id"] = request_id
        response.headers["Stripe-Version"] = request.headers.get(
            "Stripe-Version", self.api_version
        )
        return response

    async def _answer(
        self, request: web.Request, params: JSON, idempotency_key: str | None, request_id: str
    ) -> web.Response:
        if self._outage_status is not None:
            raise StripeError(
                self._outage_status,
                "An unknown error occurred (the sandbox is down).",
                type="api_error",
            )
        self._authenticate(request.headers.get("Authorization", ""))

        # Stripe applies idempotency keys to POSTs only.
        use_idempotency = request.method == "POST" and idempotency_key is not None
        if use_idempotency and idempotency_key in self._idempotent_answers:
            method, path, first_params, status, body = self._idempotent_answers[idempotency_key]
            if (method, path) != (request.method, request.path):
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used for the same endpoint "
                    "they were first used for.",
                    type="idempotency_error",
                )
            if first_params != params:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    type="idempotency_error",
                )
            replay = web.Response(body=body, status=status, content_type="application/json")
            replay.headers["Idempotent-Replayed"] = "true"
            return replay

        handler, path_args = self._route(request.method, request.path)
        body_object = handler(ApiCall(params, path_args, request_id, idempotency_key))
        expand = [str(path) for path in list_param(params, "expand")]
        if expand:
            body_object = self._expand(body_object, expand)
        body = json.dumps(body_object).encode()
        if use_idempotency:
            assert idempotency_key is not None
            self._idempotent_answers[idempotency_key] = (
                request.method,
                request.path,
                params,
                200,
                body,
            )
        return web.Response(body=body, status=200, content_type="application/json")

    def _authenticate(self, authorization: str) -> None:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            # `curl -u sk_test_...:` sends the key as the Basic user name.
            credentials = base64.b64decode(credentials).decode(errors="replace").split(":")[0]
        elif scheme.lower() != "bearer":
            credentials = ""
        if not credentials:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if not hmac.compare_digest(credentials, self.api_key):
            raise StripeError(
                401, f"Invalid API Key provided: {credentials[:8]}****{credentials[-4:]}"
            )

    def _route(self, method: str, path: str) -> tuple[ApiHandler, tuple[str, ...]]:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path.rstrip("/"))
            if match and route_method == method:
                return handler, match.groups()
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _expand(self, obj: JSON, paths: list[str]) -> JSON:
        expanded = copy.deepcopy(obj)
        for path in paths:
            self._expand_path(expanded, path.split("."), path)
        return expanded

    def _expand_path(self, node: JSON, segments: list[str], path: str) -> None:
        field, rest = segments[0], segments[1:]
        value = node.get(field)
        if isinstance(value, list) and rest:
            for item in value:
                if isinstance(item, dict):
                    self._expand_path(item, rest, path)
            return
        if field in node and value is None:
            return
        if isinstance(value, str):
            target = self._find_object(value)
            if target is None:
                raise StripeError(400, f"This property cannot be expanded ({path}).")
            value = node[field] = copy.deepcopy(target)
        if not isinstance(value, dict):
            raise StripeError(400, f"This property cannot be expanded ({path}).", param="expand")
        if rest:
            self._expand_path(value, rest, path)

    def _find_object(self, object_id: str) -> JSON | None:
        for store in (
            self.products,
            self.prices,
            self.customers,
            self.checkout_sessions,
            self.subscriptions,
            self.invoices,
        ):
            if object_id in store:
                return store[object_id]
        return None

    @staticmethod
    def _list(items: Iterable[JSON], params: JSON, url: str) -> JSON:
        """One page of a Stripe list, newest first, with cursor pagination."""
        newest_first = sorted(items, key=lambda item: item["created"], reverse=True)
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
        unit_amount = int_param(params, "unit_amount", required=True)
        assert currency is not None and unit_amount is not None
        if unit_amount < 0:
            raise StripeError(
                400, "This value must be greater than or equal to 0.", param="unit_amount"
            )
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
            reject_unknown(
                recurring_params, {"interval", "interval_count", "usage_type"}, "recurring"
            )
            interval = str_param(recurring_params, "interval", required=True)
            if interval not in ("day", "week", "month", "year"):
                raise StripeError(
                    400,
                    "Invalid recurring[interval]: must be one of day, week, month, or year",
                    param="recurring[interval]",
                )
            recurring = {
                "interval": interval,
                "interval_count": int_param(recurring_params, "interval_count") or 1,
                "meter": None,
                "usage_type": "licensed",
            }

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
            "billing_scheme": "per_unit",
            "created": unix_time(self._now()),
            "currency": currency.lower(),
            "livemode": False,
            "lookup_key": lookup_key,
            "metadata": metadata_param(params),
            "nickname": str_param(params, "nickname"),
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": str_param(params, "tax_behavior") or "unspecified",
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
        self.prices[price["id"]] = price
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

        line_items = self._checkout_line_items_param(params, mode)
        subscription_data = dict_param(params, "subscription_data")
        reject_unknown(subscription_data, {"metadata", "description"}, "subscription_data")
        if subscription_data and mode != "subscription":
            raise StripeError(
                400,
                "You can only pass in subscription_data in subscription mode.",
                param="subscription_data",
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
        session_id = f"cs_test_{secrets.token_hex(24)}"
        session: JSON = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": str_param(params, "cancel_url"),
            "client_reference_id": str_param(params, "client_reference_id"),
            "created": unix_time(now),
            "currency": self.prices[line_items[0]["price"]]["currency"] if line_items else None,
            "customer": customer_id,
            "customer_details": None,
            "customer_email": customer_email,
            "expires_at": expires_at,
            "invoice": None,
            "livemode": False,
            "locale": str_param(params, "locale"),
            "metadata": metadata_param(params),
            "mode": mode,
            "payment_status": "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": str_param(params, "success_url"),
            "ui_mode": str_param(params, "ui_mode") or "hosted",
            "url": f"{self.base_url}/pay/{session_id}",
        }
        self.checkout_sessions[session_id] = session
        self._checkout_line_items[session_id] = line_items
        self._subscription_metadata[session_id] = metadata_param(subscription_data)
        return session

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
        if subscription["status"] == "canceled":
            raise StripeError(
                400,
                f"The subscription {subscription['id']} has already been canceled.",
            )
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
            and (subscription is None or invoice["subscription"] == subscription)
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

    # -----------------------------------------------------------------------------------
    # Pages a customer would see on stripe.com

    async def _checkout_page(self, request: web.Request) -> web.Response:
        session = self.checkout_sessions.get(request.match_info["session_id"])
        if session is None:
            return _page("Not found", "<p>There is no such checkout session.</p>", status=404)
        if session["status"] != "open":
            return _page(
                "Checkout", f"<p>This checkout session is {session['status']}.</p>", status=410
            )
        rows = "".join(
            f"<li>{html.escape(self._describe_price(item['price']))}"
            f" &times; {item['quantity']}</li>"
            for item in self._checkout_line_items[session["id"]]
        )
        cancel = session["cancel_url"]
        cancel_link = f' <a href="{html.escape(cancel)}">Cancel</a>' if cancel else ""
        body = (
            f"<ul>{rows}</ul>"
            f'<form method="post"><button type="submit">Pay (test card)</button>'
            f"{cancel_link}</form>"
        )
        return _page("Checkout (Stripe sandbox)", body)

    async def _checkout_page_pay(self, request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        try:
            await self.complete_checkout(session_id)
        except (KeyError, ValueError) as error:
            return _page("Checkout", f"<p>{html.escape(str(error))}</p>", status=410)
        success_url = self.checkout_sessions[session_id]["success_url"]
        if not success_url:
            return _page("Checkout", "<p>Paid. You can close this page.</p>")
        raise web.HTTPFound(success_url.replace("{CHECKOUT_SESSION_ID}", session_id))

    async def _portal_page(self, request: web.Request) -> web.Response:
        portal = self.portal_sessions.get(request.match_info["portal_id"])
        if portal is None:
            return _page("Not found", "<p>There is no such portal session.</p>", status=404)
        rows = []
        for subscription in self.subscriptions.values():
            if subscription["customer"] != portal["customer"]:
                continue
            period_end = from_unix_time(subscription["current_period_end"]).date().isoformat()
            state = subscription["status"]
            action = ""
            if subscription["cancel_at_period_end"]:
                state += f", ends {period_end}"
            elif state != "canceled":
                state += f", renews {period_end}"
                action = (
                    f'<form method="post" action="/portal/{portal["id"]}/cancel/'
                    f'{subscription["id"]}"><button type="submit">Cancel plan</button></form>'
                )
            price = subscription["items"]["data"][0]["price"]["id"]
            rows.append(f"<li>{html.escape(self._describe_price(price))}: {state}{action}</li>")
        back = portal["return_url"]
        back_link = f'<p><a href="{html.escape(back)}">Back</a></p>' if back else ""
        return _page("Billing (Stripe sandbox)", f"<ul>{''.join(rows)}</ul>{back_link}")

    async def _portal_cancel(self, request: web.Request) -> web.Response:
        portal_id = request.match_info["portal_id"]
        portal = self.portal_sessions.get(portal_id)
        subscription = self.subscriptions.get(request.match_info["subscription_id"])
        if (
            portal is None
            or subscription is None
            or subscription["customer"] != portal["customer"]
        ):
            return _page("Not found", "<p>There is no such subscription.</p>", status=404)
        await self.cancel_at_period_end(subscription["id"])
        raise web.HTTPFound(f"/portal/{portal_id}")

    def _describe_price(self, price_id: str) -> str:
        price = self.prices[price_id]
        product = self.products.get(price["product"], {"name": price["product"]})
        amount = f"{price['unit_amount'] / 100:.2f} {price['currency'].upper()}"
        recurring = price["recurring"]
        every = f" / {recurring['interval']}" if recurring else ""
        return f"{product['name']}: {amount}{every}"


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html")
