"""The coach's words to everyone: /post to the group (under the coach's name) and /broadcast
to every member privately. With several groups the coach chooses which; until then the post
waits here, and is gone once sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from coaching import threads
from coaching.threads import Messenger, NotDelivered
from core.models import EntryKind, Group, PendingPost
from practice.checkins import Said
from prompts.render import Templates


@dataclass(frozen=True)
class Posted:
    """Where the coach's post went, and (a broadcast) to how many members."""

    kind: str
    groups: list[str]
    members: int = 0
    failed: list[str] | None = None


def pending(
    kind: str, *, coach_id: int, text: str | None, source: Said, now: datetime
) -> PendingPost:
    """A post as the coach sent it: their words (`text`, from the command `source`), or the
    message `source` to copy (a voice note /post replied to)."""
    said = source
    return PendingPost(
        coach_id=coach_id,
        kind=kind,
        text=text,
        from_chat_id=said.chat_id,
        message_id=said.message_id,
        source_kind=str(said.kind),
        duration_seconds=said.duration_seconds,
        created_at=now,
    )


async def keep(session: AsyncSession, post: PendingPost) -> int:
    """Keep the post until the coach chooses the group; its id."""
    session.add(post)
    await session.flush()
    assert post.id is not None
    return post.id


async def take(session: AsyncSession, pending_id: int) -> PendingPost | None:
    """The waiting post (it is taken: a second press finds nothing)."""
    post = await session.get(PendingPost, pending_id)
    if post is not None:
        await session.delete(post)
    return post


async def send(
    session: AsyncSession,
    messenger: Messenger,
    templates: Templates,
    post: PendingPost,
    groups: Sequence[Group],
    *,
    speaker: str,
    now: datetime,
) -> Posted:
    """Send the post to these groups (a broadcast: to their members) and keep it as feedback."""
    said = Said(
        chat_id=post.from_chat_id,
        message_id=post.message_id,
        kind=EntryKind(post.source_kind),
        text=post.text,
        duration_seconds=post.duration_seconds,
    )
    titles = [group.title for group in groups]
    only = groups[0].id if len(groups) == 1 else None
    if post.kind == "broadcast":
        assert post.text is not None
        count = 0
        for group in groups:
            count += await threads.broadcast(
                session,
                templates,
                text=post.text,
                key=f"broadcast:{post.from_chat_id}:{post.message_id}",
                speaker=speaker,
                group_id=group.id,
                now=now,
            )
        return Posted("broadcast", titles, members=count)
    failed = []
    for group in groups:
        try:
            await threads.send_as_coach(
                messenger, templates, chat_id=group.chat_id, said=said, speaker=speaker
            )
        except NotDelivered:
            failed.append(group.title)
    await threads.record_reply(session, said, coach_id=post.coach_id, group_id=only, now=now)
    return Posted("post", [title for title in titles if title not in failed], failed=failed)
