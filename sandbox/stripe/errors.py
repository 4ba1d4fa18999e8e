"""How Stripe says no: its error answers.

A failed call answers an HTTP status and {"error": {"type", "message", "code", "param"}};
an id Stripe does not know is a 404 resource_missing naming the parameter that held it.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.stripe.objects import JSON


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
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body: JSON = {"type": type, "message": message}
        if code is not None:
            self.body["code"] = code
        if param is not None:
            self.body["param"] = param

    def response(self) -> web.Response:
        return web.json_response({"error": self.body}, status=self.status, headers=self.headers)


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    """The 404 Stripe answers for an id it does not know."""
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)
