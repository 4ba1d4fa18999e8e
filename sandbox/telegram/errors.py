"""How Telegram says no.

A refused Bot API call gets an HTTP status and a description that starts with the status's
words ("Bad Request: chat not found", "Forbidden: bot was blocked by the user"), plus
retry_after when the answer is 429 Too Many Requests. What a person tries that Telegram's apps
would not let them do (a revoked link, a button no longer there) raises ActionRefused instead.
"""

from __future__ import annotations

from sandbox.telegram.shapes import JSON


class ActionRefused(Exception):
    """Telegram would not let the person do this (a revoked link, a vanished button, a ban)."""


class ApiError(Exception):
    """A Bot API error answer: HTTP status, Telegram's description, retry_after for 429."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        answer: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            answer["parameters"] = {"retry_after": self.retry_after}
        return answer


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, f"Forbidden: {detail}")


def webhook_conflict() -> ApiError:
    return ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
