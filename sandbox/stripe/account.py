"""The account's own endpoints: its balance, its webhook endpoints, and its events.

`GET /v1/balance` is the cheapest call a key can make (what `between doctor` uses to check
one). `GET /v1/webhook_endpoints` lists where events go and which ones. `GET /v1/events` lists
the account's events as Stripe does (stripe/params/_event_list_params.py, and
docs.stripe.com/api/events/list): newest first, only the last 30 days, filtered by `type` (one
name, `*` allowed: `invoice.*`) or `types` (up to 20 exact names, not both), `created`
(`gt`/`gte`/`lt`/`lte` or one second) and `delivery_success`, with the usual cursors;
`GET /v1/events/{id}` finds one, within those 30 days too. Events keep the API version they
were made in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from sandbox.stripe.api import ApiCall
from sandbox.stripe.errors import StripeError, missing
from sandbox.stripe.events import WebhookEndpoint
from sandbox.stripe.objects import JSON, new_id, unix_time
from sandbox.stripe.params import LIST_PARAMS, bool_param, list_param, reject_unknown, str_param
from sandbox.stripe.routes import RoutesMixin

# "List events, going back up to 30 days."
EVENT_RETENTION = timedelta(days=30)
MAX_TYPES = 20


class AccountMixin(RoutesMixin):
    """Balance, webhook endpoints and the events API."""

    _now: Callable[[], datetime]
    events: list[JSON]
    _webhook_endpoints: list[WebhookEndpoint]
    _delivered: set[str]
    _account_id: str = new_id("acct")

    def _retrieve_balance(self, call: ApiCall) -> JSON:
        reject_unknown(call.params, ())
        funds = [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]
        return {"object": "balance", "available": funds, "livemode": False, "pending": funds}

    def _retrieve_account(self, call: ApiCall) -> JSON:
        reject_unknown(call.params, ())
        return {
            "id": self._account_id,
            "object": "account",
            "charges_enabled": True,
            "country": "US",
            "default_currency": "usd",
            "details_submitted": True,
            "payouts_enabled": True,
            "type": "standard",
        }

    def _list_webhook_endpoints(self, call: ApiCall) -> JSON:
        reject_unknown(call.params, LIST_PARAMS - {"created"})
        endpoints: list[JSON] = [
            {
                "id": endpoint.id,
                "object": "webhook_endpoint",
                "api_version": None,
                "created": endpoint.created,
                "description": None,
                "enabled_events": list(endpoint.enabled_events),
                "livemode": False,
                "metadata": {},
                "status": "enabled",
                "url": endpoint.url,
            }
            for endpoint in self._webhook_endpoints
        ]
        return self._list(endpoints, call.params, "/v1/webhook_endpoints")

    def _list_events(self, call: ApiCall) -> JSON:
        params = call.params
        reject_unknown(params, LIST_PARAMS | {"type", "types", "delivery_success"})
        one_type = str_param(params, "type")
        types = [str(name) for name in list_param(params, "types")]
        if one_type is not None and types:
            raise StripeError(
                400, "You may only specify one of these parameters: type, types.", param="type"
            )
        if len(types) > MAX_TYPES:
            raise StripeError(
                400, f"You may pass at most {MAX_TYPES} values for types.", param="types"
            )
        delivered = bool_param(params, "delivery_success")
        matches_created = _created_filter(params)
        events = [
            event
            for event in self._retained_events()
            if (one_type is None or fnmatchcase(event["type"], one_type))
            and (not types or event["type"] in types)
            and (delivered is None or (event["id"] in self._delivered) == delivered)
            and matches_created(event["created"])
        ]
        return self._list(events, params, "/v1/events")

    def _retrieve_event(self, call: ApiCall) -> JSON:
        (event_id,) = call.path_args
        for event in self._retained_events():
            if event["id"] == event_id:
                return event
        raise missing("event", event_id)

    def _retained_events(self) -> list[JSON]:
        oldest = unix_time(self._now() - EVENT_RETENTION)
        return [event for event in self.events if event["created"] >= oldest]


def _created_filter(params: JSON) -> Callable[[int], bool]:
    """`created=T` or `created[gt|gte|lt|lte]=T`, as a test on an event's `created`."""
    raw = params.get("created")
    if raw is None:
        return lambda _: True
    if isinstance(raw, str):
        exact = _integer(raw, "created")
        return lambda created: created == exact
    if not isinstance(raw, dict):
        raise StripeError(400, "Invalid created: must be an integer or an object", param="created")
    reject_unknown(raw, {"gt", "gte", "lt", "lte"}, "created")
    bounds = {name: _integer(str(value), f"created[{name}]") for name, value in raw.items()}

    def matches(created: int) -> bool:
        return (
            created > bounds.get("gt", created - 1)
            and created >= bounds.get("gte", created)
            and created < bounds.get("lt", created + 1)
            and created <= bounds.get("lte", created)
        )

    return matches


def _integer(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise StripeError(400, f"Invalid integer: {raw}", param=name) from None
