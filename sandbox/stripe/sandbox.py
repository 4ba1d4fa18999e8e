"""StripeSandbox: the parts of Stripe it models, put together, and its lifecycle.

Each mixin it inherits models one part and builds on the ones beneath it:

    ApiMixin          api.py          the HTTP side: keys, idempotency, routing, expand
                      versions.py     objects as each API version shows them
    EventsMixin       events.py       events, signed and sent to the webhook endpoints
    LifecycleMixin    lifecycle.py    customers, subscriptions, invoices and how they change
    SimulationsMixin  simulations.py  what customers and Stripe do: pay, renew, fail, cancel
    RoutesMixin       routes.py       the API's endpoints for billing, one handler each
    AccountMixin      account.py      the account's endpoints: balance, webhook endpoints, events
    PagesMixin        pages.py        the hosted Checkout and billing portal pages

Here are the rest: all the state, made in __init__ with the table of routes, and starting and
stopping the server.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from sandbox.stripe.account import AccountMixin
from sandbox.stripe.api import ApiMixin
from sandbox.stripe.events import WEBHOOK_TIMEOUT
from sandbox.stripe.pages import PagesMixin
from sandbox.stripe.routes import RoutesMixin

# The version stripe-python 16 pins; events say which version rendered their objects.
DEFAULT_API_VERSION = "2026-10-28.endive"


class StripeSandbox(PagesMixin, AccountMixin, RoutesMixin, ApiMixin):
    """An in-memory Stripe account served over HTTP, with simulated customers and billing.

    Stripe keeps its own time: `clock_skew` puts it ahead of (or behind) the `now` it is given,
    which is the app's clock, so what Stripe measures from "its" now (a Checkout Session's
    30-minute minimum, a key's 24 hours) can be tested at the edges.
    """

    def __init__(
        self,
        *,
        api_key: str = "sk_test_sandbox",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        api_version: str = DEFAULT_API_VERSION,
        clock_skew: timedelta = timedelta(0),
    ) -> None:
        self.api_key = api_key
        self.api_version = api_version
        self.clock_skew = clock_skew
        self._app_now = now
        self._now = self._stripe_now
        self.base_url = ""

        self.products = {}
        self.prices = {}
        self.customers = {}
        self.checkout_sessions = {}
        self.subscriptions = {}
        self.invoices = {}
        self.portal_sessions = {}
        self.coupons = {}
        self._trial_ends = {}
        # Per session: trial_period_days and what a trial ending without a card does.
        self._trial_plans = {}
        self.promotion_codes = {}
        # Subscriptions whose customer.subscription.trial_will_end has been sent.
        self._trial_will_end_sent = set()
        # Line items are not part of a session object; they are kept beside it.
        self._checkout_line_items = {}
        # What subscription_data[metadata] will put on each session's subscription.
        self._subscription_metadata = {}

        self.events = []
        self.deliveries = []
        self.requests = []
        self._webhook_endpoints = []
        self._losing_webhooks = False
        # Idempotency key -> its first answer; keys whose first request still runs.
        self._idempotent_answers = {}
        self._idempotency_in_progress = set()
        self._outage_status = None
        self._fail_after_execution = []
        self._stalls = []
        self._stalled_changed = asyncio.Condition()
        self.stalled = 0
        # Events delivered with a 2xx to every endpoint that wanted them.
        self._delivered = set()

        self._runner: web.AppRunner | None = None
        self._http = None
        # Deliveries go out one at a time, in the order their events were made.
        self._delivery_lock = asyncio.Lock()
        self._background_deliveries = set()
        self._routes = [
            ("POST", re.compile(r"/v1/products"), self._create_product),
            ("GET", re.compile(r"/v1/products"), self._list_products),
            ("GET", re.compile(r"/v1/products/([^/]+)"), self._retrieve_product),
            ("POST", re.compile(r"/v1/prices"), self._create_price),
            ("GET", re.compile(r"/v1/prices"), self._list_prices),
            ("GET", re.compile(r"/v1/prices/([^/]+)"), self._retrieve_price),
            ("POST", re.compile(r"/v1/prices/([^/]+)"), self._update_price),
            ("POST", re.compile(r"/v1/customers"), self._create_customer),
            ("GET", re.compile(r"/v1/customers"), self._list_customers),
            ("GET", re.compile(r"/v1/customers/([^/]+)"), self._retrieve_customer),
            ("POST", re.compile(r"/v1/coupons"), self._create_coupon),
            ("GET", re.compile(r"/v1/coupons/([^/]+)"), self._retrieve_coupon),
            ("POST", re.compile(r"/v1/promotion_codes"), self._create_promotion_code),
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
            ("GET", re.compile(r"/v1/balance"), self._retrieve_balance),
            ("GET", re.compile(r"/v1/account"), self._retrieve_account),
            ("GET", re.compile(r"/v1/webhook_endpoints"), self._list_webhook_endpoints),
            ("GET", re.compile(r"/v1/events"), self._list_events),
            ("GET", re.compile(r"/v1/events/([^/]+)"), self._retrieve_event),
        ]

    def _stripe_now(self) -> datetime:
        return self._app_now() + self.clock_skew

    # -----------------------------------------------------------------------------------
    # Lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the API; returns the base url to give the Stripe client."""
        app = web.Application()
        app.router.add_route("*", "/v1/{path:.*}", self._handle_api)
        app.router.add_get("/pay/{session_id}", self._checkout_page)
        app.router.add_post("/pay/{session_id}", self._checkout_page_pay)
        app.router.add_get("/portal/{portal_id}", self._portal_page)
        app.router.add_post("/portal/{portal_id}/cancel/{subscription_id}", self._portal_cancel)
        app.router.add_post("/portal/{portal_id}/card", self._portal_save_card)
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
