"""THE table from the provider spec's `type` oneof member to its fetch function."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from krake_controllers.scheduler.providers import influx, kafka, prometheus, static
from krake_controllers.scheduler.providers.base import Fetch

FETCHERS: Final[Mapping[str, Fetch]] = {
    "prometheus": prometheus.fetch,
    "kafka": kafka.fetch,
    "influx": influx.fetch,
    "static": static.fetch,
}
