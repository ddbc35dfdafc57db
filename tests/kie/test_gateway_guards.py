"""What the gateway refuses before any request, and what it never lets out (keys, URLs)."""

import logging
import traceback

import httpx
import pytest

from kiebot_core.domain.errors import ProviderError
from kiebot_core.domain.ids import CorrelationId
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.generation import SubmitRequest
from kiebot_kie.errors import KieApiError, KieRefusedUrlError, KieTransportError
from kiebot_kie.gateway import KieGenerationGateway, open_kie_gateway
from tests.kie.support import API_KEY, ManualClock, envelope, mock_client

TOKEN = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # noqa: S105 - a made-up bot token
TELEGRAM_URL = f"https://api.telegram.org/file/bot123456789:{TOKEN}/photos/file_1.jpg"


def _no_request_allowed(request: httpx.Request) -> httpx.Response:
    pytest.fail(f"invalid input reached the network: {request.method} {request.url}")


def request_for(model_id: str, **input: object) -> SubmitRequest:
    return SubmitRequest(
        model_id=model_id,
        input=input,  # type: ignore[arg-type]
        correlation_id=CorrelationId("cor_1"),
    )


@pytest.mark.parametrize(
    ("request_", "reason", "field"),
    [
        (request_for("google/nano-banana"), ReasonCode.MISSING_INPUT, "prompt"),
        (request_for("google/nano-banana", prompt="   "), ReasonCode.MISSING_INPUT, "prompt"),
        (
            request_for("google/nano-banana", prompt="x", colour="red"),
            ReasonCode.INVALID_INPUT,
            "colour",
        ),
        (
            request_for("google/nano-banana-edit", prompt="x", image_urls=["not a url"]),
            ReasonCode.INVALID_INPUT,
            "image_urls",
        ),
        (
            request_for("google/nano-banana", prompt="x", output_format="tiff"),
            ReasonCode.INVALID_INPUT,
            "output_format",
        ),
        (request_for("no-such/model", prompt="x"), ReasonCode.MODEL_UNKNOWN, "no-such/model"),
    ],
    ids=["missing", "blank", "unknown-input", "bad-url", "bad-enum", "unknown-model"],
)
async def test_invalid_input_is_rejected_before_any_request(request_, reason, field):
    async with mock_client(_no_request_allowed) as client:
        gateway = KieGenerationGateway(client)
        with pytest.raises(ProviderError) as caught:
            await gateway.submit(request_)
    assert caught.value.reason_code is reason
    assert field in caught.value.detail


async def test_a_telegram_url_in_an_input_is_refused_before_any_request():
    async with mock_client(_no_request_allowed) as client:
        gateway = KieGenerationGateway(client)
        with pytest.raises(KieRefusedUrlError) as caught:
            await gateway.submit(
                request_for("google/nano-banana-edit", prompt="x", image_urls=[TELEGRAM_URL])
            )
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == "input.image_urls[0]"
    for text in (str(caught.value), repr(caught.value)):
        assert TOKEN not in text
        assert "telegram.org" not in text


async def test_repr_and_str_never_show_the_key():
    async with open_kie_gateway(api_key=API_KEY) as gateway:
        for text in (
            repr(gateway),
            str(gateway),
            repr(gateway.client),
            str(gateway.client),
            repr(gateway.client.limiter),
        ):
            assert API_KEY not in text
        assert "KieClient(" in repr(gateway.client)


async def test_errors_and_logs_after_failed_calls_never_show_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    answers = iter(
        [
            envelope(401, f"Invalid key: Bearer {API_KEY}"),
            envelope(455, "maintenance"),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/credit"):
            return next(answers, envelope(455, "maintenance"))
        raise httpx.ConnectError(f"cannot connect for {request.headers['Authorization']}")

    async with mock_client(handler, ManualClock(), attempts=3) as client:
        gateway = KieGenerationGateway(client)
        caught: list[BaseException] = []
        for call in (
            client.credits,
            client.credits,
            gateway.credits,
            lambda: client.record_info("t"),
        ):
            try:
                await call()
            except (KieApiError, KieTransportError, ProviderError) as error:
                caught.append(error)
        assert len(caught) == 4
        for failure in caught:
            rendered = "".join(traceback.format_exception(failure))
            for text in (str(failure), repr(failure), rendered):
                assert API_KEY not in text
            if isinstance(failure, ProviderError):
                assert API_KEY not in failure.detail
    assert caplog.records  # the retries were logged ...
    for record in caplog.records:
        assert API_KEY not in record.getMessage()  # ... without the key
