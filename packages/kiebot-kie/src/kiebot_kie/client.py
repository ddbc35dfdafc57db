"""KieClient: one typed async method per KIE endpoint kiebot uses (API.md §3-§8).

Rules it keeps:

* the answer's envelope ``code`` decides, not the HTTP status (KIE answers errors with 200);
* every call has its own timeout and sends ``Authorization: Bearer …`` and a real
  ``User-Agent`` (Cloudflare refuses requests without one);
* retries with exponential backoff and jitter only where a repeat cannot do harm: envelope
  429/430/455/550 (the request was dropped, so even createTask may be resent), HTTP 429, and
  for idempotent calls also 5xx answers and network failures. createTask is never resent after
  an ambiguous failure (a timeout or a broken connection after the request left, a 5xx), only
  when the connection was never made;
* a client-side limiter keeps creates under KIE's 20 per 10 seconds (shared by every
  process of the bot through a ``RateLimiter`` with ``SharedCreateLimiter``);
* Telegram file URLs (they hold the bot token) are refused before anything is sent;
* the API key lives only in the request headers: not in reprs, errors or logs.
"""

import asyncio
import base64
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

import attrs
import httpx

from kiebot_core.domain.errors import StorageUnavailableError
from kiebot_core.ports.limits import RateLimiter
from kiebot_kie.converter import structure, unstructure
from kiebot_kie.errors import (
    NOT_ACCEPTED_CODES,
    KieApiError,
    KieError,
    KieHttpError,
    KieProtocolError,
    KieRefusedUrlError,
    KieTimeoutError,
    KieTransportError,
    looks_like_validation,
    scrub,
)
from kiebot_kie.wire import (
    Base64UploadRequest,
    CreateTaskData,
    CreateTaskRequest,
    DownloadUrlRequest,
    Envelope,
    RecordInfo,
    UploadedFileData,
    UrlUploadRequest,
)

DEFAULT_BASE_URL = "https://api.kie.ai"
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
DEFAULT_UPLOAD_PATH = "kiebot"

_log = logging.getLogger(__name__)


def _user_agent() -> str:
    try:
        return f"kiebot/{version('kiebot-kie')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "kiebot/0"


USER_AGENT = _user_agent()
"""The ``User-Agent`` every request carries: ``kiebot/<version>``."""

# A Bot API file URL, or any URL path carrying a bot token (self-hosted Bot API servers too).
_TELEGRAM = re.compile(
    r"api\.telegram\.org/(?:file/)?bot|/(?:file/)?bot\d{3,}:[A-Za-z0-9_-]{10,}", re.IGNORECASE
)


def is_telegram_url(text: str) -> bool:
    """True when ``text`` holds a Telegram Bot API URL (or anything carrying a bot token)."""
    return _TELEGRAM.search(text) is not None


