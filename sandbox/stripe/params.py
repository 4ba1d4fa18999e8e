"""Request parameters as Stripe reads them, and which ones each endpoint accepts.

Stripe's form encoding nests with brackets (`metadata[member_id]=1`,
`line_items[0][price]=...`), and every value arrives as a string, to be read as the integer,
boolean, object or list the parameter is. A parameter the endpoint does not know is refused
with a 400, and so is a value of the wrong kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.stripe.errors import StripeError
from sandbox.stripe.objects import JSON

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
    metadata nickname active tax_behavior billing_scheme unit_amount_decimal tiers tiers_mode
    """
)
PRICE_UPDATE_PARAMS = param_names(
    "active lookup_key transfer_lookup_key metadata nickname tax_behavior currency_options"
)
PRICE_LIST_PARAMS = LIST_PARAMS | param_names("active currency lookup_keys product type recurring")
CUSTOMER_CREATE_PARAMS = param_names(
    """
    email name phone description metadata address shipping preferred_locales payment_method
    invoice_settings tax_id_data test_clock
    """
)
# stripe/params/checkout/_session_create_params.py; payment_method_types went in
# 2026-09-30.endive (allowed_/excluded_payment_method_types replace it).
CHECKOUT_CREATE_PARAMS = param_names(
    """
    mode line_items client_reference_id metadata subscription_data success_url cancel_url
    return_url customer customer_email expires_at allow_promotion_codes automatic_tax
    billing_address_collection consent_collection currency custom_fields custom_text
    customer_creation customer_update discounts locale payment_method_collection
    allowed_payment_method_types excluded_payment_method_types after_expiration
    invoice_creation payment_intent_data optional_items adaptive_pricing
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
