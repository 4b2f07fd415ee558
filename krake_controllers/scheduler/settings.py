"""The scheduler's tunables, with the defaults the issue fixes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

STICKINESS: Final = 0.1
RESCHEDULE_AFTER: Final = 60.0
METRICS_TTL: Final = 10.0


@dataclass(frozen=True, slots=True)
class Settings:
    # Score bonus of the candidate a resource already runs on: a move needs a
    # candidate better by more than this.
    stickiness: float = STICKINESS
    # Seconds between re-evaluations of every bound application.
    reschedule_after: float = RESCHEDULE_AFTER
    # Seconds a provider's answer (value or failure) for one metric is reused.
    metrics_ttl: float = METRICS_TTL
    # Seconds one request to a metrics provider may take.
    fetch_timeout: float = 5.0
    # Candidates kept in a stored status.placement (PreviewPlacement returns all).
    recorded_candidates: int = 20
