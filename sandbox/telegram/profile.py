"""The bot's own account: who it is (getMe), and its command menus (setMyCommands).

Telegram keeps one command list for each scope and language; a command is 1 to 32 lowercase
letters, digits and underscores, and its description 1 to 256 characters.
"""

from __future__ import annotations

import json
import re

from sandbox.telegram.chats import ChatsMixin
from sandbox.telegram.errors import bad_request
from sandbox.telegram.shapes import JSON

_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


class ProfileMixin(ChatsMixin):
    """getMe, and the command lists by scope and language."""

    # Created in TelegramSandbox.__init__.
    _commands: dict[tuple[str, str], list[JSON]]

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The bot's command list for a scope (default scope when None) and language."""
        return list(self._commands.get(self._commands_key(scope, language_code), []))

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

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND.fullmatch(
                str(command.get("command", ""))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = commands
        return True

    async def _delete_my_commands(self, params: JSON) -> bool:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True
