"""KIE's recommended recordInfo polling schedule, as pure functions (API.md §4).

    elapsed since submit     wait between polls
    0 s   - 30 s             2 - 3 s
    30 s  - 2 min            5 - 10 s
    after 2 min              15 - 30 s

Where in each range a delay falls is chosen by ``jitter`` (0 → shortest, 1 → longest), so
many tasks started together do not poll in lockstep. The deadline of a flow (per model
category, in the core) belongs to the caller; :func:`next_poll_delay` only stops at it.
"""

from collections.abc import Callable, Iterator

FIRST_PHASE_S = 30.0
SECOND_PHASE_S = 120.0
_RANGES = ((2.0, 3.0), (5.0, 10.0), (15.0, 30.0))


def _clamp(jitter: float) -> float:
    return min(1.0, max(0.0, jitter))


def poll_interval(elapsed_s: float, jitter: float = 0.5) -> float:
    """Seconds to wait before the next poll of a task submitted ``elapsed_s`` ago."""
    if elapsed_s < FIRST_PHASE_S:
        low, high = _RANGES[0]
    elif elapsed_s < SECOND_PHASE_S:
        low, high = _RANGES[1]
    else:
        low, high = _RANGES[2]
    return low + (high - low) * _clamp(jitter)


def next_poll_delay(elapsed_s: float, deadline_s: float, jitter: float = 0.5) -> float | None:
    """The wait before the next poll, cut short at the deadline; None once it has passed."""
    remaining = deadline_s - elapsed_s
    if remaining <= 0:
        return None
    return min(poll_interval(elapsed_s, jitter), remaining)


def poll_delays(deadline_s: float, jitter: Callable[[], float] = lambda: 0.5) -> Iterator[float]:
    """Every wait of a polling loop from submission until ``deadline_s``, in order.

    ``jitter`` is called once per delay (pass a random source in production).
    """
    elapsed = 0.0
    while (delay := next_poll_delay(elapsed, deadline_s, jitter())) is not None:
        yield delay
        elapsed += delay
