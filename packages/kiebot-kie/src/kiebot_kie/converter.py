"""The one cattrs converter of the KIE edge: camelCase names, tolerant reading.

Tolerant means: unknown keys are ignored, a missing optional field takes its default, numbers
may arrive as strings (and ``failCode`` as a number), ``msg`` may be spelled ``message``,
``taskId`` may be spelled ``task_id``, ``param``/``resultJson`` are JSON strings (an empty
string or null means "none"), timestamps are Unix milliseconds. Writing produces exactly what
KIE documents: camelCase keys, JSON strings where KIE has them, milliseconds.
"""

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from kiebot_kie.errors import KieProtocolError
from kiebot_kie.wire import (
    Base64UploadRequest,
    CallbackPayload,
    CreateTaskData,
    CreateTaskRequest,
    DownloadUrlRequest,
    Envelope,
    RecordInfo,
    TaskParam,
    TaskResult,
    UploadedFileData,
    UrlUploadRequest,
)

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def camel(name: str) -> str:
    """``call_back_url`` → ``callBackUrl``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def ms_to_datetime(value: Any) -> datetime:
    """Unix milliseconds (a number or a numeric string) as an aware UTC datetime."""
    if isinstance(value, bool):
        raise TypeError("a timestamp cannot be a boolean")
    return _EPOCH + timedelta(milliseconds=int(Decimal(str(value))))


def datetime_to_ms(value: datetime) -> int:
    """An aware datetime as Unix milliseconds."""
    return (value - _EPOCH) // _MILLISECOND


def _decimal(value: Any, _: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("a number cannot be a boolean")
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise ValueError(f"not a number: {value!r}") from error
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def number_json(value: Decimal) -> int | float:
    """A Decimal as the JSON number KIE would send (integral values as integers)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _json_string(
    conv: cattrs.Converter, cls: type[T], *, lenient: bool = False
) -> Callable[[Any, Any], T | None]:
    """Structure hook for a field KIE sends as a JSON string (or, tolerated, an object).

    ``lenient`` turns unreadable text into None: right for ``param``, an echo kiebot never
    needs (KIE's own callback sample shows ``"{...}"``), wrong for ``resultJson``.
    """

    def hook(value: Any, _: Any) -> T | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
            if not parsed:
                return None
            return conv.structure(parsed, cls)
        except (ValueError, TypeError, cattrs.BaseValidationError):
            if lenient:
                return None
            raise

    return hook


def _to_json_string(conv: cattrs.Converter) -> Callable[[Any], str]:
    def hook(value: Any) -> str:
        if value is None:
            return ""
        return json.dumps(conv.unstructure(value), ensure_ascii=False, separators=(",", ":"))

    return hook


