"""The per-update context handlers receive as ``ctx``: who is talking, and with what."""

import attrs
from aiogram import Bot
from aiogram.fsm.context import FSMContext

from kiebot_core.domain.ids import CorrelationId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User
from kiebot_telegram.services import BotServices


@attrs.frozen(kw_only=True)
class Context:
    """One update's bot, services, sender, conversation state and correlation id."""

    bot: Bot
    services: BotServices
    user: User
    fsm: FSMContext
    correlation_id: CorrelationId
    is_new_user: bool = False
    referral_refused: Rejected | None = None
    """Why the invitation link this new user came through was not counted, if it was not."""
    welcome_granted: int = 0
    """The welcome gift given on this contact (none for a person who deleted their data)."""

    @property
    def language(self) -> Language:
        """The sender's language."""
        return self.user.language
