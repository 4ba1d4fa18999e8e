"""A local stand-in for the Stripe API, for tests and the demo.

The real stripe-python client talks to it unchanged (only its base address differs): it
speaks the same form-encoded requests and answers the same JSON objects, lists and errors.
What a customer or Stripe itself would do (pay, let a renewal fail, cancel in the portal) is
simulated by methods on `StripeSandbox`, which also sends the resulting webhook events,
signed as Stripe signs them, to the registered endpoints.

One module per thing it models: objects (ids, times, billing intervals), errors (Stripe's error
answers), params (form decoding and what each endpoint accepts), api (keys, idempotency,
routing, expand), routes (the endpoints), lifecycle (how customers, subscriptions and invoices
change), simulations (what customers and Stripe do), events (signed webhook deliveries), pages
(hosted Checkout and portal), and sandbox, where StripeSandbox puts them together.
"""

from sandbox.stripe.api import RecordedRequest
from sandbox.stripe.errors import StripeError
from sandbox.stripe.events import Delivery, WebhookEndpoint
from sandbox.stripe.objects import add_interval
from sandbox.stripe.sandbox import DEFAULT_API_VERSION, StripeSandbox

__all__ = [
    "DEFAULT_API_VERSION",
    "Delivery",
    "RecordedRequest",
    "StripeError",
    "StripeSandbox",
    "WebhookEndpoint",
    "add_interval",
]
