"""The KIE sandbox: an aiohttp server on loopback that behaves like KIE.ai for kiebot.

Endpoints (one server also plays the upload host: ``upload_base_url == base_url``)::

    POST /api/v1/jobs/createTask        validate with the core registry, check credits, accept
    GET  /api/v1/jobs/recordInfo        state from the task's age; resultJson as a JSON string
    GET  /api/v1/chat/credit            the balance (debited by the registry price on success)
    POST /api/v1/common/download-url    a direct link, only for URLs this sandbox produced
    POST /api/file-stream-upload        multipart ``file`` (+ ``uploadPath``, ``fileName``)
    POST /api/file-base64-upload        ``base64Data`` (data URL or raw base64)
    POST /api/file-url-upload           ``fileUrl``: fetched only from loopback URLs
    GET  /files/uploads/<id>/<name>     uploaded files
    GET  /files/results/<task>/<n.ext>  generated results: PNG, MP4, WAV (JSON for objects)

Like KIE, every ``/api/`` answer is the envelope ``{"code", "msg", "data"}`` with HTTP 200 and
the real status in ``code``: any ``Bearer`` key is accepted (none: 401), an unknown model or
an input the registry's ``normalize`` refuses gives 422 with a message naming the field, too
little credit 402, more than 20 creates in 10 s 429, an unknown task ``422 "recordInfo is
null"``. A task moves ``waiting → queuing → generating → success|fail`` as it ages (the
timing is configurable; ``fast`` makes a task finish in 0.3 s). With a ``callBackUrl`` (only
loopback URLs are called) the end of a task is POSTed, signed with ``X-Webhook-Timestamp`` and
``X-Webhook-Signature`` when an HMAC key is set.

Failure injection, by markers anywhere in the input's text (case-insensitive):

    [fail]          the task ends in ``fail``, failCode 501 "Generation failed"
    [nsfw]          the task ends in ``fail``, failCode 400, a content-moderation message
    [slow]          every phase takes ten times longer
    [lost]          the task stays ``generating`` forever
    [unreachable]   createTask answers 451 (an input file could not be fetched)

and by server flags (``SandboxConfig``, changeable while running): ``flaky_every=N`` answers
every N-th ``/api/`` request with a bare HTTP 502 page, ``force_rate_limit`` answers every
createTask with 429, ``rate_limit=None`` lifts the 20-per-10-s limit (benchmarks),
``duplicate_callbacks`` sends every callback twice.

Tasks, uploads and the balance persist in ``data_dir`` when one is given (see
``kiebot_kie.sandbox.store``), so a restarted sandbox finds earlier tasks.
"""

import asyncio
import base64
import binascii
import hashlib
import ipaddress
import json
import logging
import mimetypes
import os
import re
import signal
import sys
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import attrs
from aiohttp import web
from aiohttp.typedefs import Handler

from kiebot_core.domain.catalog import JsonValue, ModelSpec, Registry, ResultKind
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import credits_for, effective_values
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.validation import normalize
from kiebot_kie.callbacks import signature_headers
from kiebot_kie.sandbox import media
from kiebot_kie.sandbox.store import FileRecord, SandboxStore, TaskRecord

_log = logging.getLogger(__name__)

DEFAULT_CREDITS = Decimal(10_000)
MARKER_FAIL = "[fail]"
MARKER_NSFW = "[nsfw]"
MARKER_SLOW = "[slow]"
MARKER_LOST = "[lost]"
MARKER_UNREACHABLE = "[unreachable]"
MARKERS = (MARKER_FAIL, MARKER_NSFW, MARKER_SLOW, MARKER_LOST, MARKER_UNREACHABLE)

FAIL_MESSAGE = "Generation failed (sandbox [fail] marker)"
NSFW_MESSAGE = (
    "Your request was rejected by the content moderation system: it may violate the content "
    "policy (sandbox [nsfw] marker)"
)
_COUNT_INPUTS = ("num_images", "n", "max_images", "num_outputs")
_MAX_OUTPUTS = 10
_RESULT_NAME = re.compile(r"^(?:(first|last)-)?(\d{1,2})\.(png|mp4|wav|json)$")
_EXTENSIONS = {
    ResultKind.IMAGE_URLS: ("png", "image/png"),
    ResultKind.VIDEO_URLS: ("mp4", "video/mp4"),
    ResultKind.AUDIO_URLS: ("wav", "audio/wav"),
    ResultKind.OBJECT: ("json", "application/json"),
}


