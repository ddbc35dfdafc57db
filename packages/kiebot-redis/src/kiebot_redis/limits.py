"""Rate limits in Redis: INCR and the window's expiry in one script, timed by the server.

The script runs atomically on the server, so racing hits from any number of instances are
counted exactly; the key expires when its window ends (server time), which is also how old
windows are cleaned up.
"""

from datetime import timedelta

from redis.asyncio import Redis

from kiebot_core.domain.limits import RateDecision, check_limit
from kiebot_core.ports.limits import RateLimiter
from kiebot_redis.errors import translated

PREFIX = "kiebot:rate:"
"""What every rate-limit key starts with."""

# A key without an expiry (a fresh one, or one a crash left half-made) gets the window's.
_HIT = """
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {hits, ttl}
"""


class RedisRateLimiter(RateLimiter):
    """Fixed windows as Redis counters with an expiry, under ``prefix``."""

    def __init__(self, client: Redis, *, prefix: str = PREFIX) -> None:
        """Count hits with ``client``, in keys starting with ``prefix``."""
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_HIT)

    async def hit(self, key: str, *, limit: int, window: timedelta) -> RateDecision:
        check_limit(limit, window)
        window_ms = max(1, int(window.total_seconds() * 1000))
        with translated():
            hits, ttl_ms = await self._script(keys=[self._prefix + key], args=[window_ms])
        return RateDecision.of(int(hits), limit, timedelta(milliseconds=int(ttl_ms)))
