"""The API's HTTP side: keys, idempotency, routing, expansion, and outages.

Stripe takes the secret key by Bearer (or Basic) auth; replays its first answer to a POST sent
again with the same Idempotency-Key, and refuses the key for another endpoint or other
parameters; answers an unknown URL with a 404; puts whole objects in place of ids where
`expand` asks; and marks every answer with Request-Id and Stripe-Version. Every request is
recorded, and go_down() fails every call until come_back(), as in an outage.
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import parse_qsl

from aiohttp import web

from sandbox.stripe.errors import StripeError
from sandbox.stripe.objects import JSON, new_id
from sandbox.stripe.params import list_param, parse_form


class RecordedRequest(NamedTuple):
    """One API request as the sandbox received it."""

    method: str
    path: str
    params: JSON
    idempotency_key: str | None


@dataclass(frozen=True)
class ApiCall:
    """What a route handler needs to know about the request it serves."""

    params: JSON
    path_args: tuple[str, ...]
    request_id: str
    idempotency_key: str | None


ApiHandler = Callable[[ApiCall], JSON]


class ApiMixin:
    """Serving API requests: authentication, idempotency, routing, expand, errors."""

    # Made in StripeSandbox.__init__.
    api_key: str
    api_version: str
    requests: list[RecordedRequest]
    _idempotent_answers: dict[str, tuple[str, str, JSON, int, bytes]]
    _outage_status: int | None
    _routes: list[tuple[str, re.Pattern[str], ApiHandler]]
    # The objects an `expand` can reach.
    products: dict[str, JSON]
    prices: dict[str, JSON]
    customers: dict[str, JSON]
    checkout_sessions: dict[str, JSON]
    subscriptions: dict[str, JSON]
    invoices: dict[str, JSON]

    def go_down(self, status: int = 500) -> None:
        """Answer every API call with an api_error of `status` until `come_back`."""
        self._outage_status = status

    def come_back(self) -> None:
        """End the outage started by `go_down`."""
        self._outage_status = None

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
