from datetime import timedelta

import pytest

from kiebot_core.domain.limits import RateDecision


@pytest.mark.parametrize(
    ("resets_in", "seconds"),
    [
        (timedelta(seconds=60), 60),
        (timedelta(seconds=59, milliseconds=100), 60),
        (timedelta(milliseconds=200), 1),
        (timedelta(0), 1),
        (timedelta(seconds=-3), 1),
    ],
)
def test_a_refusal_asks_to_wait_whole_seconds_rounded_up(resets_in: timedelta, seconds: int):
    refused = RateDecision.of(4, 3, resets_in)
    assert not refused.allowed
    assert refused.retry_after_s == seconds
    assert refused.retry_after == max(resets_in, timedelta(0))


def test_an_allowed_hit_needs_no_wait():
    allowed = RateDecision.of(3, 3, timedelta(seconds=30))
    assert allowed.allowed
    assert not allowed.is_first_refusal
    assert (allowed.retry_after, allowed.retry_after_s) == (timedelta(0), 0)


def test_only_the_first_hit_over_the_limit_is_the_first_refusal():
    assert [RateDecision.of(n, 3, timedelta(1)).is_first_refusal for n in range(1, 7)] == [
        False,
        False,
        False,
        True,
        False,
        False,
    ]
