"""Every enabled registry model runs in the sandbox and returns a valid file of its kind."""

import httpx
import pytest

from kiebot_core.domain.catalog import JsonValue, MediaKind, ModelSpec, ResultKind
from kiebot_core.domain.ids import CorrelationId
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.validation import NormalizedInput, normalize
from kiebot_core.ports.generation import ProviderState, SubmitRequest
from kiebot_kie.gateway import KieGenerationGateway
from kiebot_kie.sandbox import media
from tests.builders import required_answers
from tests.kie.media_checks import mp4_boxes, png_size, wav_seconds
from tests.kie.support import ManualClock, http_client

ENABLED = load_registry().enabled()
SAMPLES = {
    MediaKind.IMAGE: (media.png("an input photo"), "photo.png", "image/png"),
    MediaKind.VIDEO: (media.mp4("an input clip"), "clip.mp4", "video/mp4"),
    MediaKind.AUDIO: (media.wav("an input voice"), "voice.wav", "audio/wav"),
}


async def answers_with_uploads(
    model: ModelSpec, gateway: KieGenerationGateway
) -> dict[str, JsonValue]:
    """The model's required answers, media inputs pointing at files uploaded to the sandbox."""
    answers = required_answers(model)
    uploaded: dict[MediaKind, str] = {}
    for name, value in answers.items():
        spec = model.input(name)
        kind = spec.media_kind if spec is not None else None
        if kind is None:
            continue
        if kind not in uploaded:
            uploaded[kind] = (await gateway.upload(*SAMPLES[kind])).url
        answers[name] = (
            [uploaded[kind]] * len(value) if isinstance(value, list) else uploaded[kind]
        )
    return answers


def check_file(kind: ResultKind, response: httpx.Response) -> None:
    assert response.status_code == 200
    match kind:
        case ResultKind.IMAGE_URLS:
            assert response.headers["content-type"] == "image/png"
            png_size(response.content)
        case ResultKind.VIDEO_URLS:
            assert response.headers["content-type"] == "video/mp4"
            assert mp4_boxes(response.content)[0] == b"ftyp"
        case ResultKind.AUDIO_URLS:
            assert response.headers["content-type"] == "audio/wav"
            assert wav_seconds(response.content) > 0
        case ResultKind.OBJECT:
            assert isinstance(response.json(), dict)


def test_the_registry_has_models_of_every_media_kind():
    kinds = {model.result_kind for model in ENABLED}
    assert {ResultKind.IMAGE_URLS, ResultKind.VIDEO_URLS, ResultKind.AUDIO_URLS} <= kinds


@pytest.mark.parametrize("model", ENABLED, ids=lambda model: model.id)
async def test_every_enabled_model_returns_a_valid_file(
    model: ModelSpec, gateway: KieGenerationGateway, clock: ManualClock
):
    answers = await answers_with_uploads(model, gateway)
    assert isinstance(normalize(model, answers), NormalizedInput)
    task_id = await gateway.submit(
        SubmitRequest(model_id=model.id, input=answers, correlation_id=CorrelationId("cor_1"))
    )
    clock.advance(1)
    status = await gateway.status(task_id)
    assert status.state is ProviderState.SUCCEEDED, status
    if model.result_kind is ResultKind.OBJECT:
        assert isinstance(status.result_object, dict)
        return
    assert status.result_urls
    async with http_client() as http:
        for url in status.result_urls:
            check_file(model.result_kind, await http.get(url))
