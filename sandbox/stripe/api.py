"""The API's HTTP side: keys, idempotency, routing, expansion, versions and outages.

Stripe takes the secret key by Bearer (or Basic) auth; answers an unknown URL with a 404; puts
whole objects in place of ids where `expand` asks; renders every object in the API version the
request names (sandbox.stripe.versions); and marks every answer with Request-Id and
Stripe-Version. Every request is recorded, and go_down() fails every call until come_back(), as
in an outage.

Idempotency, as https://docs.stripe.com/api/idempotent_requests describes it: a POST's first
answer under an Idempotency-Key is saved once the endpoint began executing, whatever it was
(a 500 or an execution-time 400 too), and a retry with that key gets it back with
`Idempotent-Replayed: true`; a request refused before execution (its parameters invalid, or the
outage) saves nothing. The same key with other parameters, or on another endpoint, is a 400
idempotency_error; the same key while its first request still runs is a 409
idempotency_key_in_use. Keys are forgotten 24 hours after their first use (by Stripe's clock).
GET and DELETE ignore the header.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import parse_qsl

from aiohttp import web

from sandbox.stripe.errors import StripeError
from sandbox.stripe.objects import JSON, new_id
from sandbox.stripe.params import list_param, parse_form
from sandbox.stripe.versions import render

# "Keys ... can be removed from the system automatically after they're at least 24 hours old."
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


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


@dataclass(frozen=True)
class SavedAnswer:
    """The first answer given under an idempotency key, and what it answered."""

    method: str
    path: str
    params: JSON
    status: int
    body: bytes
    at: datetime


@dataclass
class Stall:
    """Requests matching `method` and `path` wait until released (a slow Stripe)."""

    method: str
    path: re.Pattern[str]
    released: asyncio.Event


class ApiMixin:
    """Serving API requests: authentication, idempotency, routing, expand, errors."""

    # Made in StripeSandbox.__init__.
    api_key: str
    api_version: str
    requests: list[RecordedRequest]
    _now: Callable[[], datetime]
    _idempotent_answers: dict[str, SavedAnswer]
    _idempotency_in_progress: set[str]
    _outage_status: int | None
    _outage_should_retry: bool | None = None
    _fail_after_execution: list[int]
    _stalls: list[Stall]
    _stalled_changed: asyncio.Condition
    stalled: int
    _routes: list[tuple[str, re.Pattern[str], ApiHandler]]
    # The objects an `expand` can reach.
    products: dict[str, JSON]
    prices: dict[str, JSON]
    customers: dict[str, JSON]
    checkout_sessions: dict[str, JSON]
    subscriptions: dict[str, JSON]
    invoices: dict[str, JSON]

    def go_down(self, status: int = 500, *, should_retry: bool | None = None) -> None:
        """Answer every API call with an api_error of `status` until `come_back`; with
        `should_retry`, the Stripe-Should-Retry header stripe-python obeys before all else."""
        self._outage_status = status
        self._outage_should_retry = should_retry

    def come_back(self) -> None:
        """End the outage started by `go_down`."""
        self._outage_status = None

    def fail_after_execution(self, status: int = 500) -> None:
        """The next POST does its work but answers an api_error of `status`, which its
        idempotency key then replays, as Stripe saves a 500 once execution began."""
        self._fail_after_execution.append(status)

    def stall(self, method: str, path: str) -> Stall:
        """Hold requests to `method` `path` (a regular expression) until `release_stalls`."""
        stall = Stall(method, re.compile(path), asyncio.Event())
        self._stalls.append(stall)
        return stall

    async def wait_for_stalled(self, count: int = 1) -> None:
        """Wait until `count` requests are held by `stall` (a client is mid-call)."""
        async with self._stalled_changed:
            await self._stalled_changed.wait_for(lambda: self.stalled >= count)

    def release_stalls(self) -> None:
        """Let every held request go on, and hold no more."""
        for stall in self._stalls:
            stall.released.set()
        self._stalls.clear()

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
            retry = self._outage_should_retry
            raise StripeError(
                self._outage_status,
                "An unknown error occurred (the sandbox is down).",
                type="api_error",
                headers={} if retry is None else {"Stripe-Should-Retry": str(retry).lower()},
            )
        self._authenticate(request.headers.get("Authorization", ""))
        version = request.headers.get("Stripe-Version", self.api_version)

        # Stripe applies idempotency keys to POSTs only.
        key = idempotency_key if request.method == "POST" else None
        if key is not None:
            replay = self._replay(key, request.method, request.path, params)
            if replay is not None:
                return replay
            self._idempotency_in_progress.add(key)
        try:
            await self._wait_if_stalled(request.method, request.path)
            status, body = self._execute(request.method, request.path, params, request_id, key)
        except StripeError:
            # A refusal before execution (bad parameters) is not saved; a retry runs again.
            if key is not None:
                self._idempotency_in_progress.discard(key)
            raise
        if status == 200:
            body = json.dumps(render(json.loads(body), version)).encode()
        if key is not None:
            self._idempotency_in_progress.discard(key)
            self._idempotent_answers[key] = SavedAnswer(
                request.method, request.path, params, status, body, self._now()
            )
        return web.Response(body=body, status=status, content_type="application/json")

    def _execute(
        self, method: str, path: str, params: JSON, request_id: str, key: str | None
    ) -> tuple[int, bytes]:
        handler, path_args = self._route(method, path)
        body_object = handler(ApiCall(params, path_args, request_id, key))
        expand = [str(item) for item in list_param(params, "expand")]
        if expand:
            body_object = self._expand(body_object, expand)
        if method == "POST" and self._fail_after_execution:
            failure = StripeError(
                self._fail_after_execution.pop(0),
                "An unknown error occurred while processing your request.",
                type="api_error",
            )
            return failure.status, json.dumps({"error": failure.body}).encode()
        return 200, json.dumps(body_object).encode()

    def _replay(self, key: str, method: str, path: str, params: JSON) -> web.Response | None:
        if key in self._idempotency_in_progress:
            raise StripeError(
                409,
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still "
                f"going through): {key}. Please try again later.",
                code="idempotency_key_in_use",
            )
        saved = self._idempotent_answers.get(key)
        if saved is not None and self._now() - saved.at >= IDEMPOTENCY_KEY_LIFETIME:
            del self._idempotent_answers[key]  # pruned: the key starts a new request
            saved = None
        if saved is None:
            return None
        other_key = (
            f" Try using a key other than '{key}' if you meant to execute a different request."
        )
        if (saved.method, saved.path) != (method, path):
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{saved.path}' vs '{path}').{other_key}",
                type="idempotency_error",
            )
        if saved.params != params:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with.{other_key}",
                type="idempotency_error",
            )
        replay = web.Response(
            body=saved.body, status=saved.status, content_type="application/json"
        )
        replay.headers["Idempotent-Replayed"] = "true"
        return replay

    async def _wait_if_stalled(self, method: str, path: str) -> None:
        for stall in list(self._stalls):
            if stall.method == method and stall.path.fullmatch(path):
                await self._count_stalled(+1)
                try:
                    await stall.released.wait()
                finally:
                    await self._count_stalled(-1)

    async def _count_stalled(self, change: int) -> None:
        async with self._stalled_changed:
            self.stalled += change
            self._stalled_changed.notify_all()

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
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                "or we can help at https://support.stripe.com/.",
            )
        if not hmac.compare_digest(credentials, self.api_key):
            # Stripe shows the key's first 8 and last 4 characters, asterisks between.
            hidden = "*" * max(len(credentials) - 12, 4)
            raise StripeError(
                401, f"Invalid API Key provided: {credentials[:8]}{hidden}{credentials[-4:]}"
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
