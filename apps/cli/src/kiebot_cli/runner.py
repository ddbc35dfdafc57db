"""Running generations in this process: the CLI's job loop and its outcome report."""

import asyncio
from collections.abc import Callable

import attrs

from kiebot_cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_REJECTED
from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import GenerationId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.use_cases.generation import Pipeline, run_due_jobs

IDLE_WAIT_S = 0.05
"""How long the loop sleeps when no job is due (the sandbox answers within a tick)."""


async def drive(
    pipeline: Pipeline, generation_id: GenerationId, on_change: Callable[[Generation], None]
) -> Generation:
    """Run due jobs until the generation ends; ``on_change`` sees every new state."""
    seen: GenerationState | None = None
    while True:
        ran = await run_due_jobs(pipeline)
        async with pipeline.uow() as uow:
            current = await uow.generations.get(generation_id)
        if current is None:
            raise LookupError(generation_id)
        if current.state is not seen:
            seen = current.state
            on_change(current)
        if current.state.is_terminal:
            while await run_due_jobs(pipeline):  # its last notice, and nothing left behind
                pass
            return current
        if ran == 0:
            await asyncio.sleep(IDLE_WAIT_S)


@attrs.frozen(kw_only=True)
class Outcome:
    """What ``generate`` (and ``tasks resume``) report, in text or as the ``--json`` object."""

    model: str
    state: str
    generation_id: str | None = None
    reason: str | None = None
    message: str | None = None
    kie_task_id: str | None = None
    credits: str | None = None
    stars: int | None = None
    files: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    result: JsonValue = None

    @property
    def exit_code(self) -> int:
        """0 succeeded, 1 failed, 2 rejected, 130 interrupted."""
        return {
            "succeeded": 0,
            "failed": EXIT_FAILED,
            "rejected": EXIT_REJECTED,
            "cancelled": EXIT_INTERRUPTED,
        }[self.state]

    def to_json(self) -> dict[str, JsonValue]:
        """The one documented ``--json`` object."""
        return {
            "generation_id": self.generation_id,
            "model": self.model,
            "state": self.state,
            "reason": self.reason,
            "message": self.message,
            "kie_task_id": self.kie_task_id,
            "cost": None
            if self.credits is None
            else {"credits": self.credits, "stars": self.stars},
            "files": list(self.files),
            "urls": list(self.urls),
            "result": self.result,
        }


def rejected(model: str, problem: Rejected, language: Language) -> Outcome:
    """The outcome of a run refused before a generation existed."""
    where = f" ({problem.input_name})" if problem.input_name else ""
    detail = f": {problem.detail}" if problem.detail else ""
    return Outcome(
        model=model,
        state="rejected",
        reason=problem.reason.value,
        message=f"{reason_text(problem.reason, language)}{where}{detail}",
    )


def finished(generation: Generation, language: Language) -> Outcome:
    """The outcome of a generation that ended."""
    state = {
        GenerationState.SUCCEEDED: "succeeded",
        GenerationState.CANCELLED: "cancelled",
    }.get(generation.state, "failed")
    reason = generation.reason
    return Outcome(
        model=generation.model_id,
        state=state,
        generation_id=generation.id,
        reason=None if reason is None else reason.value,
        message=None if reason is None else reason_text(reason, language),
        kie_task_id=generation.task_id,
        credits=str(generation.credits),
        stars=generation.stars,
        files=generation.delivered_refs,
        urls=generation.result_urls,
        result=generation.result_object,
    )
