"""Exceptions kiebot raises on purpose. Expected refusals are values (``Rejected``), not these.

KiebotError                       reason: a ReasonCode
├── NotFoundError                 a repository has no such entity
├── DuplicateError                an entity with this id or unique key exists
├── StaleWriteError               another writer changed the entity first
├── StorageUnavailableError       the store cannot be reached
├── ProviderError                 the generation provider failed (reason per instance)
├── DeliveryError                 a finished result could not be sent
├── StarsError                    Telegram refused or failed a call on the bot's Stars
└── SettingsError                 a required setting is missing or malformed
"""

from collections.abc import Callable
from types import TracebackType
from typing import ClassVar

import attrs

from kiebot_core.domain.reasons import ReasonCode


class KiebotError(Exception):
    """Root of every exception kiebot raises on purpose."""

    reason: ClassVar[ReasonCode] = ReasonCode.INTERNAL_ERROR

    def __str__(self) -> str:
        cls = type(self)
        fields = attrs.fields(cls) if attrs.has(cls) else ()
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields if f.repr)
        return f"{self.reason_code}: {shown}" if shown else str(self.reason_code)

    @property
    def reason_code(self) -> ReasonCode:
        """The reason code this failure ends an action with."""
        return self.reason


@attrs.frozen
class NotFoundError(KiebotError):
    """The entity does not exist."""

    reason: ClassVar[ReasonCode] = ReasonCode.STALE_ACTION
    entity: str
    entity_id: str


@attrs.frozen
class DuplicateError(KiebotError):
    """An entity with this id or unique key already exists."""

    reason: ClassVar[ReasonCode] = ReasonCode.STORAGE_ERROR
    entity: str
    entity_id: str


@attrs.frozen
class StaleWriteError(KiebotError):
    """Another writer changed the entity since it was read."""

    reason: ClassVar[ReasonCode] = ReasonCode.STORAGE_ERROR
    entity: str
    entity_id: str


@attrs.frozen
class StorageUnavailableError(KiebotError):
    """The store cannot be reached; the action may be retried."""

    reason: ClassVar[ReasonCode] = ReasonCode.STORAGE_ERROR
    detail: str


@attrs.frozen
class UnavailableWhen:
    """A ``with`` block re-raising a failure that means the store is unreachable.

    A storage adapter wraps its driver calls in ``with UnavailableWhen(is_unavailable):``; an
    ``Exception`` raised inside for which ``is_unavailable`` is true leaves the block as a
    ``StorageUnavailableError`` (``"<type name>: <message>"``, caused by the failure). Anything
    else leaves it unchanged.

    Args:
        is_unavailable: The adapter's test: true when a failure means the store cannot be
            reached or used right now (a lost connection, a locked file).
    """

    is_unavailable: Callable[[BaseException], bool]

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, Exception) and self.is_unavailable(exc):
            raise StorageUnavailableError(f"{type(exc).__name__}: {exc}") from exc


@attrs.frozen
class ProviderError(KiebotError):
    """The generation provider failed; ``code`` says how.

    ``detail`` is for logs and never holds a secret or a media URL. ``maybe_accepted`` marks
    a request that may have reached the provider before the failure (a read timeout, a broken
    connection): a task creation must then never be sent again blindly.
    """

    code: ReasonCode
    detail: str = ""
    maybe_accepted: bool = False
    provider_code: str = attrs.field(default="", repr=False)
    """The provider's own code for the failure (KIE's ``code`` or ``HTTP 502``), for diagnosis."""

    @property
    def reason_code(self) -> ReasonCode:
        """The instance's own reason code."""
        return self.code


@attrs.frozen
class DeliveryError(KiebotError):
    """A finished result could not be sent to its user; ``detail`` is for logs."""

    reason: ClassVar[ReasonCode] = ReasonCode.DELIVERY_FAILED
    detail: str


@attrs.frozen
class StarsError(KiebotError):
    """Telegram refused a call on the bot's Stars account or could not be reached.

    ``detail`` is Telegram's answer (``CHARGE_NOT_FOUND``…) or the transport failure, for
    operators and logs; it never holds the bot token.
    """

    detail: str


@attrs.frozen
class SettingsError(KiebotError):
    """A setting is missing or malformed; ``variable`` names it, ``problem`` says what is wrong."""

    reason: ClassVar[ReasonCode] = ReasonCode.CONFIGURATION_ERROR
    variable: str
    problem: str
