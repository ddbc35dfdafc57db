"""TelegramResultDelivery against the fake Bot API: kinds, size fallbacks, URLs, failures."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
from aiogram import Bot
from aiohttp import web

from kiebot_core.domain.catalog import Category, JsonValue
from kiebot_core.domain.errors import DeliveryError
from kiebot_core.domain.generation import Deadlines, Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, UserId
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_kie.sandbox.media import png
from kiebot_telegram.delivery import (
    ResultFetcher,
    ResultFetchError,
    ResultTooLargeError,
    SessionFetcher,
    TelegramResultDelivery,
    is_public_url,
)
from kiebot_telegram.dispatcher import make_bot
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser

IMAGE = png("a result", "1:1")


@attrs.define
class Files(ResultFetcher):
    """Result files by URL; a missing one fails, one marked too large is refused."""

    files: dict[str, bytes] = attrs.Factory(dict)
    too_large: set[str] = attrs.Factory(set)
    fetched: list[str] = attrs.Factory(list)

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        self.fetched.append(url)
        if url in self.too_large:
            raise ResultTooLargeError(f"over {max_bytes}")
        if url not in self.files:
            raise ResultFetchError("HTTP 404")
        return self.files[url]


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    bot = make_bot(api.token, api.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture
async def user(api: FakeBotApi, store: MemoryUnitOfWorkFactory) -> FakeUser:
    user = api.user(language_code="en")
    async with store() as uow:
        await uow.users.add(
            User(id=UserId(user.id), language=Language.EN, created_at=datetime.now(UTC))
        )
        await uow.commit()
    return user


def _generation(
    model_id: str, urls: tuple[str, ...], user: FakeUser, result_object: JsonValue = None
) -> Generation:
    model = load_registry().get(model_id)
    assert model is not None
    start = Generation.start(
        id=GenerationId("gen_1"),
        user_id=UserId(user.id),
        model_id=model_id,
        category=model.category,
        input={"prompt": "a <fox>"},
        credits=Decimal(10),
        stars=5,
        correlation_id=CorrelationId("cor_1"),
        now=datetime.now(UTC),
        deadlines=Deadlines(),
        held=5,
    )
    return attrs.evolve(
        start, state=GenerationState.DELIVERING, result_urls=urls, result_object=result_object
    )


def _delivery(
    bot: Bot, store: MemoryUnitOfWorkFactory, fetcher: ResultFetcher, *, by_url: bool = False
) -> TelegramResultDelivery:
    registry = load_registry()

    async def source() -> object:
        return registry

    return TelegramResultDelivery(bot, store, source, fetcher, send_by_url=by_url)  # type: ignore[arg-type]


async def test_images_video_and_audio_go_as_their_kind(
    api: FakeBotApi, bot: Bot, store: MemoryUnitOfWorkFactory, user: FakeUser
):
    files = Files(
        {
            "https://r/1.png": IMAGE,
            "https://r/2.png": IMAGE,
            "https://r/v.mp4": b"mp4",
            "https://r/a.mp3": b"mp3",
        }
    )
    delivery = _delivery(bot, store, files)
    refs = await delivery.deliver(
        _generation("nano-banana-pro", ("https://r/1.png", "https://r/2.png"), user)
    )
    photos = [m for m in user.bot_messages() if m.media == "photo"]
    assert [ref.split(":")[0] for ref in refs] == ["photo", "photo"]
    assert photos[0].caption is None
    assert "a &lt;fox&gt;" not in (photos[1].caption or "")
    assert "a <fox>" in (photos[1].caption or "")
    assert photos[1].labels()[0] == "🔁 Repeat"
    video_model = next(m.id for m in load_registry().enabled() if m.category is Category.VIDEO)
    audio_model = next(
        m.id
        for m in load_registry().enabled()
        if m.category is Category.AUDIO and m.result_kind.value == "audio_urls"
    )
    (video,) = await delivery.deliver(_generation(video_model, ("https://r/v.mp4",), user))
    (audio,) = await delivery.deliver(_generation(audio_model, ("https://r/a.mp3",), user))
    assert video.startswith("video:")
    assert audio.startswith("audio:")
    assert not api.errors(400)


async def test_size_fallbacks(
    api: FakeBotApi, bot: Bot, store: MemoryUnitOfWorkFactory, user: FakeUser
):
    big_photo = IMAGE + b"\0" * (10 * 1024 * 1024)
    files = Files({"https://r/big.png": big_photo}, too_large={"https://r/huge.png"})
    delivery = _delivery(bot, store, files)
    (document,) = await delivery.deliver(
        _generation("nano-banana-pro", ("https://r/big.png",), user)
    )
    assert document.startswith("document:")
    (link,) = await delivery.deliver(_generation("nano-banana-pro", ("https://r/huge.png",), user))
    assert link.startswith("link:")
    notice = user.last()
    assert "too large to send in Telegram" in notice.shown
    assert notice.entities[0]["url"] == "https://r/huge.png"
    assert not api.errors(400)


async def test_by_url_first_then_an_upload(
    api: FakeBotApi, bot: Bot, store: MemoryUnitOfWorkFactory, user: FakeUser
):
    async def serve(_: web.Request) -> web.Response:
        return web.Response(body=IMAGE, content_type="image/png")

    app = web.Application()
    app.router.add_get("/ok.png", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        ok, gone = f"http://127.0.0.1:{port}/ok.png", f"http://127.0.0.1:{port}/gone.png"
        files = Files({gone: IMAGE})
        delivery = _delivery(bot, store, files, by_url=True)
        (first,) = await delivery.deliver(_generation("nano-banana-pro", (ok,), user))
        assert first.startswith("photo:")
        assert files.fetched == []  # Telegram fetched it
        (second,) = await delivery.deliver(_generation("nano-banana-pro", (gone,), user))
        assert second.startswith("photo:")
        assert files.fetched == [gone]
        assert [c.description for c in api.errors(400)] == [
            "Bad Request: failed to get HTTP URL content"
        ]
        loopback = SessionFetcher(bot, allow_private=True)
        assert await loopback.fetch(ok, max_bytes=len(IMAGE)) == IMAGE
        with pytest.raises(ResultTooLargeError):
            await loopback.fetch(ok, max_bytes=10)
        with pytest.raises(ResultFetchError):
            await loopback.fetch(gone, max_bytes=10_000)
        with pytest.raises(ResultFetchError, match="not a public"):
            await SessionFetcher(bot).fetch(ok, max_bytes=len(IMAGE))
    finally:
        await runner.cleanup()


async def test_object_results_failures_and_blocked_users(
    api: FakeBotApi, bot: Bot, store: MemoryUnitOfWorkFactory, user: FakeUser
):
    delivery = _delivery(bot, store, Files())
    result: JsonValue = {"text": "<hello>", "items": [0, 1, 2]}
    (text,) = await delivery.deliver(
        _generation("nano-banana-pro", (), user, result_object=result)
    )
    assert text.startswith("text:")
    assert '"text": "<hello>"' in user.last().shown
    failed = attrs.evolve(
        _generation("nano-banana-pro", (), user),
        state=GenerationState.FAILED,
        reason=ReasonCode.PROVIDER_TIMEOUT,
    )
    await delivery.report_failure(failed)
    assert "took too long" in user.last().shown
    assert "Not charged: the 5 ⭐ held are back on your balance." in user.last().shown
    with pytest.raises(DeliveryError):
        await delivery.deliver(_generation("nano-banana-pro", ("https://r/missing.png",), user))
    user.block()
    with pytest.raises(DeliveryError):
        await delivery.report_failure(failed)


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://tempfile.aiquickdraw.com/r/1.png", True),
        ("http://8.8.8.8/x.png", True),
        ("http://127.0.0.1:8080/x.png", False),
        ("http://localhost/x.png", False),
        ("http://10.0.0.5/x.png", False),
        ("http://[::1]/x.png", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("file:///etc/passwd", False),
        ("ftp://example.com/x", False),
    ],
)
def test_only_public_result_urls_are_fetched(url: str, public: bool):
    assert is_public_url(url) is public
