"""Objects as each API version shows them.

The sandbox keeps every object in the shape of the version stripe-python 16 pins
(2026-10-28.endive) and renders older shapes only for a request or an account that names an
older version, as Stripe does: a request's `Stripe-Version` decides its answer, and an event is
rendered in the account's version when it is made ("Each event data is rendered according to
Stripe API version at its creation time", stripe/_event_service.py). The differences modelled
are the ones our code has fallbacks for:

- 2025-03-31.basil moved a subscription's `current_period_start`/`current_period_end` onto its
  items, and an invoice's `subscription` under `parent.subscription_details`
  (docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end
  and .../adds-new-parent-field-to-invoicing-objects).
- 2026-03-25.dahlia renamed Checkout's `ui_mode` `hosted` to `hosted_page` and `embedded` to
  `embedded_page` (docs.stripe.com/changelog/dahlia/2026-03-25/, "updates available Checkout
  Session UI modes").
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.stripe.objects import JSON

BASIL = "2025-03-31"
DAHLIA = "2026-03-25"
OLD_UI_MODES = {"hosted_page": "hosted", "embedded_page": "embedded", "elements": "custom"}


def release_date(version: str) -> str:
    """ "2025-03-31.basil" → "2025-03-31": versions compare by their date."""
    return version.split(".", 1)[0]


def render(value: Any, version: str) -> Any:
    """`value` (an object, a list, an event) as `version` shows it; endive's shape unchanged."""
    if release_date(version) >= DAHLIA:
        return value
    return _render(copy.deepcopy(value), release_date(version))


def _render(value: Any, date: str) -> Any:
    if isinstance(value, list):
        return [_render(item, date) for item in value]
    if not isinstance(value, dict):
        return value
    rendered = {key: _render(item, date) for key, item in value.items()}
    kind = rendered.get("object")
    if kind == "checkout.session" and rendered.get("ui_mode") in OLD_UI_MODES:
        rendered["ui_mode"] = OLD_UI_MODES[rendered["ui_mode"]]
    if date >= BASIL:
        return rendered
    if kind == "subscription":
        _period_on_subscription(rendered)
    elif kind == "invoice":
        _subscription_on_invoice(rendered)
    return rendered


def _period_on_subscription(subscription: JSON) -> None:
    items = (subscription.get("items") or {}).get("data") or [{}]
    subscription["current_period_start"] = items[0].get("current_period_start")
    subscription["current_period_end"] = items[0].get("current_period_end")


def _subscription_on_invoice(invoice: JSON) -> None:
    parent = invoice.pop("parent", None) or {}
    details = parent.get("subscription_details") or {}
    invoice["subscription"] = details.get("subscription")
    invoice["subscription_details"] = {"metadata": details.get("metadata") or {}}
