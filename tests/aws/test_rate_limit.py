"""The send-rate limiter, on an injected clock: no real waiting."""

from __future__ import annotations

import math

import pytest

from sesflow.aws.ses import SendRateLimiter

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


@pytest.mark.parametrize("rate", [1.0, 14.0, 50.0, 3.5])
def test_burst_of_fifty_is_held_to_the_account_rate(rate: float) -> None:
    clock = FakeClock()
    limiter = SendRateLimiter(rate, clock=clock, sleep=clock.sleep)
    started = clock.now
    send_times = []
    for _ in range(50):
        limiter.acquire()
        send_times.append(clock.now)
    elapsed = clock.now - started
    assert elapsed == pytest.approx(49 / rate)
    # No one-second window holds more sends than the rate allows.
    for first in send_times:
        in_window = [t for t in send_times if 0 <= t - first < 1.0 - 1e-9]
        assert len(in_window) <= math.ceil(rate)


def test_idle_time_is_not_banked_as_a_burst() -> None:
    clock = FakeClock()
    limiter = SendRateLimiter(2.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 60  # a quiet minute
    waits = [limiter.acquire() for _ in range(5)]
    assert waits[0] == 0
    assert waits[1:] == pytest.approx([0.5, 0.5, 0.5, 0.5])


def test_first_send_does_not_wait() -> None:
    clock = FakeClock()
    assert SendRateLimiter(1.0, clock=clock, sleep=clock.sleep).acquire() == 0
