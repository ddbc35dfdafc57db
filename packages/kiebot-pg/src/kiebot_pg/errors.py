"""Translation of asyncpg failures into core errors, at the edge of every repository call.

    asyncpg                                          core
    UniqueViolationError                             DuplicateError
    CheckViolationError, SerializationError,
    DeadlockDetectedError, LockNotAvailableError     StaleWriteError
    lost or refused connections, server shutdown,
    timeouts, OSError, client protocol breakdown     StorageUnavailableError

Anything else (a syntax error, a wrong parameter) is a bug and propagates unchanged.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from kiebot_core.domain.errors import DuplicateError, StaleWriteError, UnavailableWhen

_CONFLICTS = (
    asyncpg.CheckViolationError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.LockNotAvailableError,
)
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.IdleSessionTimeoutError,
    asyncpg.IdleInTransactionSessionTimeoutError,
    # asyncpg's protocol can trip over a connection the server ended between two statements.
    asyncpg.InternalClientError,
)


def is_connection_lost(error: BaseException) -> bool:
    """True when ``error`` means the store cannot be reached (a retry may succeed)."""
    if isinstance(error, _UNAVAILABLE):
        return True
    # asyncpg reports use of a connection it has already seen die as a bare InterfaceError.
    message = str(error)
    return isinstance(error, asyncpg.InterfaceError) and (
        "connection is closed" in message or "released back to the pool" in message
    )


@contextmanager
def translated(entity: str, entity_id: object) -> Iterator[None]:
    """Re-raise asyncpg failures inside the block as core errors about ``entity``.

    Args:
        entity: What the statement was about (``"user"``, ``"ledger"``...).
        entity_id: Which one, for the error's message.

    Raises:
        DuplicateError: A unique constraint refused the write.
        StaleWriteError: A check constraint, serialization failure or deadlock refused it.
        StorageUnavailableError: The server could not be reached or went away.
    """
    with UnavailableWhen(is_connection_lost):
        try:
            yield
        except asyncpg.UniqueViolationError as error:
            raise DuplicateError(entity, str(entity_id)) from error
        except _CONFLICTS as error:
            raise StaleWriteError(entity, str(entity_id)) from error
