"""Translation of redis-py failures into core errors, at the edge of every Redis call.

    redis-py                                         core
    ConnectionError (refused, reset, closed, auth),
    TimeoutError, BusyLoadingError, ReadOnlyError,
    OSError, asyncio timeouts                        StorageUnavailableError

Anything else (a wrong command, a script error) is a bug and propagates unchanged.
"""

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kiebot_core.domain.errors import UnavailableWhen

_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError, TimeoutError)


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means Redis cannot be reached or used now (a retry may succeed)."""
    return isinstance(error, _UNAVAILABLE)


def translated() -> UnavailableWhen:
    """A ``with`` block re-raising Redis outages as ``StorageUnavailableError``."""
    return UnavailableWhen(is_unavailable)
