"""Mini Apps: the menu button a bot sets per private chat (setChatMenuButton), and what a
Telegram app does when a person taps it: it opens the web app's https URL with signed launch
data (initData) in the URL's fragment, where Telegram's telegram-web-app.js reads it.

Sources: the Bot API server's `process_set_chat_menu_button_query` and `get_bot_menu_button`
(tdlib/telegram-bot-api, Client.cpp) read `chat_id` as a user id ("invalid chat_id specified"
for anything not positive) and parse the button; TDLib's `BotMenuButton.cpp` checks the URL
with `LinkManager::check_link(url, http_only=true, https_only=true)` outside the test DC, so a
plain http URL is refused with "Only HTTPS links are allowed" and a host without a dot with
"Wrong HTTP URL". The launch data is signed as core.telegram.org/bots/webapps ("Validating data
received via the Mini App") says: hash = HMAC-SHA256 over the sorted `key=value` lines of every
other field (`signature` included), keyed with HMAC-SHA256("WebAppData", bot token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from urllib.parse import quote, urlencode, urlsplit

from sandbox.telegram.api import optional_int
from sandbox.telegram.chats import ChatsMixin
from sandbox.telegram.errors import ActionRefused, bad_request
from sandbox.telegram.shapes import JSON, unix_time, user_json

# What a Telegram app passes in the fragment besides the data (the Bot API version it speaks).
WEB_APP_VERSION = "9.1"
LIGHT_THEME = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#707579",
    "link_color": "#3390ec",
    "button_color": "#3390ec",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#f4f4f5",
    "section_bg_color": "#ffffff",
}


def sign_init_data(token: str, fields: dict[str, str]) -> str:
    """The fields as the query string a Telegram app hands a Mini App, `hash` appended."""
    check_string = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check_string.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest}, quote_via=quote)


class MiniAppMixin(ChatsMixin):
    """setChatMenuButton / getChatMenuButton, and a person opening the Mini App."""

    # Created in TelegramSandbox.__init__.
    token: str
    _menu_buttons: dict[int | None, JSON]  # private chat id (None: the default) → button

    def menu_button(self, user_id: int | None = None) -> JSON:
        """The menu button a person sees in their chat with the bot."""
        return (
            self._menu_buttons.get(user_id) or self._menu_buttons.get(None) or {"type": "commands"}
        )

    def open_menu_button(self, user_id: int) -> str:
        """The person taps the bot's menu button: the Mini App's launch URL, as their
        Telegram app opens it."""
        button = self.menu_button(user_id)
        if button.get("type") != "web_app":
            raise ActionRefused(f"user {user_id}'s menu button opens no Mini App: {button}")
        return self.mini_app_launch_url(user_id, str(button["web_app"]["url"]))

    def mini_app_launch_url(self, user_id: int, url: str, *, auth_date: int | None = None) -> str:
        """`url` opened as a Mini App by this person: their signed data in the fragment."""
        data = self.mini_app_init_data(user_id, auth_date=auth_date)
        fragment = urlencode(
            {
                "tgWebAppData": data,
                "tgWebAppVersion": WEB_APP_VERSION,
                "tgWebAppPlatform": "web",
                "tgWebAppThemeParams": json.dumps(LIGHT_THEME, separators=(",", ":")),
            },
            quote_via=quote,
        )
        return f"{url}#{fragment}"

    def mini_app_init_data(self, user_id: int, *, auth_date: int | None = None) -> str:
        """Telegram.WebApp.initData for this person, signed with the bot's token."""
        user = {**user_json(self.user(user_id)), "allows_write_to_pm": True}
        user.pop("is_bot", None)
        user["photo_url"] = f"https://t.me/i/userpic/320/{user_id}.svg"
        # Telegram writes the user as compact JSON with "/" escaped; the hash is over that text.
        user_text = json.dumps(user, separators=(",", ":"), ensure_ascii=False)
        fields = {
            "query_id": "AAH" + secrets.token_urlsafe(16),
            "user": user_text.replace("/", "\\/"),
            "auth_date": str(auth_date if auth_date is not None else unix_time(self._now())),
            # The Ed25519 signature for third parties (a stand-in value: no key here); the
            # bot-token hash covers it like any other field.
            "signature": base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("="),
        }
        return sign_init_data(self.token, fields)

    # Bot API

    async def _set_chat_menu_button(self, params: JSON) -> bool:
        chat_id = optional_int(params, "chat_id")
        if chat_id is not None:
            if chat_id <= 0:
                raise bad_request("invalid chat_id specified")
            if chat_id not in self._users:
                raise bad_request("user not found")
        button = _parse_menu_button(params.get("menu_button"))
        if button["type"] == "default":
            self._menu_buttons.pop(chat_id, None)
        else:
            self._menu_buttons[chat_id] = button
        return True

    async def _get_chat_menu_button(self, params: JSON) -> JSON:
        chat_id = optional_int(params, "chat_id")
        if chat_id is not None and chat_id <= 0:
            raise bad_request("invalid chat_id specified")
        return self.menu_button(chat_id)


