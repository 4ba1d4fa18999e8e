"""What the bot needs in a group, and group settings a coach can get wrong."""

import pytest

from core.groups import BotRights, GroupError, check_timezone, missing_rights


@pytest.mark.parametrize(
    ("rights", "missing"),
    [
        (BotRights(is_admin=False), ["Administrator", "Invite users via link", "Ban users"]),
        (BotRights(True, can_invite_users=True), ["Ban users"]),
        (BotRights(True, can_restrict_members=True), ["Invite users via link"]),
        (BotRights(True, True, True), []),
    ],
)
def test_missing_rights(rights: BotRights, missing: list[str]) -> None:
    assert missing_rights(rights) == missing


def test_time_zones_are_checked() -> None:
    assert check_timezone("Europe/London") == "Europe/London"
    with pytest.raises(GroupError, match="unknown time zone 'Mars/Olympus'"):
        check_timezone("Mars/Olympus")
