"""What several routers share: the conversation states, the stored wizard session, the menu.

The FSM state names (``Flow:wizard``, ``Flow:search``, ``Flow:promo``) and the data keys below
are stored in the database: they are a contract, renamed only with a migration of stored
conversations.
"""

import secrets
from typing import Any

import attrs
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from kiebot_core.domain import wizard
from kiebot_core.domain.catalog import ModelSpec, Registry
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import cheaper_alternative
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.wizard import AskScreen, WizardState
from kiebot_telegram.callbacks import CONFIRM_STEP, ListKind, input_ref
from kiebot_telegram.context import Context
from kiebot_telegram.messaging import show, toast
from kiebot_telegram.views import View, ask_view, confirm_view, menu_view

WIZARD = "wiz"
"""The dumped ``WizardState`` (``kiebot_core.domain.wizard.dump``)."""
NONCE = "tok"
"""The wizard's token: buttons of another wizard are stale."""
MESSAGE = "msg"
"""The id of the message showing the wizard."""
ORIGIN = "src"
"""The model list the wizard was started from: ``[kind, arg, page]``."""
QUERY = "q"
"""The last search query (the search list's pages read it)."""


class Flow(StatesGroup):
    """Where a conversation is, besides the menu (no state)."""

    wizard = State()
    search = State()
    promo = State()


@attrs.frozen
class Origin:
    """The model list a card or a wizard was opened from."""

    kind: ListKind = ListKind.NONE
    arg: str = ""
    page: int = 0


@attrs.frozen(kw_only=True)
class Session:
    """A running wizard as stored in the conversation."""

    model: ModelSpec
    state: WizardState
    tok: str
    origin: Origin = Origin()
    message_id: int | None = None

    @property
    def step(self) -> str:
        """The step reference buttons of the current screen carry."""
        current = self.state.current
        return input_ref(current) if current is not None else CONFIRM_STEP


def new_token() -> str:
    """A fresh wizard token (4 hex digits: enough to tell one wizard from the last)."""
    return secrets.token_hex(2)


def _origin(raw: Any) -> Origin:  # stored JSON of any shape
    if isinstance(raw, list) and len(raw) == 3:
        kind, arg, page = raw
        if isinstance(arg, str) and isinstance(page, int):
            try:
                return Origin(ListKind(kind), arg, page)
            except ValueError:
                return Origin()
    return Origin()


async def load_session(fsm: FSMContext, registry: Registry) -> Session | Rejected | None:
    """The stored wizard, or None when there is none.

    ``Rejected(WIZARD_EXPIRED)`` when it no longer fits the registry (the core decides).
    """
    if await fsm.get_state() != Flow.wizard.state:
        return None
    data = await fsm.get_data()
    raw, tok = data.get(WIZARD), data.get(NONCE)
    if not isinstance(raw, dict) or not isinstance(tok, str):
        return Rejected(ReasonCode.WIZARD_EXPIRED, detail="no stored wizard")
    loaded = wizard.load(raw, registry)
    if isinstance(loaded, Rejected):
        return loaded
    model = registry.get(loaded.model_id)
    if model is None:
        return Rejected(ReasonCode.WIZARD_EXPIRED, detail="model gone")
    message_id = data.get(MESSAGE)
    return Session(
        model=model,
        state=loaded,
        tok=tok,
        origin=_origin(data.get(ORIGIN)),
        message_id=message_id if isinstance(message_id, int) else None,
    )


async def save_session(fsm: FSMContext, session: Session) -> None:
    """Store ``session`` as the conversation's wizard."""
    await fsm.set_state(Flow.wizard)
    origin = session.origin
    await fsm.update_data(
        {
            WIZARD: wizard.dump(session.state),
            NONCE: session.tok,
            MESSAGE: session.message_id,
            ORIGIN: [origin.kind.value, origin.arg, origin.page],
        }
    )


async def end_session(fsm: FSMContext) -> None:
    """Leave the wizard (or the search prompt): back to the menu state, keeping the last query."""
    data = await fsm.get_data()
    await fsm.set_state(None)
    query = data.get(QUERY)
    await fsm.set_data({QUERY: query} if isinstance(query, str) else {})


async def session_view(
    ctx: Context, session: Session, *, page: int | None = None, problem: str = ""
) -> View:
    """The wizard's current screen (the core's screen, drawn)."""
    screen = wizard.screen(session.model, session.state, ctx.services.prices)
    if isinstance(screen, AskScreen):
        return ask_view(
            ctx.language, session.model, screen, session.tok, page=page, problem=problem
        )
    balance = await ctx.services.balance(ctx.user.id)
    packages = ctx.services.payment_settings.packages
    quote = screen.quote
    cheaper = (
        None
        if isinstance(quote, Rejected)
        else cheaper_alternative(
            await ctx.services.registry(), session.model, quote, ctx.services.prices
        )
    )
    return confirm_view(
        ctx.language,
        session.model,
        screen,
        session.tok,
        balance,
        packages=packages,
        problem=problem,
        cheaper=cheaper,
        free=None
        if isinstance(quote, Rejected)
        else await ctx.services.free_runs(ctx.user.id, session.model, quote.stars),
    )


async def menu(ctx: Context, target: CallbackQuery | Message, *, lead: str = "") -> Message:
    """Reset to the main menu (a running wizard ends) and show it."""
    await end_session(ctx.fsm)
    services = ctx.services
    registry = await services.registry()
    view = menu_view(ctx.language, registry, await services.balance(ctx.user.id), lead)
    return await show(ctx.bot, target, view)


async def stale(
    ctx: Context, callback: CallbackQuery, reason: ReasonCode = ReasonCode.STALE_ACTION
) -> None:
    """An outdated or unknown button: say so and show the current menu in its place."""
    await toast(callback, reason_text(reason, ctx.language))
    await menu(ctx, callback)
