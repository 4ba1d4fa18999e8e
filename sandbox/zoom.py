"""A local stand-in for Zoom's REST API (v2) and its Server-to-Server OAuth, for tests and demo.

The real zoomus client works against it unchanged: it fetches an account_credentials token
from `<base>/oauth/token` and calls `<base>/v2/...` with it. Tests can make tokens expire or
the whole service go down, to see how the app copes.

It answers as Zoom does (developers.zoom.us: the meetings API reference, its rate limits page
and its error codes; what clients report where the docs say nothing):

- the token endpoint answers a wrong client id or secret with 400 invalid_client, an unknown
  account with "Account does not exist", and tokens that live 3599 seconds;
- `me` is the account owner (a Server-to-Server app acts as the owner), other users are named
  by id or email, and an unknown one is 404 code 1001;
- creating a meeting is rate limited per account (the "Medium" label: `qps` per second, by the
  sandbox's clock) and per host (100 creates and updates a day, until 00:00 GMT), both 429
  with `X-RateLimit-Type` and, for the daily one, `Retry-After`;
- listing meetings filters by `type` (scheduled, live, upcoming, upcoming_meetings,
  previous_meetings), `from` and `to`, pages with `next_page_token`, and shows the agenda;
- a create can be carried out but answered too late for the client (`answer_late`), as when a
  request times out on our side after Zoom made the meeting.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from aiohttp.typedefs import Handler

JSON = dict[str, Any]

# Zoom's meeting types: instant, scheduled, recurring without and with a fixed time, and
# screen share only.
MEETING_TYPES = frozenset({1, 2, 3, 8, 10})
MAX_TOPIC_LENGTH = 200
MAX_AGENDA_LENGTH = 2000
DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 300
LIST_TYPES = frozenset({"scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings"})
HOST_USER_ID = "sandbox-host"
HOST_EMAIL = "host@sandbox.zoom.invalid"
# "Meeting create/update API requests are limited to 100 requests/day/user" (GMT days).
DAILY_CREATES_PER_USER = 100
# The "Medium" label of a Pro account: 20 requests a second, shared by the account's apps.
MEDIUM_QPS = 20
TOKEN_TTL = 3599


@dataclass(frozen=True)
class ZoomUser:
    id: str
    email: str
    first_name: str
    last_name: str


class RecordedCall(NamedTuple):
    """One request as the sandbox received it, with the status it answered."""

    method: str
    path: str
    params: JSON
    status: int


class ZoomError(Exception):
    """A failure answered as Zoom's JSON error body."""

    def __init__(self, status: int, body: JSON, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message") or body.get("reason"))
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=self.headers)


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
        token_ttl: int = TOKEN_TTL,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        qps: int = MEDIUM_QPS,
        daily_creates: int = DAILY_CREATES_PER_USER,
    ) -> None:
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.qps = qps
        self.daily_creates = daily_creates
        self._now = now
        self.base_url = ""
        owner = ZoomUser(HOST_USER_ID, HOST_EMAIL, "Sandbox", "Owner")
        self.users: dict[str, ZoomUser] = {owner.id: owner}
        self.owner = owner

        self.meetings: list[JSON] = []
        self.tokens_issued = 0
        self.requests: list[RecordedCall] = []
        # Access token -> when it stops working (time.monotonic()).
        self._token_expiry: dict[str, float] = {}
        self._outage_status: int | None = None
        self._runner: web.AppRunner | None = None
        # Requests per sandbox second (the account's QPS), creates per host and GMT day.
        self._per_second: Counter[int] = Counter()
        self._creates: Counter[tuple[str, date]] = Counter()
        self._late_answers: list[float] = []

    # -----------------------------------------------------------------------------------
    # Lifecycle and fault injection

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the API; returns the base url (API at <base>/v2, token at <base>/oauth/token)."""
        app = web.Application(middlewares=[self._record_and_fail])
        app.router.add_post("/oauth/token", self._issue_token)
        app.router.add_get("/v2/users/{user_id}", self._get_user)
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

    def answer_late(self, seconds: float) -> None:
        """The next meeting creation is carried out, but answered only after `seconds`: a
        client that gives up sooner never learns the meeting exists."""
        self._late_answers.append(seconds)

    def add_user(self, user_id: str, email: str, first_name: str = "Zoom") -> ZoomUser:
        """Another user of the account, who can host meetings."""
        user = ZoomUser(user_id, email, first_name, "User")
        self.users[user_id] = user
        return user

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
                self._count_second()
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
            # Reported by many clients as a 400 (one report says 401).
            raise ZoomError(
                400, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
            )
        if params.get("grant_type") != "account_credentials":
            raise ZoomError(
                400, {"reason": "unsupported grant type", "error": "unsupported_grant_type"}
            )
        if params.get("account_id") != self.account_id:
            raise ZoomError(400, {"reason": "Account does not exist", "error": "invalid_request"})
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

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self._check_user(request.match_info["user_id"])
        return web.json_response(
            {
                "id": user.id,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "type": 2,
                "status": "active",
                "account_id": self.account_id,
                "timezone": "UTC",
            }
        )

    async def _create_meeting(self, request: web.Request) -> web.Response:
        user = self._check_user(request.match_info["user_id"])
        self._count_create(user)
        params = await self._read_params(request)
        meeting_type = params.get("type", 2)
        if meeting_type not in MEETING_TYPES:
            raise invalid_field("type", f"Invalid meeting type: {meeting_type}")
        topic = str(params.get("topic") or "Zoom Meeting")
        if len(topic) > MAX_TOPIC_LENGTH:
            raise invalid_field("topic", "Topic is longer than 200 characters.")
        agenda = str(params.get("agenda") or "")
        if len(agenda) > MAX_AGENDA_LENGTH:
            raise invalid_field("agenda", "Agenda is longer than 2000 characters.")
        timezone = str(params.get("timezone") or "UTC")
        now = self._now()
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
            "host_id": user.id,
            "host_email": user.email,
            "topic": topic,
            "type": meeting_type,
            "status": "waiting",
            "start_time": zoom_time(start),
            "duration": duration,
            "timezone": timezone,
            "agenda": agenda,
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
        if self._late_answers:
            await asyncio.sleep(self._late_answers.pop(0))
        return web.json_response(meeting, status=201)

    async def _list_meetings(self, request: web.Request) -> web.Response:
        user = self._check_user(request.match_info["user_id"])
        query = request.query
        try:
            page_size = min(int(query.get("page_size", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
            offset = int(query.get("next_page_token") or 0)
        except ValueError:
            raise invalid_field("page_size", "Invalid paging parameter.") from None
        kind = query.get("type", "scheduled")
        if kind not in LIST_TYPES:
            raise invalid_field("type", f"Invalid field: type {kind}")
        first_day, last_day = _day(query.get("from"), "from"), _day(query.get("to"), "to")
        now = self._now()
        chosen = [
            meeting
            for meeting in self.meetings
            if meeting["host_id"] == user.id
            and _listed(meeting, kind, now)
            and (first_day is None or _starts(meeting).date() >= first_day)
            and (last_day is None or _starts(meeting).date() <= last_day)
        ]
        listed_fields = (
            "uuid",
            "id",
            "host_id",
            "topic",
            "type",
            "start_time",
            "duration",
            "timezone",
            "agenda",
            "created_at",
            "join_url",
        )
        page = chosen[offset : offset + page_size]
        has_more = offset + page_size < len(chosen)
        return web.json_response(
            {
                "page_size": page_size,
                "total_records": len(chosen),
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
        host = self.users.get(meeting["host_id"], self.owner)
        self._count_create(host)
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

    def _check_user(self, user_id: str) -> ZoomUser:
        if user_id == "me":  # a Server-to-Server app's token is the account owner's
            return self.owner
        for user in self.users.values():
            if user_id in (user.id, user.email):
                return user
        raise ZoomError(404, {"code": 1001, "message": f"User does not exist: {user_id}."})

    # -----------------------------------------------------------------------------------
    # Rate limits

    def _count_second(self) -> None:
        second = int(self._now().timestamp())
        self._per_second[second] += 1
        for old in [s for s in self._per_second if s < second]:
            del self._per_second[old]
        if self._per_second[second] > self.qps:
            raise _rate_limited(
                "QPS",
                self.qps,
                "You have reached the maximum per-second rate limit for this API. "
                "Try again later.",
            )

    def _count_create(self, user: ZoomUser) -> None:
        today = self._now().astimezone(UTC).date()
        if self._creates[(user.id, today)] >= self.daily_creates:
            tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
            raise _rate_limited(
                "Daily-limit",
                self.daily_creates,
                f"You have exceeded the daily rate limit ({self.daily_creates}) of Meeting "
                "Create/Update API requests permitted for this particular user. You may "
                "resume these requests at GMT 00:00:00.",
                retry_after=format_datetime(tomorrow, usegmt=True),
            )
        self._creates[(user.id, today)] += 1


def _rate_limited(
    kind: str, limit: int, message: str, *, retry_after: str | None = None
) -> ZoomError:
    headers = {
        "X-RateLimit-Category": "Medium",
        "X-RateLimit-Type": kind,
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
    }
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return ZoomError(429, {"code": 429, "message": message}, headers=headers)


def _starts(meeting: JSON) -> datetime:
    return datetime.fromisoformat(str(meeting["start_time"]).replace("Z", "+00:00"))


def _listed(meeting: JSON, kind: str, now: datetime) -> bool:
    """Whether `GET /users/{id}/meetings?type=kind` shows the meeting at `now`."""
    start = _starts(meeting)
    end = start + timedelta(minutes=int(meeting["duration"]))
    live = start <= now < end
    return {
        "scheduled": meeting["type"] in (2, 8),
        "live": live,
        "upcoming": now < end,  # upcoming and live ones
        "upcoming_meetings": now < start,
        "previous_meetings": end <= now,
    }[kind]


def _day(raw: str | None, field: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid_field(field, f"Invalid field: {field}") from None
