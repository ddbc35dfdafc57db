"""Redis for tests: the shared server, with each test's keys under a prefix of its own."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
from redis.asyncio import Redis

from kiebot_redis.client import open_redis


@attrs.frozen
class RedisSpace:
    """A client of the shared server and the key prefix that is this test's alone."""

    client: Redis
    prefix: str

    async def keys(self) -> set[str]:
        """This test's keys, without the prefix."""
        found = [key async for key in self.client.scan_iter(match=f"{self.prefix}*")]
        return {key.decode().removeprefix(self.prefix) for key in found}


@asynccontextmanager
async def open_redis_space(url: str) -> AsyncIterator[RedisSpace]:
    """A fresh prefix on the server at ``url``; its keys are deleted afterwards (only they)."""
    async with open_redis(url) as client:
        space = RedisSpace(client, f"kiebot-test:{uuid.uuid4().hex[:12]}:")
        try:
            yield space
        finally:
            leftovers = [key async for key in client.scan_iter(match=f"{space.prefix}*")]
            if leftovers:
                await client.delete(*leftovers)
