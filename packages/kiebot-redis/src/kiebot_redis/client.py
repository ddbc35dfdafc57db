"""Opening the Redis client the bot shares (FSM state, rate limits) and checking it is up."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from kiebot_redis.errors import is_unavailable

_log = logging.getLogger(__name__)

TIMEOUT_S = 2.0
"""How long one command (or connecting) may take before Redis counts as unavailable."""
PING_TIMEOUT_S = 1.0
"""How long a readiness ping may take."""


def make_redis(url: str, *, timeout_s: float = TIMEOUT_S) -> Redis:
    """A client for ``url`` (``redis://`` or ``rediss://``); it connects on first use.

    A failing command is tried once more after a short pause, then fails fast: an outage
    shows within about ``2 * timeout_s`` instead of redis-py's default ten retries.
    """
    return Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=1),
    )


@asynccontextmanager
async def open_redis(url: str, *, timeout_s: float = TIMEOUT_S) -> AsyncIterator[Redis]:
    """A client for ``url`` for the block, closed with its connections when the block ends.

    Nothing is sent on opening: an unreachable server shows on first use (and in
    :func:`is_reachable`), so the bot starts during a Redis outage and waits.
    """
    client = make_redis(url, timeout_s=timeout_s)
    try:
        yield client
    finally:
        await client.aclose()


async def is_reachable(client: Redis, *, timeout_s: float = PING_TIMEOUT_S) -> bool:
    """True when Redis answers a PING within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            await client.ping()
    except Exception as error:
        if not is_unavailable(error):
            raise
        _log.warning("Redis is unavailable: %s", type(error).__name__)
        return False
    return True
