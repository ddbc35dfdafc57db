"""Where the bot's wizard (FSM) state lives in Redis, and erasing one user's.

The bot keeps it with aiogram's ``RedisStorage`` under ``FSM_PREFIX``: keys
``<prefix>:<bot id>:<chat id>[:<thread id>]:<user id>:state|data``, so the user id is the
number just before ``state`` or ``data``.
"""

from redis.asyncio import Redis

from kiebot_redis.errors import translated

FSM_PREFIX = "kiebot:fsm"
"""What the keys of the bot's FSM state in Redis start with."""


def user_state_patterns(user_id: int, prefix: str = FSM_PREFIX) -> tuple[str, str]:
    """``SCAN`` patterns matching the user's wizard state and data in every chat."""
    return f"{prefix}:*:{user_id}:state", f"{prefix}:*:{user_id}:data"


async def erase_user_state(client: Redis, user_id: int, prefix: str = FSM_PREFIX) -> int:
    """Delete the user's wizard state in every chat; how many keys were deleted.

    Raises ``StorageUnavailableError`` when Redis cannot be reached.
    """
    deleted = 0
    with translated():
        for pattern in user_state_patterns(user_id, prefix):
            keys = [key async for key in client.scan_iter(match=pattern, count=500)]
            if keys:
                deleted += int(await client.delete(*keys))
    return deleted