@attrs.frozen(kw_only=True)
class SandboxTiming:
    """Seconds a task spends in each state; ``[slow]`` tasks take ``slow_factor`` times longer."""

    waiting_s: float = 1.0
    queuing_s: float = 2.0
    generating_s: float = 5.0
    slow_factor: float = 10.0
    tick_s: float = 0.2
    """How often the server settles finished tasks and sends callbacks."""


FAST_TIMING = SandboxTiming(
    waiting_s=0.05, queuing_s=0.05, generating_s=0.2, slow_factor=10.0, tick_s=0.02
)
"""A task finishes 0.3 s after creation (3 s with ``[slow]``): for tests and demos."""


@attrs.define(kw_only=True)
class SandboxConfig:
    """The sandbox's behaviour; attributes may be changed while it runs."""

    timing: SandboxTiming = SandboxTiming()
    hmac_key: str | None = attrs.field(default=None, repr=False)
    rate_limit: int | None = 20
    """Creates allowed per ``rate_window_s`` (None: unlimited)."""
    rate_window_s: float = 10.0
    force_rate_limit: bool = False
    flaky_every: int | None = None
    duplicate_callbacks: bool = False
    max_upload_bytes: int = 100 * 1024 * 1024
    callback_attempts: int = 3


@attrs.frozen
class Phase:
    """A task's state at some moment and since when (Unix seconds)."""

    state: str
    since: float

    @property
    def is_terminal(self) -> bool:
        """True for ``success`` and ``fail``."""
        return self.state in {"success", "fail"}


def task_phase(record: TaskRecord, now: float, timing: SandboxTiming) -> Phase:
    """The state of ``record`` at ``now``, derived from its creation time alone."""
    scale = timing.slow_factor if record.slow else 1.0
    queued_at = record.created_at + timing.waiting_s * scale
    started_at = queued_at + timing.queuing_s * scale
    done_at = started_at + timing.generating_s * scale
    if now < queued_at:
        return Phase("waiting", record.created_at)
    if now < started_at:
        return Phase("queuing", queued_at)
    if record.outcome == "lost" or now < done_at:
        return Phase("generating", started_at)
    return Phase("success" if record.outcome == "success" else "fail", done_at)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


def _markers(input: Mapping[str, Any]) -> frozenset[str]:
    text = " ".join(_strings(input)).lower()
    return frozenset(marker for marker in MARKERS if marker in text)


def _prompt(input: Mapping[str, Any], model_id: str) -> str:
    for name in ("prompt", "text"):
        value = input.get(name)
        if isinstance(value, str) and value.strip():
            return value
    texts = [text for text in _strings(input) if text.strip()]
    return texts[0] if texts else model_id


