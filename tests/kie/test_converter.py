import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from kiebot_kie.callbacks import read_callback
from kiebot_kie.converter import (
    camel,
    converter,
    datetime_to_ms,
    ms_to_datetime,
    structure,
    unstructure,
)
from kiebot_kie.errors import KieProtocolError
from kiebot_kie.wire import (
    Base64UploadRequest,
    CreateTaskData,
    CreateTaskRequest,
    DownloadUrlRequest,
    Envelope,
    RecordInfo,
    TaskResult,
    UploadedFileData,
    UrlUploadRequest,
)
from tests.kie.support import golden, golden_names

JSON_STRING_FIELDS = ("param", "resultJson")


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-string fields parsed, so key order and spacing inside them do not matter."""
    out = dict(data)
    for key in JSON_STRING_FIELDS:
        if out.get(key):
            out[key] = json.loads(out[key])
    return out


def test_camel_case_names():
    assert camel("call_back_url") == "callBackUrl"
    assert camel("task_id") == "taskId"
    assert camel("base64_data") == "base64Data"
    assert camel("model") == "model"


@pytest.mark.parametrize(
    "name", [n for n in golden_names() if n.startswith(("error_", "create_task_s", "credits"))]
)
def test_every_envelope_reads_code_msg_and_data(name):
    raw = golden(name)
    envelope = structure(raw, Envelope, endpoint="test")
    assert envelope.code == raw["code"]
    assert envelope.msg == raw["msg"]
    assert envelope.data == raw["data"]
    assert unstructure(envelope) == raw


@pytest.mark.parametrize("name", golden_names("record_info_"))
def test_record_info_envelopes_use_message_and_still_read(name):
    raw = golden(name)
    envelope = structure(raw, Envelope, endpoint="recordInfo")
    assert envelope.code == raw["code"]
    assert envelope.msg == raw.get("msg", raw.get("message"))


@pytest.mark.parametrize(
    "name", [n for n in golden_names("record_info_") if n != "record_info_not_found"]
)
def test_record_info_round_trips(name):
    data = golden(name)["data"]
    record = structure(data, RecordInfo, endpoint="recordInfo")
    assert record.task_id == data["taskId"]
    assert _comparable(unstructure(record)) == _comparable(data)


def test_record_info_success_reads_every_field():
    record = structure(golden("record_info_success")["data"], RecordInfo, endpoint="x")
    assert record.state == "success"
    assert record.result_json == TaskResult(
        result_urls=("https://tempfile.aiquickdraw.com/h/3f5a2c0e9b7d4e1a.png",)
    )
    assert record.param is not None
    assert record.param.model == "google/nano-banana"
    assert record.param.input["prompt"] == "a red fox in the snow"
    assert record.param.call_back_url == "https://bot.example.com/kie/callback"
    assert record.fail_code == ""
    assert record.cost_time == 15
    assert record.create_time == datetime(2026, 8, 11, 2, 56, 8, tzinfo=UTC)
    assert record.complete_time is not None
    assert datetime_to_ms(record.complete_time) == 1786416983000
    assert record.credits_consumed == Decimal(4)


def test_record_info_waiting_has_no_result():
    record = structure(golden("record_info_waiting")["data"], RecordInfo, endpoint="x")
    assert record.state == "waiting"
    assert record.result_json is None
    assert record.complete_time is None


def test_result_object_shape():
    record = structure(golden("record_info_success_object")["data"], RecordInfo, endpoint="x")
    assert record.result_json is not None
    assert record.result_json.result_object == {"text": "Hello there", "language_code": "en"}
    assert record.result_json.result_urls == ()
    assert record.credits_consumed == Decimal("3.5")


def test_character_id_shape_keeps_its_snake_case_key():
    data = golden("record_info_success_character")["data"]
    record = structure(data, RecordInfo, endpoint="x")
    assert record.result_json is not None
    assert record.result_json.character_id == "char_0a1b2c3d"
    assert json.loads(unstructure(record)["resultJson"]) == {"character_id": "char_0a1b2c3d"}


def test_first_and_last_frame_shape():
    record = structure(golden("record_info_success_frames")["data"], RecordInfo, endpoint="x")
    assert record.result_json is not None
    assert record.result_json.result_urls == ("https://tempfile.aiquickdraw.com/v/9a8b7c6d.mp4",)
    assert record.result_json.first_frame_url == (
        "https://tempfile.aiquickdraw.com/v/9a8b7c6d-first.png",
    )
    assert record.result_json.last_frame_url == (
        "https://tempfile.aiquickdraw.com/v/9a8b7c6d-last.png",
    )


def test_frame_urls_may_be_lone_strings():
    data = {"taskId": "t", "resultJson": '{"resultUrls":"https://a/v.mp4","lastFrameUrl":"x"}'}
    record = structure(data, RecordInfo, endpoint="x")
    assert record.result_json == TaskResult(
        result_urls=("https://a/v.mp4",), last_frame_url=("x",)
    )


def test_create_task_request_round_trips():
    raw = golden("create_task_request")
    request = structure(raw, CreateTaskRequest, endpoint="createTask")
    assert request.call_back_url == "https://bot.example.com/kie/callback"
    assert request.input["aspect_ratio"] == "1:1"
    assert unstructure(request) == raw


def test_create_task_request_without_callback_leaves_the_key_out():
    body = unstructure(CreateTaskRequest(model="z-image", input={"prompt": "x"}))
    assert body == {"model": "z-image", "input": {"prompt": "x"}}


def test_create_task_answer_gives_the_task_id_and_ignores_record_id():
    data = golden("create_task_success")["data"]
    assert structure(data, CreateTaskData, endpoint="x").task_id == data["taskId"]
    newer = {"taskId": "task_1", "recordId": "rec_9"}
    assert structure(newer, CreateTaskData, endpoint="x") == CreateTaskData(task_id="task_1")


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("upload_base64_request", Base64UploadRequest),
        ("upload_url_request", UrlUploadRequest),
        ("download_url_request", DownloadUrlRequest),
    ],
)
def test_request_bodies_round_trip(name, cls):
    raw = golden(name)
    assert unstructure(structure(raw, cls, endpoint="x")) == raw


def test_upload_answer_round_trips():
    raw = golden("upload_success")
    envelope = structure(raw, Envelope, endpoint="upload")
    assert envelope.success is True
    uploaded = structure(envelope.data, UploadedFileData, endpoint="upload")
    assert uploaded.download_url == "https://tempfile.redpandaai.co/kieai/kiebot/photo.png"
    assert uploaded.file_size == 154832
    assert unstructure(uploaded) == raw["data"]
    assert unstructure(envelope) == raw


def test_credits_and_download_url_data():
    assert structure(golden("credits")["data"], Decimal, endpoint="credit") == Decimal(100)
    assert structure(golden("download_url")["data"], str, endpoint="x").startswith("https://")


def test_callback_payload_exactly_as_documented_reads_despite_the_placeholder_param():
    payload = read_callback(golden("callback_success"))
    assert payload.code == 200
    assert payload.data.task_id == "b0e3f..."
    assert payload.data.param is None  # "{...}" is not JSON: tolerated, it is only an echo
    assert payload.data.result_json is not None
    assert payload.data.result_json.result_urls == ("https://tempfile.aiquickdraw.com/...png",)
    assert payload.data.credits_consumed == Decimal(7)


def test_callback_payload_with_snake_case_task_id():
    payload = read_callback(golden("callback_task_id"))
    assert payload.data.task_id == "2fac4b1e9d"


def test_callback_data_round_trips_as_record_info():
    data = golden("callback_fail")["data"]
    record = structure(data, RecordInfo, endpoint="callback")
    assert _comparable(unstructure(record)) == _comparable(data)


def test_tolerant_reading():
    data = {
        "taskId": "t1",
        "state": "fail",
        "failCode": 501,
        "failMsg": None,
        "costTime": "12",
        "createTime": "1786416968000",
        "creditsConsumed": "0.5",
        "somethingNew": {"nested": True},
    }
    record = structure(data, RecordInfo, endpoint="x")
    assert record.fail_code == "501"
    assert record.fail_msg is None
    assert record.cost_time == 12
    assert record.create_time == ms_to_datetime(1786416968000)
    assert record.credits_consumed == Decimal("0.5")


def test_millisecond_timestamps_are_exact():
    moment = ms_to_datetime(1786417135123)
    assert moment.tzinfo is UTC
    assert moment.microsecond == 123000
    assert datetime_to_ms(moment) == 1786417135123


def test_envelope_without_code_is_a_protocol_error():
    with pytest.raises(KieProtocolError) as caught:
        structure({"msg": "hi"}, Envelope, endpoint="credit")
    assert caught.value.endpoint == "credit"


def test_malformed_result_json_is_a_protocol_error():
    with pytest.raises(KieProtocolError) as caught:
        structure({"taskId": "t", "resultJson": "{not json"}, RecordInfo, endpoint="recordInfo")
    assert caught.value.problems


def test_missing_task_id_is_a_protocol_error():
    with pytest.raises(KieProtocolError) as caught:
        structure({"state": "success"}, RecordInfo, endpoint="recordInfo")
    assert any("task_id" in problem for problem in caught.value.problems)


def test_there_is_one_converter():
    from kiebot_kie import converter as module

    assert module.converter is converter
