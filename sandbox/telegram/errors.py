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
    """A Bot API error answer: HTTP status, Telegram's description, and its parameters:
    retry_after for 429, migrate_to_chat_id for a basic group that became a supergroup."""

    def __init__(
        self,
        status: int,
        description: str,
        retry_after: int | None = None,
        *,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def body(self) -> JSON:
        answer: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        # Query.h JsonQueryError: "parameters" only when there are some.
        parameters = {
            name: value
            for name, value in (
                ("migrate_to_chat_id", self.migrate_to_chat_id),
                ("retry_after", self.retry_after),
            )
            if value is not None
        }
        if parameters:
            answer["parameters"] = parameters
        return answer


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, f"Forbidden: {detail}")


def group_upgraded(new_chat_id: int) -> ApiError:
    """Any call that needs to write in (or read the members of) a basic group that was
    upgraded: Client.cpp check_chat_access answers with the supergroup's id."""
    return ApiError(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=new_chat_id,
    )


def webhook_conflict() -> ApiError:
    return ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
