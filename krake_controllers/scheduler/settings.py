"""The scheduler's tunables, with the defaults the issue fixes; each is also a
`krake-controller scheduler` flag (`--metrics-ttl`, env KRAKE_METRICS_TTL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from krake_api.config import tunable

STICKINESS: Final = 0.1
RESCHEDULE_AFTER: Final = 60.0
METRICS_TTL: Final = 10.0


@dataclass(frozen=True, slots=True)
class Settings:
    stickiness: float = tunable(
        STICKINESS,
        "score bonus of the cluster a resource runs on: a move needs one better by more",
    )
    reschedule_after: float = tunable(
        RESCHEDULE_AFTER, "seconds between re-evaluations of every bound application"
    )
    metrics_ttl: float = tunable(
        METRICS_TTL, "seconds a provider's answer (value or failure) for a metric is reused"
    )
    fetch_timeout: float = tunable(5.0, "seconds one request to a metrics provider may take")
    recorded_candidates: int = tunable(
        20, "candidates kept in a stored status.placement (a preview returns all)"
    )
