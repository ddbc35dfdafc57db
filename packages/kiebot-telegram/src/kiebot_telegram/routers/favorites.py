"""⭐ Favorites: the user's saved presets, page by page, with Run and Delete.

Saving one is the ⭐ Favorite button under a result (``routers.generation``). Running one opens
the model's wizard pre-filled with the saved answers, at the confirmation when nothing required
is missing (the core's ``wizard.start`` and ``skip_all_optional``).
"""

from aiogram import F, Router
from aiogram.types import CallbackQuery

from kiebot_core.domain import wizard
from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.ids import FavoriteId
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_telegram.callbacks import Fav, FavAct, Nav, Screen
from kiebot_telegram.context import Context
from kiebot_telegram.messaging import show, toast
from kiebot_telegram.routers.common import (
    Session,
    end_session,
    new_token,
    save_session,
    session_view,
    stale,
)
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import View, favorites_view

FAVORITES_LIMIT = 100
"""The most favorites the list shows (newest first)."""


async def _favorites(ctx: Context, page: int) -> View:
    async with ctx.services.store() as uow:
        favorites = await uow.favorites.for_user(ctx.user.id, limit=FAVORITES_LIMIT)
    registry = await ctx.services.registry()
    return favorites_view(ctx.language, registry, favorites, page)


async def on_favorites_page(callback: CallbackQuery, callback_data: Nav, ctx: Context) -> None:
    """⭐ Favorites (from the menu), or another page of them."""
    await end_session(ctx.fsm)
    await toast(callback)
    await show(ctx.bot, callback, await _favorites(ctx, callback_data.page))


async def _run(callback: CallbackQuery, ctx: Context, favorite: Favorite, page: int) -> None:
    model = (await ctx.services.registry()).get(favorite.model_id)
    if model is None or not model.enabled:
        await toast(callback, reason_text(ReasonCode.MODEL_DISABLED, ctx.language), alert=True)
        await show(ctx.bot, callback, await _favorites(ctx, page))
        return
    await end_session(ctx.fsm)
    await toast(callback)
    preset = wizard.start(model, favorite.answers)
    session = Session(model=model, state=wizard.skip_all_optional(model, preset), tok=new_token())
    shown = await show(ctx.bot, callback, await session_view(ctx, session))
    await save_session(
        ctx.fsm,
        Session(model=model, state=session.state, tok=session.tok, message_id=shown.message_id),
    )


async def on_favorite(callback: CallbackQuery, callback_data: Fav, ctx: Context) -> None:
    """▶️ Run or 🗑 Delete one favorite of the list."""
    favorite_id = FavoriteId(callback_data.id)
    if callback_data.act is FavAct.DELETE:
        async with ctx.services.store() as uow:
            await uow.favorites.remove(ctx.user.id, favorite_id)
            await uow.commit()
        await end_session(ctx.fsm)
        await toast(callback, t(ctx.language, Msg.TOAST_FAVORITE_REMOVED))
        await show(ctx.bot, callback, await _favorites(ctx, callback_data.page))
        return
    async with ctx.services.store() as uow:
        favorite = await uow.favorites.get(favorite_id)
    if favorite is None or favorite.user_id != ctx.user.id:
        await stale(ctx, callback)
        return
    await _run(callback, ctx, favorite, callback_data.page)


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="favorites")
    router.callback_query.register(on_favorites_page, Nav.filter(F.to == Screen.FAVORITES))
    router.callback_query.register(on_favorite, Fav.filter())
    return router
