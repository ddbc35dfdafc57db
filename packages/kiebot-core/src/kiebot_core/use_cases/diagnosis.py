"""The 60-second diagnosis: any id an operator has at hand → one screen of what happened.

``debug_report`` accepts a generation id, a correlation id, a KIE task id, a Telegram update
id or a Telegram user id (``user:``, ``update:`` and ``task:`` prefixes force a reading when
a number could be either) and reads, in one unit of work, the events, the generation and its
ledger moves; ``kiebot_core.domain.diagnosis`` turns them into the timeline and the diagnosis
line. ``user_journey`` replays what a user did and saw from the same events.
"""

from datetime import datetime

from kiebot_core.domain.diagnosis import (
    DebugReport,
    JourneyStep,
    Subject,
    SubjectKind,
    build_report,
    journey,
    merged,
)
from kiebot_core.domain.generation import Generation
from kiebot_core.domain.ids import CorrelationId, GenerationId, ProviderTaskId, UserId
from kiebot_core.domain.ledger import LedgerTransaction, hold_key, refund_key, settle_key
from kiebot_core.domain.telemetry import Event
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory

RECENT_GENERATIONS = 5
"""A user's latest generations listed in their report."""
USER_EVENTS = 50
"""The events shown for a user who has no generation."""
JOURNEY_EVENTS = 1000
"""The most events a replay reads by default."""

_READINGS = (
    SubjectKind.GENERATION,
    SubjectKind.CORRELATION,
    SubjectKind.TASK,
    SubjectKind.USER,
    SubjectKind.UPDATE,
)
"""How an unprefixed key is read, first match first."""
_FORCED = {
    "user": SubjectKind.USER,
    "update": SubjectKind.UPDATE,
    "task": SubjectKind.TASK,
    "gen": SubjectKind.GENERATION,
    "cor": SubjectKind.CORRELATION,
}


async def debug_report(store: UnitOfWorkFactory, key: str) -> DebugReport | None:
    """The report of whatever ``key`` names, or None when nothing is recorded for it.

    A key that names several things (a number that is a user id and an update id) is read
    as the first of: generation, correlation, KIE task, user, update (operators are handed
    user ids; logs carry correlation ids); the others are listed in ``alternatives``.
    """
    async with store() as uow:
        subjects = await _resolve(uow, key.strip())
        if not subjects:
            return None
        return await _report(uow, subjects[0], subjects[1:])


async def user_journey(
    store: UnitOfWorkFactory,
    user_id: UserId,
    *,
    since: datetime | None = None,
    limit: int = JOURNEY_EVENTS,
) -> list[JourneyStep]:
    """What the user did and saw since ``since`` (their ``limit`` latest events), in order."""
    async with store() as uow:
        events = await uow.events.for_user(user_id, limit=limit, since=since)
    return journey(events)


async def _resolve(uow: UnitOfWork, key: str) -> list[Subject]:
    prefix, colon, rest = key.partition(":")
    if colon and prefix.lower() in _FORCED:
        subject = Subject(_FORCED[prefix.lower()], rest.strip())
        return [subject] if await _exists(uow, subject) else []
    candidates = [Subject(kind, key) for kind in _READINGS]
    return [subject for subject in candidates if await _exists(uow, subject)]


async def _exists(uow: UnitOfWork, subject: Subject) -> bool:
    key = subject.key
    found = False
    if not key:
        return found
    match subject.kind:
        case SubjectKind.GENERATION:
            found = await uow.generations.get(GenerationId(key)) is not None
        case SubjectKind.CORRELATION:
            found = bool(await uow.events.chain(CorrelationId(key)))
        case SubjectKind.TASK:
            task = ProviderTaskId(key)
            found = await uow.generations.get_by_task(task) is not None or bool(
                await uow.events.for_task(task)
            )
        case SubjectKind.UPDATE:
            found = key.isdigit() and bool(await uow.events.for_update(int(key)))
        case SubjectKind.USER:
            found = key.isdigit() and (
                await uow.users.get(UserId(int(key))) is not None
                or bool(await uow.events.for_user(UserId(int(key)), limit=1))
            )
    return found


async def _report(
    uow: UnitOfWork, subject: Subject, alternatives: list[Subject]
) -> DebugReport | None:
    key = subject.key
    generation: Generation | None = None
    recent: list[Generation] = []
    events: list[Event] = []
    match subject.kind:
        case SubjectKind.GENERATION:
            generation = await uow.generations.get(GenerationId(key))
        case SubjectKind.CORRELATION:
            events = await uow.events.chain(CorrelationId(key))
            generation = await _named_generation(uow, events)
        case SubjectKind.TASK:
            task = ProviderTaskId(key)
            events = await uow.events.for_task(task)
            generation = await uow.generations.get_by_task(task) or await _named_generation(
                uow, events
            )
        case SubjectKind.UPDATE:
            named = await uow.events.for_update(int(key))
            events = await uow.events.chain(named[0].correlation_id) if named else []
            generation = await _named_generation(uow, events)
        case SubjectKind.USER:
            user = UserId(int(key))
            recent = await uow.generations.for_user(user, limit=RECENT_GENERATIONS)
            generation = recent[0] if recent else None
            if generation is None:
                events = await uow.events.for_user(user, limit=USER_EVENTS)
    ledger: list[LedgerTransaction] = []
    if generation is not None:
        events = merged(
            events,
            await uow.events.chain(generation.correlation_id),
            await uow.events.for_generation(generation.id),
        )
        ledger = await _moves(uow, generation)
    return build_report(
        subject,
        generation=generation,
        events=events,
        ledger=ledger,
        recent=recent,
        alternatives=alternatives,
    )


async def _named_generation(uow: UnitOfWork, events: list[Event]) -> Generation | None:
    """The first generation the events name (an action starts at most one)."""
    named = next((e.generation_id for e in events if e.generation_id is not None), None)
    return None if named is None else await uow.generations.get(named)


async def _moves(uow: UnitOfWork, generation: Generation) -> list[LedgerTransaction]:
    """The ledger moves of ``generation``: its hold, its settlement, a later refund."""
    keys = (hold_key(generation.id), settle_key(generation.id), refund_key(generation.id))
    moves = [await uow.ledger.get(key) for key in keys]
    return [move for move in moves if move is not None]