_DEFAULT: JSON = {"type": "default"}


def _parse_menu_button(value: object) -> JSON:
    if value is None or value == "":
        return _DEFAULT
    if not isinstance(value, dict):
        raise bad_request("can't parse menu button: MenuButton must be an Object")
    kind = value.get("type")
    if kind in ("commands", "default"):
        return {"type": kind}
    if kind != "web_app":
        raise bad_request("can't parse menu button: MenuButton has unsupported type")
    for name in ("text", "web_app"):
        if name not in value:
            raise bad_request(f"can't parse menu button: Can't find field \"{name}\"")
    web_app = value["web_app"]
    if not isinstance(web_app, dict) or "url" not in web_app:
        raise bad_request("can't parse menu button: Can't find field \"url\"")
    url = str(web_app["url"])
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise bad_request(
            f"menu button Web App URL '{url}' is invalid: Only HTTPS links are allowed"
        )
    if "." not in (parts.hostname or ""):
        raise bad_request(f"menu button Web App URL '{url}' is invalid: Wrong HTTP URL")
    return {"type": "web_app", "text": str(value["text"]), "web_app": {"url": url}}


# What https://telegram.org/js/telegram-web-app.js does for a page, as far as the dashboard
# uses it: read the launch parameters from the URL's fragment (keeping them for the pages that
# follow, in sessionStorage, as the real script does), expose Telegram.WebApp.initData and the
# theme, and set the theme's CSS variables on the document. A browser test serves this in the
# real script's place, so the page runs as in Telegram without reaching telegram.org.
TELEGRAM_WEB_APP_JS = r"""
(function () {
  var params = {};
  var hash = window.location.hash.replace(/^#/, "");
  hash.split("&").forEach(function (pair) {
    var at = pair.indexOf("=");
    if (at > 0) {
      params[decodeURIComponent(pair.slice(0, at))] = decodeURIComponent(pair.slice(at + 1));
    }
  });
  try {
    var kept = "__telegram__initParams";
    if (params.tgWebAppData) sessionStorage.setItem(kept, JSON.stringify(params));
    else params = JSON.parse(sessionStorage.getItem(kept) || "{}");
  } catch (e) {}
  var theme = {};
  try { theme = JSON.parse(params.tgWebAppThemeParams || "{}"); } catch (e) {}
  var root = document.documentElement;
  Object.keys(theme).forEach(function (key) {
    root.style.setProperty("--tg-theme-" + key.replace(/_/g, "-"), theme[key]);
  });
  var unsafe = {};
  (params.tgWebAppData || "").split("&").forEach(function (pair) {
    var at = pair.indexOf("=");
    if (at > 0) unsafe[pair.slice(0, at)] = decodeURIComponent(pair.slice(at + 1));
  });
  window.Telegram = { WebApp: {
    initData: params.tgWebAppData || "",
    initDataUnsafe: unsafe,
    version: params.tgWebAppVersion || "6.0",
    platform: params.tgWebAppPlatform || "unknown",
    themeParams: theme,
    colorScheme: "light",
    isExpanded: false,
    readyCalled: false,
    ready: function () { this.readyCalled = true; },
    expand: function () { this.isExpanded = true; },
    close: function () {}
  } };
})();
"""
