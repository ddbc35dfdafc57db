"""KieGenerationGateway: the core's ``GenerationGateway`` port spoken over KieClient.

Everything that leaves this module is domain language: ``ProviderStatus``/``ProviderState``,
``UploadedFile``, ``Decimal`` credits, and the core's errors (``ProviderError`` with a reason
code, ``NotFoundError`` for a task KIE does not know). No KIE JSON, wire class or ``KieError``
gets out, with one deliberate exception: a Telegram file URL in an input is a programmer
error and raises ``KieRefusedUrlError``, a ``ValueError``, before anything is sent.

    KIE state                     ProviderState
    waiting, queuing              QUEUED
    generating (or unknown)       RUNNING
    success                       SUCCEEDED (resultUrls / resultObject / character_id)
    fail                          FAILED, reason from failMsg/failCode
                                  (a moderation message → CONTENT_POLICY)
"""

import logging
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal

import httpx

from kiebot_core.domain.catalog import JsonValue, Registry
from kiebot_core.domain.errors import NotFoundError, ProviderError
from kiebot_core.domain.ids import ProviderTaskId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.validation import normalize
from kiebot_core.ports.generation import (
    GenerationGateway,
    ProviderState,
    ProviderStatus,
    SubmitRequest,
    UploadedFile,
)
from kiebot_kie.client import (
    DEFAULT_BASE_URL,
    DEFAULT_UPLOAD_BASE_URL,
    DEFAULT_UPLOAD_PATH,
    CreateLimiter,
    CreateRateLimiter,
    KieClient,
    RetryPolicy,
    refuse_telegram_urls,
)
from kiebot_kie.errors import (
    KieApiError,
    KieError,
    KieHttpError,
    KieProtocolError,
    KieRefusedUrlError,
    KieTimeoutError,
    KieTransportError,
    reason_for_code,
    reason_for_failure,
    scrub,
)
from kiebot_kie.media import TIMED_MEDIA, measure
from kiebot_kie.polling import poll_interval
from kiebot_kie.wire import RecordInfo, TaskState

_log = logging.getLogger(__name__)

_STATES = {
    TaskState.WAITING: ProviderState.QUEUED,
    TaskState.QUEUING: ProviderState.QUEUED,
    TaskState.GENERATING: ProviderState.RUNNING,
    TaskState.SUCCESS: ProviderState.SUCCEEDED,
    TaskState.FAIL: ProviderState.FAILED,
}
_SYSTEM_RANDOM = secrets.SystemRandom()
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
NOT_FOUND_CODES = frozenset({404, 422})
"""recordInfo codes meaning "no such task" (422 "recordInfo is null" is what KIE sends)."""


def translate(error: KieError) -> ProviderError:
    """The core's ``ProviderError`` for a client error (details hold no secret and no URL)."""
    match error:
        case KieApiError(endpoint=endpoint, code=code, msg=msg):
            return ProviderError(
                reason_for_code(code, msg),
                f"{endpoint}: code {code}: {msg}",
                provider_code=str(code),
            )
        case KieTimeoutError(endpoint=endpoint, problem=problem, maybe_sent=maybe_sent):
            return ProviderError(
                ReasonCode.PROVIDER_TIMEOUT, f"{endpoint}: {problem}", maybe_accepted=maybe_sent
            )
        case KieTransportError(endpoint=endpoint, problem=problem, maybe_sent=maybe_sent):
            return ProviderError(
                ReasonCode.PROVIDER_UNAVAILABLE,
                f"{endpoint}: {problem}",
                maybe_accepted=maybe_sent,
            )
        case KieHttpError(endpoint=endpoint, http_status=status):
            if status in {401, 403}:
                reason = ReasonCode.PROVIDER_AUTH
            elif status == 429:
                reason = ReasonCode.PROVIDER_RATE_LIMITED
            elif status >= 500:
                reason = ReasonCode.PROVIDER_UNAVAILABLE
            else:
                reason = ReasonCode.PROVIDER_REJECTED
            return ProviderError(
                reason,
                f"{endpoint}: HTTP {status} without KIE's envelope",
                provider_code=f"HTTP {status}",
            )
        case KieProtocolError(endpoint=endpoint, problems=problems):
            return ProviderError(
                ReasonCode.PROVIDER_REJECTED,
                f"{endpoint}: unexpected answer: " + scrub("; ".join(problems)),
            )
        case _:
            return ProviderError(ReasonCode.PROVIDER_REJECTED, scrub(str(error)))


