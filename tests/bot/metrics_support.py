"""Reading what a bot's ``/metrics`` exports, for the metrics and deployment tests."""

import aiohttp
import attrs
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.telegram.fake_bot_api import FakeUser
from tests.telegram.flows import open_model, wait_finished
from tests.telegram.harness import RunningBot

BANANA = "nano-banana-pro"
"""15 ⭐ with the default prices."""

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "info": ("_info",),
    "gauge": ("",),
    "unknown": ("",),
}


@attrs.frozen
class Scrape:
    """One answer of ``/metrics``."""

    content_type: str
    text: str

    def samples(self) -> list[Sample]:
        return [s for f in text_string_to_metric_families(self.text) for s in f.samples]

    def names(self) -> set[str]:
        """Every series name the answer exports or declares (a declared histogram's
        ``_bucket``, ``_sum`` and ``_count`` too, before anything was observed)."""
        found: set[str] = set()
        for family in text_string_to_metric_families(self.text):
            found |= {family.name + suffix for suffix in _SUFFIXES[family.type]}
            found |= {sample.name for sample in family.samples}
        return found

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the one sample ``name`` with (at least) ``labels``; None if none."""
        matching = [
            s.value
            for s in self.samples()
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(matching) <= 1, (name, labels, matching)
        return matching[0] if matching else None

    def total(self, name: str, **labels: str) -> float:
        """The sum of every sample ``name`` with (at least) ``labels``."""
        return sum(
            s.value
            for s in self.samples()
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )


async def scrape(port: int) -> Scrape:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        return Scrape(response.headers["Content-Type"], await response.text())


async def generate(bot: RunningBot, user: FakeUser, prompt: str = "a red fox", count: int = 1):
    """Run one generation of nano-banana-pro from the search to its end."""
    await open_model(user, BANANA)
    await user.send(prompt)
    await user.press("⏩ Skip optional")
    await user.press("✅ Confirm")
    return await wait_finished(bot, user, count=count)


async def top_up(user: FakeUser, package: str = "50 ⭐") -> str:
    """/balance → Top up → a package (accepting the terms) → pay; the charge id."""
    await user.send("/balance")
    await user.press("⭐ Top up")
    await user.press(package)
    if "Terms of sale" in user.last().shown:
        await user.press("✅ I accept")
    await user.wait_for(user.invoices)
    charge = await user.pay()
    assert charge is not None, user.transcript()
    return charge
