"""attrs classes mirroring KIE's JSON (API.md), field for field; no domain types here.

Field names are snake_case; the converter (``kiebot_kie.converter``) renames them to KIE's
camelCase and reads the JSON-string fields (``param``, ``resultJson``). Every field KIE may
leave out has a default, so a reply missing it still parses.
"""

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs


class TaskState(enum.StrEnum):
    """A market task's ``state`` as KIE spells it."""

    WAITING = "waiting"
    QUEUING = "queuing"
    GENERATING = "generating"
    SUCCESS = "success"
    FAIL = "fail"


@attrs.frozen(kw_only=True)
class Envelope:
    """Every JSON answer: ``code`` (200 is success, whatever the HTTP status), a message, data.

    ``msg`` is read from ``msg`` or, failing that, ``message`` (the recordInfo page's spelling).
    ``success`` is only sent by the file upload host.
    """

    code: int
    msg: str = ""
    data: Any = None
    success: bool | None = None


@attrs.frozen(kw_only=True)
class CreateTaskRequest:
    """The body of ``POST /api/v1/jobs/createTask``."""

    model: str
    input: dict[str, Any]
    call_back_url: str | None = None
    progress_call_back_url: str | None = None


@attrs.frozen(kw_only=True)
class CreateTaskData:
    """``data`` of a successful createTask (``recordId`` on newer pages is ignored)."""

    task_id: str


@attrs.frozen(kw_only=True)
class TaskParam:
    """The original request, sent back in recordInfo's ``param`` as a JSON string."""

    model: str = ""
    input: dict[str, Any] = attrs.field(factory=dict)
    call_back_url: str | None = None


@attrs.frozen(kw_only=True)
class TaskResult:
    """The parsed ``resultJson``: whichever of KIE's documented shapes the task returned.

    Files come as ``resultUrls``; text or structured output as ``resultObject``; Sora 2
    characters as ``character_id``; Seedance 2 with ``return_last_frame`` adds
    ``firstFrameUrl``/``lastFrameUrl`` arrays.
    """

    result_urls: tuple[str, ...] = ()
    result_object: Any = None
    character_id: str | None = None
    first_frame_url: tuple[str, ...] = ()
    last_frame_url: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class RecordInfo:
    """``data`` of ``GET /api/v1/jobs/recordInfo`` and of a market callback.

    Timestamps are KIE's Unix milliseconds as aware UTC datetimes. ``cost_time`` is display
    only (its unit differs between KIE's pages).
    """

    task_id: str
    model: str = ""
    state: str = ""
    param: TaskParam | None = None
    result_json: TaskResult | None = None
    fail_code: str | None = None
    fail_msg: str | None = None
    cost_time: int | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    complete_time: datetime | None = None
    credits_consumed: Decimal | None = None
    progress: int | None = None


@attrs.frozen(kw_only=True)
class CallbackPayload:
    """The POST body KIE sends to ``callBackUrl`` when a market task ends.

    ``data.taskId`` may also arrive as ``data.task_id`` (the webhook-verification sample).
    """

    code: int
    msg: str = ""
    data: RecordInfo


@attrs.frozen(kw_only=True)
class DownloadUrlRequest:
    """The body of ``POST /api/v1/common/download-url``."""

    url: str


@attrs.frozen(kw_only=True)
class Base64UploadRequest:
    """The body of ``POST /api/file-base64-upload`` on the upload host."""

    base64_data: str
    upload_path: str | None = None
    file_name: str | None = None


@attrs.frozen(kw_only=True)
class UrlUploadRequest:
    """The body of ``POST /api/file-url-upload`` on the upload host."""

    file_url: str
    upload_path: str | None = None
    file_name: str | None = None


@attrs.frozen(kw_only=True)
class UploadedFileData:
    """``data`` of a successful upload; ``download_url`` is the URL to give a model."""

    download_url: str
    file_name: str = ""
    file_path: str = ""
    file_size: int | None = None
    mime_type: str = ""
    uploaded_at: str | None = None
