from collections.abc import AsyncIterator

import pytest

from kiebot_kie.gateway import KieGenerationGateway
from kiebot_kie.sandbox.server import Sandbox
from tests.kie.support import ManualClock, sandbox_gateway


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def sandboxed(clock: ManualClock) -> AsyncIterator[tuple[Sandbox, KieGenerationGateway]]:
    async with sandbox_gateway(clock) as pair:
        yield pair


@pytest.fixture
def sandbox(sandboxed: tuple[Sandbox, KieGenerationGateway]) -> Sandbox:
    return sandboxed[0]


@pytest.fixture
def gateway(sandboxed: tuple[Sandbox, KieGenerationGateway]) -> KieGenerationGateway:
    return sandboxed[1]
