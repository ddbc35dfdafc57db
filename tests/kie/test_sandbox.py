"""The gateway against the sandbox over real HTTP on loopback, and the sandbox's own rules."""

import asyncio
import json
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from kiebot_core.domain.errors import NotFoundError, ProviderError
from kiebot_core.domain.ids import CorrelationId, ProviderTaskId
from kiebot_core.domain.pricing import credits_for
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.generation import ProviderState, SubmitRequest
from kiebot_kie.errors import KieApiError
from kiebot_kie.gateway import KieGenerationGateway, open_kie_gateway
from kiebot_kie.sandbox import media
from kiebot_kie.sandbox.server import FAST_TIMING, Sandbox, run_sandbox
from tests.kie.support import ManualClock, http_client, make_client, sandbox_gateway

MODEL = "google/nano-banana"


def request(prompt: str = "a red fox in the snow", model: str = MODEL, **extra: object):
    return SubmitRequest(
        model_id=model,
        input={"prompt": prompt, **extra},  # type: ignore[dict-item]
        correlation_id=CorrelationId("cor_1"),
    )


async def download(url: str) -> httpx.Response:
    async with http_client() as http:
        return await http.get(url)


async def test_states_follow_the_task_age(
    sandbox: Sandbox, gateway: KieGenerationGateway, clock: ManualClock
):
    task_id = await gateway.submit(request())
    raw_states = []
    states = []
    for _ in range(8):
        record = await gateway.client.record_info(task_id)
        raw_states.append(record.state)
        states.append((await gateway.status(task_id)).state)
        clock.advance(0.05)
    assert raw_states[:5] == ["waiting", "queuing", "generating", "generating", "generating"]
    assert raw_states[-1] == "success"
    assert states[0] is ProviderState.QUEUED
    assert ProviderState.RUNNING in states
    assert states[-1] is ProviderState.SUCCEEDED