def _outputs(model: ModelSpec, values: Mapping[str, JsonValue]) -> int:
    effective = effective_values(model, values)
    names = (model.price.count_input, *_COUNT_INPUTS) if model.price.count_input else _COUNT_INPUTS
    for name in names:
        value = effective.get(name) if name else None
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                return max(1, min(_MAX_OUTPUTS, int(Decimal(str(value)))))
            except ArithmeticError:
                continue
    return 1


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def is_loopback_url(url: str) -> bool:
    """True for an http(s) URL whose host is this machine."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        return False
    host = (parts.hostname or "").lower()
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _envelope(code: int, msg: str, data: Any = None, *, http_status: int = 200) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": data}, status=http_status)


def _upload_envelope(code: int, msg: str, data: Any = None) -> web.Response:
    return web.json_response({"success": code == 200, "code": code, "msg": msg, "data": data})


class _Refusal(Exception):  # noqa: N818 - an internal control-flow signal, not an error type
    def __init__(self, response: web.Response) -> None:
        super().__init__("refused")
        self.response = response


class Sandbox:
    """One running (or ready to run) KIE emulator. Build it with :func:`run_sandbox`."""

    def __init__(
        self,
        *,
        config: SandboxConfig,
        store: SandboxStore,
        registry: Registry,
        clock: Callable[[], float],
        credits: Decimal,
    ) -> None:
        self.config = config
        self._store = store
        self._registry = registry
        self._clock = clock
        if store.balance() is None:
            store.save_balance(credits)
        self._pending = {
            record.task_id
            for record in store.tasks()
            if not record.settled or (record.callback_url and not record.callback_done)
        }
        self._creates: deque[float] = deque()
        self._api_requests = 0
        self._base_url: str | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._tick_lock = asyncio.Lock()
        self.callbacks_sent = 0
        """Callbacks delivered (HTTP 2xx), for tests and demos."""

    # ---------------------------------------------------------------- public

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: use it as KIE's API base URL."""
        if self._base_url is None:
            raise RuntimeError("the sandbox is not running")
        return self._base_url

    @property
    def upload_base_url(self) -> str:
        """The file upload API's base URL (this same server)."""
        return self.base_url

    @property
    def port(self) -> int:
        """The TCP port the sandbox listens on."""
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def store(self) -> SandboxStore:
        """Where tasks, files and the balance are kept (for inspection in tests)."""
        return self._store

    @property
    def balance(self) -> Decimal:
        """The current credit balance, after charging every task finished by now."""
        self._settle_all()
        balance = self._store.balance()
        return balance if balance is not None else Decimal(0)

    def set_balance(self, credits: Decimal | int | str) -> None:
        """Replace the credit balance."""
        self._store.save_balance(Decimal(str(credits)))

    def make_app(self) -> web.Application:
        """The aiohttp application with every route and middleware."""
        app = web.Application(
            middlewares=[self._middleware()],
            client_max_size=self.config.max_upload_bytes + 1024 * 1024,
        )
        app.router.add_post("/api/v1/jobs/createTask", self._create_task)
        app.router.add_get("/api/v1/jobs/recordInfo", self._record_info)
        app.router.add_get("/api/v1/chat/credit", self._credit)
        app.router.add_post("/api/v1/common/download-url", self._download_url)
        app.router.add_post("/api/file-stream-upload", self._stream_upload)
        app.router.add_post("/api/file-base64-upload", self._base64_upload)
        app.router.add_post("/api/file-url-upload", self._url_upload)
        app.router.add_get("/files/uploads/{file_id}/{name}", self._uploaded_file)
        app.router.add_get("/files/results/{task_id}/{name}", self._result_file)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind and start serving; ``port=0`` picks a free port (see ``base_url``)."""
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        try:
            is_loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            is_loopback = host == "localhost"
        if not is_loopback:
            _log.warning("the KIE sandbox is listening on %s, not on loopback", host)
        runner = web.AppRunner(self.make_app(), access_log=None)
        await runner.setup()
        self._runner = runner
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await self.close()
            raise
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
        self._base_url = f"http://{shown}:{bound_port}"
        self._session = aiohttp.ClientSession()
        self._ticker = asyncio.create_task(self._tick_forever())

    async def close(self) -> None:
        """Stop serving and release everything (safe to call twice)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._base_url = None

    async def tick(self) -> None:
        """Settle finished tasks and send due callbacks now (the server also does it itself)."""
        async with self._tick_lock:
            await self._tick()

    async def _tick(self) -> None:
        self._settle_all()
        for task_id in sorted(self._pending):
            record = self._store.task(task_id)
            if record is None:
                self._pending.discard(task_id)
                continue
            phase = task_phase(record, self._clock(), self.config.timing)
            if not phase.is_terminal:
                continue
            if record.callback_url and not record.callback_done:
                await self._send_callback(record, phase)
            if record.settled and (not record.callback_url or record.callback_done):
                self._pending.discard(task_id)

    # ---------------------------------------------------------------- tasks

    def _settle_all(self) -> None:
        now = self._clock()
        for task_id in list(self._pending):
            record = self._store.task(task_id)
            if record is not None:
                self._settle(record, now)

    def _settle(self, record: TaskRecord, now: float) -> None:
        """Charge a task that succeeded, once; a failed task is settled for free."""
        if record.settled:
            return
        phase = task_phase(record, now, self.config.timing)
        if not phase.is_terminal:
            return
        if phase.state == "success":
            balance = self._store.balance() or Decimal(0)
            self._store.save_balance(balance - Decimal(record.price))
        record.settled = True
        self._store.save_task(record)

    def _result_urls(self, record: TaskRecord) -> dict[str, Any]:
        kind = ResultKind(record.result_kind)
        base = f"{self.base_url}/files/results/{record.task_id}"
        if kind is ResultKind.OBJECT:
            prompt = _prompt(record.input, record.model)
            return {"resultObject": media.result_object(prompt, record.model)}
        extension, _ = _EXTENSIONS[kind]
        result: dict[str, Any] = {
            "resultUrls": [f"{base}/{index}.{extension}" for index in range(record.outputs)]
        }
        if kind is ResultKind.VIDEO_URLS and record.input.get("return_last_frame") is True:
            result["firstFrameUrl"] = [f"{base}/first-0.png"]
            result["lastFrameUrl"] = [f"{base}/last-0.png"]
        return result

    def _record_data(self, record: TaskRecord, now: float) -> dict[str, Any]:
        phase = task_phase(record, now, self.config.timing)
        param = {"model": record.model, "input": record.input}
        if record.callback_url:
            param["callBackUrl"] = record.callback_url
        fail_code, fail_msg = "", ""
        if phase.state == "fail":
            nsfw = record.outcome == "nsfw"
            fail_code, fail_msg = ("400", NSFW_MESSAGE) if nsfw else ("501", FAIL_MESSAGE)
        result_json = ""
        if phase.state == "success":
            result_json = json.dumps(self._result_urls(record), separators=(",", ":"))
        consumed = Decimal(record.price) if phase.state == "success" else Decimal(0)
        return {
            "taskId": record.task_id,
            "model": record.model,
            "state": phase.state,
            "param": json.dumps(param, ensure_ascii=False, separators=(",", ":")),
            "resultJson": result_json,
            "failCode": fail_code,
            "failMsg": fail_msg,
            "costTime": round(phase.since - record.created_at) if phase.is_terminal else 0,
            "createTime": round(record.created_at * 1000),
            "updateTime": round(phase.since * 1000),
            "completeTime": round(phase.since * 1000) if phase.is_terminal else None,
            "creditsConsumed": _number(consumed),
        }

    async def _send_callback(self, record: TaskRecord, phase: Phase) -> None:
        url = record.callback_url or ""
        if not is_loopback_url(url) or self._session is None:
            _log.warning("sandbox callback for %s skipped: not a loopback URL", record.task_id)
            record.callback_done = True
            self._store.save_task(record)
            return
        data = self._record_data(record, self._clock())
        if phase.state == "success":
            code, msg = 200, "Playground task completed successfully."
        else:
            code, msg = int(data["failCode"]), data["failMsg"]
        body = json.dumps({"code": code, "msg": msg, "data": data}, ensure_ascii=False)
        headers = {"Content-Type": "application/json"}
        if self.config.hmac_key:
            headers |= signature_headers(record.task_id, self.config.hmac_key, self._clock())
        copies = 2 if self.config.duplicate_callbacks else 1
        delivered = False
        for _ in range(copies):
            try:
                async with self._session.post(
                    url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=15)
                ) as response:
                    delivered = delivered or response.status < 300
            except (aiohttp.ClientError, TimeoutError) as error:
                _log.info("sandbox callback for %s failed: %s", record.task_id, error)
        record.callback_attempts += 1
        if delivered:
            self.callbacks_sent += 1
        if delivered or record.callback_attempts >= self.config.callback_attempts:
            record.callback_done = True
        self._store.save_task(record)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.timing.tick_s)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - keep the emulator alive, but say why
                _log.exception("sandbox tick failed")

    # ---------------------------------------------------------------- HTTP plumbing

    def _middleware(self) -> Any:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            is_api = request.path.startswith("/api/")
            if is_api:
                self._api_requests += 1
                every = self.config.flaky_every
                if every and self._api_requests % every == 0:
                    return web.Response(status=502, text="error code: 502")
                authorization = request.headers.get("Authorization", "")
                scheme, _, key = authorization.partition(" ")
                if scheme.lower() != "bearer" or not key.strip():
                    return _envelope(401, "You do not have access permissions")
            try:
                return await handler(request)
            except _Refusal as refusal:
                return refusal.response
            except web.HTTPException as error:
                if not is_api:
                    raise
                return _envelope(error.status, error.reason, http_status=error.status)
            except Exception:  # noqa: BLE001 - answer like KIE's 500, log the cause
                _log.exception("sandbox handler failed")
                return _envelope(500, "Server error")

        return guard

    async def _json_body(self, request: web.Request, *, upload: bool = False) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            refuse = _upload_envelope if upload else _envelope
            raise _Refusal(
                refuse(400 if upload else 422, "The request body must be a JSON object")
            )
        return body

    # ---------------------------------------------------------------- API handlers

    def _rate_limited(self) -> bool:
        if self.config.force_rate_limit:
            return True
        limit = self.config.rate_limit
        if limit is None:
            return False
        now = self._clock()
        while self._creates and now - self._creates[0] >= self.config.rate_window_s:
            self._creates.popleft()
        if len(self._creates) >= limit:
            return True
        self._creates.append(now)
        return False

    def _accepted_input(self, body: Mapping[str, Any]) -> tuple[ModelSpec, dict[str, Any]]:
        """The model and the raw input of a createTask body, or a 422 refusal."""
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id.strip():
            raise _Refusal(_envelope(422, "model is required"))
        model = self._registry.get(model_id)
        if model is None:
            raise _Refusal(_envelope(422, f"model {model_id} is not supported"))
        raw_input = body.get("input", {})
        if not isinstance(raw_input, dict):
            raise _Refusal(_envelope(422, "input must be a JSON object"))
        callback_url = body.get("callBackUrl")
        if callback_url is not None and not isinstance(callback_url, str):
            raise _Refusal(_envelope(422, "callBackUrl must be a string"))
        return model, raw_input

    async def _create_task(self, request: web.Request) -> web.Response:
        if self._rate_limited():
            limit, window = self.config.rate_limit, self.config.rate_window_s
            return _envelope(429, f"Rate limited: at most {limit} new tasks per {window:g} s")
        body = await self._json_body(request)
        model, raw_input = self._accepted_input(body)
        normalized = normalize(model, raw_input)
        if isinstance(normalized, Rejected):
            field = normalized.input_name or "input"
            return _envelope(422, f"{field}: {normalized.detail or normalized.reason}")
        markers = _markers(raw_input)
        if MARKER_UNREACHABLE in markers:
            return _envelope(451, "Failed to fetch the input file: the URL is unreachable")
        amount = credits_for(model, normalized.values)
        price = Decimal(0) if isinstance(amount, Rejected) else amount[0]
        if self.balance < price:
            return _envelope(402, "Credits insufficient")
        outcome = "success"
        if MARKER_LOST in markers:
            outcome = "lost"
        elif MARKER_NSFW in markers:
            outcome = "nsfw"
        elif MARKER_FAIL in markers:
            outcome = "fail"
        record = TaskRecord(
            task_id=f"task_{uuid.uuid4().hex}",
            model=model.id,
            input=dict(normalized.values),
            callback_url=body.get("callBackUrl") or None,
            created_at=self._clock(),
            outcome=outcome,
            slow=MARKER_SLOW in markers,
            outputs=_outputs(model, normalized.values),
            result_kind=model.result_kind.value,
            price=str(price),
        )
        self._store.save_task(record)
        self._pending.add(record.task_id)
        return _envelope(200, "success", {"taskId": record.task_id})

    async def _record_info(self, request: web.Request) -> web.Response:
        task_id = request.query.get("taskId", "").strip()
        if not task_id:
            return _envelope(422, "taskId is required")
        record = self._store.task(task_id)
        if record is None:
            return _envelope(422, "recordInfo is null")
        now = self._clock()
        self._settle(record, now)
        return _envelope(200, "success", self._record_data(record, now))

    async def _credit(self, _: web.Request) -> web.Response:
        return _envelope(200, "success", _number(self.balance))

    async def _download_url(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(f"{self.base_url}/files/"):
            return _envelope(422, "Only URLs generated by KIE are supported")
        expires = round((self._clock() + 20 * 60) * 1000)
        return _envelope(200, "success", f"{url.split('?', 1)[0]}?expires={expires}")

    # ---------------------------------------------------------------- uploads

    def _store_upload(
        self, data: bytes, file_name: str | None, upload_path: str | None, mime_type: str | None
    ) -> web.Response:
        if not data:
            return _upload_envelope(400, "The file is empty")
        if len(data) > self.config.max_upload_bytes:
            return _upload_envelope(400, "The file is too large")
        folder = (upload_path or "").strip().strip("/") or "uploads"
        if file_name and file_name.strip():
            name = file_name.strip().rsplit("/", 1)[-1]
            # The same path and name overwrite the earlier file, as at KIE.
            file_id = hashlib.sha256(f"{folder}/{name}".encode()).hexdigest()[:24]
        else:
            guessed = mimetypes.guess_extension(mime_type or "") or ".bin"
            file_id = uuid.uuid4().hex[:24]
            name = f"{file_id}{guessed}"
        mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        uploaded_at = datetime.fromtimestamp(self._clock(), UTC)
        record = FileRecord(
            file_id=file_id,
            file_name=name,
            upload_path=folder,
            mime_type=mime,
            size=len(data),
            uploaded_at=uploaded_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        self._store.save_file(record, data)
        return _upload_envelope(
            200,
            "File uploaded successfully",
            {
                "fileName": record.file_name,
                "filePath": f"{record.upload_path}/{record.file_name}",
                "downloadUrl": f"{self.base_url}/files/uploads/{file_id}/{quote(name)}",
                "fileSize": record.size,
                "mimeType": record.mime_type,
                "uploadedAt": record.uploaded_at,
            },
        )

    async def _stream_upload(self, request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except ValueError:
            return _upload_envelope(400, "Expected multipart/form-data")
        part = form.get("file")
        if not isinstance(part, web.FileField):
            return _upload_envelope(400, "file is required")
        data = part.file.read()
        file_name = form.get("fileName")
        upload_path = form.get("uploadPath")
        return self._store_upload(
            data,
            file_name if isinstance(file_name, str) else part.filename,
            upload_path if isinstance(upload_path, str) else None,
            part.content_type if part.content_type != "application/octet-stream" else None,
        )

    async def _base64_upload(self, request: web.Request) -> web.Response:
        body = await self._json_body(request, upload=True)
        encoded = body.get("base64Data")
        if not isinstance(encoded, str) or not encoded.strip():
            return _upload_envelope(400, "base64Data is required")
        mime_type = None
        if encoded.startswith("data:"):
            header, _, encoded = encoded.partition(",")
            mime_type = header[5:].split(";", 1)[0] or None
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return _upload_envelope(400, "base64Data is not valid base64")
        file_name, upload_path = body.get("fileName"), body.get("uploadPath")
        return self._store_upload(
            data,
            file_name if isinstance(file_name, str) else None,
            upload_path if isinstance(upload_path, str) else None,
            mime_type,
        )

    async def _url_upload(self, request: web.Request) -> web.Response:
        body = await self._json_body(request, upload=True)
        file_url = body.get("fileUrl")
        if not isinstance(file_url, str) or not file_url.strip():
            return _upload_envelope(400, "fileUrl is required")
        if not is_loopback_url(file_url) or self._session is None:
            return _upload_envelope(400, "The sandbox fetches only loopback URLs")
        try:
            async with self._session.get(
                file_url, timeout=aiohttp.ClientTimeout(total=30)
            ) as response:
                if response.status != 200:
                    return _upload_envelope(
                        400, f"Could not fetch fileUrl: HTTP {response.status}"
                    )
                data = await response.content.read(self.config.max_upload_bytes + 1)
                mime_type = response.content_type
        except (aiohttp.ClientError, TimeoutError):
            return _upload_envelope(400, "Could not fetch fileUrl")
        file_name, upload_path = body.get("fileName"), body.get("uploadPath")
        fallback = Path(urlsplit(file_url).path).name or None
        return self._store_upload(
            data,
            file_name if isinstance(file_name, str) else fallback,
            upload_path if isinstance(upload_path, str) else None,
            mime_type if mime_type != "application/octet-stream" else None,
        )

    # ---------------------------------------------------------------- files

    async def _uploaded_file(self, request: web.Request) -> web.Response:
        found = self._store.file(request.match_info["file_id"])
        if found is None:
            raise web.HTTPNotFound
        record, data = found
        return web.Response(body=data, content_type=record.mime_type)

    async def _result_file(self, request: web.Request) -> web.Response:
        record = self._store.task(request.match_info["task_id"])
        match = _RESULT_NAME.match(request.match_info["name"])
        if record is None or match is None:
            raise web.HTTPNotFound
        if task_phase(record, self._clock(), self.config.timing).state != "success":
            raise web.HTTPNotFound
        frame, index_text, extension = match.groups()
        index = int(index_text)
        prompt = _prompt(record.input, record.model)
        seed = f"{record.model}|{prompt}|{index}"
        aspect = record.input.get("aspect_ratio")
        aspect_ratio = aspect if isinstance(aspect, str) else None
        kind = ResultKind(record.result_kind)
        if frame is not None:
            if kind is not ResultKind.VIDEO_URLS or extension != "png" or index != 0:
                raise web.HTTPNotFound
            return web.Response(
                body=media.png(f"{seed}|{frame}", aspect_ratio), content_type="image/png"
            )
        expected, content_type = _EXTENSIONS[kind]
        if extension != expected or index >= record.outputs:
            raise web.HTTPNotFound
        return web.Response(
            body=_render(kind, seed, aspect_ratio, prompt, record.model),
            content_type=content_type,
        )


def _render(
    kind: ResultKind, seed: str, aspect_ratio: str | None, prompt: str, model_id: str
) -> bytes:
    match kind:
        case ResultKind.IMAGE_URLS:
            return media.png(seed, aspect_ratio)
        case ResultKind.VIDEO_URLS:
            return media.mp4(seed)
        case ResultKind.AUDIO_URLS:
            return media.wav(seed)
        case ResultKind.OBJECT:
            return json.dumps(media.result_object(prompt, model_id)).encode()


@asynccontextmanager
async def run_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    fast: bool = False,
    hmac_key: str | None = None,
    credits: Decimal | int | str = DEFAULT_CREDITS,
    timing: SandboxTiming | None = None,
    rate_limit: bool = True,
    flaky_every: int | None = None,
    clock: Callable[[], float] | None = None,
    registry: Registry | None = None,
) -> AsyncIterator[Sandbox]:
    """Run a KIE sandbox in this event loop for the duration of the ``async with`` block.

    ``data_dir`` keeps tasks, uploads and the balance across restarts (None: in memory);
    ``credits`` is the starting balance when ``data_dir`` holds none yet; ``fast`` uses
    ``FAST_TIMING`` unless ``timing`` is given; ``clock`` (Unix seconds) lets tests move time.
    """
    config = SandboxConfig(
        timing=timing or (FAST_TIMING if fast else SandboxTiming()),
        hmac_key=hmac_key,
        rate_limit=20 if rate_limit else None,
        flaky_every=flaky_every,
    )
    sandbox = Sandbox(
        config=config,
        store=SandboxStore(Path(data_dir) if data_dir is not None else None),
        registry=registry if registry is not None else load_registry(),
        clock=clock or time.time,
        credits=Decimal(str(credits)),
    )
    await sandbox.start(host, port)
    try:
        yield sandbox
    finally:
        await sandbox.close()


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    fast: bool = False,
    hmac_key: str | None = None,
    credits: Decimal | int | str = DEFAULT_CREDITS,
    rate_limit: bool = True,
    on_ready: Callable[[Sandbox], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a sandbox until ``stop`` is set (or the task is cancelled); ``on_ready`` sees it."""
    async with run_sandbox(
        host=host,
        port=port,
        data_dir=data_dir,
        fast=fast,
        hmac_key=hmac_key,
        credits=credits,
        rate_limit=rate_limit,
    ) as sandbox:
        if on_ready is not None:
            on_ready(sandbox)
        await (stop or asyncio.Event()).wait()


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    fast: bool = False,  # noqa: FBT001, FBT002 - mirrors the CLI's --fast flag
    *,
    hmac_key: str | None = None,
    credits: Decimal | int | str = DEFAULT_CREDITS,
    rate_limit: bool = True,
) -> None:
    """Serve until SIGINT or SIGTERM; writes ``PORT <n>`` as the first line of stdout.

    This is what ``kiebot sandbox serve`` runs.
    """

    def announce(sandbox: Sandbox) -> None:
        sys.stdout.write(f"PORT {sandbox.port}\n")
        sys.stdout.flush()
        _log.info("KIE sandbox serving at %s (any API key is accepted)", sandbox.base_url)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        await serve(
            host=host,
            port=port,
            data_dir=data_dir,
            fast=fast,
            hmac_key=hmac_key,
            credits=credits,
            rate_limit=rate_limit,
            on_ready=announce,
            stop=stop,
        )

    with suppress(KeyboardInterrupt):
        asyncio.run(main())
