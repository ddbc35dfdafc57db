"""PostgreSQL notifications: every instance hears about a change the moment it commits.

A write that changes what instances cache (a model switch) notifies ``CATALOG_CHANNEL`` in its
own transaction, so the notice goes out only if it commits, whoever made it (an instance, the
CLI, an operator's SQL). ``listen`` hears them on a connection of its own.
"""

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from kiebot_pg.errors import is_connection_lost

_log = logging.getLogger(__name__)

CATALOG_CHANNEL = "kiebot_catalog"
"""Notified with a model id when its switch changes."""
RECONNECT_S = 2.0
"""How long to wait before listening again after the connection was lost or refused."""


async def listen(dsn: str, channel: str, on_notice: Callable[[str], None]) -> None:
    """Call ``on_notice`` with the payload of each notification on ``channel`` until cancelled.

    The connection is re-opened whenever it is lost or refused (every ``RECONNECT_S``);
    ``on_notice("")`` is called each time listening (re)starts, because anything may have
    changed while nobody listened.
    """
    while True:
        try:
            await _listen_once(dsn, channel, on_notice)
        except Exception as error:  # noqa: BLE001  # a refused login may be fixed meanwhile
            level = logging.WARNING if is_connection_lost(error) else logging.ERROR
            _log.log(level, "not hearing %s (%s)", channel, type(error).__name__)
        _log.info("listening to %s again in %s s", channel, RECONNECT_S)
        await asyncio.sleep(RECONNECT_S)


async def _listen_once(dsn: str, channel: str, on_notice: Callable[[str], None]) -> None:
    """Listen on one connection until it is lost."""
    lost = asyncio.Event()
    connection = await asyncpg.connect(dsn)
    try:
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(
            channel, lambda _connection, _pid, _channel, payload: on_notice(str(payload))
        )
        on_notice("")
        await lost.wait()
    finally:
        await connection.close(timeout=1)
