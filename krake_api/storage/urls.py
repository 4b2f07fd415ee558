"""Open a Store from a `--storage` URL.

- `sqlite:///PATH` (relative: `sqlite:///./krake.db`; absolute: `sqlite:////var/lib/krake.db`)
- `etcd://HOST:PORT[,HOST:PORT...]`
- `etcds://HOST:PORT[,...]?ca=FILE[&cert=FILE&key=FILE][&server_name=NAME]` (TLS)
"""

from __future__ import annotations

import pathlib
from urllib.parse import parse_qs, urlsplit

from krake_api.storage.base import DEFAULT_TIMEOUT, Store


class BadStorageUrl(ValueError):
    pass


async def open_store(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> Store:
    """Connect to the backend `url` names; see the module docstring."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from krake_api.storage.sqlite import SqliteStore

        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not path:
            raise BadStorageUrl(f"{url!r}: sqlite URLs need a path, e.g. sqlite:///./krake.db")
        return await SqliteStore.open(path, timeout=timeout)
    if parts.scheme in ("etcd", "etcds"):
        from krake_api.storage.etcd import EtcdStore, TlsConfig

        endpoints = [e for e in parts.netloc.split(",") if e]
        if not endpoints:
            raise BadStorageUrl(f"{url!r}: etcd URLs need HOST:PORT[,HOST:PORT...]")
        tls = None
        if parts.scheme == "etcds":
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}

            def read(name: str) -> bytes | None:
                return pathlib.Path(query[name]).read_bytes() if name in query else None

            ca = read("ca")
            if ca is None:
                raise BadStorageUrl(f"{url!r}: etcds URLs need ?ca=FILE")
            tls = TlsConfig(ca, read("cert"), read("key"), query.get("server_name"))
        return await EtcdStore.connect(endpoints, timeout=timeout, tls=tls)
    raise BadStorageUrl(f"{url!r}: the storage URL must start with sqlite:// or etcd://")
