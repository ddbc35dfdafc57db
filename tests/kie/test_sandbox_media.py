import pytest

from kiebot_kie.sandbox import media
from tests.kie.media_checks import mp4_boxes, png_size, wav_seconds


@pytest.mark.parametrize(
    ("ratio", "size"),
    [(None, (96, 96)), ("1:1", (96, 96)), ("16:9", (96, 54)), ("9:16", (54, 96)), ("x", (96, 96))],
)
def test_png_is_valid_and_follows_the_aspect_ratio(ratio, size):
    assert png_size(media.png("a red fox", ratio)) == size


def test_png_follows_the_prompt():
    assert media.png("a red fox") == media.png("a red fox")
    assert media.png("a red fox") != media.png("a red fax")


def test_wav_is_valid_and_follows_the_prompt():
    assert wav_seconds(media.wav("hello")) == pytest.approx(0.5)
    assert media.wav("hello") != media.wav("goodbye")


def test_mp4_is_recognizably_mp4():
    data = media.mp4("a kite")
    assert mp4_boxes(data) == [b"ftyp", b"moov", b"mdat"]
    assert data[8:12] == b"isom"
    assert media.mp4("a kite") != media.mp4("a boat")


def test_result_object_is_json_ready():
    obj = media.result_object("hello", "some/model")
    assert obj["model"] == "some/model"
    assert "hello" in obj["text"]
