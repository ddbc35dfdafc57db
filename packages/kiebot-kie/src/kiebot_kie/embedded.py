"""KIE, or the built-in sandbox in this process when there is no API key: the shells' choice."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from kiebot_kie.client import DEFAULT_BASE_URL, DEFAULT_UPLOAD_BASE_URL, CreateLimiter
from kiebot_kie.gateway import KieGenerationGateway, open_kie_gateway
from kiebot_kie.sandbox.server import run_sandbox

SANDBOX_KEY = "sandbox"
"""The key sent to the embedded sandbox (it accepts any)."""
FAST_POLL_SCALE = 0.05
"""A fast sandbox finishes a task in 0.3 s: poll it at a twentieth of KIE's pace."""


@asynccontextmanager
async def open_kie_or_sandbox(
    *,
    api_key: str | None,
    base_url: str = DEFAULT_BASE_URL,
    upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
    sandbox_dir: Path | None,
    sandbox_fast: bool = True,
    hmac_key: str | None = None,
    limiter: CreateLimiter | None = None,
) -> AsyncIterator[KieGenerationGateway]:
    """A gateway to KIE when ``api_key`` is set; else to a sandbox started here, on loopback.

    The sandbox keeps its tasks in ``sandbox_dir`` (None: in memory) so a restarted process
    finds them; ``hmac_key`` signs its callbacks. ``limiter`` keeps creates under KIE's limit
    (None: this process's own).
    """
    if api_key:
        async with open_kie_gateway(
            api_key=api_key, base_url=base_url, upload_base_url=upload_base_url, limiter=limiter
        ) as gateway:
            yield gateway
        return
    async with (
        run_sandbox(data_dir=sandbox_dir, fast=sandbox_fast, hmac_key=hmac_key) as sandbox,
        open_kie_gateway(
            api_key=SANDBOX_KEY,
            base_url=sandbox.base_url,
            upload_base_url=sandbox.upload_base_url,
            poll_scale=FAST_POLL_SCALE if sandbox_fast else 1.0,
            limiter=limiter,
        ) as gateway,
    ):
        yield gateway
