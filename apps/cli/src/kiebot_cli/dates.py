"""Moments typed on the command line and shown back: ISO 8601, UTC unless an offset is given."""

from datetime import UTC, date, datetime, time, timedelta

import typer

DATE_HELP = "an ISO date (2026-12-31) or datetime (2026-12-31T18:00, UTC unless an offset)"


def _moment(text: str, *, day_end: bool) -> datetime:
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start + timedelta(days=1) if day_end else start
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not {DATE_HELP}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def day_start(text: str) -> datetime:
    """``text`` as an aware datetime; a bare date is the start of that UTC day.

    Raises ``typer.BadParameter`` (a usage error: exit 2) when it is neither.
    """
    return _moment(text, day_end=False)


def day_end(text: str) -> datetime:
    """``text`` as an aware datetime; a bare date is the end of that UTC day (the next
    day's 00:00 UTC), so the whole day is included.

    Raises ``typer.BadParameter`` (a usage error: exit 2) when it is neither.
    """
    return _moment(text, day_end=True)


def moment_text(moment: datetime) -> str:
    """How a moment is shown: ``2026-12-31 18:00 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
