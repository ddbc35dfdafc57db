"""Users: who is talking to kiebot and what they have agreed to."""

import re
from datetime import UTC, datetime

import attrs

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.texts import Language

_USERNAME = re.compile(r"^[A-Za-z0-9_]{3,32}$")
_MAX_ID_DIGITS = 19
"""A Telegram user id fits a signed 64-bit integer."""


@attrs.frozen(kw_only=True)
class User:
    """A Telegram user (or the CLI's local user)."""

    id: UserId
    language: Language
    created_at: datetime
    referrer_id: UserId | None = None
    is_admin: bool = False
    is_banned: bool = False
    terms_version: int | None = None
    """The terms version the user accepted; None until they accept any."""
    username: str | None = None
    """The Telegram @username (without ``@``) as last seen; None when they have none."""
    last_seen_at: datetime | None = None
    """The first contact of the last UTC day the user was seen (None: never since recorded)."""
    ban_notice_sent: bool = False
    """True once a banned user was told they are banned (they are told once, then ignored)."""

    def seen(self, at: datetime, username: str | None) -> "User | None":
        """The user after a contact at ``at`` as ``username``; None when nothing changes.

        ``last_seen_at`` moves once per UTC day (so a busy user costs one write a day), the
        username whenever Telegram reports another one.
        """
        username = username or None
        same_day = (
            self.last_seen_at is not None
            and self.last_seen_at.astimezone(UTC).date() == at.astimezone(UTC).date()
        )
        if same_day and self.username == username:
            return None
        return attrs.evolve(
            self, username=username, last_seen_at=self.last_seen_at if same_day else at
        )


def user_id_query(text: str) -> UserId | None:
    """The user id an operator typed (ASCII digits, 64-bit at most); None if not one."""
    digits = text.strip()
    if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_ID_DIGITS:
        return UserId(int(digits))
    return None


def username_query(text: str) -> str | None:
    """The username an operator typed (``@Name`` or ``Name``), lower-cased; None if not one."""
    name = text.strip().removeprefix("@")
    return name.lower() if _USERNAME.match(name) else None
