"""Normalization of a raw metric value to [0, 1] with the Metric's spec.

`min` maps to 0 and `max` to 1 (unset: 0 and 1). A value outside [min, max], not
finite, or not among a non-empty `allowed_values` cannot be used: INVALID_METRIC.
"""

from __future__ import annotations

import math

from krake.core.v1 import core_pb2
from krake_controllers.scheduler.readings import INVALID_METRIC, Reading, failed


def bounds(spec: core_pb2.Metric.Spec) -> tuple[float, float]:
    low = spec.min if spec.HasField("min") else 0.0
    high = spec.max if spec.HasField("max") else 1.0
    return low, high


def normalize(spec: core_pb2.Metric.Spec, value: float) -> Reading:
    low, high = bounds(spec)
    if high <= low:
        return failed(INVALID_METRIC, f"min {low:g} is not below max {high:g}")
    if not math.isfinite(value):
        return failed(INVALID_METRIC, f"value {value} is not a finite number")
    if spec.allowed_values and value not in spec.allowed_values:
        allowed = ", ".join(f"{v:g}" for v in spec.allowed_values)
        return failed(INVALID_METRIC, f"value {value:g} is not one of the allowed {allowed}")
    if not low <= value <= high:
        return failed(INVALID_METRIC, f"value {value:g} is outside [{low:g}, {high:g}]")
    return Reading(value=value, normalized=(value - low) / (high - low))
