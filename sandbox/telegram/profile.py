"""The bot's own account: who it is (getMe), and its command menus (setMyCommands).

Telegram keeps one command list for each scope and language (Client.cpp get_bot_commands and
get_bot_command_scope, TDLib BotCommand.cpp and BotCommandScope.cpp). Each command is trimmed
and loses one leading "/"; then it must be 1 to 32 lowercase letters, digits and underscores
("command must be non-empty", "command length must not exceed 32", BOT_COMMAND_INVALID), its
description 1 to 256 characters, and a list at most 100 commands (BOT_COMMANDS_TOO_MUCH). A
scope naming a chat needs a chat the bot knows ("chat not found"), and a private chat takes
only the "chat" scope. A list set for a chat replaces the wider ones there, it doesn't add to
them: my_commands_in() answers what a person sees, by the documented order of precedence.
"""

from __future__ import annotations

import json
import re

from sandbox.telegram.chats import ChatsMixin
from sandbox.telegram.errors import bad_request
from sandbox.telegram.shapes import JSON

_BOT_COMMAND = re.compile(r"[a-z0-9_]+")
MAX_COMMANDS = 100
_SCOPES = frozenset(
    {"default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
     "chat_administrators", "chat_member"}
)  # fmt: skip


class ProfileMixin(ChatsMixin):
    """getMe, and the command lists by scope and language."""

    # Created in TelegramSandbox.__init__.
    _commands: dict[tuple[str, str], list[JSON]]

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The bot's command list for a scope (default scope when None) and language."""
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    def my_commands_in(self, user_id: int, language_code: str = "") -> list[JSON]:
        """The menu a person sees in their private chat with the bot: the first list set of
        chat(+language), chat, all_private_chats(+language), all_private_chats, default."""
        scopes: list[JSON] = [
            {"type": "chat", "chat_id": user_id},
            {"type": "all_private_chats"},
            {"type": "default"},
        ]
        for scope in scopes:
            for language in ([language_code] if language_code else []) + [""]:
                key = self._commands_key(scope, language)
                if key in self._commands:
                    return list(self._commands[key])
        return []

    # Bot API: the bot itself

    async def _get_me(self, params: JSON) -> JSON:
        return {
            **self._sender_json(self.bot_id),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _commands_key(scope: object, language_code: object) -> tuple[str, str]:
        scope_json = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope_json, sort_keys=True), str(language_code or "")

    def _check_scope(self, scope: object) -> None:
        if scope is None:
            return
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
            raise bad_request("can't parse BotCommandScope: Unsupported type specified")
        kind = scope["type"]
        if not kind.startswith("chat"):
            return
        chat_id = scope.get("chat_id")
        if not isinstance(chat_id, int) or chat_id == 0:
            raise bad_request("can't parse BotCommandScope: Empty chat_id specified")
        if chat_id in self._groups:
            return
        # check_chat: a person is a chat only once they have started the bot.
        if chat_id not in self._users or not self._may_write_privately(chat_id):
            raise bad_request("chat not found")
        if kind != "chat":
            raise bad_request("can't use specified scope in private chats")

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands", [])
        if not isinstance(commands, list):
            raise bad_request("expected an Array of BotCommand")
        if len(commands) > MAX_COMMANDS:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        cleaned = [_cleaned_command(command) for command in commands]
        scope = params.get("scope")
        self._check_scope(scope)
        self._commands[self._commands_key(scope, params.get("language_code"))] = cleaned
        return True

    async def _delete_my_commands(self, params: JSON) -> bool:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True


def _cleaned_command(command: object) -> JSON:
    if not isinstance(command, dict):
        raise bad_request("expected an Array of BotCommand")
    if "description" not in command:
        raise bad_request("can't parse BotCommand: Can't find field \"description\"")
    name = str(command.get("command", "")).strip().removeprefix("/")
    description = str(command["description"]).strip()
    if not name:
        raise bad_request("command must be non-empty")
    if len(name) > 32:
        raise bad_request("command length must not exceed 32")
    if not _BOT_COMMAND.fullmatch(name):
        raise bad_request("BOT_COMMAND_INVALID")
    if not description:
        raise bad_request("command description must be non-empty")
    if len(description) > 256:
        raise bad_request("command description length must not exceed 256")
    return {"command": name, "description": description}
