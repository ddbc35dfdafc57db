"""Assembling the Telegram side: the bot's session, the dispatcher, the command menu."""

from collections.abc import Sequence
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand

from kiebot_core.domain.texts import Language
from kiebot_telegram.middlewares import (
    CorrelationMiddleware,
    FastPathFSMContextMiddleware,
    NoSilenceMiddleware,
    RateLimitMiddleware,
    UserMiddleware,
    install_session_middlewares,
)
from kiebot_telegram.routers import (
    admin,
    broadcasts,
    catalog,
    debug,
    errors,
    fallback,
    favorites,
    generation,
    history,
    payments,
    privacy,
    promotions,
    start,
    wizard,
)
from kiebot_telegram.services import BotServices
from kiebot_telegram.storage import ConversationStorage
from kiebot_telegram.telemetry import UpdateEventMiddleware
from kiebot_telegram.texts import Msg, t

COMMANDS = (
    ("start", Msg.CMD_START),
    ("help", Msg.CMD_HELP),
    ("balance", Msg.CMD_BALANCE),
    ("history", Msg.CMD_HISTORY),
    ("settings", Msg.CMD_SETTINGS),
    ("cancel", Msg.CMD_CANCEL),
    ("terms", Msg.CMD_TERMS),
    ("paysupport", Msg.CMD_PAYSUPPORT),
    ("promo", Msg.CMD_PROMO),
    ("referral", Msg.CMD_REFERRAL),
    ("privacy", Msg.CMD_PRIVACY),
)


_CALLED_METHODS: tuple[type[methods.TelegramMethod[Any]], ...] = (
    methods.GetUpdates,
    methods.GetMe,
    methods.GetFile,
    methods.SendMessage,
    methods.EditMessageText,
    methods.EditMessageReplyMarkup,
    methods.EditMessageCaption,
    methods.DeleteMessage,
    methods.AnswerCallbackQuery,
    methods.SendChatAction,
    methods.SendPhoto,
    methods.SendVideo,
    methods.SendAudio,
    methods.SendDocument,
    methods.SendInvoice,
    methods.AnswerPreCheckoutQuery,
    methods.RefundStarPayment,
    methods.SetMyCommands,
    methods.DeleteWebhook,
)
_PINNED_RESPONSES: list[object] = []


def _pin_response_models() -> None:
    """Keep aiogram's per-method response models alive.

    aiogram validates every Bot API answer with ``Response[<return type>]``; pydantic caches
    such generic models only weakly, so without a reference each one is built again (about
    10 ms) every time the garbage collector drops it. Measured: a quarter of the bot's CPU.
    """
    if not _PINNED_RESPONSES:
        response: Any = methods.Response
        _PINNED_RESPONSES.extend(response[m.__returning__] for m in _CALLED_METHODS)


def make_bot(token: str, api_base: str | None = None, *, timeout_s: float = 60.0) -> Bot:
    """A Bot talking to ``api_base`` (any Bot API server; the public one by default).

    It sends HTML, without link previews, and honours ``retry_after``. Raises
    ``aiogram.utils.token.TokenValidationError`` for a malformed token.
    """
    _pin_response_models()
    server = TelegramAPIServer.from_base(api_base) if api_base else PRODUCTION
    session = AiohttpSession(api=server, timeout=timeout_s)
    bot = Bot(
        token,
        session=session,
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML,
            link_preview_is_disabled=True,
        ),
    )
    install_session_middlewares(bot)
    return bot


def build_dispatcher(
    services: BotServices,
    *,
    storage: BaseStorage | None = None,
    isolation: BaseEventIsolation | None = None,
    outermost: Sequence[BaseMiddleware] = (),
) -> Dispatcher:
    """The dispatcher with every router and middleware; handlers get ``services`` by name.

    ``outermost`` update middlewares run before kiebot's own (the shell's metrics).

    FSM state goes to ``storage`` (by default the conversations of ``services.store``, so it
    survives restarts). With ``services.limiter``, each user's updates are rate-limited first
    (payments never are). Updates of one chat are handled one at a time (``isolation``), except
    ``pre_checkout_query``: it takes the fast path, with neither the chat's lock and state nor
    the user's registration, so it is answered within Telegram's deadline.
    """
    fsm = FastPathFSMContextMiddleware(
        storage=storage or ConversationStorage(services.store),
        events_isolation=isolation or SimpleEventIsolation(),
    )
    dispatcher = Dispatcher(
        storage=fsm.storage, events_isolation=fsm.events_isolation, disable_fsm=True
    )
    dispatcher.fsm = fsm
    for middleware in outermost:
        dispatcher.update.outer_middleware(middleware)
    if services.limiter is not None:
        # Before the FSM: an update over the limit takes neither the chat's lock nor its state.
        dispatcher.update.outer_middleware(RateLimitMiddleware(services))
    dispatcher.update.outer_middleware(fsm)
    dispatcher["services"] = services
    dispatcher.update.outer_middleware(CorrelationMiddleware(services))
    dispatcher.update.outer_middleware(UpdateEventMiddleware(services))
    dispatcher.update.outer_middleware(NoSilenceMiddleware())
    dispatcher.update.outer_middleware(UserMiddleware(services))
    # Order matters: every command (history's too) is matched before a wizard step takes
    # free text as its answer, and the fallback router answers whatever is left.
    dispatcher.include_routers(
        *(
            module.make_router()
            for module in (
                errors,
                admin,
                broadcasts,
                payments,
                promotions,
                history,
                debug,
                privacy,
                start,
                catalog,
                wizard,
                generation,
                favorites,
                fallback,
            )
        )
    )
    return dispatcher


async def set_commands(bot: Bot) -> None:
    """The command menu in every language (English is the default for other languages)."""
    for language in Language:
        commands = [
            BotCommand(command=name, description=t(language, key)) for name, key in COMMANDS
        ]
        code = None if language is Language.EN else language.value
        await bot.set_my_commands(commands, language_code=code)
