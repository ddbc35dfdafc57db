"""The update with which a user deleted their data keeps nothing of them once handled.

The /privacy handler calls :func:`forget_this_update` after the core forgot the user. Then
:class:`~kiebot_telegram.telemetry.UpdateEventMiddleware` stores the update's event without the
user id or what they did, and :class:`~kiebot_telegram.inbox.Inbox`, marking the update done,
erases its stored payload (their name and @username) and the calls journaled for it
(``PrivacyRepository.erase_update``). Outside an update (:func:`update_marks`) it does nothing.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import attrs


@attrs.define
class UpdateMarks:
    """What the handlers learnt about the update being handled."""

    forgotten: bool = False
    """The update's sender was forgotten while it was handled."""


_marks: ContextVar[UpdateMarks | None] = ContextVar("kiebot_update_marks", default=None)


@contextmanager
def update_marks() -> Iterator[UpdateMarks]:
    """The marks of the update handled in this block (those of an enclosing block, if any)."""
    marks = _marks.get()
    if marks is not None:
        yield marks
        return
    marks = UpdateMarks()
    token = _marks.set(marks)
    try:
        yield marks
    finally:
        _marks.reset(token)


def forget_this_update() -> None:
    """Mark the update being handled: its sender's data was deleted while handling it."""
    marks = _marks.get()
    if marks is not None:
        marks.forgotten = True