async def test_a_successful_task_returns_a_real_png_and_is_charged(
    sandbox: Sandbox, gateway: KieGenerationGateway, clock: ManualClock
):
    before = await gateway.credits()
    task_id = await gateway.submit(request())
    clock.advance(1)
    status = await gateway.status(task_id)
    assert status.state is ProviderState.SUCCEEDED
    (url,) = status.result_urls
    assert url.startswith(sandbox.base_url)
    response = await download(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(media.PNG_SIGNATURE)
    model = load_registry().get(MODEL)
    assert model is not None
    price = credits_for(model, {"prompt": "a red fox in the snow"})
    assert isinstance(price, tuple)
    assert status.credits_consumed == price[0]
    assert await gateway.credits() == before - price[0]
    assert await gateway.credits() == before - price[0]  # charged once


async def test_different_prompts_give_different_images(
    gateway: KieGenerationGateway, clock: ManualClock
):
    first = await gateway.submit(request("a red fox"))
    second = await gateway.submit(request("a blue whale"))
    clock.advance(1)
    images = []
    for task_id in (first, second):
        status = await gateway.status(task_id)
        images.append((await download(status.result_urls[0])).content)
    assert images[0] != images[1]
    assert all(image.startswith(media.PNG_SIGNATURE) for image in images)


async def test_several_outputs_give_several_urls(
    gateway: KieGenerationGateway, clock: ManualClock
):
    task_id = await gateway.submit(request("three cats", model="wan/2-7-image", n=3))
    clock.advance(1)
    status = await gateway.status(task_id)
    assert len(status.result_urls) == 3
    bodies = {(await download(url)).content for url in status.result_urls}
    assert len(bodies) == 3


async def test_last_frame_urls_for_seedance(gateway: KieGenerationGateway, clock: ManualClock):
    task_id = await gateway.submit(
        request("a kite", model="bytedance/seedance-2", return_last_frame=True)
    )
    clock.advance(1)
    record = await gateway.client.record_info(task_id)
    assert record.result_json is not None
    assert len(record.result_json.last_frame_url) == 1
    frame = await download(record.result_json.last_frame_url[0])
    assert frame.content.startswith(media.PNG_SIGNATURE)
    video = await download(record.result_json.result_urls[0])
    assert video.content[4:8] == b"ftyp"


# ---------------------------------------------------------------- failure injection


@pytest.mark.parametrize(
    ("marker", "reason"),
    [("[fail]", ReasonCode.PROVIDER_FAILED), ("[NSFW]", ReasonCode.CONTENT_POLICY)],
)
async def test_failure_markers(
    sandbox: Sandbox, gateway: KieGenerationGateway, clock: ManualClock, marker, reason
):
    before = await gateway.credits()
    task_id = await gateway.submit(request(f"a fox {marker}"))
    clock.advance(1)
    status = await gateway.status(task_id)
    assert status.state is ProviderState.FAILED
    assert status.reason is reason
    assert status.result_urls == ()
    assert await gateway.credits() == before  # failed tasks are not charged
    assert (await download(f"{sandbox.base_url}/files/results/{task_id}/0.png")).status_code == 404


async def test_slow_marker(gateway: KieGenerationGateway, clock: ManualClock):
    task_id = await gateway.submit(request("a fox [slow]"))
    clock.advance(1)
    assert (await gateway.status(task_id)).state is not ProviderState.SUCCEEDED
    clock.advance(FAST_TIMING.generating_s * FAST_TIMING.slow_factor * 2)
    assert (await gateway.status(task_id)).state is ProviderState.SUCCEEDED


async def test_lost_marker(gateway: KieGenerationGateway, clock: ManualClock):
    task_id = await gateway.submit(request("a fox [lost]"))
    clock.advance(24 * 3600)
    assert (await gateway.status(task_id)).state is ProviderState.RUNNING


async def test_unreachable_marker(gateway: KieGenerationGateway):
    with pytest.raises(ProviderError) as caught:
        await gateway.submit(request("a fox [unreachable]"))
    assert caught.value.reason_code is ReasonCode.PROVIDER_INPUT_UNREACHABLE


async def test_flaky_server_is_ridden_out_by_retries(
    sandbox: Sandbox, gateway: KieGenerationGateway, clock: ManualClock
):
    task_id = await gateway.submit(request())
    sandbox.config.flaky_every = 2
    for _ in range(4):
        await gateway.status(task_id)
        await gateway.credits()
    assert clock.sleeps  # some answers were 502 and were retried


async def test_flaky_create_is_not_resent(sandbox: Sandbox, gateway: KieGenerationGateway):
    sandbox.config.flaky_every = 1
    with pytest.raises(ProviderError) as caught:
        await gateway.submit(request())
    assert caught.value.reason_code is ReasonCode.PROVIDER_UNAVAILABLE
    assert sandbox.store.tasks() == []


# ---------------------------------------------------------------- KIE's rules


async def test_no_key_is_401(sandbox: Sandbox):
    async with http_client() as http:
        response = await http.get(f"{sandbox.base_url}/api/v1/chat/credit")
        other = await http.get(
            f"{sandbox.base_url}/api/v1/chat/credit", headers={"Authorization": "Bearer any"}
        )
    assert response.status_code == 200
    assert response.json()["code"] == 401
    assert other.json() == {"code": 200, "msg": "success", "data": 10000}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "no/such-model", "input": {}}, "no/such-model"),
        ({"model": MODEL, "input": {}}, "prompt"),
        ({"model": MODEL, "input": {"prompt": "x", "output_format": "tiff"}}, "output_format"),
        ({"model": MODEL, "input": {"prompt": "x", "colour": "red"}}, "colour"),
        ({"input": {"prompt": "x"}}, "model"),
        ({"model": MODEL, "input": "x"}, "input"),
    ],
)
async def test_invalid_create_is_422_naming_the_field(
    sandbox: Sandbox, gateway: KieGenerationGateway, body, message
):
    async with http_client() as http:
        response = await http.post(
            f"{sandbox.base_url}/api/v1/jobs/createTask",
            json=body,
            headers={"Authorization": "Bearer k"},
        )
    assert response.status_code == 200
    assert response.json()["code"] == 422
    assert message in response.json()["msg"]
    assert sandbox.store.tasks() == []


