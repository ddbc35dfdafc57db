"""The catalog: sections, model lists (by flow, popular, search), model cards."""

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message

from kiebot_core.domain.catalog import ModelSpec, Registry
from kiebot_core.domain.reasons import ReasonCode
from kiebot_telegram.callbacks import Card, ListKind, Nav, Screen, resolve_model
from kiebot_telegram.context import Context
from kiebot_telegram.messaging import show, toast
from kiebot_telegram.routers.common import QUERY, Flow, end_session, stale
from kiebot_telegram.views import (
    View,
    card_view,
    model_list_view,
    parse_list_arg,
    search_nothing_view,
    search_prompt_view,
    section_view,
)

POPULAR_LIMIT = 24
MAX_QUERY = 100


def _models(registry: Registry, kind: ListKind, arg: str, query: str) -> tuple[ModelSpec, ...]:
    match kind:
        case ListKind.FLOW:
            return registry.by_flow(arg)
        case ListKind.SEARCH:
            return registry.search(query)
        case ListKind.POPULAR | ListKind.NONE:
            return registry.popular(POPULAR_LIMIT)


async def list_view(ctx: Context, kind: ListKind, arg: str, page: int, query: str) -> View:
    """A page of the model list ``kind``/``arg``."""
    registry = await ctx.services.registry()
    return model_list_view(
        ctx.language,
        registry,
        ctx.services.prices,
        kind=kind,
        arg=arg,
        page=page,
        models=_models(registry, kind, arg, query),
        query=query,
    )


async def on_section(callback: CallbackQuery, callback_data: Nav, ctx: Context) -> None:
    """A main-menu section: its flows, or straight the model list when it has one flow."""
    registry = await ctx.services.registry()
    section = next((s for s in registry.sections if s.id == callback_data.arg), None)
    if section is None:
        await stale(ctx, callback)
        return
    await end_session(ctx.fsm)
    await toast(callback)
    flows = [flow for flow in section.flows if registry.by_flow(flow)]
    if len(flows) == 1:
        view = await list_view(ctx, ListKind.FLOW, flows[0], 0, "")
    else:
        view = section_view(ctx.language, registry, section)
    await show(ctx.bot, callback, view)


async def on_list(callback: CallbackQuery, callback_data: Nav, ctx: Context) -> None:
    """A page of a model list."""
    parsed = parse_list_arg(callback_data.arg)
    if parsed is None:
        await stale(ctx, callback)
        return
    kind, arg = parsed
    query = (await ctx.fsm.get_data()).get(QUERY, "")
    await end_session(ctx.fsm)
    await toast(callback)
    text = query if isinstance(query, str) else ""
    await show(ctx.bot, callback, await list_view(ctx, kind, arg, callback_data.page, text))


async def on_search_button(callback: CallbackQuery, ctx: Context) -> None:
    """🔍 Search: ask for a query."""
    await end_session(ctx.fsm)
    await ctx.fsm.set_state(Flow.search)
    await toast(callback)
    await show(ctx.bot, callback, search_prompt_view(ctx.language))


async def on_search_text(message: Message, ctx: Context) -> None:
    """Text outside a wizard is a search query: the matching models, or "nothing found"."""
    query = (message.text or "").strip()[:MAX_QUERY]
    await end_session(ctx.fsm)
    registry = await ctx.services.registry()
    if not registry.search(query):
        await show(ctx.bot, message, search_nothing_view(ctx.language, query))
        return
    await ctx.fsm.update_data({QUERY: query})
    await show(ctx.bot, message, await list_view(ctx, ListKind.SEARCH, "", 0, query))


async def on_card(callback: CallbackQuery, callback_data: Card, ctx: Context) -> None:
    """A model's card."""
    registry = await ctx.services.registry()
    model = resolve_model(registry, callback_data.model)
    if model is None or not model.enabled:
        reason = ReasonCode.MODEL_UNKNOWN if model is None else ReasonCode.MODEL_DISABLED
        await stale(ctx, callback, reason)
        return
    await end_session(ctx.fsm)
    await toast(callback)
    view = card_view(
        ctx.language,
        registry,
        ctx.services.prices,
        model,
        kind=callback_data.src,
        arg=callback_data.arg,
        page=callback_data.page,
        free=await ctx.services.free_runs(ctx.user.id, model),
    )
    await show(ctx.bot, callback, view)


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="catalog")
    router.callback_query.register(on_section, Nav.filter(F.to == Screen.SECTION))
    router.callback_query.register(on_list, Nav.filter(F.to == Screen.LIST))
    router.callback_query.register(on_search_button, Nav.filter(F.to == Screen.SEARCH))
    router.message.register(on_search_text, StateFilter(None, Flow.search), F.text)
    router.callback_query.register(on_card, Card.filter())
    return router
