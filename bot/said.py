"""What a Telegram message says, as the services keep it (a check-in, a coach's reply)."""

from __future__ import annotations

from dataclasses import replace

from aiogram.types import Message

from core.models import EntryKind
from practice.checkins import Said

WIN_TAG = "#win"


def said(message: Message) -> Said | None:
    """The message as a check-in; None for what isn't one (stickers, bare photos)."""
    kind = _kind(message)
    if kind is None:
        return None
    return Said(
        chat_id=message.chat.id,
        message_id=message.message_id,
        kind=kind,
        text=message.text or message.caption,
        file_id=_file_id(message),
        duration_seconds=_duration(message),
    )


def _kind(message: Message) -> EntryKind | None:
    if message.voice:
        return EntryKind.VOICE
    if message.video_note:
        return EntryKind.VIDEO_NOTE
    if message.photo and message.caption:
        return EntryKind.PHOTO
    if message.text:
        return EntryKind.WIN if WIN_TAG in message.text.lower() else EntryKind.TEXT
    return None


def _file_id(message: Message) -> str | None:
    if message.voice:
        return message.voice.file_id
    if message.video_note:
        return message.video_note.file_id
    return message.photo[-1].file_id if message.photo else None


def _duration(message: Message) -> int | None:
    if message.voice:
        return message.voice.duration
    return message.video_note.duration if message.video_note else None


def coach_said(message: Message) -> Said:
    """What the coach said: anything the coach sends counts (a photo without words too), with
    its formatting, so a labelled copy keeps the coach's bold and links."""
    found = said(message) or Said(
        chat_id=message.chat.id, message_id=message.message_id, kind=EntryKind.TEXT
    )
    html = message.html_text if (message.text or message.caption) else None
    return replace(found, html=html)