def _url_list(value: Any, _: Any) -> tuple[str, ...]:
    """A list of URLs; a lone string is taken as a one-item list."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(str(item) for item in value)


def _renames(cls: type, **special: str) -> dict[str, Any]:
    return {
        field.name: override(rename=special.get(field.name, camel(field.name)))
        for field in attrs.fields(cls)
    }


def _envelope(value: Any, _: Any) -> Envelope:
    if not isinstance(value, Mapping):
        raise TypeError("the envelope must be a JSON object")
    if "code" not in value:
        raise ValueError("the envelope has no code")
    message = value.get("msg")
    if message is None:
        message = value.get("message")
    success = value.get("success")
    return Envelope(
        code=int(value["code"]),
        msg="" if message is None else str(message),
        data=value.get("data"),
        success=success if isinstance(success, bool) else None,
    )


def _unstructure_envelope(value: Envelope) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if value.success is not None:
        out["success"] = value.success
    out.update(code=value.code, msg=value.msg, data=value.data)
    return out


def _with_task_id_alias(
    hook: Callable[[Mapping[str, Any], Any], T],
) -> Callable[[Any, Any], T]:
    def structure(value: Any, cls: Any) -> T:
        if isinstance(value, Mapping) and "taskId" not in value and "task_id" in value:
            value = {**value, "taskId": value["task_id"]}
        return hook(value, cls)

    return structure


def _with_message_alias(
    hook: Callable[[Mapping[str, Any], Any], T],
) -> Callable[[Any, Any], T]:
    def structure(value: Any, cls: Any) -> T:
        if isinstance(value, Mapping) and "msg" not in value and "message" in value:
            value = {**value, "msg": value["message"]}
        return hook(value, cls)

    return structure


def _register_camel(conv: cattrs.Converter, cls: type, **omit_if_default: bool) -> None:
    overrides = _renames(cls)
    for name, omit in omit_if_default.items():
        overrides[name] = override(rename=camel(name), omit_if_default=omit)
    conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **_renames(cls)))
    conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv, **overrides))


def make_converter() -> cattrs.Converter:
    """Build the KIE edge's converter (the module keeps one: ``converter``)."""
    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(datetime, lambda value, _: ms_to_datetime(value))
    conv.register_unstructure_hook(datetime, datetime_to_ms)
    conv.register_structure_hook(Decimal, _decimal)
    conv.register_unstructure_hook(Decimal, number_json)
    conv.register_structure_hook(Envelope, _envelope)
    conv.register_unstructure_hook(Envelope, _unstructure_envelope)

    _register_camel(conv, CreateTaskRequest, call_back_url=True, progress_call_back_url=True)
    _register_camel(conv, CreateTaskData)
    _register_camel(conv, TaskParam, call_back_url=True)
    _register_camel(conv, DownloadUrlRequest)
    _register_camel(conv, Base64UploadRequest, upload_path=True, file_name=True)
    _register_camel(conv, UrlUploadRequest, upload_path=True, file_name=True)
    _register_camel(conv, UploadedFileData)

    # resultJson: the Sora key stays snake_case; the frame arrays may be lone strings.
    result_renames = _renames(TaskResult, character_id="character_id")
    result_in = {
        **result_renames,
        "first_frame_url": override(rename="firstFrameUrl", struct_hook=_url_list),
        "last_frame_url": override(rename="lastFrameUrl", struct_hook=_url_list),
        "result_urls": override(rename="resultUrls", struct_hook=_url_list),
    }
    conv.register_structure_hook(TaskResult, make_dict_structure_fn(TaskResult, conv, **result_in))
    conv.register_unstructure_hook(
        TaskResult,
        make_dict_unstructure_fn(TaskResult, conv, _cattrs_omit_if_default=True, **result_renames),
    )

    record_in = {
        **_renames(RecordInfo),
        "param": override(struct_hook=_json_string(conv, TaskParam, lenient=True)),
        "result_json": override(rename="resultJson", struct_hook=_json_string(conv, TaskResult)),
    }
    record_out = {
        **_renames(RecordInfo),
        "param": override(unstruct_hook=_to_json_string(conv)),
        "result_json": override(rename="resultJson", unstruct_hook=_to_json_string(conv)),
        "progress": override(omit_if_default=True),
    }
    conv.register_structure_hook(
        RecordInfo, _with_task_id_alias(make_dict_structure_fn(RecordInfo, conv, **record_in))
    )
    conv.register_unstructure_hook(
        RecordInfo, make_dict_unstructure_fn(RecordInfo, conv, **record_out)
    )
    conv.register_structure_hook(
        CallbackPayload,
        _with_message_alias(make_dict_structure_fn(CallbackPayload, conv)),
    )
    return conv


converter = make_converter()
"""The converter every module of ``kiebot_kie`` uses for KIE's JSON."""


def structure(value: Any, cls: type[T], *, endpoint: str) -> T:
    """Read ``value`` as ``cls``; any mismatch raises ``KieProtocolError`` listing the problems."""
    try:
        return converter.structure(value, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as error:
        problems = (
            tuple(cattrs.transform_error(error))
            if isinstance(error, cattrs.BaseValidationError)
            else (f"{type(error).__name__}: {error}",)
        )
        raise KieProtocolError(endpoint, problems) from None


def unstructure(value: object) -> Any:
    """Write a wire object as KIE's JSON-ready value."""
    return converter.unstructure(value)
