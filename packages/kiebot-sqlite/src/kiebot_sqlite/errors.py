"""Translation of sqlite3 failures into core errors, at the edge of every repository call.

    sqlite3                                          core
    UNIQUE / PRIMARY KEY constraint failed           DuplicateError
    CHECK constraint failed                          StaleWriteError
    busy or locked database, I/O errors, a file
    that cannot be opened, a full disk               StorageUnavailableError

Anything else (a syntax error, a wrong parameter) is a bug and propagates unchanged.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from kiebot_core.domain.errors import DuplicateError, StaleWriteError, UnavailableWhen

_DUPLICATE = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
_CONFLICT = frozenset({"SQLITE_CONSTRAINT_CHECK"})
_UNAVAILABLE_PREFIXES = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
    "SQLITE_NOTADB",
    "SQLITE_CORRUPT",
)


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database file cannot be used right now."""
    if isinstance(error, OSError):
        return True
    name = getattr(error, "sqlite_errorname", "")
    return isinstance(error, sqlite3.Error) and name.startswith(_UNAVAILABLE_PREFIXES)


@contextmanager
def translated(entity: str, entity_id: object) -> Iterator[None]:
    """Re-raise sqlite3 failures inside the block as core errors about ``entity``.

    Args:
        entity: What the statement was about (``"user"``, ``"ledger"``...).
        entity_id: Which one, for the error's message.

    Raises:
        DuplicateError: A unique constraint refused the write.
        StaleWriteError: A check constraint refused it.
        StorageUnavailableError: The database is busy, locked or cannot be read or written.
    """
    with UnavailableWhen(is_unavailable):
        try:
            yield
        except sqlite3.IntegrityError as error:
            name = getattr(error, "sqlite_errorname", "")
            if name in _DUPLICATE:
                raise DuplicateError(entity, str(entity_id)) from error
            if name in _CONFLICT:
                raise StaleWriteError(entity, str(entity_id)) from error
            raise
