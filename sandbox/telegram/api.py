"""Bot API calls: reading them as Telegram reads them, answering them, keeping a record.

Telegram takes a method's parameters from the query string, a JSON body or a form (files as
multipart uploads), matches method names whatever their case, and answers every call with
{"ok": true, "result": ...} or {"ok": false, "error_code": ..., "description": ...}. ApiMixin
runs each call through the method table (TelegramSandbox builds it from the handlers of the
other areas), turns refusals and sandbox bugs into Telegram's error answers, records every
call, and lets a test make the next calls of a method fail.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.telegram.errors import ApiError, bad_request
from sandbox.telegram.shapes import JSON

# The sandbox logs under the package's name.
logger = logging.getLogger("sandbox.telegram")

MAX_UPLOAD_BYTES = 50 * 1024 * 1024

# Form fields that are plain strings even when they look like JSON ("123", "true").
_TEXT_FIELDS = frozenset(
    {"text", "caption", "parse_mode", "name", "url", "secret_token", "invite_link",
     "callback_query_id", "inline_message_id", "language_code", "ip_address", "title",
     "description", "short_description", "custom_title", "emoji", "business_connection_id",
     "message_effect_id", "document", "voice", "photo", "video_note", "audio", "video",
     "animation", "sticker", "thumbnail", "method"}
)  # fmt: skip

_INJECTED_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: injected failure",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class RecordedCall:
    """One Bot API call the sandbox answered."""

    at: float  # time.monotonic() when it arrived
    method: str
    params: dict[str, Any]  # JSON fields decoded; uploads as {"file_name", "file_size"}
    status: int
    retry_after: int | None = None


# Reading parameters


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    file_name: str
    mime_type: str | None
    data: bytes


def _decode_field(name: str, value: object) -> object:
    """aiogram sends nested objects, numbers and booleans JSON-encoded in form fields."""
    if not isinstance(value, str) or name in _TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _decode_fields(fields: Mapping[str, object]) -> JSON:
    """Request fields as typed parameters, with "attach://name" replaced by the upload."""
    uploads = {name: value for name, value in fields.items() if isinstance(value, Upload)}
    params: JSON = {
        name: _decode_field(name, value)
        for name, value in fields.items()
        if not isinstance(value, Upload)
    }
    for name, value in params.items():
        if isinstance(value, str) and value.startswith("attach://"):
            params[name] = uploads.pop(value.removeprefix("attach://"), value)
    # A file posted straight under the parameter's name (curl -F document=@file) is valid too.
    params.update(uploads)
    return params


def _recordable(params: JSON) -> JSON:
    return {
        name: {"file_name": value.file_name, "file_size": len(value.data)}
        if isinstance(value, Upload)
        else value
        for name, value in params.items()
    }


async def _read_request_fields(request: web.Request) -> dict[str, object]:
    fields: dict[str, object] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            fields.update(body)
        return fields
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge as error:
        raise ApiError(413, "Request Entity Too Large") from error
    for name, value in form.items():
        if isinstance(value, web.FileField):
            with value.file:  # aiohttp spools uploads to temporary files
                fields[name] = Upload(value.filename, value.content_type, value.file.read())
        else:
            fields[name] = value
    return fields


def optional_int(params: JSON, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise bad_request(f'field "{name}" must be of type Integer')


def required_int(params: JSON, name: str) -> int:
    value = optional_int(params, name)
    if value is None:
        raise bad_request(f"{name} is empty")
    return value


def chat_id_param(params: JSON, name: str = "chat_id") -> int:
    value = params.get(name)
    if value is None or value == "":
        raise bad_request(f"{name} is empty")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise bad_request("chat not found")  # "@username" chats are not simulated


def flag(params: JSON, name: str) -> bool:
    return params.get(name) in (True, "true", "True", 1, "1")


def optional_text(params: JSON, name: str) -> str | None:
    value = params.get(name)
    return None if value is None else str(value)


# Answering


@dataclass(frozen=True)
class _InjectedFailure:
    status: int
    retry_after: int | None
    description: str | None
    chat_id: int | None = None


Handler = Callable[[JSON], Awaitable[Any]]


class ApiMixin:
    """Bot API calls: the method table's dispatch, Telegram's error answers, the record."""

    # Created in TelegramSandbox.__init__.
    token: str
    calls: list[RecordedCall]
    _injected: dict[str, deque[_InjectedFailure]]
    _late_answers: dict[str, deque[float]]
    _late_arrivals: dict[str, deque[float]]
    _stalled_methods: dict[str, asyncio.Event]
    _stalled_changed: asyncio.Condition
    stalled: int
    _rate_limited: int
    _handlers: dict[str, tuple[str, Handler]]

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        count: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (to ``chat_id`` only, if given) with
        an error, delivering nothing."""
        if status == 429 and retry_after is None:
            retry_after = 1
        failure = _InjectedFailure(status, retry_after, description, chat_id)
        self._injected.setdefault(method.lower(), deque()).extend([failure] * count)

    def answer_late(self, method: str, seconds: float, *, count: int = 1) -> None:
        """Carry out the next ``count`` calls of ``method`` at once, but answer them only
        after ``seconds`` (real ones)."""
        self._late_answers.setdefault(method.lower(), deque()).extend([seconds] * count)

    def arrive_late(self, method: str, seconds: float, *, count: int = 1) -> None:
        """Hold the next ``count`` calls of ``method`` for ``seconds`` (real ones) before they
        reach Telegram, as a slow network would; a call whose client has gone away by then
        (a process killed) never arrives, and nothing is done."""
        self._late_arrivals.setdefault(method.lower(), deque()).extend([seconds] * count)

    def stall(self, method: str) -> None:
        """Carry out calls of ``method`` at once but answer them only after `release_stalls`
        (Telegram slow to answer, for as long as a test needs)."""
        self._stalled_methods.setdefault(method.lower(), asyncio.Event())

    async def wait_for_stalled(self, count: int = 1) -> None:
        """Wait until ``count`` calls are held by `stall` (done, their answer not yet sent)."""
        async with self._stalled_changed:
            await self._stalled_changed.wait_for(lambda: self.stalled >= count)

    def release_stalls(self) -> None:
        """Answer every held call, and hold no more."""
        for released in self._stalled_methods.values():
            released.set()
        self._stalled_methods.clear()

    @property
    def rate_limited(self) -> int:
        """How many calls were answered 429 Too Many Requests."""
        return self._rate_limited

    # The HTTP side

    async def _handle_api_request(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            if request.match_info["token"] != self.token:  # ClientManager.cpp
                raise ApiError(401, "Unauthorized: invalid token specified")
            fields = await _read_request_fields(request)
        except ApiError as error:
            status, body = self._record(time.monotonic(), method, {}, error.status, error.body())
        else:
            late = self._late_arrivals.get(method.lower())
            if late:
                await asyncio.sleep(late.popleft())
                if request.transport is None or request.transport.is_closing():
                    return web.Response(status=499)  # never arrived: nobody is listening
            status, body = await self._call(method, fields)
        return web.json_response(body, status=status)

    async def _call(self, method: str, fields: Mapping[str, object]) -> tuple[int, JSON]:
        """Run one Bot API method; returns the HTTP status and Telegram's answer body."""
        arrived = time.monotonic()
        name, handler = self._handlers.get(method.lower(), (method, None))
        params = _decode_fields(fields)
        try:
            if handler is None:  # Client::on_cmd
                raise ApiError(404, "Not Found: method not found")
            self._raise_injected_failure(name, params)
            result = await handler(params)
            late = self._late_answers.get(name.lower())
            if late:
                await asyncio.sleep(late.popleft())
            released = self._stalled_methods.get(name.lower())
            if released is not None:
                async with self._stalled_changed:
                    self.stalled += 1
                    self._stalled_changed.notify_all()
                await released.wait()
        except ApiError as error:
            return self._record(arrived, name, params, error.status, error.body())
        except Exception as error:  # a sandbox bug: answer like Telegram's 500, and say so
            logger.exception("sandbox failed on %s", name)
            failure = ApiError(500, f"Internal Server Error: sandbox bug: {error!r}")
            return self._record(arrived, name, params, 500, failure.body())
        return self._record(arrived, name, params, 200, {"ok": True, "result": result})

    def _record(
        self, arrived: float, method: str, params: JSON, status: int, body: JSON
    ) -> tuple[int, JSON]:
        retry_after = body.get("parameters", {}).get("retry_after")
        self.calls.append(RecordedCall(arrived, method, _recordable(params), status, retry_after))
        if status == 429:
            self._rate_limited += 1
        return status, body

    def _raise_injected_failure(self, method: str, params: JSON) -> None:
        queue = self._injected.get(method.lower())
        if not queue:
            return
        failure = next(
            (f for f in queue if f.chat_id is None or f.chat_id == params.get("chat_id")), None
        )
        if failure is None:
            return
        queue.remove(failure)
        if failure.status == 429:
            raise ApiError(
                429,
                failure.description or f"Too Many Requests: retry after {failure.retry_after}",
                failure.retry_after,
            )
        description = failure.description or _INJECTED_DESCRIPTIONS.get(
            failure.status, f"Error {failure.status}"
        )
        raise ApiError(failure.status, description, failure.retry_after)
