"""The Zoom gateway: the weekly Q&A meeting through zoomus, off the event loop.

zoomus is synchronous (requests) and its `ZoomClient` fetches a Server-to-Server OAuth token
while it is being constructed, with no timeout, keeping neither the token's lifetime nor any
error (a refused token becomes `None`). So the gateway fetches and remembers the token itself
and uses zoomus only for the API calls, through its components (`MeetingComponentV2`,
`UserComponentV2`), which take the token in a plain config dict and do no network work when
made.

Meetings are made for the host user (`ZOOM_HOST_USER`: an id or email; `me` is the account
owner under Server-to-Server OAuth). Zoom has no idempotency key, so the caller looks for a
meeting (by a marker in its agenda) before creating one again; and a 429 says when to try
again (`ZoomError.retry_at`): the per-second limit soon, the daily one at 00:00 GMT.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from zoomus.components.base import BaseComponent
from zoomus.components.meeting import MeetingComponentV2
from zoomus.components.user import UserComponentV2
from zoomus.util import API_VERSION_2

log = logging.getLogger(__name__)

T = TypeVar("T")
C = TypeVar("C", bound=BaseComponent)

# Refresh this long before the token runs out, so that no call is made with a dying token.
REFRESH_MARGIN = timedelta(minutes=5)
# Zoom's tokens live an hour; assumed if the token answer does not say.
DEFAULT_TOKEN_TTL = 3600
SCHEDULED_MEETING = 2
MAX_REASON_LENGTH = 200
# Zoom lists at most 300 meetings a page.
LIST_PAGE_SIZE = 300
# After a per-second 429 without a Retry-After, this long.
QPS_PAUSE = timedelta(minutes=1)


@dataclass(frozen=True)
class Meeting:
    """A scheduled Zoom meeting, as Zoom confirmed it."""

    id: str
    join_url: str
    start: datetime  # aware UTC
    duration_minutes: int


class ZoomError(Exception):
    """Zoom could not be reached or refused; the message says why, in one line, without secrets.

    `retry_at`: when Zoom said it will take the request again (a 429), if it said.
    """

    def __init__(self, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ZoomGateway:
    """Creates Zoom meetings with a Server-to-Server OAuth app; each call is bounded by `timeout`.

    The bound covers the whole call (token fetch and the one retry included). A meeting request
    that times out may still have been carried out by Zoom: Zoom has no idempotency key.
    """

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        api_base: str,
        oauth_url: str,
        timeout: float = 15.0,
        clock: Callable[[], datetime] = _utc_now,
        host_user: str = "me",
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.host_user = host_user
        self._account_id = account_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._api_base = api_base.rstrip("/")
        self._oauth_url = oauth_url
        self._timeout = timeout
        self._clock = clock
        self._token: _Token | None = None
        # One refresh at a time: concurrent calls wait for it rather than each fetching a token.
        self._token_lock = asyncio.Lock()

    async def create_meeting(
        self,
        *,
        topic: str,
        start: datetime,
        duration_minutes: int,
        timezone: str,
        agenda: str = "",
    ) -> Meeting:
        """Schedule a meeting at `start` (aware) shown in `timezone`; raises ZoomError."""
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        # zoomus writes the clock time followed by "Z" without converting, so hand it UTC.
        start_utc = start.astimezone(UTC)

        def post(token: str) -> requests.Response:
            response: requests.Response = self._meetings(token).create(
                user_id=self.host_user,
                topic=topic,
                type=SCHEDULED_MEETING,
                start_time=start_utc,
                duration=duration_minutes,
                timezone=timezone,
                agenda=agenda,
            )
            return response

        response = await self._call(post)
        if response.status_code not in (200, 201):
            raise self._refused("Zoom answered", response)
        meeting = self._meeting_from(_json_object(response), start_utc, duration_minutes)
        log.info("created Zoom meeting %s at %s", meeting.id, meeting.start.isoformat())
        return meeting

    async def find_meeting(self, *, marker: str, topic: str, start: datetime) -> Meeting | None:
        """The host's coming meeting carrying `marker` in its agenda (or, where Zoom's list
        leaves the agenda out, with this topic at this time); raises ZoomError."""
        start_utc = start.astimezone(UTC)
        page_token = ""
        while True:

            def get(token: str, page: str = page_token) -> requests.Response:
                response: requests.Response = self._meetings(token).list(
                    user_id=self.host_user,
                    type="upcoming",
                    page_size=LIST_PAGE_SIZE,
                    next_page_token=page,
                )
                return response

            response = await self._call(get)
            if response.status_code != 200:
                raise self._refused("Zoom answered the meeting list with", response)
            answer = _json_object(response)
            for listed in answer.get("meetings") or []:
                if not isinstance(listed, dict):
                    continue
                found = self._meeting_from(listed, start_utc, 0)
                if "agenda" in listed:
                    if marker in str(listed.get("agenda") or ""):
                        return found
                elif listed.get("topic") == topic and found.start == start_utc:
                    return found
            page_token = str(answer.get("next_page_token") or "")
            if not page_token:
                return None

    async def host_link(self, meeting_id: str) -> str:
        """The meeting's start_url, fresh: it lets the host start it, and lives two hours."""

        def get(token: str) -> requests.Response:
            response: requests.Response = self._meetings(token).get(id=meeting_id)
            return response

        response = await self._call(get)
        if response.status_code != 200:
            raise self._refused("Zoom answered", response)
        start_url = _json_object(response).get("start_url")
        if not isinstance(start_url, str) or not start_url:
            raise ZoomError("Zoom's meeting answer has no start_url")
        return start_url

    async def host(self) -> str:
        """Who meetings are made for (the host user's email): checks the app and the host."""

        def get(token: str) -> requests.Response:
            users = self._component(UserComponentV2, token)
            response: requests.Response = users.get(id=self.host_user)
            return response

        response = await self._call(get)
        if response.status_code != 200:
            raise self._refused("Zoom answered the host user request with", response)
        return str(_json_object(response).get("email") or self.host_user)

    async def close(self) -> None:
        """Forget the token; each request opens and closes its own connection, so nothing else."""
        self._token = None

    # -----------------------------------------------------------------------------------
    # Calls and the access token

    def _meetings(self, token: str) -> MeetingComponentV2:
        return self._component(MeetingComponentV2, token)

    def _component(self, kind: type[C], token: str) -> C:
        component: C = kind(
            base_uri=self._api_base,
            config={"version": API_VERSION_2, "token": token},
            # zoomus insists on whole seconds; asyncio.timeout in _call is the real bound,
            # this only keeps the worker thread from waiting forever once we gave up.
            timeout=max(1, math.ceil(self._timeout)),
        )
        return component

    async def _call(self, send: Callable[[str], requests.Response]) -> requests.Response:
        """One API request with a valid token, the whole bounded by the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                token = await self._valid_token()
                response = await self._in_thread(lambda: send(token))
                if response.status_code == 401:
                    # Revoked or expired early (code 124): one new token, one more try.
                    log.info("Zoom refused its access token; fetching a new one")
                    self._forget_token(token)
                    token = await self._valid_token()
                    response = await self._in_thread(lambda: send(token))
        except TimeoutError:
            raise ZoomError(self._timed_out()) from None
        return response

    async def _valid_token(self) -> str:
        async with self._token_lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at - REFRESH_MARGIN:
                token = self._token = await self._fetch_token()
            return token.value

    def _forget_token(self, value: str) -> None:
        # Only if no concurrent call has replaced it already.
        if self._token is not None and self._token.value == value:
            self._token = None

    async def _fetch_token(self) -> _Token:
        requested_at = self._clock()
        response = await self._in_thread(
            lambda: requests.post(
                self._oauth_url,
                data={"grant_type": "account_credentials", "account_id": self._account_id},
                auth=(self._client_id, self._client_secret),
                timeout=self._timeout,
            )
        )
        if response.status_code != 200:
            raise self._refused("Zoom answered the token request with", response)
        answer = _json_object(response)
        value = answer.get("access_token")
        if not isinstance(value, str) or not value:
            raise ZoomError("Zoom's token answer has no access_token")
        expires_in = answer.get("expires_in")
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            expires_in = DEFAULT_TOKEN_TTL
        log.info("fetched a Zoom access token valid for %d s", expires_in)
        # Counted from the request, not the answer: errs on the side of refreshing early.
        return _Token(value, requested_at + timedelta(seconds=expires_in))

    # -----------------------------------------------------------------------------------
    # Plumbing

    async def _in_thread(self, call: Callable[[], T]) -> T:
        """Run a blocking requests call in a worker thread, turning its failures into ZoomError."""
        try:
            return await asyncio.to_thread(call)
        except requests.Timeout:
            raise ZoomError(self._timed_out()) from None
        except requests.RequestException as error:
            raise ZoomError(f"Zoom could not be reached: {_cause(error)}") from None

    def _timed_out(self) -> str:
        return f"Zoom did not answer within {self._timeout:g} s"

    def _refused(self, prefix: str, response: requests.Response) -> ZoomError:
        reason = _reason(response)
        # Zoom has no business echoing credentials back, but a message must never carry them.
        for secret in (self._client_secret, self._token.value if self._token else ""):
            if secret:
                reason = reason.replace(secret, "***")
        return ZoomError(
            f"{prefix} {response.status_code}: {reason}", retry_at=self._retry_at(response)
        )

    def _retry_at(self, response: requests.Response) -> datetime | None:
        """When a 429 may be sent again: Retry-After (a date or seconds), else the next GMT
        midnight for the daily limit and a minute for the per-second one."""
        if response.status_code != 429:
            return None
        now = self._clock()
        after = response.headers.get("Retry-After", "")
        if after.isdigit():
            return now + timedelta(seconds=int(after))
        try:
            return parsedate_to_datetime(after).astimezone(UTC)
        except (TypeError, ValueError):
            pass
        if response.headers.get("X-RateLimit-Type", "").lower().startswith("daily"):
            return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        return now + QPS_PAUSE

    @staticmethod
    def _meeting_from(
        answer: dict[str, Any], start_utc: datetime, duration_minutes: int
    ) -> Meeting:
        meeting_id = answer.get("id")
        join_url = answer.get("join_url")
        if meeting_id is None or not isinstance(join_url, str) or not join_url:
            raise ZoomError("Zoom's meeting answer has no id or join_url")
        start = start_utc
        raw_start = answer.get("start_time")
        if isinstance(raw_start, str):
            try:
                start = datetime.fromisoformat(raw_start.replace("Z", "+00:00")).astimezone(UTC)
            except ValueError:
                raise ZoomError(
                    f"Zoom's meeting answer has a bad start_time: {raw_start!r}"
                ) from None
        duration = answer.get("duration")
        return Meeting(
            id=str(meeting_id),
            join_url=join_url,
            start=start,
            duration_minutes=duration if isinstance(duration, int) else duration_minutes,
        )


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ZoomError(
            f"Zoom answered {response.status_code} with a body that is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise ZoomError(f"Zoom answered {response.status_code} with JSON that is not an object")
    return body


def _reason(response: requests.Response) -> str:
    """Zoom's own explanation of a refusal (`message`, or OAuth's `reason`), on one line."""
    reason = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        reason = str(body.get("message") or body.get("reason") or body.get("error") or "")
    reason = " ".join((reason or response.reason or "no reason given").split())
    if len(reason) > MAX_REASON_LENGTH:
        reason = reason[: MAX_REASON_LENGTH - 1] + "…"
    return reason


def _cause(error: BaseException) -> str:
    """The innermost OS-level reason (e.g. "Connection refused"), else the error's kind."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        # urllib3 keeps the cause in `.reason`; Python chains keep it in __cause__/__context__.
        reason = getattr(current, "reason", None)
        current = (
            reason
            if isinstance(reason, BaseException)
            else current.__cause__ or current.__context__
        )
    return type(error).__name__
