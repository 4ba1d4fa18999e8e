"""Messages: what people and the bot send, and what the bot may do with them afterwards.

Telegram's rules for messages, as the sandbox keeps them: text of 1 to 4,096 characters and
captions of at most 1,024, counted in code points after formatting (which
sandbox.telegram.formatting parses) and after TDLib's fix_formatted_text trims the ends
(trailing whitespace, leading spaces and newlines), with at most 32,768 bytes of raw text
(Client.cpp get_formatted_text: "text is too long"); inline keyboards whose buttons each need
an action and at most 64 bytes of callback_data (buttons without text are dropped, as
ReplyMarkup.cpp does); replies, and copies and forwards that carry the content but not the
envelope; voice and video notes, refused to a person whose privacy settings forbid them
("VOICE_MESSAGES_FORBIDDEN", passed through from MTProto); files, which get a file_id when
first sent and can be sent again by it; edits, which must change something; deleting (for 48
hours, and in a group only the bot's own messages unless it has the right); pinning, which
writes a "pinned a message" service message the bot gets as an update (the one kind of its
own message a bot is sent); and the callback queries of button presses, each answered once.
Every send takes its slot under the flood limits first.
"""

from __future__ import annotations

import copy
import itertools
import mimetypes
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sandbox.telegram.api import (
    Upload,
    chat_id_param,
    flag,
    optional_int,
    optional_text,
    required_int,
)
from sandbox.telegram.chats import ChatsMixin
from sandbox.telegram.errors import ActionRefused, bad_request, too_many_requests
from sandbox.telegram.flood import FloodControl
from sandbox.telegram.formatting import (
    EntityParseError,
    UnsupportedParseMode,
    parse_formatted_text,
)
from sandbox.telegram.shapes import (
    JSON,
    StoredFile,
    callback_query_json,
    caption_content,
    command_entities,
    document_json,
    photo_json,
    text_content,
    unix_time,
    user_json,
    utf16_length,
    video_note_json,
    voice_json,
)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_RAW_TEXT_BYTES = 32768
MAX_CALLBACK_DATA_BYTES = 64
# Bots may delete messages for everyone only while they are younger than this.
DELETE_WINDOW = timedelta(hours=48)
# How long a button press can be answered. Telegram publishes no figure; its server answers
# QUERY_ID_INVALID, which Client.cpp turns into 400 "query is too old and response timeout
# expired or query ID is invalid", a few seconds after the press (bots report 5 to 20 s).
# Telegram still delivers the press for 150 s (queues.CALLBACK_QUERY_LIFETIME).
CALLBACK_ANSWER_WINDOW = timedelta(seconds=15)
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"

# Service messages the sandbox writes: people coming and going, pins, group upgrades.
SERVICE_KINDS = frozenset(
    {"new_chat_members", "left_chat_member", "pinned_message", "migrate_to_chat_id",
     "migrate_from_chat_id"}
)  # fmt: skip
# What a person's privacy settings may refuse (Premium: "who can send voice messages").
SPOKEN_KINDS = frozenset({"voice", "video_note"})
# Envelope fields of a message; everything else is its content, which copies carry over.
_ENVELOPE_FIELDS = frozenset(
    {"message_id", "from", "chat", "date", "edit_date", "reply_to_message", "reply_markup",
     "forward_origin", "sender_chat", "author_signature", "is_automatic_forward"}
)  # fmt: skip
_INLINE_BUTTON_ACTIONS = frozenset(
    {"url", "callback_data", "web_app", "login_url", "switch_inline_query",
     "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
     "callback_game", "pay"}
)  # fmt: skip
_FILE_ID_PREFIXES = {"document": "BQAC", "voice": "AwAC", "photo": "AgAC", "video_note": "DQAC"}
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


@dataclass
class ChatMessage:
    """A message as the people in the chat see it (kept up to date by edits and pins)."""

    chat_id: int
    message_id: int
    date: datetime
    sender_id: int
    kind: str  # "text", "voice", "video_note", "photo", "document", or a service kind
    text: str | None  # text or caption
    reply_markup: dict[str, Any] | None = None
    file_name: str | None = None
    pinned: bool = False
    # Sent with disable_notification: the Bot API doc's "users will receive a notification
    # with no sound".
    silent: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


