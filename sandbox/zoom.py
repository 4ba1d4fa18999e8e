"""A local stand-in for Zoom's REST API (v2) and its Server-to-Server OAuth, for tests and demo.

The real zoomus client works against it unchanged: it fetches an account_credentials token
from `<base>/oauth/token` and calls `<base>/v2/...` with it. Tests can make tokens expire or
the whole service go down, to see how the app copes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from aiohttp.typedefs import Handler

JSON = dict[str, Any]

# Zoom's meeting types: instant, scheduled, recurring without and with a fixed time.
MEETING_TYPES = frozenset({1, 2, 3, 8})
MAX_TOPIC_LENGTH = 200
DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 300
HOST_USER_ID = "sandbox-host"
HOST_EMAIL = "host@sandbox.zoom.invalid"


class RecordedCall(NamedTuple):
    """One request as the sandbox received it, with the status it answered."""

    method: str
    path: str
    params: JSON
    status: int


class ZoomError(Exception):
    """A failure answered as Zoom's JSON error body."""

    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(body.get("message") or body.get("reason"))
        self.status = status
        self.body = body

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status)


def invalid_field(field: str, message: str) -> ZoomError:
    return ZoomError(
        400,
        {
            "code": 300,
            "message": "Validation Failed.",
            "errors": [{"field": field, "message": message}],
        },
    )


def zoom_time(moment: datetime) -> str:
    """Zoom's way of writing an instant: UTC, to the second, with a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_start_time(raw: str, timezone: str) -> datetime:
    """Read start_time as Zoom does: `...Z` is UTC, a bare local time is in `timezone`."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_field("start_time", f"Invalid start_time: {raw}") from None
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid_field("timezone", f"Invalid timezone: {timezone}") from None
    return moment.astimezone(UTC)


