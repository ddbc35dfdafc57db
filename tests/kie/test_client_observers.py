"""KieClient observers: every attempt of every API call, with KIE's code and its latency."""

import httpx
import pytest

from kiebot_kie.client import CallRecord
from kiebot_kie.errors import KieApiError, KieHttpError, KieTimeoutError
from tests.kie.support import envelope, mock_client


class Answers:
    """A MockTransport handler answering from a FIFO list."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_each_attempt_is_observed_with_kie_code():
    seen: list[CallRecord] = []
    answers = Answers(
        envelope(500, "Server Error", status=200),
        httpx.Response(503, text="<html>bad gateway</html>"),
        envelope(200, "success", 1234.5),
    )
    async with mock_client(answers) as client:
        client.observe(seen.append)
        assert await client.credits() == 1234.5
    assert [(r.endpoint, r.code) for r in seen] == [
        ("credit", "500"),
        ("credit", "http_503"),
        ("credit", "200"),
    ]
    assert all(r.seconds >= 0 for r in seen)


async def test_a_refused_create_is_observed_once_with_402():
    seen: list[CallRecord] = []
    async with mock_client(Answers(envelope(402, "Credits insufficient"))) as client:
        client.observe(seen.append)
        with pytest.raises(KieApiError):
            await client.create_task("nano-banana-pro", {"prompt": "a fox"})
    assert [(r.endpoint, r.code) for r in seen] == [("createTask", "402")]


async def test_timeouts_and_bodies_that_are_not_kie_envelopes_are_observed():
    seen: list[CallRecord] = []
    read_timeout = httpx.ReadTimeout("slow")
    async with mock_client(Answers(read_timeout), attempts=1) as client:
        client.observe(seen.append)
        with pytest.raises(KieTimeoutError):
            await client.create_task("nano-banana-pro", {"prompt": "a fox"})
    async with mock_client(Answers(httpx.Response(404, text="no"))) as client:
        client.observe(seen.append)
        with pytest.raises(KieHttpError):
            await client.record_info("task_1")
    assert [(r.endpoint, r.code) for r in seen] == [
        ("createTask", "timeout"),
        ("recordInfo", "http_404"),
    ]


async def test_a_failing_observer_never_breaks_a_call():
    seen: list[CallRecord] = []

    def broken(_: CallRecord) -> None:
        raise RuntimeError("observer bug")

    async with mock_client(Answers(envelope(200, "success", 7))) as client:
        client.observe(broken)
        client.observe(seen.append)
        assert await client.credits() == 7
    assert [r.code for r in seen] == ["200"]