def _safe_file_name(filename: str) -> str:
    stem = _UNSAFE_NAME.sub("-", filename.rsplit("/", 1)[-1]).strip("-.") or "file"
    # KIE overwrites a file uploaded under a name already used: make every name unique.
    return f"{uuid.uuid4().hex[:12]}-{stem[-80:]}"


MAX_MEASURED_BYTES = 256 * 1024 * 1024
"""The largest result file downloaded to measure its length (an estimated price's charge)."""


class KieGenerationGateway(GenerationGateway):
    """KIE.ai as the core's generation provider.

    ``submit`` validates the input with the core's ``normalize`` against ``registry``
    (default: the shipped registry) before any request: an invalid input raises
    ``ProviderError`` with the validator's reason (``INVALID_INPUT``, ``MISSING_INPUT``) and a
    model the registry does not know raises ``ProviderError(MODEL_UNKNOWN)``.

    ``poll_delay`` follows KIE's schedule (``kiebot_kie.polling``) times ``poll_scale``
    (below 1 for a fast sandbox), with ``jitter`` choosing where in each range it falls.
    """

    def __init__(
        self,
        client: KieClient,
        registry: Registry | None = None,
        *,
        upload_path: str = DEFAULT_UPLOAD_PATH,
        poll_scale: float = 1.0,
        jitter: Callable[[], float] = _SYSTEM_RANDOM.random,
    ) -> None:
        self._client = client
        self._registry = registry if registry is not None else load_registry()
        self._upload_path = upload_path
        self._poll_scale = poll_scale
        self._jitter = jitter

    def __repr__(self) -> str:
        return f"KieGenerationGateway(client={self._client!r})"

    @property
    def client(self) -> KieClient:
        """The client this gateway talks through."""
        return self._client

    async def submit(self, request: SubmitRequest) -> ProviderTaskId:
        refuse_telegram_urls(dict(request.input), "input")
        if request.callback_url is not None:
            refuse_telegram_urls(request.callback_url, "callback_url")
        model = self._registry.get(request.model_id)
        if model is None:
            raise ProviderError(ReasonCode.MODEL_UNKNOWN, f"unknown model {request.model_id}")
        normalized = normalize(model, request.input)
        if isinstance(normalized, Rejected):
            raise ProviderError(
                normalized.reason, f"{normalized.input_name}: {normalized.detail}".strip()
            )
        try:
            task_id = await self._client.create_task(
                model.id, normalized.values, request.callback_url
            )
        except KieRefusedUrlError:
            raise
        except KieError as error:
            raise translate(error) from None
        _log.info(
            "KIE task %s created for %s (correlation %s)",
            task_id,
            model.id,
            request.correlation_id,
        )
        return ProviderTaskId(task_id)

    async def status(self, task_id: ProviderTaskId) -> ProviderStatus:
        try:
            info = await self._client.record_info(task_id)
        except KieApiError as error:
            if error.code in NOT_FOUND_CODES:
                raise NotFoundError("provider_task", task_id) from None
            raise translate(error) from None
        except KieError as error:
            raise translate(error) from None
        return status_of(task_id, info)

    async def upload(self, data: bytes, filename: str, mime_type: str) -> UploadedFile:
        try:
            uploaded = await self._client.upload_stream(
                data, _safe_file_name(filename), mime_type, self._upload_path
            )
        except KieError as error:
            raise translate(error) from None
        timed = mime_type.split("/", 1)[0] in TIMED_MEDIA
        return UploadedFile(
            url=uploaded.download_url,
            size=uploaded.file_size if uploaded.file_size is not None else len(data),
            mime_type=uploaded.mime_type or mime_type,
            seconds=await measure(data) if timed else None,
        )

    async def result_seconds(self, url: str) -> Decimal | None:
        data = await self._client.fetch(url, max_bytes=MAX_MEASURED_BYTES)
        return None if data is None else await measure(data)

    async def credits(self) -> Decimal:
        try:
            return await self._client.credits()
        except KieError as error:
            raise translate(error) from None

    def poll_delay(self, elapsed: timedelta) -> timedelta:
        seconds = poll_interval(elapsed.total_seconds(), self._jitter()) * self._poll_scale
        return timedelta(seconds=seconds)

    async def download_link(self, url: str) -> str:
        """A direct link, valid about 20 minutes, for a result URL KIE produced."""
        try:
            return await self._client.download_url(url)
        except KieRefusedUrlError:
            raise
        except KieError as error:
            raise translate(error) from None