class ZoomSandbox:
    """An in-memory Zoom account with one host user, served over HTTP."""

    def __init__(
        self,
        *,
        account_id: str = "acc_sandbox",
        client_id: str = "zoom-client",
        client_secret: str = "zoom-secret",
        token_ttl: int = 3600,
    ) -> None:
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.base_url = ""

        self.meetings: list[JSON] = []
        self.tokens_issued = 0
        self.requests: list[RecordedCall] = []
        # Access token -> when it stops working (time.monotonic()).
        self._token_expiry: dict[str, float] = {}
        self._outage_status: int | None = None
        self._runner: web.AppRunner | None = None

    # -----------------------------------------------------------------------------------
    # Lifecycle and fault injection

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the API; returns the base url (API at <base>/v2, token at <base>/oauth/token)."""
        app = web.Application(middlewares=[self._record_and_fail])
        app.router.add_post("/oauth/token", self._issue_token)
        app.router.add_post("/v2/users/{user_id}/meetings", self._create_meeting)
        app.router.add_get("/v2/users/{user_id}/meetings", self._list_meetings)
        app.router.add_get("/v2/meetings/{meeting_id}", self._get_meeting)
        app.router.add_patch("/v2/meetings/{meeting_id}", self._update_meeting)
        app.router.add_delete("/v2/meetings/{meeting_id}", self._delete_meeting)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def expire_tokens(self) -> None:
        """Make every token issued so far be rejected with 401 (code 124), as after an hour."""
        self._token_expiry.clear()

    def go_down(self, status: int = 503) -> None:
        """Answer every request, token requests included, with `status` until `come_back`."""
        self._outage_status = status

    def come_back(self) -> None:
        """End the outage started by `go_down`."""
        self._outage_status = None

    # -----------------------------------------------------------------------------------
    # HTTP plumbing

    @web.middleware
    async def _record_and_fail(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        params: JSON = {}
        try:
            params = await self._read_params(request)
            if self._outage_status is not None:
                raise ZoomError(
                    self._outage_status,
                    {
                        "code": self._outage_status,
                        "message": "Service is temporarily unavailable.",
                    },
                )
            if request.path.startswith("/v2/"):
                self._authenticate(request.headers.get("Authorization", ""))
            response: web.StreamResponse = await handler(request)
        except ZoomError as error:
            response = error.response()
        except web.HTTPException as error:  # no such route or method
            response = web.json_response(
                {"code": error.status, "message": error.reason}, status=error.status
            )
        self.requests.append(RecordedCall(request.method, request.path, params, response.status))
        return response

    @staticmethod
    async def _read_params(request: web.Request) -> JSON:
        # Query and body together, as Zoom accepts either. aiohttp keeps the body once read,
        # so the middleware and the handler can both ask.
        params: JSON = dict(request.query)
        if not request.body_exists:
            return params
        text = await request.text()
        if request.content_type == "application/json":
            try:
                body = json.loads(text)
            except json.JSONDecodeError:
                raise ZoomError(
                    400, {"code": 300, "message": "Request Body should be a valid JSON object."}
                ) from None
            if isinstance(body, dict):
                params.update(body)
        else:
            params.update(parse_qsl(text, keep_blank_values=True))
        return params

    def _authenticate(self, authorization: str) -> None:
        scheme, _, token = authorization.partition(" ")
        expires = self._token_expiry.get(token) if scheme.lower() == "bearer" else None
        if expires is None or time.monotonic() >= expires:
            self._token_expiry.pop(token, None)
            raise ZoomError(401, {"code": 124, "message": "Invalid access token."})

    # -----------------------------------------------------------------------------------
    # Routes

    async def _issue_token(self, request: web.Request) -> web.Response:
        params = await self._read_params(request)
        if not self._client_credentials_match(request.headers.get("Authorization", "")):
            raise ZoomError(
                401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
            )
        if params.get("grant_type") != "account_credentials":
            raise ZoomError(
                400, {"reason": "unsupported grant type", "error": "unsupported_grant_type"}
            )
        if params.get("account_id") != self.account_id:
            raise ZoomError(
                400, {"reason": "Invalid request : Invalid account_id", "error": "invalid_request"}
            )
        token = secrets.token_urlsafe(32)
        self._token_expiry[token] = time.monotonic() + self.token_ttl
        self.tokens_issued += 1
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_ttl,
                "scope": "meeting:read:admin meeting:write:admin",
                "api_url": self.base_url,
            }
        )

    def _client_credentials_match(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            client_id, _, client_secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(client_id, self.client_id) and hmac.compare_digest(
            client_secret, self.client_secret
        )

    async def _create_meeting(self, request: web.Request) -> web.Response:
        self._check_user(request.match_info["user_id"])
        params = await self._read_params(request)
        meeting_type = params.get("type", 2)
        if meeting_type not in MEETING_TYPES:
            raise invalid_field("type", f"Invalid meeting type: {meeting_type}")
        topic = str(params.get("topic") or "Zoom Meeting")
        if len(topic) > MAX_TOPIC_LENGTH:
            raise invalid_field("topic", "Topic is longer than 200 characters.")
        timezone = str(params.get("timezone") or "UTC")
        now = datetime.now(UTC)
        raw_start = params.get("start_time")
        start = parse_start_time(str(raw_start), timezone) if raw_start else now
        duration = params.get("duration", 60)
        if not isinstance(duration, int) or duration < 0:
            raise invalid_field("duration", f"Invalid duration: {duration}")

        # Meeting ids are 10-11 digit numbers; passwords are short codes.
        meeting_id = secrets.randbelow(9 * 10**10) + 10**10
        password = secrets.token_hex(3)
        encrypted_password = secrets.token_urlsafe(24)
        meeting: JSON = {
            "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
            "id": meeting_id,
            "host_id": HOST_USER_ID,
            "host_email": HOST_EMAIL,
            "topic": topic,
            "type": meeting_type,
            "status": "waiting",
            "start_time": zoom_time(start),
            "duration": duration,
            "timezone": timezone,
            "agenda": str(params.get("agenda") or ""),
            "created_at": zoom_time(now),
            "start_url": f"https://zoom.us/s/{meeting_id}?zak={secrets.token_urlsafe(32)}",
            "join_url": f"https://zoom.us/j/{meeting_id}?pwd={encrypted_password}",
            "password": password,
            "h323_password": password,
            "pstn_password": password,
            "encrypted_password": encrypted_password,
            "settings": params.get("settings") or {},
            "pre_schedule": False,
        }
        self.meetings.append(meeting)
        return web.json_response(meeting, status=201)

    async def _list_meetings(self, request: web.Request) -> web.Response:
        self._check_user(request.match_info["user_id"])
        try:
            page_size = min(int(request.query.get("page_size", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
            offset = int(request.query.get("next_page_token") or 0)
        except ValueError:
            raise invalid_field("page_size", "Invalid paging parameter.") from None
        listed_fields = (
            "uuid",
            "id",
            "host_id",
            "topic",
            "type",
            "start_time",
            "duration",
            "timezone",
            "created_at",
            "join_url",
        )
        page = self.meetings[offset : offset + page_size]
        has_more = offset + page_size < len(self.meetings)
        return web.json_response(
            {
                "page_size": page_size,
                "total_records": len(self.meetings),
                "next_page_token": str(offset + page_size) if has_more else "",
                "meetings": [
                    {field: meeting[field] for field in listed_fields} for meeting in page
                ],
            }
        )

    async def _get_meeting(self, request: web.Request) -> web.Response:
        return web.json_response(self._find_meeting(request.match_info["meeting_id"]))

    async def _update_meeting(self, request: web.Request) -> web.Response:
        meeting = self._find_meeting(request.match_info["meeting_id"])
        params = await self._read_params(request)
        timezone = str(params.get("timezone") or meeting["timezone"])
        if params.get("start_time"):
            meeting["start_time"] = zoom_time(
                parse_start_time(str(params["start_time"]), timezone)
            )
        for field in ("topic", "duration", "agenda"):
            if field in params:
                meeting[field] = params[field]
        meeting["timezone"] = timezone
        return web.Response(status=204)

    async def _delete_meeting(self, request: web.Request) -> web.Response:
        meeting = self._find_meeting(request.match_info["meeting_id"])
        self.meetings.remove(meeting)
        return web.Response(status=204)

    def _find_meeting(self, raw_id: str) -> JSON:
        for meeting in self.meetings:
            if str(meeting["id"]) == raw_id:
                return meeting
        raise ZoomError(404, {"code": 3001, "message": f"Meeting does not exist: {raw_id}."})

    @staticmethod
    def _check_user(user_id: str) -> None:
        if user_id not in ("me", HOST_USER_ID, HOST_EMAIL):
            raise ZoomError(404, {"code": 1001, "message": f"User does not exist: {user_id}."})
