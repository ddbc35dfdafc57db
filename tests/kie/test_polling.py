from datetime import timedelta

import pytest

from kiebot_kie.client import KieClient
from kiebot_kie.gateway import KieGenerationGateway
from kiebot_kie.polling import next_poll_delay, poll_delays, poll_interval


@pytest.mark.parametrize(
    ("elapsed", "low", "high"),
    [(0, 2, 3), (29.9, 2, 3), (30, 5, 10), (119.9, 5, 10), (120, 15, 30), (3600, 15, 30)],
)
def test_the_schedule_follows_kie(elapsed, low, high):
    assert poll_interval(elapsed, jitter=0.0) == low
    assert poll_interval(elapsed, jitter=1.0) == high
    assert low < poll_interval(elapsed) < high


def test_jitter_is_clamped():
    assert poll_interval(0, jitter=-5) == 2
    assert poll_interval(0, jitter=5) == 3


def test_the_deadline_cuts_the_last_wait_and_then_stops():
    assert next_poll_delay(0, 600) == 2.5
    assert next_poll_delay(599, 600) == 1
    assert next_poll_delay(600, 600) is None
    assert next_poll_delay(900, 600) is None


def test_a_whole_polling_loop():
    delays = list(poll_delays(15 * 60))
    assert sum(delays) == pytest.approx(15 * 60)
    assert delays[0] == 2.5
    elapsed = 0.0
    for delay in delays[:-1]:
        assert delay == poll_interval(elapsed)
        elapsed += delay
    early = [d for d, t in zip(delays, _starts(delays), strict=True) if t < 30]
    assert len(early) == 12  # about every 2.5 s for the first 30 s
    assert len(delays) < 60  # far fewer polls than a fixed 2 s would make


def _starts(delays: list[float]) -> list[float]:
    starts, elapsed = [], 0.0
    for delay in delays:
        starts.append(elapsed)
        elapsed += delay
    return starts


def test_the_gateway_offers_the_schedule_scaled():
    client: KieClient = None  # type: ignore[assignment]  # poll_delay needs no client
    gateway = KieGenerationGateway(client, jitter=lambda: 0.0)
    assert gateway.poll_delay(timedelta(seconds=10)) == timedelta(seconds=2)
    assert gateway.poll_delay(timedelta(minutes=5)) == timedelta(seconds=15)
    fast = KieGenerationGateway(client, poll_scale=0.1, jitter=lambda: 1.0)
    assert fast.poll_delay(timedelta(0)) == timedelta(seconds=0.3)