def status_of(task_id: ProviderTaskId, info: RecordInfo) -> ProviderStatus:
    """Translate a recordInfo (or callback) record into the core's ``ProviderStatus``."""
    try:
        state = _STATES[TaskState(info.state)]
    except ValueError:
        _log.warning("KIE task %s is in an undocumented state; treated as running", task_id)
        return ProviderStatus(
            task_id=task_id, state=ProviderState.RUNNING, detail="undocumented KIE state"
        )
    match state:
        case ProviderState.FAILED:
            fail_code = (info.fail_code or "").strip()
            return ProviderStatus(
                task_id=task_id,
                state=state,
                reason=reason_for_failure(info.fail_code, info.fail_msg),
                detail=scrub(f"failCode {fail_code or '-'}: {info.fail_msg or ''}".strip()),
                provider_code=fail_code,
                credits_consumed=info.credits_consumed,
            )
        case ProviderState.SUCCEEDED:
            return _succeeded(task_id, info)
        case ProviderState.QUEUED | ProviderState.RUNNING:
            return ProviderStatus(task_id=task_id, state=state)


def _succeeded(task_id: ProviderTaskId, info: RecordInfo) -> ProviderStatus:
    result = info.result_json
    urls = result.result_urls if result is not None else ()
    obj: JsonValue = None
    if result is not None and result.result_object is not None:
        obj = result.result_object
    elif result is not None and result.character_id:
        obj = {"character_id": result.character_id}
    if not urls and obj is None:
        return ProviderStatus(
            task_id=task_id,
            state=ProviderState.FAILED,
            reason=ReasonCode.PROVIDER_FAILED,
            detail="KIE reported success without a result",
            credits_consumed=info.credits_consumed,
        )
    return ProviderStatus(
        task_id=task_id,
        state=ProviderState.SUCCEEDED,
        result_urls=urls,
        result_object=obj,
        credits_consumed=info.credits_consumed,
    )


@asynccontextmanager
async def open_kie_gateway(
    *,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
    registry: Registry | None = None,
    retry: RetryPolicy | None = None,
    limiter: CreateLimiter | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    poll_scale: float = 1.0,
) -> AsyncIterator[KieGenerationGateway]:
    """A gateway over its own ``httpx.AsyncClient``, closed on exit.

    Point ``base_url`` and ``upload_base_url`` at a sandbox (``run_sandbox``) to work offline
    (with a fast sandbox, ``poll_scale=0.1`` keeps polling in step); ``transport`` replaces
    the network in tests.
    """
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as http:
        client = KieClient(
            http,
            api_key,
            base_url=base_url,
            upload_base_url=upload_base_url,
            retry=retry or RetryPolicy(),
            limiter=limiter or CreateRateLimiter(),
        )
        yield KieGenerationGateway(client, registry, poll_scale=poll_scale)