def find_telegram_url(value: object, path: str = "input") -> str | None:
    """The path of the first string inside ``value`` holding a Telegram URL, or None."""
    if isinstance(value, str):
        return path if is_telegram_url(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = find_telegram_url(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_telegram_url(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def refuse_telegram_urls(value: object, field: str) -> None:
    """Raise ``KieRefusedUrlError`` naming the field when ``value`` holds a Telegram URL."""
    found = find_telegram_url(value, field)
    if found is not None:
        raise KieRefusedUrlError(found)


@attrs.frozen(kw_only=True)
class Timeouts:
    """Seconds each kind of call may take (connect, send, wait and read together)."""

    create_s: float = 30.0
    query_s: float = 15.0
    upload_s: float = 120.0


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how patiently a retryable failure is repeated.

    The n-th wait is ``min(max_delay_s, base_delay_s * 2**(n-1))``, of which a random half
    is jitter. A dropped create (429) waits at least ``rate_limited_delay_s``: KIE's window
    is 10 s and rejected requests are not queued.
    """

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    rate_limited_delay_s: float = 10.0

    def delay(self, attempt: int, jitter: float) -> float:
        """The wait after failed attempt number ``attempt`` (1-based); ``jitter`` in [0, 1]."""
        full = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return full / 2 + full / 2 * min(1.0, max(0.0, jitter))


@attrs.define
class CreateRateLimiter:
    """A sliding window: at most ``limit`` creates in any ``window_s`` seconds.

    The default stays under KIE's 20 per 10 s with a little room for clock drift between us
    and KIE. ``clock`` and ``sleep`` are injectable so tests need not wait.
    """

    limit: int = 18
    window_s: float = 10.0
    clock: Callable[[], float] = attrs.field(default=time.monotonic, repr=False)
    sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, repr=False)
    _stamps: deque[float] = attrs.field(factory=deque, init=False, repr=False)
    _lock: asyncio.Lock = attrs.field(factory=asyncio.Lock, init=False, repr=False)

    async def acquire(self) -> None:
        """Wait until one more create fits in the window, then count it."""
        async with self._lock:
            while True:
                now = self.clock()
                while self._stamps and now - self._stamps[0] >= self.window_s:
                    self._stamps.popleft()
                if len(self._stamps) < self.limit:
                    self._stamps.append(now)
                    return
                await self.sleep(self._stamps[0] + self.window_s - now)


FALLBACK_CREATES = 6
"""Creates per 10 s one process allows itself while the shared count cannot be reached."""


class CreateLimiter(Protocol):
    """What keeps creates under KIE's limit: ``acquire`` waits until one more may go."""

    async def acquire(self) -> None:
        """Wait until one more create fits, then count it."""
        ...


@attrs.define
class SharedCreateLimiter:
    """KIE's create limit kept for every process of the bot together, in a shared store.

    ``shared`` counts fixed windows of ``window`` allowing ``limit`` each; windows never
    overlap, so any 10 s see at most six of them: 18 creates, under KIE's 20. While the store
    cannot be reached, this process's own ``local`` limiter decides, at a third of the limit
    (three processes stay under it together).
    """

    shared: RateLimiter
    limit: int = 3
    window: timedelta = timedelta(seconds=2)
    key: str = "kie:create"
    local: CreateRateLimiter = attrs.field(
        factory=lambda: CreateRateLimiter(limit=FALLBACK_CREATES)
    )
    sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, repr=False)

    async def acquire(self) -> None:
        """Wait until the shared window has room for one more create, then count it."""
        while True:
            try:
                decision = await self.shared.hit(self.key, limit=self.limit, window=self.window)
            except StorageUnavailableError:
                await self.local.acquire()
                return
            if decision.allowed:
                return
            await self.sleep(decision.retry_after.total_seconds())


@attrs.frozen
class CallRecord:
    """One attempt of one KIE API call, as observers see it (no URL, key or body)."""

    endpoint: str
    """KIE's name of the endpoint: ``createTask``, ``recordInfo``, ``credit``..."""
    code: str
    """KIE's answer code (``"200"``, ``"402"``, ``"429"``...), ``http_<status>`` for an answer
    without KIE's envelope, or ``timeout``, ``transport``, ``protocol``."""
    seconds: float
    """From sending the request to reading the answer."""


CallObserver = Callable[[CallRecord], None]
"""Told about every attempt (metrics); it must be quick and must not raise."""


def _code_of(envelope: Envelope | None, failure: KieError | None) -> str:
    match failure:
        case KieApiError(code=code):
            return str(code)
        case KieHttpError(http_status=status):
            return f"http_{status}"
        case KieTimeoutError():
            return "timeout"
        case KieTransportError():
            return "transport"
        case KieProtocolError():
            return "protocol"
        case _:
            return str(envelope.code) if envelope is not None else "unknown"


@attrs.frozen
class _Call:
    endpoint: str
    method: str
    url: str
    timeout_s: float
    idempotent: bool
    is_create: bool = False
    json: Any = None
    params: Mapping[str, str] | None = None
    form: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None


_SYSTEM_RANDOM = secrets.SystemRandom()


@attrs.define
class KieClient:
    """The KIE HTTP API over an injected ``httpx.AsyncClient`` (the caller owns and closes it).

    ``base_url`` serves generation, task queries, credits and download links;
    ``upload_base_url`` serves the file upload API. Raises only ``KieError`` subclasses.
    """

    http: httpx.AsyncClient = attrs.field(repr=False)
    api_key: str = attrs.field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    upload_base_url: str = DEFAULT_UPLOAD_BASE_URL
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    limiter: CreateLimiter = attrs.field(factory=CreateRateLimiter, repr=False)
    sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, repr=False)
    jitter: Callable[[], float] = attrs.field(default=_SYSTEM_RANDOM.random, repr=False)
    observers: list[CallObserver] = attrs.field(factory=list, repr=False)
    """Told about every attempt of every API call (``observe`` adds one)."""

    def observe(self, observer: CallObserver) -> None:
        """Tell ``observer`` about every attempt of every API call from now on."""
        self.observers.append(observer)

    def _api(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def _upload(self, path: str) -> str:
        return self.upload_base_url.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    # ------------------------------------------------------------------ endpoints

    async def create_task(
        self, model: str, input: Mapping[str, Any], callback_url: str | None = None
    ) -> str:
        """``POST /api/v1/jobs/createTask``; returns the new task id.

        Not idempotent: resent only after an answer saying the request was dropped.
        """
        refuse_telegram_urls(dict(input), "input")
        if callback_url is not None:
            refuse_telegram_urls(callback_url, "callBackUrl")
        body = CreateTaskRequest(model=model, input=dict(input), call_back_url=callback_url)
        call = _Call(
            "createTask",
            "POST",
            self._api("/api/v1/jobs/createTask"),
            self.timeouts.create_s,
            idempotent=False,
            is_create=True,
            json=unstructure(body),
        )
        envelope = await self._call(call)
        return structure(envelope.data, CreateTaskData, endpoint=call.endpoint).task_id

    async def record_info(self, task_id: str) -> RecordInfo:
        """``GET /api/v1/jobs/recordInfo``: the task's details (state, result, failure)."""
        if not task_id.strip():
            raise ValueError("task_id must not be blank")
        call = _Call(
            "recordInfo",
            "GET",
            self._api("/api/v1/jobs/recordInfo"),
            self.timeouts.query_s,
            idempotent=True,
            params={"taskId": task_id},
        )
        envelope = await self._call(call)
        if envelope.data is None:
            # Seen live: an unknown id answered 200 with no data. Same meaning as 422.
            raise KieApiError(call.endpoint, 404, "recordInfo is null")
        return structure(envelope.data, RecordInfo, endpoint=call.endpoint)

    async def credits(self) -> Decimal:
        """``GET /api/v1/chat/credit``: the account's remaining credits."""
        call = _Call(
            "credit",
            "GET",
            self._api("/api/v1/chat/credit"),
            self.timeouts.query_s,
            idempotent=True,
        )
        envelope = await self._call(call)
        return structure(envelope.data, Decimal, endpoint=call.endpoint)

    async def download_url(self, url: str) -> str:
        """``POST /api/v1/common/download-url``: a 20-minute direct link for a KIE result URL."""
        refuse_telegram_urls(url, "url")
        call = _Call(
            "download-url",
            "POST",
            self._api("/api/v1/common/download-url"),
            self.timeouts.query_s,
            idempotent=True,
            json=unstructure(DownloadUrlRequest(url=url)),
        )
        envelope = await self._call(call)
        return structure(envelope.data, str, endpoint=call.endpoint)

    async def fetch(self, url: str, *, max_bytes: int) -> bytes | None:
        """The file at a result ``url`` (sent no credentials), or None if not read whole.

        None on an HTTP error, a timeout, or more than ``max_bytes``.
        """
        try:
            async with self.http.stream(
                "GET", url, headers={"User-Agent": USER_AGENT}, timeout=self.timeouts.upload_s
            ) as response:
                if response.status_code != httpx.codes.OK:
                    return None
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        return None
        except (httpx.HTTPError, httpx.InvalidURL):
            return None
        return bytes(data)

    async def upload_stream(
        self,
        data: bytes,
        file_name: str,
        mime_type: str,
        upload_path: str = DEFAULT_UPLOAD_PATH,
    ) -> UploadedFileData:
        """``POST /api/file-stream-upload`` (multipart) on the upload host.

        Repeating it is harmless: the same ``file_name`` overwrites the same file, so give
        every upload a unique name.
        """
        call = _Call(
            "file-stream-upload",
            "POST",
            self._upload("/api/file-stream-upload"),
            self.timeouts.upload_s,
            idempotent=True,
            form={"uploadPath": upload_path, "fileName": file_name},
            files={"file": (file_name, data, mime_type)},
        )
        return await self._uploaded(call)

    async def upload_base64(
        self,
        data: bytes,
        file_name: str,
        mime_type: str,
        upload_path: str = DEFAULT_UPLOAD_PATH,
    ) -> UploadedFileData:
        """``POST /api/file-base64-upload`` with a ``data:`` URL (small files, up to ~10 MB)."""
        encoded = f"data:{mime_type};base64," + base64.b64encode(data).decode("ascii")
        body = Base64UploadRequest(
            base64_data=encoded, upload_path=upload_path, file_name=file_name
        )
        call = _Call(
            "file-base64-upload",
            "POST",
            self._upload("/api/file-base64-upload"),
            self.timeouts.upload_s,
            idempotent=True,
            json=unstructure(body),
        )
        return await self._uploaded(call)

    async def upload_url(
        self, file_url: str, file_name: str, upload_path: str = DEFAULT_UPLOAD_PATH
    ) -> UploadedFileData:
        """``POST /api/file-url-upload``: KIE fetches a public URL (never a Telegram one)."""
        refuse_telegram_urls(file_url, "fileUrl")
        body = UrlUploadRequest(file_url=file_url, upload_path=upload_path, file_name=file_name)
        call = _Call(
            "file-url-upload",
            "POST",
            self._upload("/api/file-url-upload"),
            self.timeouts.upload_s,
            idempotent=True,
            json=unstructure(body),
        )
        return await self._uploaded(call)

    async def _uploaded(self, call: _Call) -> UploadedFileData:
        envelope = await self._call(call)
        if envelope.success is False:
            raise KieApiError(call.endpoint, envelope.code, scrub(envelope.msg, self.api_key))
        return structure(envelope.data, UploadedFileData, endpoint=call.endpoint)

    # ------------------------------------------------------------------ transport

    async def _call(self, call: _Call) -> Envelope:
        attempt = 0
        while True:
            attempt += 1
            if call.is_create:
                await self.limiter.acquire()
            started = time.perf_counter()
            failure, response = await self._send(call)
            envelope: Envelope | None = None
            if response is not None:
                envelope, failure = self._read(call, response)
            self._notify(call, envelope, failure, time.perf_counter() - started)
            if envelope is not None:
                return envelope
            if failure is None:  # pragma: no cover - _send and _read always give one
                raise AssertionError("no answer and no failure")
            if attempt >= self.retry.attempts or not self._may_retry(call, failure):
                raise failure
            delay = self._delay(call, failure, attempt, response)
            _log.warning(
                "KIE %s attempt %d failed (%s); retrying in %.2f s",
                call.endpoint,
                attempt,
                failure,
                delay,
            )
            await self.sleep(delay)

    def _notify(
        self, call: _Call, envelope: Envelope | None, failure: KieError | None, seconds: float
    ) -> None:
        if not self.observers:
            return
        record = CallRecord(call.endpoint, _code_of(envelope, failure), seconds)
        for observer in self.observers:
            try:
                observer(record)
            except Exception:  # noqa: BLE001  # an observer never breaks a KIE call
                _log.exception("KIE call observer failed")

    async def _send(self, call: _Call) -> tuple[KieError | None, httpx.Response | None]:
        try:
            response = await self.http.request(
                call.method,
                call.url,
                headers=self._headers(),
                json=call.json,
                params=call.params,
                data=call.form,
                files=call.files,
                timeout=call.timeout_s,
            )
        except httpx.TimeoutException as error:
            never_sent = isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout)
            problem = scrub(f"{type(error).__name__}: {error}", self.api_key)
            return KieTimeoutError(call.endpoint, problem, maybe_sent=not never_sent), None
        except httpx.TransportError as error:
            never_sent = isinstance(error, httpx.ConnectError)
            problem = scrub(f"{type(error).__name__}: {error}", self.api_key)
            return KieTransportError(call.endpoint, problem, maybe_sent=not never_sent), None
        return None, response

    def _read(
        self, call: _Call, response: httpx.Response
    ) -> tuple[Envelope | None, KieError | None]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, Mapping) or "code" not in body:
            if response.is_success:
                return None, KieProtocolError(call.endpoint, ("the answer is not KIE's envelope",))
            return None, KieHttpError(call.endpoint, response.status_code)
        envelope = structure(body, Envelope, endpoint=call.endpoint)
        if envelope.code == 200:
            return envelope, None
        return None, KieApiError(call.endpoint, envelope.code, scrub(envelope.msg, self.api_key))

    @staticmethod
    def _may_retry(call: _Call, failure: KieError) -> bool:
        match failure:
            case KieApiError(code=code, msg=msg):
                if code in NOT_ACCEPTED_CODES:
                    return True
                return call.idempotent and code == 500 and not looks_like_validation(msg)
            case KieHttpError(http_status=status):
                return status == 429 or (call.idempotent and status >= 500)
            case KieTransportError(maybe_sent=maybe_sent):
                return call.idempotent or not maybe_sent
            case _:
                return False

    def _delay(
        self, call: _Call, failure: KieError, attempt: int, response: httpx.Response | None
    ) -> float:
        delay = self.retry.delay(attempt, self.jitter())
        rate_limited = (isinstance(failure, KieApiError) and failure.code in {429, 430}) or (
            isinstance(failure, KieHttpError) and failure.http_status == 429
        )
        if rate_limited and call.is_create:
            delay = max(delay, self.retry.rate_limited_delay_s)
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), self.retry.max_delay_s * 4))
        return delay
