"""Notifications: a committed model switch reaches every listener; a rolled-back one none."""

import asyncio
import contextlib

from kiebot_pg.notify import CATALOG_CHANNEL, listen
from kiebot_pg.pool import PgPool
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.proxy import proxied

MODEL = "flux-2/pro-text-to-image"


class Heard:
    """What a listener heard, waited for in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def __call__(self, payload: str) -> None:
        self.queue.put_nowait(payload)

    async def next(self) -> str:
        async with asyncio.timeout(10):
            return await self.queue.get()


async def switch(store: PgUnitOfWorkFactory, *, enabled: bool, commit: bool = True) -> None:
    async with store() as uow:
        await uow.toggles.set(MODEL, enabled=enabled)
        if commit:
            await uow.commit()


async def test_a_committed_switch_is_heard_and_a_rolled_back_one_is_not(
    pg_dsn: str, pg_pool: PgPool
):
    store = PgUnitOfWorkFactory(pg_pool)
    heard = Heard()
    listening = asyncio.create_task(listen(pg_dsn, CATALOG_CHANNEL, heard))
    try:
        assert await heard.next() == "", "listening started"
        await switch(store, enabled=False, commit=False)
        await switch(store, enabled=True)
        assert await heard.next() == MODEL
        assert heard.queue.empty()
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening


async def test_a_listener_cut_off_listens_again_and_says_so(pg_dsn: str, pg_pool: PgPool):
    store = PgUnitOfWorkFactory(pg_pool)
    heard = Heard()
    async with proxied(pg_dsn) as (proxy, through):
        listening = asyncio.create_task(listen(through, CATALOG_CHANNEL, heard))
        try:
            assert await heard.next() == ""
            proxy.cut()
            await asyncio.sleep(0.2)
            proxy.restore()
            assert await heard.next() == "", "listening again: whatever changed meanwhile"
            await switch(store, enabled=False)
            assert await heard.next() == MODEL
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
