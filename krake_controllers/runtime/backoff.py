"""Jittered, capped exponential backoff: the one retry schedule of the runtime.

`delay(n)` for the n-th consecutive failure (0-based) is drawn uniformly from
[d/2, d] where d = min(cap, base * factor**n) ("equal jitter"): retries of many
clients spread out, yet never wait less than half the nominal delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def nominal(self, failures: int) -> float:
        return min(self.cap, self.base * self.factor ** min(failures, 64))

    def delay(self, failures: int) -> float:
        nominal = self.nominal(failures)
        return nominal / 2 + self.rng.random() * nominal / 2
