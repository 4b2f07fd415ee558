"""`--storage` URLs pick the backend; malformed ones are refused with a clear message."""

from __future__ import annotations

import pathlib

import pytest

from krake_api.storage import open_store
from krake_api.storage.etcd import EtcdStore
from krake_api.storage.sqlite import SqliteStore
from krake_api.storage.urls import BadStorageUrl


async def test_sqlite_url_opens_the_file(tmp_path: pathlib.Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path}/krake.db")
    try:
        assert isinstance(store, SqliteStore)
        await store.put("/k", b"v")
    finally:
        await store.close()
    assert (tmp_path / "krake.db").exists()


async def test_etcd_url_names_every_endpoint() -> None:
    store = await open_store("etcd://127.0.0.1:1,127.0.0.1:2", timeout=0.5)
    try:
        assert isinstance(store, EtcdStore)
        assert [m.endpoint for m in store._endpoints.members] == ["127.0.0.1:1", "127.0.0.1:2"]
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost", "must start with sqlite:// or etcd://"),
        ("sqlite://", "need a path"),
        ("etcd://", "HOST:PORT"),
        ("etcds://127.0.0.1:2379", "need \\?ca=FILE"),
    ],
)
async def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(BadStorageUrl, match=message):
        await open_store(url)
