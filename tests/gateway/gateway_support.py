"""Constants and types the gateway tests share (a module of its own: test modules
cannot import a conftest reliably, there are several)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import pytest
from aiohttp import web

DEADLINE: Final = 10.0
"""Seconds any awaited condition may take before the test fails."""
Serve = Callable[[web.Application], Awaitable[str]]
"""Starts an application on a free loopback port and returns its base URL."""

SQLITE_ONLY: Final = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
"""For tests of what the gateway does alone (its JSON, its checks): the store does
not matter to them, and sqlite is the cheaper one. Storage-dependent behaviour
(every verb of every kind, watch) runs on both."""
