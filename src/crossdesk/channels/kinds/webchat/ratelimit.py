"""Token buckets (per visitor, per IP address) against floods from the open internet.

The buckets live in this process's memory: with several server processes behind a load balancer each keeps
its own, so a client spread over N processes gets up to N times the rate. That is enough to stop a flood;
an exact shared quota would need Redis.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    burst: float  # how many at once
    per_second: float  # how fast the bucket refills


class Limiter:
    """One bucket per key; the least recently used keys are forgotten beyond ``max_keys`` (bounded memory;
    a forgotten key starts again with a full bucket)."""

    def __init__(
        self, rate: Rate, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.max_keys, self.clock = rate, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens: 0.0 if allowed, else the whole seconds to wait (nothing is spent)."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (self.rate.burst, now))
        tokens = min(self.rate.burst, tokens + (now - at) * self.rate.per_second)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = float(max(1, math.ceil((cost - tokens) / self.rate.per_second)))
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait
