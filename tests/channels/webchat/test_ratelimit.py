"""The token buckets: a burst, then the refill rate, per key, with bounded memory."""

from __future__ import annotations

from crossdesk.channels.kinds.webchat.ratelimit import Limiter, Rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_refused_with_the_wait() -> None:
    clock = Clock()
    limiter = Limiter(Rate(burst=3, per_second=0.5), clock=clock)
    assert [limiter.take("v") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("v") == 2.0  # one token comes back every 2 s
    clock.now += 1.0
    assert limiter.take("v") == 1.0  # half a token is not enough, and a refusal spends nothing
    clock.now += 1.0
    assert limiter.take("v") == 0.0
    assert limiter.take("v") == 2.0


def test_refill_never_exceeds_the_burst() -> None:
    clock = Clock()
    limiter = Limiter(Rate(burst=2, per_second=10), clock=clock)
    limiter.take("v")
    clock.now += 3600
    assert [limiter.take("v") for _ in range(3)] == [0.0, 0.0, 1.0]


def test_keys_have_their_own_buckets() -> None:
    limiter = Limiter(Rate(burst=1, per_second=0.1), clock=Clock())
    assert limiter.take("visitor-a") == 0.0
    assert limiter.take("visitor-a") > 0
    assert limiter.take("visitor-b") == 0.0


def test_memory_is_bounded_by_forgetting_the_least_recently_used() -> None:
    limiter = Limiter(Rate(burst=1, per_second=0.001), max_keys=3, clock=Clock())
    for key in ("a", "b", "c"):
        limiter.take(key)
    assert limiter.take("a") > 0  # still remembered, and now the most recent
    limiter.take("d")  # over the bound: "b", the least recently used, is forgotten
    assert len(limiter._buckets) == 3
    assert limiter.take("b") == 0.0  # starts again full
    assert limiter.take("a") > 0
