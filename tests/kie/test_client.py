import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from kiebot_core.domain.errors import StorageUnavailableError
from kiebot_core.domain.limits import RateDecision
from kiebot_core.testing.limits import MemoryRateLimiter
from kiebot_kie.client import (
    USER_AGENT,
    CreateRateLimiter,
    KieClient,
    RetryPolicy,
    SharedCreateLimiter,
    Timeouts,
)
from kiebot_kie.errors import (
    KieApiError,
    KieHttpError,
    KieProtocolError,
    KieRefusedUrlError,
    KieTimeoutError,
    KieTransportError,
)
from tests.kie.support import API_KEY, ManualClock, envelope, golden, mock_client

TOKEN = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # noqa: S105 - a made-up bot token
TELEGRAM_URL = f"https://api.telegram.org/file/bot123456789:{TOKEN}/photos/file_1.jpg"


class Recorder:
    """A MockTransport handler answering from a FIFO list (the last answer repeats)."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _never(request: httpx.Request) -> httpx.Response:
    pytest.fail(f"no request was expected, got {request.method} {request.url}")


def golden_response(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=golden(name))


# ---------------------------------------------------------------- requests


async def test_create_task_sends_the_documented_request():
    recorder = Recorder(golden_response("create_task_success"))
    async with mock_client(recorder) as client:
        task_id = await client.create_task(
            "seedream/4.5-edit",
            {"prompt": "...", "image_urls": ["https://tempfile.redpandaai.co/..."]},
            callback_url="https://bot.example.com/kie/callback",
        )
    assert task_id == golden("create_task_success")["data"]["taskId"]
    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.kie.ai/api/v1/jobs/createTask"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("kiebot/")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "model": "seedream/4.5-edit",
        "callBackUrl": "https://bot.example.com/kie/callback",
        "input": {"prompt": "...", "image_urls": ["https://tempfile.redpandaai.co/..."]},
    }


async def test_record_info_queries_by_task_id():
    recorder = Recorder(golden_response("record_info_success"))
    async with mock_client(recorder) as client:
        record = await client.record_info("task_3f5a2c0e9b7d4e1a8c6b")
    assert record.state == "success"
    (request,) = recorder.requests
    assert request.method == "GET"
    assert request.url.path == "/api/v1/jobs/recordInfo"
    assert request.url.params["taskId"] == "task_3f5a2c0e9b7d4e1a8c6b"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_credits_and_download_url():
    recorder = Recorder(golden_response("credits"), golden_response("download_url"))
    async with mock_client(recorder) as client:
        assert await client.credits() == Decimal(100)
        link = await client.download_url("https://tempfile.aiquickdraw.com/h/1.png")
    assert link == golden("download_url")["data"]
    credit, download = recorder.requests
    assert (credit.method, credit.url.path) == ("GET", "/api/v1/chat/credit")
    assert (download.method, download.url.path) == ("POST", "/api/v1/common/download-url")
    assert json.loads(download.content) == {"url": "https://tempfile.aiquickdraw.com/h/1.png"}


async def test_stream_upload_goes_to_the_upload_host_as_multipart():
    recorder = Recorder(golden_response("upload_success"))
    async with mock_client(recorder) as client:
        uploaded = await client.upload_stream(b"\x89PNG-bytes", "photo.png", "image/png")
    assert uploaded.download_url == "https://tempfile.redpandaai.co/kieai/kiebot/photo.png"
    (request,) = recorder.requests
    assert str(request.url) == "https://kieai.redpandaai.co/api/file-stream-upload"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    body = request.content
    assert b'name="file"; filename="photo.png"' in body
    assert b"\x89PNG-bytes" in body
    assert b'name="uploadPath"' in body
    assert b'name="fileName"' in body


async def test_base64_and_url_uploads():
    recorder = Recorder(golden_response("upload_success"))
    async with mock_client(recorder, upload_base_url="https://uploads.test/") as client:
        await client.upload_base64(b"abc", "a.png", "image/png", upload_path="p")
        await client.upload_url("https://example.com/a.png", "a.png")
    b64, url = recorder.requests
    assert str(b64.url) == "https://uploads.test/api/file-base64-upload"
    assert json.loads(b64.content) == {
        "base64Data": "data:image/png;base64," + base64.b64encode(b"abc").decode(),
        "uploadPath": "p",
        "fileName": "a.png",
    }
    assert str(url.url) == "https://uploads.test/api/file-url-upload"
    assert json.loads(url.content)["fileUrl"] == "https://example.com/a.png"


async def test_every_call_has_its_own_timeout():
    recorder = Recorder(
        golden_response("create_task_success"),
        golden_response("record_info_success"),
        golden_response("upload_success"),
    )
    async with mock_client(recorder) as client:
        client.timeouts = Timeouts(create_s=11, query_s=7, upload_s=99)
        await client.create_task("z-image", {"prompt": "x"})
        await client.record_info("t")
        await client.upload_stream(b"x", "x.png", "image/png")
    reads = [request.extensions["timeout"]["read"] for request in recorder.requests]
    assert reads == [11, 7, 99]


# ---------------------------------------------------------------- envelope codes


@pytest.mark.parametrize("code", [401, 402, 422, 501, 505])
async def test_an_error_code_in_an_http_200_answer_is_an_error(code):
    recorder = Recorder(golden_response(f"error_{code}"))
    async with mock_client(recorder) as client:
        with pytest.raises(KieApiError) as caught:
            await client.record_info("t")
    assert caught.value.code == code
    assert caught.value.msg == golden(f"error_{code}")["msg"]
    assert len(recorder.requests) == 1  # not retryable


async def test_the_envelope_wins_over_the_http_status():
    recorder = Recorder(httpx.Response(500, json=golden("record_info_success")))
    async with mock_client(recorder) as client:
        record = await client.record_info("t")
    assert record.state == "success"


async def test_an_answer_that_is_not_an_envelope():
    recorder = Recorder(httpx.Response(200, text="<html>hello</html>"))
    async with mock_client(recorder) as client:
        with pytest.raises(KieProtocolError):
            await client.credits()
    forbidden = Recorder(httpx.Response(403, text="error code: 1010"))
    async with mock_client(forbidden) as client:
        with pytest.raises(KieHttpError) as caught:
            await client.credits()
    assert caught.value.http_status == 403


async def test_create_answer_without_task_id_is_a_protocol_error():
    recorder = Recorder(envelope(200, "success", {"recordId": "r"}))
    async with mock_client(recorder) as client:
        with pytest.raises(KieProtocolError):
            await client.create_task("z-image", {"prompt": "x"})


async def test_record_info_with_null_data_means_unknown_task():
    recorder = Recorder(envelope(200, "success", None))
    async with mock_client(recorder) as client:
        with pytest.raises(KieApiError) as caught:
            await client.record_info("t")
    assert caught.value.code == 404


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize(
    "failure",
    [
        golden_response("error_429"),
        golden_response("error_455"),
        golden_response("error_500"),
        httpx.Response(502, text="error code: 502"),
        httpx.Response(429, text="slow down"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
    ids=["429", "455", "500", "http502", "http429", "read-timeout", "connect", "broken"],
)
async def test_idempotent_calls_are_retried_with_backoff(failure):
    recorder = Recorder(failure, failure, golden_response("record_info_success"))
    clock = ManualClock()
    async with mock_client(recorder, clock) as client:
        record = await client.record_info("t")
    assert record.state == "success"
    assert len(recorder.requests) == 3
    assert len(clock.sleeps) == 2
    assert clock.sleeps[1] > clock.sleeps[0] > 0  # exponential backoff


async def test_retries_stop_after_the_last_attempt():
    recorder = Recorder(golden_response("error_455"))
    clock = ManualClock()
    async with mock_client(recorder, clock, attempts=3) as client:
        with pytest.raises(KieApiError) as caught:
            await client.record_info("t")
    assert caught.value.code == 455
    assert len(recorder.requests) == 3


async def test_a_500_that_reads_like_validation_is_not_retried():
    recorder = Recorder(envelope(500, "This field is required"))
    async with mock_client(recorder) as client:
        with pytest.raises(KieApiError):
            await client.record_info("t")
    assert len(recorder.requests) == 1


def test_backoff_has_jitter_and_a_ceiling():
    policy = RetryPolicy(base_delay_s=1, max_delay_s=4)
    assert policy.delay(1, 0.0) == 0.5
    assert policy.delay(1, 1.0) == 1.0
    assert policy.delay(2, 1.0) == 2.0
    assert policy.delay(10, 1.0) == 4.0
    assert policy.delay(10, 0.0) == 2.0


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("reset"),
    ],
    ids=["read-timeout", "write-timeout", "broken", "read-error"],
)
async def test_create_task_is_never_resent_after_an_ambiguous_network_failure(failure):
    recorder = Recorder(failure, golden_response("create_task_success"))
    async with mock_client(recorder) as client:
        with pytest.raises(KieTransportError) as caught:
            await client.create_task("z-image", {"prompt": "x"})
    assert caught.value.maybe_sent
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [golden_response("error_500"), httpx.Response(502, text="bad gateway")],
    ids=["envelope-500", "http-502"],
)
async def test_create_task_is_not_resent_after_a_server_error(answer):
    recorder = Recorder(answer, golden_response("create_task_success"))
    async with mock_client(recorder) as client:
        with pytest.raises((KieApiError, KieHttpError)):
            await client.create_task("z-image", {"prompt": "x"})
    assert len(recorder.requests) == 1


async def test_create_task_timeout_is_reported_as_maybe_accepted():
    recorder = Recorder(httpx.ReadTimeout("timed out"))
    async with mock_client(recorder) as client:
        with pytest.raises(KieTimeoutError) as caught:
            await client.create_task("z-image", {"prompt": "x"})
    assert caught.value.maybe_sent


@pytest.mark.parametrize("code", [429, 455])
async def test_create_task_is_resent_when_kie_says_it_was_dropped(code):
    recorder = Recorder(golden_response(f"error_{code}"), golden_response("create_task_success"))
    clock = ManualClock()
    async with mock_client(recorder, clock) as client:
        task_id = await client.create_task("z-image", {"prompt": "x"})
    assert task_id
    assert len(recorder.requests) == 2
    if code == 429:
        assert clock.sleeps == [10.0]  # a dropped create waits out KIE's whole window


async def test_create_task_is_resent_when_the_connection_was_never_made():
    recorder = Recorder(httpx.ConnectError("refused"), golden_response("create_task_success"))
    async with mock_client(recorder) as client:
        assert await client.create_task("z-image", {"prompt": "x"})
    assert len(recorder.requests) == 2


async def test_retry_after_is_honoured():
    limited = httpx.Response(429, headers={"Retry-After": "7"}, text="slow down")
    recorder = Recorder(limited, golden_response("credits"))
    clock = ManualClock()
    async with mock_client(recorder, clock) as client:
        await client.credits()
    assert clock.sleeps == [7.0]


# ---------------------------------------------------------------- the create limiter


async def test_limiter_lets_the_limit_through_then_waits_for_the_window():
    clock = ManualClock(start=0.0)
    limiter = CreateRateLimiter(limit=20, window_s=10.0, clock=clock, sleep=clock.sleep)
    for _ in range(20):
        await limiter.acquire()
    assert clock.sleeps == []
    assert clock.now == 0.0
    await limiter.acquire()
    assert clock.sleeps == [10.0]


async def test_limiter_never_allows_more_than_the_limit_in_any_window():
    clock = ManualClock(start=0.0)
    limiter = CreateRateLimiter(limit=20, window_s=10.0, clock=clock, sleep=clock.sleep)
    stamps: list[float] = []

    async def create() -> None:
        await limiter.acquire()
        stamps.append(clock.now)
        clock.advance(0.1)

    await asyncio.gather(*(create() for _ in range(75)))
    assert len(stamps) == 75
    for start in stamps:
        assert sum(1 for stamp in stamps if start <= stamp < start + 10.0) <= 20


async def test_every_create_attempt_goes_through_the_limiter():
    clock = ManualClock(start=0.0)
    recorder = Recorder(golden_response("create_task_success"))
    async with mock_client(recorder, clock, limit=2) as client:
        for _ in range(5):
            await client.create_task("z-image", {"prompt": "x"})
    assert len(recorder.requests) == 5
    assert len(clock.sleeps) == 2


async def test_queries_do_not_use_the_create_limiter():
    clock = ManualClock(start=0.0)
    recorder = Recorder(golden_response("credits"))
    async with mock_client(recorder, clock, limit=1) as client:
        for _ in range(5):
            await client.credits()
    assert clock.sleeps == []


# ---------------------------------------------------------------- Telegram URLs


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_task("google/nano-banana-edit", {"image_urls": [TELEGRAM_URL]}),
        lambda c: c.create_task("z-image", {"prompt": f"look at {TELEGRAM_URL}"}),
        lambda c: c.create_task("z-image", {"prompt": "x"}, callback_url=TELEGRAM_URL),
        lambda c: c.upload_url(TELEGRAM_URL, "photo.jpg"),
        lambda c: c.upload_url("http://127.0.0.1:8081/file/bot123456:abcdefghijklmnop/a", "a"),
        lambda c: c.download_url(TELEGRAM_URL),
    ],
    ids=["input", "prompt", "callback", "upload-url", "local-bot-api", "download-url"],
)
async def test_telegram_file_urls_are_refused_before_anything_is_sent(
    call: Callable[[KieClient], Awaitable[object]],
):
    async with mock_client(_never) as client:
        with pytest.raises(KieRefusedUrlError) as caught:
            await call(client)
    assert isinstance(caught.value, ValueError)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert "api.telegram.org" not in str(caught.value)


async def test_text_that_merely_mentions_telegram_is_sent():
    recorder = Recorder(golden_response("create_task_success"))
    async with mock_client(recorder) as client:
        await client.create_task("z-image", {"prompt": "a poster for t.me and api.telegram.org"})
    assert len(recorder.requests) == 1


async def test_result_files_are_fetched_without_the_api_key():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("gone.mp4"):
            return httpx.Response(404)
        return httpx.Response(200, content=b"x" * 100)

    async with mock_client(handler) as client:
        assert await client.fetch("https://tempfile.example/a.mp4", max_bytes=100) == b"x" * 100
        assert await client.fetch("https://tempfile.example/a.mp4", max_bytes=99) is None
        assert await client.fetch("https://tempfile.example/gone.mp4", max_bytes=100) is None
    assert seen
    assert all("authorization" not in request.headers for request in seen)
    assert all(API_KEY not in str(request.headers) for request in seen)


class SharedStore:
    """One ``MemoryRateLimiter`` for two processes, on the test's manual clock; ``down``
    makes it unreachable."""

    def __init__(self, clock: ManualClock) -> None:
        self.manual = clock
        self.limiter = MemoryRateLimiter(clock=self)
        self.down = False

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.manual.now)

    async def hit(self, key: str, *, limit: int, window: timedelta) -> RateDecision:
        if self.down:
            raise StorageUnavailableError("cut")
        return await self.limiter.hit(key, limit=limit, window=window)


async def test_two_processes_sharing_the_limit_stay_under_kies_together():
    clock = ManualClock(start=0.0)
    store = SharedStore(clock)
    processes = [SharedCreateLimiter(store, sleep=clock.sleep) for _ in range(2)]
    stamps: list[float] = []

    async def create(limiter: SharedCreateLimiter) -> None:
        await limiter.acquire()
        stamps.append(clock.now)
        clock.advance(0.05)

    await asyncio.gather(*(create(processes[n % 2]) for n in range(80)))
    assert len(stamps) == 80
    for start in stamps:
        assert sum(1 for stamp in stamps if start <= stamp < start + 10.0) <= 18
    assert stamps[-1] >= 40.0, "about 1.5 creates a second, not 3.6"


async def test_without_the_shared_store_each_process_keeps_its_own_limit():
    clock = ManualClock(start=0.0)
    store = SharedStore(clock)
    store.down = True
    local = CreateRateLimiter(limit=18, window_s=10.0, clock=clock, sleep=clock.sleep)
    limiter = SharedCreateLimiter(store, local=local, sleep=clock.sleep)
    for _ in range(18):
        await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [10.0]
