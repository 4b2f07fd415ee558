"""Storage: one async Store protocol (base.py), an etcd and an embedded SQLite backend.

Only this package knows which backend runs; `open_store` picks it from a URL:
`sqlite:///PATH` or `etcd://HOST:PORT[,HOST:PORT...]` (`etcds://` for TLS, with
`?ca=FILE&cert=FILE&key=FILE`).
"""

from __future__ import annotations

from krake_api.storage.base import DEFAULT_TIMEOUT, Store
from krake_api.storage.urls import open_store

__all__ = ["DEFAULT_TIMEOUT", "Store", "open_store"]
