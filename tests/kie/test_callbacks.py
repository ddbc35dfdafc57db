import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from kiebot_core.domain.ids import CorrelationId
from kiebot_core.ports.generation import ProviderState, SubmitRequest
from kiebot_kie.callbacks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    callback_task_id,
    sign,
    signature_headers,
    verify_callback,
)
from kiebot_kie.errors import KieCallbackError
from tests.kie.support import ManualClock, golden, sandbox_gateway

KEY = "whk_0123456789abcdef"
NOW = 1_786_417_135.0


def body(task_key: str = "taskId", task_id: str = "task_abc") -> bytes:
    payload = golden("callback_success")
    del payload["data"]["taskId"]
    payload["data"][task_key] = task_id
    return json.dumps(payload).encode()


def test_the_signature_is_the_documented_hmac():
    expected = base64.b64encode(
        hmac.new(KEY.encode(), b"task_abc.1786417135", hashlib.sha256).digest()
    ).decode()
    assert sign("task_abc", "1786417135", KEY) == expected
    assert signature_headers("task_abc", KEY, NOW) == {
        TIMESTAMP_HEADER: "1786417135",
        SIGNATURE_HEADER: expected,
    }


@pytest.mark.parametrize("task_key", ["taskId", "task_id"])
def test_a_valid_callback_gives_the_task_id(task_key):
    headers = signature_headers("task_abc", KEY, NOW)
    assert verify_callback(body(task_key), headers, hmac_key=KEY, now_s=NOW) == "task_abc"


def test_header_names_are_case_insensitive():
    headers = {k.lower(): v for k, v in signature_headers("task_abc", KEY, NOW).items()}
    assert verify_callback(body(), headers, hmac_key=KEY, now_s=NOW + 60) == "task_abc"


def test_a_wrong_signature_is_refused():
    headers = signature_headers("task_abc", "another key", NOW)
    with pytest.raises(KieCallbackError, match="signature"):
        verify_callback(body(), headers, hmac_key=KEY, now_s=NOW)


def test_a_signature_for_another_task_is_refused():
    headers = signature_headers("task_other", KEY, NOW)
    with pytest.raises(KieCallbackError, match="signature"):
        verify_callback(body(), headers, hmac_key=KEY, now_s=NOW)


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_a_stale_or_future_timestamp_is_refused(skew):
    headers = signature_headers("task_abc", KEY, NOW + skew)
    with pytest.raises(KieCallbackError, match="window"):
        verify_callback(body(), headers, hmac_key=KEY, now_s=NOW)


def test_millisecond_timestamps_are_tolerated():
    timestamp = str(int(NOW * 1000))
    headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign("task_abc", timestamp, KEY)}
    assert verify_callback(body(), headers, hmac_key=KEY, now_s=NOW) == "task_abc"


@pytest.mark.parametrize(
    "headers",
    [{}, {TIMESTAMP_HEADER: "1786417135"}, {SIGNATURE_HEADER: "abc"}],
    ids=["none", "no-signature", "no-timestamp"],
)
def test_missing_headers_are_refused_when_a_key_is_set(headers):
    with pytest.raises(KieCallbackError, match="missing"):
        verify_callback(body(), headers, hmac_key=KEY, now_s=NOW)


def test_a_garbage_timestamp_is_refused():
    headers = {TIMESTAMP_HEADER: "yesterday", SIGNATURE_HEADER: "abc"}
    with pytest.raises(KieCallbackError, match="number"):
        verify_callback(body(), headers, hmac_key=KEY, now_s=NOW)


def test_without_a_key_only_the_task_id_is_read():
    assert verify_callback(body(), {}, hmac_key=None) == "task_abc"


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"data": {}}', b'{"data": "x"}', b'{"data": {"taskId": ""}}'],
)
def test_a_body_without_a_task_is_refused(raw):
    with pytest.raises(KieCallbackError):
        callback_task_id(raw)


def test_documented_payloads_name_their_task():
    assert callback_task_id(golden("callback_success")) == "b0e3f..."
    assert callback_task_id(json.dumps(golden("callback_task_id"))) == "2fac4b1e9d"


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((await request.read(), dict(request.headers)))
        return web.Response(text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    target = Receiver()
    app = web.Application()
    app.router.add_post("/kie/callback", target.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield target, f"http://{host}:{port}/kie/callback"
    finally:
        await runner.cleanup()


async def test_the_sandbox_sends_signed_callbacks_that_verify(receiver: Any):
    target, url = receiver
    clock = ManualClock()
    async with sandbox_gateway(clock, hmac_key=KEY) as (sandbox, gateway):
        task_id = await gateway.submit(
            SubmitRequest(
                model_id="google/nano-banana",
                input={"prompt": "a lighthouse"},
                correlation_id=CorrelationId("cor_1"),
                callback_url=url,
            )
        )
        await sandbox.tick()
        assert target.calls == []  # not finished yet
        clock.advance(1.0)
        await sandbox.tick()
        await sandbox.tick()  # delivered once, not again
        assert len(target.calls) == 1
        raw, headers = target.calls[0]
        verified = verify_callback(raw, headers, hmac_key=KEY, now_s=clock.now)
        assert verified == task_id
        # The body is never trusted: the receiver re-fetches the task.
        status = await gateway.status(verified)
        assert status.state is ProviderState.SUCCEEDED
        assert json.loads(raw)["data"]["state"] == "success"
        assert sandbox.callbacks_sent == 1


async def test_duplicate_and_failure_callbacks(receiver: Any):
    target, url = receiver
    clock = ManualClock()
    async with sandbox_gateway(clock) as (sandbox, gateway):
        sandbox.config.duplicate_callbacks = True
        task_id = await gateway.submit(
            SubmitRequest(
                model_id="google/nano-banana",
                input={"prompt": "a lighthouse [fail]"},
                correlation_id=CorrelationId("cor_1"),
                callback_url=url,
            )
        )
        clock.advance(1.0)
        await sandbox.tick()
    assert len(target.calls) == 2
    for raw, headers in target.calls:
        assert SIGNATURE_HEADER not in headers  # no key configured
        payload = json.loads(raw)
        assert payload["code"] == 501
        assert payload["data"]["state"] == "fail"
        assert verify_callback(raw, headers, hmac_key=None) == task_id


async def test_callbacks_only_go_to_loopback():
    clock = ManualClock()
    async with sandbox_gateway(clock) as (sandbox, gateway):
        await gateway.submit(
            SubmitRequest(
                model_id="google/nano-banana",
                input={"prompt": "a lighthouse"},
                correlation_id=CorrelationId("cor_1"),
                callback_url="https://bot.example.com/kie/callback",
            )
        )
        clock.advance(1.0)
        await sandbox.tick()  # the network guard would fail the test if it tried
        assert sandbox.callbacks_sent == 0
        assert all(record.callback_done for record in sandbox.store.tasks())
