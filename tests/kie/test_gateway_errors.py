"""How KIE's answers become the core's errors and statuses (over recorded answers)."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
import pytest

from kiebot_core.domain.errors import NotFoundError, ProviderError
from kiebot_core.domain.ids import CorrelationId, ProviderTaskId
from kiebot_core.domain.reasons import POLICY, ReasonCode, Remedy
from kiebot_core.ports.generation import ProviderState, SubmitRequest
from kiebot_kie.errors import CODE_REASONS, reason_for_code, reason_for_failure
from kiebot_kie.gateway import KieGenerationGateway, status_of
from kiebot_kie.wire import RecordInfo, TaskResult
from tests.kie.support import ManualClock, envelope, golden, mock_client

DOCUMENTED_CODES = {400, 401, 402, 404, 408, 409, 413, 422, 429, 430, 433, 451, 455}
DOCUMENTED_CODES |= {500, 501, 505, 531, 550}
TASK = ProviderTaskId("task_3f5a2c0e9b7d4e1a8c6b")


def submit_request(**input: object) -> SubmitRequest:
    return SubmitRequest(
        model_id="google/nano-banana",
        input=input or {"prompt": "a red fox in the snow"},  # type: ignore[arg-type]
        correlation_id=CorrelationId("cor_1"),
    )


@asynccontextmanager
async def recorded(
    handler: Callable[[httpx.Request], httpx.Response],
) -> AsyncIterator[KieGenerationGateway]:
    async with mock_client(handler, ManualClock(), attempts=2) as client:
        yield KieGenerationGateway(client)


def answer(name: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(200, json=golden(name))


def test_every_documented_code_has_a_reason():
    assert set(CODE_REASONS) == DOCUMENTED_CODES
    for reason in CODE_REASONS.values():
        assert reason in POLICY


@pytest.mark.parametrize(
    ("code", "reason", "remedy"),
    [
        (401, ReasonCode.PROVIDER_AUTH, Remedy.OPERATOR),
        (402, ReasonCode.PROVIDER_NO_CREDITS, Remedy.OPERATOR),
        (422, ReasonCode.PROVIDER_REJECTED, Remedy.TERMINAL),
        (429, ReasonCode.PROVIDER_RATE_LIMITED, Remedy.RETRY),
        (455, ReasonCode.PROVIDER_UNAVAILABLE, Remedy.RETRY),
        (500, ReasonCode.PROVIDER_UNAVAILABLE, Remedy.RETRY),
        (501, ReasonCode.PROVIDER_FAILED, Remedy.RETRY),
        (505, ReasonCode.PROVIDER_FEATURE_DISABLED, Remedy.OPERATOR),
    ],
)
async def test_error_envelopes_become_provider_errors(code, reason, remedy):
    async with recorded(answer(f"error_{code}")) as gateway:
        with pytest.raises(ProviderError) as caught:
            await gateway.submit(submit_request())
    assert caught.value.reason_code is reason
    assert POLICY[reason].remedy is remedy
    assert f"code {code}" in caught.value.detail


def test_code_translation_reads_the_message():
    assert reason_for_code(400, "Your prompt violates the content policy") is (
        ReasonCode.CONTENT_POLICY
    )
    assert reason_for_code(400, "bad parameter") is ReasonCode.PROVIDER_REJECTED
    assert reason_for_code(500, "This field is required") is ReasonCode.PROVIDER_REJECTED
    assert reason_for_code(599, "") is ReasonCode.PROVIDER_UNAVAILABLE
    assert reason_for_code(499, "") is ReasonCode.PROVIDER_REJECTED


@pytest.mark.parametrize(
    ("code", "message", "reason"),
    [
        ("501", "Generation failed", ReasonCode.PROVIDER_FAILED),
        ("", "Internal error", ReasonCode.PROVIDER_FAILED),
        (None, None, ReasonCode.PROVIDER_FAILED),
        ("400", "NSFW content detected", ReasonCode.CONTENT_POLICY),
        ("501", "flagged by moderation", ReasonCode.CONTENT_POLICY),
        ("408", "no result for 10 minutes", ReasonCode.PROVIDER_TIMEOUT),
        ("451", "cannot fetch image_url", ReasonCode.PROVIDER_INPUT_UNREACHABLE),
        ("422", "bad input", ReasonCode.PROVIDER_REJECTED),
    ],
)
def test_failed_tasks_get_a_reason(code, message, reason):
    assert reason_for_failure(code, message) is reason


async def test_unknown_task_422_is_not_found():
    async with recorded(answer("record_info_not_found")) as gateway:
        with pytest.raises(NotFoundError) as caught:
            await gateway.status(ProviderTaskId("task_nope"))
    assert caught.value.entity_id == "task_nope"


async def test_unknown_task_404_is_not_found():
    async with recorded(lambda _: envelope(404, "Task not found")) as gateway:
        with pytest.raises(NotFoundError):
            await gateway.status(ProviderTaskId("task_nope"))


async def test_status_of_a_success():
    async with recorded(answer("record_info_success")) as gateway:
        status = await gateway.status(TASK)
    assert status.state is ProviderState.SUCCEEDED
    assert status.result_urls == ("https://tempfile.aiquickdraw.com/h/3f5a2c0e9b7d4e1a.png",)
    assert status.credits_consumed == Decimal(4)
    assert status.reason is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("record_info_fail", ReasonCode.PROVIDER_FAILED),
        ("record_info_fail_content_policy", ReasonCode.CONTENT_POLICY),
    ],
)
async def test_status_of_a_failure(name, reason):
    async with recorded(answer(name)) as gateway:
        status = await gateway.status(TASK)
    assert status.state is ProviderState.FAILED
    assert status.reason is reason
    assert status.detail.startswith("failCode ")


@pytest.mark.parametrize(
    ("name", "state"),
    [("record_info_waiting", ProviderState.QUEUED), ("record_info_generating", "running")],
)
async def test_status_while_running(name, state):
    async with recorded(answer(name)) as gateway:
        status = await gateway.status(TASK)
    assert status.state == state
    assert status.result_urls == ()


async def test_object_and_character_results():
    async with recorded(answer("record_info_success_object")) as gateway:
        status = await gateway.status(TASK)
    assert status.result_object == {"text": "Hello there", "language_code": "en"}
    async with recorded(answer("record_info_success_character")) as gateway:
        status = await gateway.status(TASK)
    assert status.result_object == {"character_id": "char_0a1b2c3d"}


def test_success_without_any_result_is_a_failure():
    status = status_of(TASK, RecordInfo(task_id=TASK, state="success", result_json=TaskResult()))
    assert status.state is ProviderState.FAILED
    assert status.reason is ReasonCode.PROVIDER_FAILED


def test_an_undocumented_state_keeps_polling():
    status = status_of(TASK, RecordInfo(task_id=TASK, state="paused"))
    assert status.state is ProviderState.RUNNING


async def test_failure_details_never_carry_urls():
    reply = envelope(451, "Could not fetch https://files.example/private/photo.png?sig=abc")
    async with recorded(lambda _: reply) as gateway:
        with pytest.raises(ProviderError) as caught:
            await gateway.submit(submit_request())
    assert caught.value.reason_code is ReasonCode.PROVIDER_INPUT_UNREACHABLE
    assert "files.example" not in caught.value.detail
    assert "<url>" in caught.value.detail


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (httpx.ReadTimeout("timed out"), ReasonCode.PROVIDER_TIMEOUT),
        (httpx.ConnectError("refused"), ReasonCode.PROVIDER_UNAVAILABLE),
        (httpx.Response(502, text="bad gateway"), ReasonCode.PROVIDER_UNAVAILABLE),
        (httpx.Response(403, text="error code: 1010"), ReasonCode.PROVIDER_AUTH),
        (httpx.Response(200, text="<html>"), ReasonCode.PROVIDER_REJECTED),
    ],
    ids=["timeout", "connect", "http502", "cloudflare403", "not-json"],
)
async def test_transport_failures_become_provider_errors(
    failure: httpx.Response | Exception, reason: ReasonCode
):
    def handler(_: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return failure

    async with recorded(handler) as gateway:
        with pytest.raises(ProviderError) as caught:
            await gateway.credits()
    assert caught.value.reason_code is reason


async def test_an_ambiguous_create_failure_says_the_task_may_exist():
    def handler(_: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    async with recorded(handler) as gateway:
        with pytest.raises(ProviderError) as caught:
            await gateway.submit(submit_request())
    assert caught.value.reason_code is ReasonCode.PROVIDER_TIMEOUT
    assert caught.value.maybe_accepted
