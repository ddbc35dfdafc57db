"""Who the admins are, and telling them something (each in their own language).

``is_admin`` is the filter of every admin-only handler: the sender must be in ``ADMIN_IDS``
(``BotServices.admin_ids``). ``admin_only`` puts it on a whole router, together with
``in_private_chat``: admin screens show user cards, ledgers and statistics, so in a group
(where every member would read them) an admin's commands and buttons get the answers anyone
else gets. ``notify_admins`` is how any part of the bot alerts them (a circuit breaker that
tripped, KIE credits running low, a support request).
"""

import logging
from collections.abc import Callable, Iterable

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, InlineKeyboardMarkup, TelegramObject

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.texts import Language, language_for
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_telegram.context import Context

_log = logging.getLogger(__name__)

LocalText = Callable[[Language], str]
"""A text built for one language: ``lambda language: t(language, Msg.X, n=3)``."""


def is_admin(_: TelegramObject, ctx: Context | None = None) -> bool:
    """Filter: the sender is one of the admins (``ADMIN_IDS``)."""
    return ctx is not None and ctx.user.id in ctx.services.admin_ids


def in_private_chat(_: TelegramObject, event_chat: Chat | None = None) -> bool:
    """Filter: the update comes from a private chat with the bot (a button: its message's).

    A button of an inline message has no chat: it is not private either.
    """
    return event_chat is not None and event_chat.type == ChatType.PRIVATE


def admin_only(router: Router) -> Router:
    """``router``'s messages and buttons go to its handlers only from an admin in private.

    Anything else falls through to the routers after it, as from a user who is no admin.
    """
    for observer in (router.message, router.callback_query):
        observer.filter(in_private_chat, is_admin)
    return router


async def notify_admins(
    bot: Bot,
    store: UnitOfWorkFactory,
    admin_ids: Iterable[int],
    text: LocalText,
    *,
    markup: Callable[[Language], InlineKeyboardMarkup | None] | None = None,
) -> int:
    """Send every admin ``text`` (HTML, already escaped) in their own language.

    An admin who never talked to the bot gets the default language. A refusal (an admin who
    blocked the bot, an unknown chat) or a network failure is logged and skipped, so one
    admin cannot keep the others from hearing. Returns how many admins got it.
    """
    admins = sorted(set(admin_ids))
    async with store() as uow:
        users = {admin_id: await uow.users.get(UserId(admin_id)) for admin_id in admins}
    delivered = 0
    for admin_id in admins:
        user = users[admin_id]
        language = user.language if user is not None else language_for(None)
        try:
            await bot.send_message(
                admin_id,
                text(language),
                reply_markup=None if markup is None else markup(language),
            )
        except TelegramAPIError as error:
            _log.warning("admin %s not notified: %s", admin_id, error)
        else:
            delivered += 1
    return delivered