async def test_client_sees_422_for_an_input_kie_refuses(gateway: KieGenerationGateway):
    with pytest.raises(KieApiError) as caught:
        await gateway.client.create_task(MODEL, {"prompt": ""})
    assert caught.value.code == 422
    assert "prompt" in caught.value.msg


async def test_unknown_task(gateway: KieGenerationGateway):
    with pytest.raises(NotFoundError):
        await gateway.status(ProviderTaskId("task_never_given"))
    with pytest.raises(KieApiError) as caught:
        await gateway.client.record_info("task_never_given")
    assert (caught.value.code, caught.value.msg) == (422, "recordInfo is null")


async def test_insufficient_credits_is_402(sandbox: Sandbox, gateway: KieGenerationGateway):
    sandbox.set_balance(1)
    with pytest.raises(ProviderError) as caught:
        await gateway.submit(request())
    assert caught.value.reason_code is ReasonCode.PROVIDER_NO_CREDITS
    assert await gateway.credits() == Decimal(1)


async def test_the_create_rate_limit_is_429(sandbox: Sandbox, clock: ManualClock):
    async with http_client() as http:
        # No client-side limiter and no retries: see the sandbox's own limit.
        client = make_client(http, clock, base_url=sandbox.base_url, attempts=1, limit=1000)
        gateway = KieGenerationGateway(client)
        for _ in range(20):
            await gateway.submit(request())
        with pytest.raises(ProviderError) as caught:
            await gateway.submit(request())
        assert caught.value.reason_code is ReasonCode.PROVIDER_RATE_LIMITED
        clock.advance(10)
        await gateway.submit(request())
        sandbox.config.force_rate_limit = True
        with pytest.raises(ProviderError):
            await gateway.submit(request())
        sandbox.config.force_rate_limit = False
        sandbox.config.rate_limit = None
        for _ in range(30):
            await gateway.submit(request())


async def test_the_client_limiter_keeps_under_the_sandbox_limit(
    gateway: KieGenerationGateway, clock: ManualClock
):
    for _ in range(45):
        await gateway.submit(request())
    assert clock.sleeps  # the client waited instead of being refused


async def test_download_url(sandbox: Sandbox, gateway: KieGenerationGateway, clock: ManualClock):
    task_id = await gateway.submit(request())
    clock.advance(1)
    status = await gateway.status(task_id)
    link = await gateway.download_link(status.result_urls[0])
    assert (await download(link)).content.startswith(media.PNG_SIGNATURE)
    with pytest.raises(ProviderError) as caught:
        await gateway.download_link("https://elsewhere.example/a.png")
    assert caught.value.reason_code is ReasonCode.PROVIDER_REJECTED


# ---------------------------------------------------------------- uploads


async def test_uploads_are_stored_and_served(sandbox: Sandbox, gateway: KieGenerationGateway):
    picture = media.png("my cat")
    uploaded = await gateway.upload(picture, "my cat.png", "image/png")
    assert uploaded.size == len(picture)
    assert uploaded.mime_type == "image/png"
    assert (await download(uploaded.url)).content == picture

    client = gateway.client
    by_b64 = await client.upload_base64(b"hello", "hello.txt", "text/plain")
    assert (by_b64.file_size, by_b64.mime_type) == (5, "text/plain")
    assert (await download(by_b64.download_url)).content == b"hello"

    by_url = await client.upload_url(uploaded.url, "copy.png")
    assert by_url.file_name == "copy.png"
    assert (await download(by_url.download_url)).content == picture


async def test_the_same_name_overwrites(gateway: KieGenerationGateway):
    client = gateway.client
    first = await client.upload_base64(b"one", "same.txt", "text/plain")
    second = await client.upload_base64(b"two", "same.txt", "text/plain")
    assert first.download_url == second.download_url
    assert (await download(first.download_url)).content == b"two"


async def test_url_upload_only_fetches_loopback(gateway: KieGenerationGateway):
    with pytest.raises(KieApiError) as caught:
        await gateway.client.upload_url("https://example.com/photo.png", "photo.png")
    assert caught.value.code == 400


