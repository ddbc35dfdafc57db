"""One contract for every GenerationGateway: the core's scripted fake, KIE over the sandbox
(real HTTP on loopback) and KIE over recorded answers (the golden JSON of API.md's examples).

Each implementation comes as a ``Subject``: the gateway, a way to let provider time pass, and
a way to make the next submission fail with a given reason (a script for the fake, a prompt
marker for the sandbox and the recordings).
"""

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import attrs
import pytest

from kiebot_core.domain.errors import NotFoundError
from kiebot_core.domain.ids import CorrelationId, ProviderTaskId
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.generation import (
    GenerationGateway,
    ProviderState,
    ProviderStatus,
    SubmitRequest,
    UploadedFile,
)
from kiebot_core.testing.generation import ScriptedGenerationGateway, fails
from kiebot_kie.gateway import KieGenerationGateway
from kiebot_kie.sandbox import media
from tests.kie.support import GoldenKie, ManualClock, mock_client, sandbox_gateway

MARKERS = {ReasonCode.PROVIDER_FAILED: " [fail]", ReasonCode.CONTENT_POLICY: " [nsfw]"}
ORDER = [ProviderState.QUEUED, ProviderState.RUNNING, ProviderState.SUCCEEDED]
IMPLEMENTATIONS = ["scripted_subject", "sandbox_subject", "golden_subject"]


@attrs.define
class Subject:
    gateway: GenerationGateway
    advance: Callable[[], None] = lambda: None
    prepare_failure: Callable[[ReasonCode], str] = lambda reason: MARKERS[reason]

    async def submit(self, prompt: str = "a red fox in the snow") -> ProviderTaskId:
        return await self.gateway.submit(
            SubmitRequest(
                model_id="google/nano-banana",
                input={"prompt": prompt},
                correlation_id=CorrelationId("cor_contract"),
            )
        )

    async def submit_failing(self, reason: ReasonCode) -> ProviderTaskId:
        return await self.submit("a red fox in the snow" + self.prepare_failure(reason))

    async def run(self, task_id: ProviderTaskId) -> list[ProviderStatus]:
        """Every status seen until the task ends (bounded)."""
        seen = [await self.gateway.status(task_id)]
        for _ in range(20):
            if seen[-1].state in {ProviderState.SUCCEEDED, ProviderState.FAILED}:
                return seen
            self.advance()
            seen.append(await self.gateway.status(task_id))
        pytest.fail(f"task {task_id} never ended: {seen[-1]}")


@pytest.fixture
def scripted_subject() -> Subject:
    fake = ScriptedGenerationGateway()

    def prepare_failure(reason: ReasonCode) -> str:
        fake.script(*fails(reason, "scripted failure"))
        return ""

    return Subject(fake, prepare_failure=prepare_failure)


@pytest.fixture
async def sandbox_subject() -> AsyncIterator[Subject]:
    clock = ManualClock()
    async with sandbox_gateway(clock) as (_, gateway):
        yield Subject(gateway, advance=lambda: clock.advance(0.06))


@pytest.fixture
async def golden_subject() -> AsyncIterator[Subject]:
    async with mock_client(GoldenKie()) as client:
        yield Subject(KieGenerationGateway(client))


@pytest.fixture
def subject(request: pytest.FixtureRequest) -> Subject:
    found = request.getfixturevalue(request.param)
    assert isinstance(found, Subject)
    return found


@pytest.mark.parametrize("subject", IMPLEMENTATIONS, indirect=True)
class TestGenerationGatewayContract:
    async def test_submit_returns_a_task_id(self, subject: Subject):
        first = await subject.submit()
        second = await subject.submit()
        assert isinstance(first, str)
        assert first.strip()
        assert first != second

    async def test_a_new_task_is_not_finished(self, subject: Subject):
        status = await subject.gateway.status(await subject.submit())
        assert status.state in {ProviderState.QUEUED, ProviderState.RUNNING}
        assert status.result_urls == ()
        assert status.reason is None

    async def test_a_task_moves_forward_to_success_with_result_urls(self, subject: Subject):
        task_id = await subject.submit()
        seen = await subject.run(task_id)
        states = [status.state for status in seen]
        assert states[-1] is ProviderState.SUCCEEDED
        assert states == sorted(states, key=ORDER.index)  # never backwards
        final = seen[-1]
        assert final.task_id == task_id
        assert final.result_urls
        assert all(url.startswith(("http://", "https://")) for url in final.result_urls)
        assert final.reason is None

    async def test_a_finished_task_stays_finished(self, subject: Subject):
        task_id = await subject.submit()
        final = (await subject.run(task_id))[-1]
        subject.advance()
        again = await subject.gateway.status(task_id)
        assert (again.state, again.result_urls) == (final.state, final.result_urls)

    @pytest.mark.parametrize("reason", [ReasonCode.PROVIDER_FAILED, ReasonCode.CONTENT_POLICY])
    async def test_a_failure_maps_to_the_same_reason(self, subject: Subject, reason: ReasonCode):
        task_id = await subject.submit_failing(reason)
        final = (await subject.run(task_id))[-1]
        assert final.state is ProviderState.FAILED
        assert final.reason is reason
        assert final.result_urls == ()

    async def test_an_unknown_task_id_is_not_found(self, subject: Subject):
        await subject.submit()
        with pytest.raises(NotFoundError):
            await subject.gateway.status(ProviderTaskId("task_never_given"))

    async def test_credits_are_a_decimal(self, subject: Subject):
        credits = await subject.gateway.credits()
        assert isinstance(credits, Decimal)
        assert credits >= 0

    async def test_upload_returns_a_url(self, subject: Subject):
        data = media.png("a user's photo")
        uploaded = await subject.gateway.upload(data, "photo.png", "image/png")
        assert isinstance(uploaded, UploadedFile)
        assert uploaded.url.startswith(("http://", "https://"))
        assert uploaded.size > 0
        assert uploaded.mime_type == "image/png"


async def test_the_recorded_answers_are_what_kie_documents():
    """The recording replays KIE's documented shapes, not a simplified copy."""
    kie = GoldenKie()
    async with mock_client(kie) as client:
        gateway = KieGenerationGateway(client)
        task_id = await gateway.submit(
            SubmitRequest(
                model_id="google/nano-banana",
                input={"prompt": "x"},
                correlation_id=CorrelationId("c"),
            )
        )
        await gateway.status(task_id)
    assert [request.url.path for request in kie.requests] == [
        "/api/v1/jobs/createTask",
        "/api/v1/jobs/recordInfo",
    ]