def _mime_type(kind: str, file_name: str | None) -> str | None:
    """The MIME type Telegram reports: voices are OGG, documents go by their name."""
    if kind == "voice":
        return "audio/ogg"
    if kind == "document":
        return mimetypes.guess_type(file_name or "")[0] or "application/octet-stream"
    return None


def _file_name_from_url(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1] or "file"


class MessagesMixin(ChatsMixin):
    """Messages in the chats: people's, the bot's sends and edits, buttons, files."""

    # Created in TelegramSandbox.__init__.
    callback_answers: dict[str, JSON]
    _flood: FloodControl
    _messages: dict[int, list[ChatMessage]]
    _timeline: list[ChatMessage]
    _last_message_ids: dict[int, int]
    _files: dict[str, StoredFile]
    _file_numbers: itertools.count[int]
    _query_ids: itertools.count[int]
    _open_callback_queries: dict[str, datetime]  # query id → when it was pressed
    _refuses_voice: set[int]

    # What happened

    def messages(self, chat_id: int) -> list[ChatMessage]:
        """Everything in the chat, people's messages and the bot's, oldest first."""
        return list(self._messages.get(chat_id, []))

    def sent_by_bot(self, chat_id: int | None = None) -> list[ChatMessage]:
        """Messages the bot sent (in one chat, or everywhere), oldest first."""
        return [
            message
            for message in self._timeline
            if message.sender_id == self.bot_id
            and message.kind not in SERVICE_KINDS
            and (chat_id is None or message.chat_id == chat_id)
        ]

    def chats(self) -> list[int]:
        """Ids of the chats that hold any message, in order of their first message."""
        return [chat_id for chat_id, messages in self._messages.items() if messages]

    def refuse_voice_messages(self, user_id: int) -> None:
        """The person's privacy settings let nobody send them voice or video notes."""
        self.user(user_id)
        self._refuses_voice.add(user_id)

    # People act

    async def user_sends(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        text: str | None = None,
        voice_seconds: int | None = None,
        video_note_seconds: int | None = None,
        photo_caption: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """The person sends one message (pass exactly one kind; photo_caption="" for none)."""
        user = self.user(user_id)
        chat_id = user_id if chat_id is None else chat_id
        if chat_id == user_id:
            # Writing to the bot opens the chat, and unblocks it (Telegram's "Restart").
            self._open_private_chats.add(user_id)
            self._blocked_by.discard(user_id)
        else:
            self._require_person_in_group(user.id, chat_id)
        kind, content, shown_text = self._person_content(
            text, voice_seconds, video_note_seconds, photo_caption
        )
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = self._find_message(chat_id, reply_to_message_id)
            if reply_to is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
        message = self._store_message(
            chat_id, user_id, kind, content, text=shown_text, reply_to=reply_to
        )
        update = {"message": copy.deepcopy(message.raw)}
        if self._bot_sees_messages(chat_id):
            await self.deliver(update)
        return update

    async def user_edits(self, user_id: int, chat_id: int, message_id: int, text: str) -> JSON:
        """The person edits the text of a message of theirs."""
        message = self._find_message(chat_id, message_id)
        if message is None or message.sender_id != user_id or message.kind != "text":
            raise ValueError(f"user {user_id} has no text message {message_id} in {chat_id}")
        message.text = text
        message.raw["text"] = text
        message.raw.pop("entities", None)
        if entities := command_entities(text):
            message.raw["entities"] = entities
        message.raw["edit_date"] = unix_time(self._now())
        update = {"edited_message": copy.deepcopy(message.raw)}
        if self._bot_sees_messages(chat_id):
            await self.deliver(update)
        return update

    async def user_presses(self, user_id: int, message: ChatMessage, data: str) -> JSON:
        """The person presses the inline button with this callback_data on a bot message."""
        presser = self.user(user_id)
        current = self._find_message(message.chat_id, message.message_id)
        if current is None:
            raise ActionRefused(f"message {message.message_id} was deleted")
        if current.sender_id != self.bot_id:
            raise ValueError("only the bot's messages carry inline buttons")
        if not _has_callback_button(current.raw.get("reply_markup"), data):
            raise ActionRefused(f"no button with callback_data {data!r} on the message")
        if current.chat_id in self._groups:
            self._require_person_in_group(user_id, current.chat_id)
        elif current.chat_id != user_id:
            raise ActionRefused("a person only sees their own private chat")
        query_id = str(next(self._query_ids))
        self._open_callback_queries[query_id] = self._now()
        update = {
            "callback_query": callback_query_json(
                query_id=query_id,
                presser=user_json(presser),
                message=copy.deepcopy(current.raw),
                data=data,
            )
        }
        await self.deliver(update)
        return update

    # Messages

    def _person_content(
        self,
        text: str | None,
        voice_seconds: int | None,
        video_note_seconds: int | None,
        photo_caption: str | None,
    ) -> tuple[str, JSON, str | None]:
        """Kind, content fields and visible text of what a person sends."""
        given = [
            value is not None for value in (text, voice_seconds, video_note_seconds, photo_caption)
        ]
        if sum(given) != 1:
            raise ValueError("send exactly one of text, voice_seconds, video_note_seconds, photo")
        if text is not None:
            if not text.strip():
                raise ValueError("Telegram clients do not send empty messages")
            return "text", text_content(text, command_entities(text)), text
        if voice_seconds is not None:
            voice = self._store_file("voice", None, 2_000 * voice_seconds)
            return "voice", {"voice": voice_json(voice, voice_seconds)}, None
        if video_note_seconds is not None:
            note = self._store_file("video_note", None, 60_000 * video_note_seconds)
            return "video_note", {"video_note": video_note_json(note, video_note_seconds)}, None
        photo = self._store_file("photo", None, 120_000)
        caption = photo_caption or None
        return "photo", {"photo": photo_json(photo), **caption_content(caption, [])}, caption

    def _store_message(
        self,
        chat_id: int,
        sender_id: int,
        kind: str,
        content: JSON,
        *,
        text: str | None = None,
        file_name: str | None = None,
        reply_markup: JSON | None = None,
        reply_to: ChatMessage | None = None,
    ) -> ChatMessage:
        message_id = self._last_message_ids.get(chat_id, 0) + 1
        self._last_message_ids[chat_id] = message_id
        date = self._now()
        raw: JSON = {
            "message_id": message_id,
            "from": self._sender_json(sender_id),
            "chat": self._chat_json(chat_id),
            "date": unix_time(date),
            **content,
        }
        if reply_to is not None:
            # Telegram nests replies one level deep only.
            raw["reply_to_message"] = {
                key: copy.deepcopy(value)
                for key, value in reply_to.raw.items()
                if key != "reply_to_message"
            }
        message = ChatMessage(
            chat_id, message_id, date, sender_id, kind, text, file_name=file_name
        )
        message.raw = raw
        _set_markup(message, reply_markup)
        self._messages.setdefault(chat_id, []).append(message)
        self._timeline.append(message)
        return message

    def _find_message(self, chat_id: int, message_id: int | None) -> ChatMessage | None:
        return next(
            (m for m in self._messages.get(chat_id, []) if m.message_id == message_id), None
        )

    def _remove_message(self, message: ChatMessage) -> None:
        self._messages[message.chat_id].remove(message)
        self._timeline.remove(message)

    def _store_file(self, kind: str, file_name: str | None, size: int) -> StoredFile:
        number = next(self._file_numbers)
        file = StoredFile(
            file_id=f"{_FILE_ID_PREFIXES[kind]}{number:04d}{secrets.token_urlsafe(12)}",
            file_unique_id=f"AQAD{number:04d}",
            file_size=size,
            file_name=file_name,
            mime_type=_mime_type(kind, file_name),
        )
        self._files[file.file_id] = file
        return file

    # Bot API: sending

    def _formatted(
        self, text: str, parse_mode: object, explicit_entities: object
    ) -> tuple[str, list[JSON]]:
        """Plain text and entities, trimmed as TDLib's fix_formatted_text trims them."""
        if len(text.encode()) > MAX_RAW_TEXT_BYTES:
            raise bad_request("text is too long")
        mode = str(parse_mode).lower() if isinstance(parse_mode, str) else ""
        if mode not in {"", "none"}:
            try:
                return _trimmed(*parse_formatted_text(text, mode))
            except EntityParseError as error:
                raise bad_request(f"can't parse entities: {error}") from error
            except UnsupportedParseMode as error:
                raise bad_request("unsupported parse_mode") from error
        if isinstance(explicit_entities, list):
            return _trimmed(text, explicit_entities)
        return _trimmed(text, [])

    def _message_text(self, params: JSON) -> tuple[str, list[JSON]]:
        raw_text = optional_text(params, "text")
        if not raw_text:  # Client.cpp get_input_message_text
            raise bad_request("message text is empty")
        text, entities = self._formatted(
            raw_text, params.get("parse_mode"), params.get("entities")
        )
        if not text:  # "   " or "<b></b>": nothing left after trimming
            raise bad_request("text must be non-empty")
        if len(text) > MAX_TEXT_LENGTH:  # utf8_length: code points, as Python counts
            raise bad_request("message is too long")
        return text, entities

    def _caption(self, params: JSON) -> tuple[str | None, JSON]:
        raw_caption = optional_text(params, "caption")
        if not raw_caption:
            return None, {}
        caption, entities = self._formatted(
            raw_caption, params.get("parse_mode"), params.get("caption_entities")
        )
        if len(caption) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        return caption or None, caption_content(caption, entities)

    def _refuse_spoken_to(self, chat_id: int, kind: str) -> None:
        if kind in SPOKEN_KINDS and chat_id in self._refuses_voice:
            raise bad_request("VOICE_MESSAGES_FORBIDDEN")

    def _reply_target(self, chat_id: int, params: JSON) -> ChatMessage | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = optional_int(reply, "message_id")
            allow_missing = flag(reply, "allow_sending_without_reply")
        else:
            message_id = optional_int(params, "reply_to_message_id")
            allow_missing = flag(params, "allow_sending_without_reply")
        if message_id is None:
            return None
        target = self._find_message(chat_id, message_id)
        if target is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return target

    def _bot_posts(
        self,
        chat_id: int,
        kind: str,
        content: JSON,
        params: JSON,
        *,
        text: str | None,
        file_name: str | None = None,
    ) -> ChatMessage:
        """The last steps of every send: check the extras, take a flood slot, store."""
        markup = _validated_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat_id, params)
        retry_after = self._flood.take(chat_id)
        if retry_after is not None:
            raise too_many_requests(retry_after)
        message = self._store_message(
            chat_id,
            self.bot_id,
            kind,
            content,
            text=text,
            file_name=file_name,
            reply_markup=markup,
            reply_to=reply_to,
        )
        message.silent = flag(params, "disable_notification")
        return message

    def _input_file(self, params: JSON, field_name: str) -> StoredFile:
        """The file a send* call names: an upload, a known file_id, or a URL."""
        value = params.get(field_name)
        if isinstance(value, Upload):
            if not value.data:
                raise bad_request("file must be non-empty")
            return self._store_file(field_name, value.file_name, len(value.data))
        if isinstance(value, str) and value:
            if value in self._files:
                return self._files[value]
            if value.startswith(("http://", "https://")):
                return self._store_file(field_name, _file_name_from_url(value), 0)
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {field_name} in the request")

    async def _send_message(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        text, entities = self._message_text(params)
        content = text_content(text, entities)
        if isinstance(params.get("link_preview_options"), dict):
            content["link_preview_options"] = params["link_preview_options"]
        return self._bot_posts(chat_id, "text", content, params, text=text).raw

    async def _send_voice(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        self._refuse_spoken_to(chat_id, "voice")
        voice = self._input_file(params, "voice")
        caption, caption_fields = self._caption(params)
        duration = optional_int(params, "duration") or 1
        content = {"voice": voice_json(voice, duration), **caption_fields}
        return self._bot_posts(chat_id, "voice", content, params, text=caption).raw

    async def _send_document(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        document = self._input_file(params, "document")
        caption, caption_fields = self._caption(params)
        content = {"document": document_json(document), **caption_fields}
        return self._bot_posts(
            chat_id, "document", content, params, text=caption, file_name=document.file_name
        ).raw

    async def _send_photo(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        photo = self._input_file(params, "photo")
        caption, caption_fields = self._caption(params)
        content = {"photo": photo_json(photo), **caption_fields}
        return self._bot_posts(chat_id, "photo", content, params, text=caption).raw

    def _source_message(self, params: JSON, verb: str) -> ChatMessage:
        if params.get("from_chat_id") in (None, ""):
            raise bad_request('parameter "from_chat_id" is required')
        from_chat_id = chat_id_param(params, "from_chat_id")
        self._require_chat_access(from_chat_id, write=False)
        source = self._find_message(from_chat_id, required_int(params, "message_id"))
        if source is None:
            raise bad_request(f"message to {verb} not found")
        if source.kind in SERVICE_KINDS:
            done = "copied" if verb == "copy" else "forwarded"
            raise bad_request(f"the message can't be {done}")
        return source

    async def _copy_message(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        source = self._source_message(params, "copy")
        self._refuse_spoken_to(chat_id, source.kind)
        content = _content_of(source)
        text = source.text
        if source.kind != "text" and "caption" in params:
            for caption_field in ("caption", "caption_entities"):
                content.pop(caption_field, None)
            text, caption_fields = self._caption(params)
            content.update(caption_fields)
        message = self._bot_posts(
            chat_id,
            source.kind,
            content,
            params,
            text=text,
            file_name=source.file_name,
        )
        return {"message_id": message.message_id}

    async def _forward_message(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        source = self._source_message(params, "forward")
        self._refuse_spoken_to(chat_id, source.kind)
        content = _content_of(source)
        content["forward_origin"] = source.raw.get("forward_origin") or {
            "type": "user",
            "sender_user": source.raw["from"],
            "date": source.raw["date"],
        }
        forward_params = {key: value for key, value in params.items() if key != "reply_markup"}
        return self._bot_posts(
            chat_id,
            source.kind,
            content,
            forward_params,
            text=source.text,
            file_name=source.file_name,
        ).raw

    # Bot API: changing messages

    def _bot_message_to_edit(self, params: JSON) -> ChatMessage:
        if params.get("inline_message_id"):
            raise bad_request("message to edit not found")  # inline mode is not simulated
        chat_id = chat_id_param(params)
        self._require_chat_access(chat_id)
        message = self._find_message(chat_id, required_int(params, "message_id"))
        if message is None:
            raise bad_request("message to edit not found")
        if message.sender_id != self.bot_id:
            raise bad_request("message can't be edited")
        return message

    async def _edit_message_text(self, params: JSON) -> JSON:
        message = self._bot_message_to_edit(params)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        text, entities = self._message_text(params)
        # Telegram drops the inline keyboard when an edit does not repeat it.
        markup = _validated_inline_markup(params.get("reply_markup"))
        unchanged = (
            text == message.text
            and entities == message.raw.get("entities", [])
            and markup == message.raw.get("reply_markup")
        )
        if unchanged:
            raise bad_request(_NOT_MODIFIED)
        message.text = text
        message.raw.update(text_content(text, entities))
        if not entities:
            message.raw.pop("entities", None)
        _set_markup(message, markup)
        message.raw["edit_date"] = unix_time(self._now())
        return message.raw

    async def _edit_message_reply_markup(self, params: JSON) -> JSON:
        message = self._bot_message_to_edit(params)
        markup = _validated_inline_markup(params.get("reply_markup"))
        if markup == message.raw.get("reply_markup"):
            raise bad_request(_NOT_MODIFIED)
        _set_markup(message, markup)
        message.raw["edit_date"] = unix_time(self._now())
        return message.raw

    async def _delete_message(self, params: JSON) -> bool:
        chat_id = chat_id_param(params)
        self._require_chat_access(chat_id)
        message = self._find_message(chat_id, required_int(params, "message_id"))
        if message is None:
            raise bad_request("message to delete not found")
        refusal = self._deletion_refusal(message)
        if refusal is not None:
            raise bad_request(refusal)
        self._remove_message(message)
        return True

    def _deletion_refusal(self, message: ChatMessage) -> str | None:
        """Why the bot may not delete this message (None: it may)."""
        group = self._groups.get(message.chat_id)
        if group is not None and self._bot_has_right(group, "can_delete_messages"):
            return None
        if group is not None and message.sender_id != self.bot_id:
            return "message can't be deleted"
        if self._now() - message.date >= DELETE_WINDOW:
            return "message can't be deleted for everyone"
        return None

    async def _answer_callback_query(self, params: JSON) -> bool:
        query_id = optional_text(params, "callback_query_id") or ""
        pressed_at = self._open_callback_queries.pop(query_id, None)
        if pressed_at is None or self._now() - pressed_at > CALLBACK_ANSWER_WINDOW:
            raise bad_request(_QUERY_TOO_OLD)
        self.callback_answers[query_id] = {
            key: params[key]
            for key in ("text", "show_alert", "url", "cache_time")
            if key in params
        }
        return True

    async def _pin_chat_message(self, params: JSON) -> bool:
        chat_id = self._pinning_chat(params)
        message = self._find_message(chat_id, required_int(params, "message_id"))
        if message is None or message.kind in SERVICE_KINDS:
            raise bad_request("message to pin not found")
        message.pinned = True
        # Client.cpp need_skip_update_message lets messagePinMessage through: the bot is told
        # about its own pin, as a service message from itself.
        pinned = {key: copy.deepcopy(value) for key, value in message.raw.items()}
        pinned.pop("reply_to_message", None)
        notice = self._store_message(
            chat_id, self.bot_id, "pinned_message", {"pinned_message": pinned}
        )
        if self._bot_sees_messages(chat_id):
            await self._emit({"message": copy.deepcopy(notice.raw)})
        return True

    async def _unpin_chat_message(self, params: JSON) -> bool:
        chat_id = self._pinning_chat(params)
        message_id = optional_int(params, "message_id")
        if message_id is None:  # no message_id: the most recently pinned one
            pinned = [message for message in self._messages.get(chat_id, []) if message.pinned]
            message = pinned[-1] if pinned else None
        else:
            message = self._find_message(chat_id, message_id)
            if message is None:
                raise bad_request("message to unpin not found")
        if message is not None:
            message.pinned = False
        return True

    def _pinning_chat(self, params: JSON) -> int:
        """The chat_id parameter, once sure the bot may pin there."""
        chat_id = chat_id_param(params)
        self._require_chat_access(chat_id)
        if chat_id in self._groups:
            self._require_bot_right(
                self._groups[chat_id],
                "can_pin_messages",
                "not enough rights to manage pinned messages in the chat",
            )
        return chat_id


def _trimmed(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """TDLib fix_formatted_text: trailing whitespace goes, and leading spaces and newlines
    up to the first entity; the entities move with the text."""
    first_entity = min((int(entity["offset"]) for entity in entities), default=len(text))
    lead = 0
    while lead < min(len(text), first_entity) and text[lead] in " \n":
        lead += 1
    kept = text[lead:].rstrip()
    end = utf16_length(kept)
    fixed = []
    for entity in entities:
        offset = int(entity["offset"]) - lead
        length = min(offset + int(entity["length"]), end) - offset
        if length > 0:
            fixed.append({**entity, "offset": offset, "length": length})
    return kept, fixed


def _content_of(message: ChatMessage) -> JSON:
    """What a copy or forward carries over: the message without its envelope."""
    return {
        key: copy.deepcopy(value)
        for key, value in message.raw.items()
        if key not in _ENVELOPE_FIELDS
    }


# Reply markup


def _set_markup(message: ChatMessage, markup: JSON | None) -> None:
    """Show a keyboard on a message; only inline keyboards are part of the Message object."""
    message.reply_markup = markup
    if markup is not None and "inline_keyboard" in markup:
        message.raw["reply_markup"] = markup
    else:
        message.raw.pop("reply_markup", None)


def _validated_markup(markup: object) -> JSON | None:
    if markup is None:
        return None
    if isinstance(markup, str):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if not isinstance(markup, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" in markup:
        markup = {**markup, "inline_keyboard": _valid_inline_keyboard(markup["inline_keyboard"])}
    return markup


def _validated_inline_markup(markup: object) -> JSON | None:
    validated = _validated_markup(markup)
    if validated is not None and "inline_keyboard" not in validated:
        raise bad_request("inline keyboard expected")
    return validated


def _valid_inline_keyboard(rows: object) -> list[list[JSON]]:
    """The keyboard as Telegram keeps it (Client.cpp get_inline_keyboard_button and TDLib
    ReplyMarkup.cpp): buttons without text dropped, at most 12 a row and 300 in all."""
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    kept: list[list[JSON]] = []
    total = 0
    for row in rows:
        kept_row: list[JSON] = []
        for button in row:
            if not isinstance(button, dict):
                raise bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            # An empty callback_data counts as none (get_inline_keyboard_button_type).
            actions = {key for key in _INLINE_BUTTON_ACTIONS & button.keys() if button[key] != ""}
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data and len(str(data).encode()) > MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
                raise bad_request("BUTTON_URL_INVALID")
            if str(button.get("text", "")).strip() and len(kept_row) < 12 and total < 300:
                kept_row.append(button)
                total += 1
        if kept_row:
            kept.append(kept_row)
    return kept


def _has_callback_button(markup: object, data: str) -> bool:
    if not isinstance(markup, dict):
        return False
    rows = markup.get("inline_keyboard") or []
    return any(
        isinstance(button, dict) and button.get("callback_data") == data
        for button in itertools.chain.from_iterable(rows)
    )