async def test_bad_uploads_are_400(sandbox: Sandbox):
    async with http_client() as http:
        headers = {"Authorization": "Bearer k"}
        no_file = await http.post(
            f"{sandbox.base_url}/api/file-stream-upload", data={"x": "1"}, headers=headers
        )
        bad_b64 = await http.post(
            f"{sandbox.base_url}/api/file-base64-upload",
            json={"base64Data": "%%%"},
            headers=headers,
        )
    for response in (no_file, bad_b64):
        assert response.json()["code"] == 400
        assert response.json()["success"] is False


# ---------------------------------------------------------------- persistence


async def test_a_restarted_sandbox_finds_earlier_tasks_and_files(tmp_path: Path):
    clock = ManualClock()
    async with sandbox_gateway(clock, data_dir=tmp_path, credits=500) as (_, gateway):
        task_id = await gateway.submit(request())
        lost = await gateway.submit(request("a fox [lost]"))
        uploaded = await gateway.upload(b"photo-bytes", "photo.jpg", "image/jpeg")
        assert (await gateway.status(task_id)).state is ProviderState.QUEUED
    assert json.loads((tmp_path / "tasks" / f"{task_id}.json").read_text())["model"] == MODEL

    clock.advance(5)
    async with sandbox_gateway(clock, data_dir=tmp_path, credits=999) as (sandbox, gateway):
        status = await gateway.status(task_id)
        assert status.state is ProviderState.SUCCEEDED
        assert status.result_urls[0].startswith(sandbox.base_url)
        assert (await gateway.status(lost)).state is ProviderState.RUNNING
        path = uploaded.url.split("/files/", 1)[1]
        served = await download(f"{sandbox.base_url}/files/{path}")
        assert served.content == b"photo-bytes"
        assert status.credits_consumed is not None
        assert await gateway.credits() == Decimal(500) - status.credits_consumed


async def test_an_in_memory_sandbox_forgets(clock: ManualClock):
    async with sandbox_gateway(clock) as (_, gateway):
        task_id = await gateway.submit(request())
    async with sandbox_gateway(clock) as (_, gateway):
        with pytest.raises(NotFoundError):
            await gateway.status(task_id)


async def test_real_time_fast_mode_end_to_end():
    async with (
        run_sandbox(fast=True) as sandbox,
        open_kie_gateway(
            api_key="any",
            base_url=sandbox.base_url,
            upload_base_url=sandbox.upload_base_url,
            poll_scale=0.02,
        ) as gateway,
    ):
        task_id = await gateway.submit(request())
        started = time.monotonic()
        status = await gateway.status(task_id)
        while status.state is not ProviderState.SUCCEEDED:
            elapsed = time.monotonic() - started
            assert elapsed < 5
            await asyncio.sleep(gateway.poll_delay(timedelta(seconds=elapsed)).total_seconds())
            status = await gateway.status(task_id)
        assert (await download(status.result_urls[0])).status_code == 200


async def test_result_files_are_measured_without_credentials(
    sandbox: Sandbox, gateway: KieGenerationGateway
):
    clip = await gateway.upload(media.mp4("clip", seconds=5), "clip.mp4", "video/mp4")
    voice = await gateway.upload(media.wav("voice", seconds=1.5), "voice.wav", "audio/wav")
    picture = await gateway.upload(media.png("cat"), "cat.png", "image/png")
    odd = await gateway.upload(b"not a video", "odd.mp4", "video/mp4")
    measured = (clip.seconds, voice.seconds, picture.seconds, odd.seconds)
    assert measured == (Decimal(5), Decimal(2), None, None)
    assert await gateway.result_seconds(clip.url) == Decimal(5)
    assert await gateway.result_seconds(voice.url) == Decimal(2)
    assert await gateway.result_seconds(picture.url) is None
    assert await gateway.result_seconds(f"{sandbox.base_url}/no/such/file.mp4") is None
    assert await gateway.result_seconds("::::") is None  # not even a URL
    assert await gateway.client.fetch(clip.url, max_bytes=10) is None  # too large to measure
