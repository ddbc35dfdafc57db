"""Users: who is talking to kiebot and what they have agreed to."""

from datetime import datetime

import attrs

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.texts import Language


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
