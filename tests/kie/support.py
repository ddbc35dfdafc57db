"""Helpers for the KIE tests: a manual clock, golden answers and ready-made gateways."""

import asyncio
import itertools
import json
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from kiebot_kie.client import CreateRateLimiter, KieClient, RetryPolicy
from kiebot_kie.gateway import KieGenerationGateway
from kiebot_kie.sandbox.server import Sandbox, run_sandbox

GOLDEN = Path(__file__).parent / "golden"
API_KEY = "kie-test-key-0123456789abcdef"
START = 1_786_416_968.0
"""A Unix time for manual clocks (the timestamps of API.md's examples)."""


_SSL = ssl.create_default_context()


def http_client(**options: Any) -> httpx.AsyncClient:
    """An httpx client sharing one SSL context (building one costs ~30 ms per client)."""
    return httpx.AsyncClient(verify=_SSL, **options)


def golden(name: str) -> Any:
    return json.loads((GOLDEN / f"{name}.json").read_text("utf-8"))


def golden_names(prefix: str = "") -> list[str]:
    return sorted(path.stem for path in GOLDEN.glob(f"{prefix}*.json"))


class ManualClock:
    """Unix seconds that move only when told; ``sleep`` moves them instead of waiting."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def make_client(
    http: httpx.AsyncClient,
    clock: ManualClock,
    *,
    base_url: str = "https://api.kie.ai",
    upload_base_url: str = "https://kieai.redpandaai.co",
    attempts: int = 4,
    limit: int = 18,
) -> KieClient:
    """A client whose waits (retries, rate limiter) only move ``clock``."""
    return KieClient(
        http,
        API_KEY,
        base_url=base_url,
        upload_base_url=upload_base_url,
        retry=RetryPolicy(attempts=attempts),
        limiter=CreateRateLimiter(limit=limit, clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        jitter=lambda: 0.5,
    )


@asynccontextmanager
async def mock_client(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: ManualClock | None = None,
    **options: Any,
) -> AsyncIterator[KieClient]:
    async with http_client(transport=httpx.MockTransport(handler)) as http:
        yield make_client(http, clock or ManualClock(), **options)


@asynccontextmanager
async def sandbox_gateway(
    clock: ManualClock, **sandbox_options: Any
) -> AsyncIterator[tuple[Sandbox, KieGenerationGateway]]:
    """A fast sandbox on loopback driven by ``clock``, and a gateway talking to it over HTTP."""
    options: dict[str, Any] = {"fast": True, "clock": clock} | sandbox_options
    async with run_sandbox(**options) as sandbox, http_client() as http:
        client = make_client(
            http, clock, base_url=sandbox.base_url, upload_base_url=sandbox.upload_base_url
        )
        yield sandbox, KieGenerationGateway(client)


def envelope(code: int, msg: str = "", data: Any = None, *, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg, "data": data})


class GoldenKie:
    """A MockTransport handler replaying the golden answers like KIE would.

    Each created task plays waiting, generating, then success; a ``[fail]`` or ``[nsfw]``
    marker in the prompt plays a failure instead. Unknown task ids get the documented
    ``422 "recordInfo is null"``. Only the task id in a golden answer is rewritten.
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._scripts: dict[str, deque[str]] = {}
        self._ids = itertools.count(1)

    def _with_task_id(self, name: str, task_id: str) -> Any:
        answer = golden(name)
        answer["data"]["taskId"] = task_id
        return answer

    def _create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        prompt = str(body["input"].get("prompt", ""))
        if "[nsfw]" in prompt:
            last = "record_info_fail_content_policy"
        elif "[fail]" in prompt:
            last = "record_info_fail"
        else:
            last = "record_info_success"
        task_id = f"task_golden_{next(self._ids)}"
        self._scripts[task_id] = deque(["record_info_waiting", "record_info_generating", last])
        return httpx.Response(200, json=self._with_task_id("create_task_success", task_id))

    def _record(self, request: httpx.Request) -> httpx.Response:
        task_id = request.url.params.get("taskId", "")
        script = self._scripts.get(task_id)
        if script is None:
            return httpx.Response(200, json=golden("record_info_not_found"))
        name = script.popleft() if len(script) > 1 else script[0]
        return httpx.Response(200, json=self._with_task_id(name, task_id))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        match request.url.path:
            case "/api/v1/jobs/createTask":
                return self._create(request)
            case "/api/v1/jobs/recordInfo":
                return self._record(request)
            case "/api/v1/chat/credit":
                return httpx.Response(200, json=golden("credits"))
            case "/api/v1/common/download-url":
                return httpx.Response(200, json=golden("download_url"))
            case "/api/file-stream-upload" | "/api/file-base64-upload" | "/api/file-url-upload":
                return httpx.Response(200, json=golden("upload_success"))
            case _:
                return httpx.Response(404, text="not found")
